"""The API over a real socket (gevent's WSGI server, as the engine serves it) and the `jinqiao tokens` commands."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from gevent.pywsgi import WSGIServer


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_api_over_a_real_socket(sqlite_api):
    server = WSGIServer(("127.0.0.1", 0), sqlite_api.app, log=None)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        token = sqlite_api.token("agents:read", "dnc:write")
        status, body = _get(f"{base}/api/v1/agents", token)
        assert status == 200
        assert {a["id"]: a["state"] for a in body["items"]} == {"1001": "logged-out", "1002": "logged-out"}
        assert _get(f"{base}/api/v1/agents")[0] == 401
        request = urllib.request.Request(f"{base}/api/v1/dnc", data=b'{"number": "13911112222"}', method="POST",
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201 and "Set-Cookie" not in response.headers
        status, document = _get(f"{base}/api/openapi.json")
        assert status == 200 and "/api/v1/agents" in document["paths"]
    finally:
        server.stop(timeout=1)


def test_tokens_create_list_revoke(jq, tmp_path):
    assert jq("db", "upgrade")[0] == 0
    code, out, err = jq("tokens", "create", "--name", "erp", "--scope", "customers:read", "--scope", "dnc:*",
                        "--expires", "90d")
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("jq_") and len(secret) == 46
    assert "customers:read dnc:read dnc:write" in err and "not shown again" in err
    code, out, _ = jq("tokens", "list")
    assert code == 0 and "erp" in out and "active" in out and secret not in out and secret[:8] in out
    assert jq("tokens", "create", "--name", "x", "--scope", "customers:delete")[0] == 2
    assert jq("tokens", "create", "--name", "x", "--scope", "*", "--expires", "soon")[0] == 2
    code, _, err = jq("tokens", "create", "--name", "x", "--scope", "*", "--agent", "nobody")
    assert code == 2 and "no agent 'nobody'" in err
    assert jq("tokens", "revoke", "1")[0] == 0
    assert "revoked" in jq("tokens", "list")[1]
    code, _, err = jq("tokens", "revoke", "1")
    assert code == 2 and "no active token 1" in err
