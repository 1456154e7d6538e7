"""API authorisation: no credentials, wrong scope, revoked and expired tokens, roles, CSRF, agents' own recordings."""
from __future__ import annotations

import datetime as dt
import hashlib

from engine.store.repos.interactions import InteractionRepository, RecordingRepository
from engine.store.repos.tokens import TokenRepository, digest

NOW = dt.datetime.now(dt.timezone.utc)


def _recording(store, tmp_path, agent_id: str) -> int:
    call = InteractionRepository(store).start("inbound", NOW, caller="13911112222")
    InteractionRepository(store).update(call, agent_id=agent_id)
    audio = tmp_path / f"call-{call}.wav"
    audio.write_bytes(b"RIFF" + agent_id.encode() * 10)
    return RecordingRepository(store).add(str(audio), 3.0, audio.stat().st_size,
                                          hashlib.sha256(audio.read_bytes()).hexdigest(), call).id


def test_no_credentials_401_and_bad_scheme_401(sqlite_api):
    client = sqlite_api.client()
    response = client.get("/api/v1/customers")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/customers", headers={"Authorization": "Basic YTpi"}).status_code == 401
    assert client.get("/api/v1/customers", headers={"Authorization": "Bearer jq_" + "A" * 43}).status_code == 401
    assert client.post("/api/v1/dnc", json={"number": "13911112222"}).status_code in (401, 403)


def test_wrong_scope_is_403_and_right_scope_passes(sqlite_api):
    client = sqlite_api.client(sqlite_api.token("customers:read"))
    assert client.get("/api/v1/customers").status_code == 200
    refused = client.post("/api/v1/dnc", json={"number": "13911112222"})
    assert refused.status_code == 403
    assert "dnc:write" in refused.get_json()["message"]
    assert client.get("/api/v1/reports/queues?from=2026-12-01").status_code == 403
    # write does not imply read
    writer = sqlite_api.client(sqlite_api.token("dnc:write"))
    assert writer.post("/api/v1/dnc", json={"number": "13911112222"}).status_code == 201
    assert writer.get("/api/v1/dnc/13911112222").status_code == 403


def test_revoked_and_expired_tokens_are_refused(sqlite_api):
    token = sqlite_api.token("customers:read")
    client = sqlite_api.client(token)
    assert client.get("/api/v1/customers").status_code == 200
    repo = TokenRepository(sqlite_api.store)
    (stored,) = [t for t in repo.list() if t.prefix == token[:8]]
    assert stored.last_used_at is not None
    assert repo.revoke(stored.id, NOW)
    assert client.get("/api/v1/customers").status_code == 401
    expired = sqlite_api.token("customers:read", expires_at=NOW - dt.timedelta(seconds=1))
    assert sqlite_api.client(expired).get("/api/v1/customers").status_code == 401


def test_tokens_are_stored_hashed(sqlite_api):
    token = sqlite_api.token("*")
    from sqlalchemy import text

    with sqlite_api.store.engine.connect() as conn:
        rows = conn.execute(text("SELECT secret_sha256, prefix FROM api_tokens")).all()
    assert rows == [(digest(token), token[:8])]
    assert all(token not in str(value) for row in rows for value in row if value != token[:8])


def test_agent_token_sees_only_its_own_recordings(sqlite_api, tmp_path):
    own = _recording(sqlite_api.store, tmp_path, "1001")
    other = _recording(sqlite_api.store, tmp_path, "1002")
    agent = sqlite_api.client(sqlite_api.token("recordings:read", "interactions:read", agent_id="1001"))
    assert agent.get(f"/api/v1/recordings/{own}").status_code == 200
    audio = agent.get(f"/api/v1/recordings/{own}/audio")
    assert audio.status_code == 200 and audio.data == b"RIFF" + b"1001" * 10
    for path in (f"/api/v1/recordings/{other}", f"/api/v1/recordings/{other}/audio"):
        refused = agent.get(path)
        assert refused.status_code == 404, path
        assert refused.get_json()["error"] == "not_found"
    listed = agent.get("/api/v1/interactions").get_json()["items"]
    assert {i["agent_id"] for i in listed} == {"1001"}
    assert agent.get("/api/v1/interactions?agent=1002").status_code == 403
    boss = sqlite_api.client(sqlite_api.token("recordings:read"))
    assert boss.get(f"/api/v1/recordings/{other}/audio").data == b"RIFF" + b"1002" * 10
    meta = boss.get(f"/api/v1/recordings/{other}").get_json()
    assert "path" not in meta and meta["download"] == f"/api/v1/recordings/{other}/audio"


def test_signed_in_agent_session_same_rules_and_csrf(sqlite_api, tmp_path):
    own = _recording(sqlite_api.store, tmp_path, "1001")
    other = _recording(sqlite_api.store, tmp_path, "1002")
    client, csrf = sqlite_api.signed_in("1001")
    assert client.get(f"/api/v1/recordings/{own}").status_code == 200
    assert client.get(f"/api/v1/recordings/{other}").status_code == 404
    assert client.get("/api/v1/campaigns").status_code == 403  # agents have no campaign scope
    assert client.get("/api/v1/agents").status_code == 403
    no_csrf = client.post("/api/v1/dnc", json={"number": "13911112222"})
    assert no_csrf.status_code == 403 and no_csrf.get_json()["error"] == "csrf"
    assert client.post("/api/v1/dnc", json={"number": "13911112222"}, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_supervisor_session_has_every_scope(sqlite_api):
    client, csrf = sqlite_api.signed_in("boss")
    assert client.get("/api/v1/agents").status_code == 200
    assert client.get("/api/v1/reports/agents?from=2026-12-01").status_code == 200
    made = client.post("/api/v1/campaigns", json={"name": "c1", "queue": "sales"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201


def test_bearer_header_wins_over_a_session_cookie(sqlite_api):
    client, _ = sqlite_api.signed_in("boss")
    refused = client.get("/api/v1/agents", headers={"Authorization": "Bearer jq_" + "B" * 43})
    assert refused.status_code == 401
