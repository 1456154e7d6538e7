"""Which webhook events an interaction update means (pure mapping, no store)."""
from __future__ import annotations

from engine.webhooks.acd_events import CallEvents, EmittingInteractions


def kinds(events):
    return [(e.kind, e.key) for e in events]


def test_a_served_call_is_offered_answered_and_ended_once_with_queue_and_agent_named() -> None:
    calls = CallEvents()
    assert kinds(calls.events("c1", 1.0, {"caller": "1330", "queue": "support", "queue_entered_at": 1.0})) == [
        ("call.offered", "c1")]
    assert calls.events("c1", 2.0, {"offered_at": 2.0, "agent_id": "1001"}) == []  # ringing an agent: no event
    [answered] = calls.events("c1", 3.0, {"agent_id": "1001", "answered_at": 3.0, "wait_seconds": 2.0})
    assert answered.data == {"call_id": "c1", "queue": "support", "caller": "1330", "agent_id": "1001",
                             "wait_seconds": 2.0}
    [ended] = calls.events("c1", 9.0, {"hangup_by": "agent", "talk_seconds": 6.0})
    assert ended.kind == "call.ended" and ended.data["agent_id"] == "1001" and ended.data["talk_seconds"] == 6.0
    assert calls.events("c1", 9.5, {"hangup_by": "caller"}) == []  # ended once
    assert kinds(calls.events("c1", 20.0, {"queue": "billing", "queue_entered_at": 20.0})) == [("call.offered", "c1")]
    assert kinds(calls.events("c1", 30.0, {"ivr_outcome": "queue_timeout"})) == [("call.ended", "c1")]


def test_an_abandoned_call_is_abandoned_then_ended() -> None:
    calls = CallEvents()
    calls.events("c2", 1.0, {"queue": "q", "queue_entered_at": 1.0})
    got = calls.events("c2", 5.0, {"abandoned": True, "wait_seconds": 4.0, "hangup_by": "caller",
                                   "hangup_cause": "NORMAL_CLEARING"})
    assert kinds(got) == [("call.abandoned", "c2"), ("call.ended", "c2")]
    assert got[1].data["abandoned"] is True and got[0].data["hangup_cause"] == "NORMAL_CLEARING"


def test_the_decorator_writes_the_fact_before_emitting_its_events() -> None:
    order = []

    class Inner:
        def queue_event(self, call_id, at, **fields):
            order.append(("write", sorted(fields)))

    log = EmittingInteractions(Inner(), lambda event: order.append(("emit", event.kind)))
    log.queue_event("c3", 1.0, queue="q", queue_entered_at=1.0)
    assert order == [("write", ["queue", "queue_entered_at"]), ("emit", "call.offered")]
