"""Agent control comes only from authenticated sources (issue 13.2): the engine's signed CLI/API requests, or a
feature code fired for a SIP user who passed digest authentication; forged events change nothing."""
from __future__ import annotations

from engine.acd import agent_control as control
from engine.acd.models import Agent, AgentState, QueueConfig
from engine.esl import commands

from .fakes import FakeEvent, make_service

KEY = control.control_key("s3cret")


def _rig():
    service, switch, clock = make_service([QueueConfig("support")], [Agent("1001", extension="8001"),
                                                                      Agent("1002", extension="8002")])
    acks: list[tuple[dict, str]] = []
    handler = control.AgentControl(service, KEY, lambda headers, body: acks.append((headers, body)), clock=clock)
    return service, handler, acks, clock


def _event(headers):
    return FakeEvent(commands.EV_CUSTOM, {commands.H_SUBCLASS: commands.SUBCLASS_AGENT_CONTROL, **headers})


def test_a_signed_request_is_applied_and_acknowledged_with_the_live_state():
    service, handler, acks, clock = _rig()
    handler(_event(control.signed_request(KEY, {"Agent-ID": "1001", "Agent-Action": "login"}, clock(), "r1")))
    assert service.distributor.agents["1001"].state is AgentState.AVAILABLE
    (headers, _body), = acks
    assert headers[control.H_REQUEST_ID] == "r1" and headers[control.H_RESULT] == "ok"
    assert headers[control.H_STATE] == "available" and control.verify(KEY, headers)


def test_unsigned_forged_and_replayed_requests_change_nothing():
    service, handler, acks, clock = _rig()
    # What a caller ID of `9999,Agent-ID=1001` made the old feature code fire: no signature, no token.
    handler(_event({"Agent-ID": "1001", "Agent-Action": "login", "Unique-ID": "abc"}))
    forged = control.signed_request(control.control_key("guess"), {"Agent-ID": "1001", "Agent-Action": "login"},
                                    clock(), "r2")
    handler(_event(forged))
    assert service.distributor.agents["1001"].state is AgentState.LOGGED_OUT and acks == []
    good = control.signed_request(KEY, {"Agent-ID": "1001", "Agent-Action": "login"}, clock(), "r3")
    handler(_event(good))
    service.logout("1001")
    handler(_event(good))  # replayed
    assert service.distributor.agents["1001"].state is AgentState.LOGGED_OUT and len(acks) == 1
    stale = control.signed_request(KEY, {"Agent-ID": "1001", "Agent-Action": "login"}, clock() - 3600, "r4")
    handler(_event(stale))
    assert acks[-1][0][control.H_RESULT] == "refused" and "too old" in acks[-1][0][control.H_DETAIL]


def test_a_feature_code_acts_for_the_authenticated_sip_user_never_for_a_named_agent():
    service, handler, acks, _clock = _rig()
    token = control.feature_code_token(KEY)
    # The authenticated user 8002 dials *21; an injected Agent-ID header is ignored.
    handler(_event({"Agent-Action": "login", control.H_EXTENSION: "8002", control.H_TOKEN: token,
                    "Agent-ID": "1001", "Unique-ID": "chan-1"}))
    assert service.distributor.agents["1002"].state is AgentState.AVAILABLE
    assert service.distributor.agents["1001"].state is AgentState.LOGGED_OUT
    # Wrong token, no channel, or a user who is no agent: refused.
    handler(_event({"Agent-Action": "login", control.H_EXTENSION: "8001", control.H_TOKEN: "0" * 32,
                    "Unique-ID": "chan-2"}))
    handler(_event({"Agent-Action": "login", control.H_EXTENSION: "8001", control.H_TOKEN: token}))
    handler(_event({"Agent-Action": "login", control.H_EXTENSION: "9999", control.H_TOKEN: token,
                    "Unique-ID": "chan-3"}))
    assert service.distributor.agents["1001"].state is AgentState.LOGGED_OUT and acks == []


def test_status_answers_with_the_engines_live_view():
    import json

    service, handler, acks, clock = _rig()
    service.login("1002")
    service.not_ready("1002", "lunch")
    handler(_event(control.signed_request(KEY, {"Agent-Action": "status"}, clock(), "s1")))
    headers, body = acks[-1]
    assert control.verify(KEY, headers, body)
    agents = json.loads(body)
    assert agents["1002"]["state"] == "not-ready" and agents["1002"]["reason"] == "lunch"
    assert agents["1001"]["state"] == "logged-out"
    handler(_event(control.signed_request(KEY, {"Agent-ID": "7777", "Agent-Action": "status"}, clock(), "s2")))
    assert acks[-1][0][control.H_RESULT] == "refused" and "unknown agent" in acks[-1][0][control.H_DETAIL]


def test_agent_control_events_log_in_pause_and_resume():
    """(Moved from test_service.py: control events are now signed.)"""
    service, handler, _acks, clock = _rig()
    service.distributor.add_agent(Agent("1005", extension="1005"))

    def send(request_id, **fields):
        handler(_event(control.signed_request(KEY, fields, clock(), request_id)))

    send("a", **{"Agent-ID": "1005", "Agent-Action": "login", "Agent-Queues": "support"})
    send("b", **{"Agent-ID": "1005", "Agent-Action": "not-ready", "Agent-Reason": "lunch"})
    assert service.agent_status("1005")["state"] == "not-ready" and service.agent_status("1005")["reason"] == "lunch"
    send("c", **{"Agent-ID": "1005", "Agent-Action": "ready"})
    assert service.agent_status("1005")["state"] == "available" and service.agent_status("1005")["queues"] == ["support"]
