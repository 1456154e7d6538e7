"""API resources over real SQLite and PostgreSQL: customers, interactions, DNC, callbacks, campaigns, reports."""
from __future__ import annotations

import datetime as dt

from engine.store.repos.interactions import InteractionRepository

T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 in Asia/Shanghai


def test_customers_create_search_read_update(api):
    c = api.client(api.token("customers:*"))
    made = c.post("/api/v1/customers", json={"phones": ["139 1111 2222"], "name": "王芳", "segment": "vip",
                                              "tags": ["frequent_shipper"], "value_tier": 4})
    assert made.status_code == 201
    customer = made.get_json()
    assert customer["phones"] == ["+8613911112222"] and customer["segment"] == "vip"
    c.post("/api/v1/customers", json={"phones": ["13800001111"], "name": "Zhang San", "segment": "new"})
    assert [x["id"] for x in c.get("/api/v1/customers?phone=+86 139-1111-2222").get_json()["items"]] == [customer["id"]]
    assert [x["name"] for x in c.get("/api/v1/customers?name=zhang").get_json()["items"]] == ["Zhang San"]
    assert [x["name"] for x in c.get("/api/v1/customers?segment=vip").get_json()["items"]] == ["王芳"]
    assert c.get("/api/v1/customers?name=%25").get_json()["items"] == []  # LIKE wildcards are literal
    assert c.get(f"/api/v1/customers/{customer['id']}").get_json()["name"] == "王芳"
    changed = c.patch(f"/api/v1/customers/{customer['id']}", json={"segment": "loyal", "phones": ["13911113333"]})
    assert changed.status_code == 200
    assert changed.get_json()["segment"] == "loyal"
    assert changed.get_json()["phones"] == ["+8613911112222", "+8613911113333"]
    duplicate = c.post("/api/v1/customers", json={"phones": ["13911113333"]})
    assert duplicate.status_code == 409 and duplicate.get_json()["field"] == "$.phones[0]"
    assert c.get("/api/v1/customers/999999").status_code == 404


def test_bad_payloads_name_the_field_and_never_500(api):
    c = api.client(api.token("*"))
    cases = [
        ({"phones": ["13911112222"], "colour": "red"}, "$.colour"),
        ({"name": "x"}, "$.phones"),
        ({"phones": ["not a number"]}, "$.phones[0]"),
        ({"phones": ["13911112222"], "value_tier": 12}, "$.value_tier"),
        ({"phones": ["13911112222"], "timezone": "Mars/Olympus"}, "$.timezone"),
        ({"phones": ["13911112222"], "tags": ["ok", 3]}, "$.tags[1]"),
        ({"phones": ["13911112222"], "name": "a\x00b"}, "$.name"),
    ]
    for body, field in cases:
        response = c.post("/api/v1/customers", json=body)
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["field"] == field, body
    malformed = c.post("/api/v1/customers", data="{not json", content_type="application/json")
    assert malformed.status_code == 400 and malformed.get_json()["field"] == "$"
    assert c.post("/api/v1/customers", data="a,b", content_type="text/csv").status_code == 415
    assert c.get("/api/v1/customers?limit=abc").get_json()["field"] == "query.limit"
    assert c.get("/api/v1/customers?limit=0").status_code == 400
    unknown = c.get("/api/v1/customers?colour=red")
    assert unknown.status_code == 400 and unknown.get_json()["field"] == "query.colour"
    assert c.get("/api/v1/interactions?from=yesterday").get_json()["field"] == "query.from"
    assert c.delete("/api/v1/customers/1").status_code == 405
    assert c.get("/api/v1/nowhere").get_json()["error"] == "not_found"


def test_interactions_filtered_and_paged(api):
    repo = InteractionRepository(api.store)
    ids = []
    for minute, (caller, agent, queue) in enumerate([("13911112222", "1001", "support"), ("13800001111", "1002", "sales"),
                                                     ("13911112222", "1002", "support"), ("13700002222", "1001", "sales")]):
        call = repo.start("inbound", T0 + dt.timedelta(minutes=minute), caller=caller)
        repo.update(call, agent_id=agent, queue=queue)
        ids.append(call)
    repo.start("inbound", T0 + dt.timedelta(days=1), caller="13911112222")
    c = api.client(api.token("interactions:read"))

    def found(query: str) -> list[int]:
        response = c.get(f"/api/v1/interactions?{query}")
        assert response.status_code == 200, response.get_json()
        return [i["id"] for i in response.get_json()["items"]]

    assert found("from=2026-12-01") == ids[::-1]
    assert found("from=2026-12-01&number=%2B86%20139%201111%202222") == [ids[2], ids[0]]
    assert found("from=2026-12-01&agent=1001") == [ids[3], ids[0]]
    assert found("from=2026-12-01&queue=sales") == [ids[3], ids[1]]
    assert found("from=2026-12-01T10:01:00&to=2026-12-01T10:03:00") == [ids[2], ids[1]]
    assert found("from=2026-12-01&limit=2") == [ids[3], ids[2]]
    assert found("from=2026-12-01&limit=2&offset=2") == [ids[1], ids[0]]
    assert c.get(f"/api/v1/interactions/{ids[0]}").get_json()["caller"] == "+8613911112222"


def test_dnc_add_check_remove_and_callbacks(api):
    c = api.client(api.token("dnc:*", "callbacks:*"))
    assert c.get("/api/v1/dnc/13911112222").get_json()["blocked"] is False
    added = c.post("/api/v1/dnc", json={"number": "13911112222", "list": "grey", "reason": "asked"})
    assert added.status_code == 201 and added.get_json()["list_kind"] == "grey"
    check = c.get("/api/v1/dnc/+8613911112222").get_json()
    assert check["blocked"] is True and check["entry"]["reason"] == "asked"
    assert c.post("/api/v1/dnc", json={"number": "1391111", "list": "white"}).get_json()["field"] == "$.list"
    assert c.delete("/api/v1/dnc/13911112222").get_json() == {"deleted": True}
    assert c.get("/api/v1/dnc/13911112222").get_json()["blocked"] is False
    made = c.post("/api/v1/callbacks", json={"number": "13911112222", "due_at": "2026-12-08T10:00",
                                             "reason": "wants a quote"})
    assert made.status_code == 201
    assert made.get_json()["due_at"] == "2026-12-08T02:00:00+00:00"  # center time Asia/Shanghai
    again = c.post("/api/v1/callbacks", json={"number": "+86 139 1111 2222", "due_at": "2026-12-08T09:00"})
    assert again.get_json()["id"] == made.get_json()["id"] and again.get_json()["requests"] == 2
    assert [x["id"] for x in c.get("/api/v1/callbacks").get_json()["items"]] == [made.get_json()["id"]]
    assert c.post("/api/v1/callbacks", json={"number": "13911112222", "due_at": "soon"}).get_json()["field"] == "$.due_at"


def test_campaign_create_import_launch_pause_status(api):
    c = api.client(api.token("campaigns:*"))
    made = c.post("/api/v1/campaigns", json={"name": "spring", "mode": "progressive", "queue": "sales",
                                             "max_attempts": 3})
    assert made.status_code == 201 and made.get_json()["status"] == "draft"
    campaign = made.get_json()["id"]
    yaml_body = "name: winter\nmode: predictive\nqueue: sales\nabandon:\n  rate: 7%\n"
    bad = c.post("/api/v1/campaigns", data=yaml_body, content_type="application/yaml")
    assert bad.status_code == 422 and bad.get_json()["field"].startswith("$.abandon")
    ok = c.post("/api/v1/campaigns", data="name: winter\nmode: preview\nqueue: sales\n", content_type="application/yaml")
    assert ok.status_code == 201, ok.get_json()
    assert c.post("/api/v1/campaigns", json={"name": "spring", "queue": "sales"}).status_code == 409
    assert c.post("/api/v1/campaigns", json={"name": "x", "source": {"csv": "/etc/passwd"}}).get_json()["field"] \
        == "$.source.csv"
    csv_body = "name,phone\n王芳,13911112222\nBad Row,12\nZhang San,13800001111\n"
    imported = c.post(f"/api/v1/campaigns/{campaign}/contacts", data=csv_body.encode(), content_type="text/csv")
    assert imported.status_code == 200, imported.get_json()
    result = imported.get_json()
    assert result["enrolled"] == 2
    assert [r["line"] for r in result["rejected"]] == [3] and result["rejected"][0]["field"] == "phone"
    assert c.post(f"/api/v1/campaigns/{campaign}/contacts", data=csv_body.encode(),
                  content_type="text/csv").get_json()["already_there"] == 2
    assert c.post(f"/api/v1/campaigns/{campaign}/pause").status_code == 409  # a draft cannot be paused
    launched = c.post(f"/api/v1/campaigns/{campaign}/launch").get_json()
    assert (launched["before"], launched["after"]) == ("draft", "running")
    assert c.post(f"/api/v1/campaigns/{campaign}/pause").get_json()["after"] == "paused"
    assert c.post(f"/api/v1/campaigns/{campaign}/launch").status_code == 409  # resume, not launch, from paused
    status = c.get(f"/api/v1/campaigns/{campaign}").get_json()
    assert status["campaign"]["status"] == "paused" and status["contacts"] == {"pending": 2}
    assert c.get("/api/v1/campaigns/999").status_code == 404


def test_campaign_from_the_example_file_enrolls_its_segment(api):
    from pathlib import Path

    from engine.store.repos.customers import CustomerRepository

    customers = CustomerRepository(api.store)
    customers.upsert(["13911112222"], name="王芳", segment="vip", tags=["broadband"], value_tier=4)
    customers.upsert(["13800001111"], name="Zhang San", segment="loyal", tags=["broadband"], value_tier=4)
    c = api.client(api.token("campaigns:write"))
    body = (Path(__file__).resolve().parents[2] / "campaigns" / "broadband_upsell.yaml").read_bytes()
    made = c.post("/api/v1/campaigns", data=body, content_type="application/yaml")
    assert made.status_code == 201, made.get_json()
    enrolled = c.post(f"/api/v1/campaigns/{made.get_json()['id']}/enroll")
    assert enrolled.status_code == 200 and enrolled.get_json()["enrolled"] == 1  # the VIP; loyal is not in the query
    other = c.post("/api/v1/campaigns", json={"name": "plain", "queue": "sales"}).get_json()
    assert c.post(f"/api/v1/campaigns/{other['id']}/enroll").status_code == 409


def test_reports_as_json(api):
    repo = InteractionRepository(api.store)
    call = repo.start("inbound", T0, caller="13911112222")
    repo.update(call, queue="support", queue_entered_at=T0, offered_at=T0, answered_at=T0 + dt.timedelta(seconds=5),
                bridged_at=T0 + dt.timedelta(seconds=5), agent_id="1001")
    repo.finish(call, T0 + dt.timedelta(minutes=3))
    c = api.client(api.token("reports:read"))
    for name in ("agents", "queues", "campaigns", "hourly", "ivr-funnel", "csat"):
        response = c.get(f"/api/v1/reports/{name}?from=2026-12-01")
        assert response.status_code == 200, (name, response.get_json())
        assert response.get_json()["name"] == name
    queues = c.get("/api/v1/reports/queues?from=2026-12-01&to=2026-12-01").get_json()
    rows = [r for t in queues["tables"] for r in t["rows"] if r.get("queue") == "support"]
    assert rows and rows[0]["offered"] == 1 and rows[0]["answered"] == 1
    assert c.get("/api/v1/reports/queues?from=2026-12-02&to=2026-12-01").status_code == 400
    assert c.get("/api/v1/reports/nope?from=2026-12-01").status_code == 400
    assert c.get("/api/v1/reports/queues").get_json()["field"] == "query.from"


def test_body_limits_csv_imports_may_be_larger_than_json(sqlite_api):
    c = sqlite_api.client(sqlite_api.token("*"))
    campaign = c.post("/api/v1/campaigns", json={"name": "big", "queue": "sales"}).get_json()["id"]
    body = ("name,phone\n" + "".join(f"Name {i},1391{i:07d}\n" for i in range(3500))).encode()
    assert len(body) > 64 * 1024
    imported = c.post(f"/api/v1/campaigns/{campaign}/contacts", data=body, content_type="text/csv")
    assert imported.status_code == 200 and imported.get_json()["enrolled"] == 3500
    too_big = c.post("/api/v1/customers", json={"phones": ["13911112222"], "name": "x" * 70000})
    assert too_big.status_code == 413 and too_big.get_json()["error"] == "too_large"
    nan = c.post("/api/v1/customers", data='{"phones": ["13911112222"], "arpu": NaN}', content_type="application/json")
    assert nan.status_code == 400
