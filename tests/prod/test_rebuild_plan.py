"""What an engine does with the channels it finds after a restart (engine/ha/rebuild.py), from channel dumps."""
from __future__ import annotations

from engine.ha.rebuild import live_leg, plan_rebuild


def dump(uuid, call_id, *, queue="", agent="", queued_at=None, answered=False, bridge="", did="6000", readopt=""):
    d = {"Unique-ID": uuid, "Answer-State": "answered" if answered else "ringing",
         "Caller-Destination-Number": did, "Caller-Context": "public", "Caller-Channel-Answered-Time": "0"}
    if call_id:
        d["variable_jq_call_id"] = call_id
    if queue:
        d["variable_jq_queue"] = queue
    if agent:
        d["variable_jq_agent_id"] = agent
    if queued_at is not None:
        d["variable_jq_queued_at"] = f"{queued_at:.3f}"
    if bridge:
        d["variable_bridge_uuid"] = bridge
    if readopt:
        d["variable_jq_readopt"] = readopt
    return d


def legs(*dumps):
    return [leg for leg in (live_leg(d) for d in dumps) if leg is not None]


def test_conversations_are_kept_queued_callers_readopted_in_line_order_and_stray_agent_legs_hung_up():
    found = legs(
        dump("c1", "call-1", queue="support", queued_at=100.0, answered=True, bridge="a1"),
        dump("a1", "call-1", queue="support", agent="1001", answered=True, bridge="c1"),
        dump("c3", "call-3", queue="support", queued_at=130.0, answered=True),
        dump("c2", "call-2", queue="support", queued_at=120.0, answered=True),
        dump("a2", "call-2", queue="support", agent="1002"),  # still ringing for call 2
        dump("x", ""),  # a channel the engine never tagged (someone else's call)
    )
    plan = plan_rebuild(found, known_calls=set(), known_legs=set())
    assert [(c.caller.uuid, c.agent_leg.agent_id) for c in plan.conversations] == [("c1", "1001")]
    assert [leg.uuid for leg in plan.readopt] == ["c2", "c3"]  # oldest first: their place in line
    assert [leg.uuid for leg in plan.hang_up] == ["a2"]


def test_calls_the_running_engine_still_tracks_are_left_alone_after_a_mere_reconnect():
    found = legs(dump("c1", "call-1", queue="support", queued_at=100.0, answered=True),
                 dump("a1", "call-1", queue="support", agent="1001"))
    plan = plan_rebuild(found, known_calls={"call-1"}, known_legs={"c1", "a1"})
    assert plan.empty


def test_a_caller_whose_agent_leg_is_gone_is_readopted_not_kept():
    found = legs(dump("c1", "call-1", queue="support", queued_at=100.0, answered=True, bridge="a-gone"))
    plan = plan_rebuild(found, known_calls=set(), known_legs=set())
    assert not plan.conversations and [leg.uuid for leg in plan.readopt] == ["c1"]
