"""Agents and queues live from a running engine (simulated FreeSWITCH, real ACD), over the engine's own web server."""
from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest

from engine.store.repos.tokens import TokenRepository
from tests.web.rig import WebRig


@pytest.fixture
def rig(tmp_path):
    r = WebRig(tmp_path, answer_after=2.0)
    yield r
    r.close()


def _get(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def test_live_agent_state_and_queue_figures(rig):
    now = dt.datetime.now(dt.timezone.utc)
    _, token = TokenRepository(rig.web.console.store).create("wallboard", ["agents:read", "queues:read", "reports:read"], now)
    base = f"{rig.url}/api/v1"
    before = {a["id"]: a["state"] for a in _get(f"{base}/agents", token)["items"]}
    assert before == {"1001": "logged-out", "1002": "logged-out"}
    rig.acd.login("1001")
    assert rig.state("1001") == "available"
    agent = _get(f"{base}/agents/1001", token)
    assert agent["state"] == "available" and agent["name"] == "Agent 1001"
    assert set(agent["queues"]) == {"support", "billing"}
    queues = {q["name"]: q for q in _get(f"{base}/queues", token)["items"]}
    assert set(queues) == {"support", "billing"}
    assert queues["support"]["waiting"] == 0 and queues["support"]["agents"] == {"available": 1}
    assert _get(f"{base}/queues/support", token)["name"] == "support"
    report = _get(f"{base}/reports/queues?from=2026-12-01", token)  # built in the engine's worker threads
    assert report["name"] == "queues" and report["footer"]
