"""Scenario tests of the pure call distributor: offers, answers, no-answers, wrap-up, priority, overflow."""
from __future__ import annotations

from engine.acd.distributor import AUTO_PAUSE_REASON, AcdError
from engine.acd.intents import Abandoned, CallerExit, CancelOffer
from engine.acd.models import AgentState, ExitAction, OverflowStep, PriorityRule, StickyPolicy, Strategy

import pytest

from .helpers import (agent, caller, connects, distributor, offered_agent, offered_call, queue, transitions)


def test_caller_is_offered_to_the_longest_idle_available_agent():
    d = distributor([queue()], [agent("1001"), agent("1002"), agent("1003")])
    d.agents["1002"].idle_since = -50.0
    assert offered_agent(d.enqueue(caller("c1", at=1), 1)) == "1002"
    assert d.agents["1002"].state is AgentState.RINGING


def test_ringing_agent_is_never_offered_a_second_caller():
    d = distributor([queue()], [agent("1001")])
    assert offered_agent(d.enqueue(caller("c1", at=1), 1)) == "1001"
    assert offered_agent(d.enqueue(caller("c2", at=2), 2)) is None
    assert d.queue_length("support") == 2


def test_answer_connects_and_ends_with_wrap_up_then_next_caller_is_offered():
    d = distributor([queue(wrap_up_seconds=15)], [agent("1001")])
    d.enqueue(caller("c1", at=0), 0)
    d.enqueue(caller("c2", at=1), 1)
    [connect] = connects(d.offer_answered("c1", "1001", 5))
    assert connect.waited == 5
    assert d.call_ended("1001", 65)
    assert d.agents["1001"].state is AgentState.WRAP_UP
    assert d.tick(79) == []  # still wrapping up
    intents = d.tick(80)
    assert offered_call(intents) == "c2"
    assert d.agents["1001"].talk_seconds == 60 and d.agents["1001"].calls_handled == 1


def test_unanswered_offer_goes_to_next_agent_and_counts_against_the_first():
    d = distributor([queue()], [agent("1001", idle_since=-10), agent("1002")])
    assert offered_agent(d.enqueue(caller("c1"), 0)) == "1001"
    intents = d.offer_failed("c1", "1001", 20)
    assert offered_agent(intents) == "1002"
    assert d.agents["1001"].consecutive_no_answers == 1
    assert d.agents["1001"].state is AgentState.AVAILABLE


def test_agent_is_auto_paused_after_max_unanswered_offers():
    d = distributor([queue(max_no_answer=2)], [agent("1001")])
    for n in range(2):
        d.enqueue(caller(f"c{n}", at=n * 100), n * 100)
        d.offer_failed(f"c{n}", "1001", n * 100 + 20)
        d.caller_left(f"c{n}", n * 100 + 21)
    assert d.agents["1001"].state is AgentState.NOT_READY
    assert d.agents["1001"].not_ready_reason == AUTO_PAUSE_REASON
    assert offered_agent(d.enqueue(caller("c9", at=300), 300)) is None


def test_caller_hangup_during_offer_cancels_the_agent_leg_at_once():
    d = distributor([queue()], [agent("1001")])
    d.enqueue(caller("c1"), 0)
    intents = d.caller_left("c1", 3)
    assert CancelOffer("c1", "1001", "caller hung up") in intents
    assert Abandoned("c1", "support", 3) in intents
    assert d.agents["1001"].state is AgentState.AVAILABLE


def test_agent_answer_after_caller_left_drops_the_agent_leg():
    d = distributor([queue()], [agent("1001")])
    d.enqueue(caller("c1"), 0)
    d.caller_left("c1", 3)
    intents = d.offer_answered("c1", "1001", 3.1)
    assert any(isinstance(i, CancelOffer) for i in intents)
    assert connects(intents) == []
    assert d.agents["1001"].state is AgentState.AVAILABLE


def test_vip_caller_jumps_queue_but_not_past_older_vip():
    rules = (PriorityRule(priority=10, segment="vip"),)
    d = distributor([queue(priority_rules=rules)], [agent("1001")], ready=False)
    d.enqueue(caller("plain", at=0), 0)
    d.enqueue(caller("vip-old", at=1, features={"segment": "vip"}), 1)
    d.enqueue(caller("vip-new", at=2, features={"segment": "vip"}), 2)
    served = []
    d.set_ready("1001", 3)
    for t in (10, 20, 30):
        call = d.agents["1001"].current_call
        served.append(call)
        d.offer_answered(call, "1001", t)
        d.call_ended("1001", t + 1)
    assert served == ["vip-old", "vip-new", "plain"]


def test_long_waiting_low_priority_caller_eventually_beats_new_vip():
    rules = (PriorityRule(priority=5, segment="vip"),)
    d = distributor([queue(priority_rules=rules, aging_per_minute=1)], [agent("1001")], ready=False)
    d.enqueue(caller("plain", at=0), 0)
    d.enqueue(caller("vip", at=359, features={"segment": "vip"}), 359)  # plain has aged 6 points
    d.set_ready("1001", 360)
    assert d.agents["1001"].current_call == "plain"


def test_caller_needing_a_skill_waits_for_a_qualified_agent():
    d = distributor([queue(skills={"mandarin": 3})], [agent("1001", skills={"mandarin": 2})])
    assert offered_agent(d.enqueue(caller("c1"), 0)) is None
    d.agents["1002"] = agent("1002", skills={"mandarin": 4})
    d.add_agent(d.agents["1002"])
    assert offered_call(d.login("1002", 5)) == "c1"


def test_overflow_lowers_proficiency_then_leaves_for_callback():
    steps = (OverflowStep(after=30, lower_proficiency=1), OverflowStep(after=60, action=ExitAction.CALLBACK))
    d = distributor([queue(skills={"billing": 3}, overflow=steps)], [agent("1001", skills={"billing": 2})])
    assert offered_agent(d.enqueue(caller("c1"), 0)) is None
    assert offered_agent(d.tick(30)) == "1001"
    d.offer_failed("c1", "1001", 40)
    d.set_not_ready("1001", "lunch", 41)
    [exit_] = [i for i in d.tick(60) if isinstance(i, CallerExit)]
    assert (exit_.reason, exit_.action) == ("overflow", ExitAction.CALLBACK)
    assert "c1" not in d.waiting


def test_overflow_adds_another_queue():
    steps = (OverflowStep(after=45, add_queues=("general",)),)
    d = distributor([queue(overflow=steps), queue("general")], [agent("2001", queues=("general",))], ready=True)
    d.set_not_ready("2001", "break", 0)
    assert offered_agent(d.enqueue(caller("c1"), 0)) is None
    assert d.tick(45) == []
    assert offered_call(d.set_ready("2001", 50)) == "c1"


def test_sticky_caller_waits_for_own_agent_then_falls_back():
    d = distributor([queue(sticky=StickyPolicy(max_wait=20))], [agent("1001"), agent("1002")])
    d.enqueue(caller("other", at=0), 0)  # keeps 1001 busy (longest idle tie -> id order)
    assert d.agents["1001"].state is AgentState.RINGING
    assert offered_agent(d.enqueue(caller("c1", at=1, sticky_agent="1001"), 1)) is None
    assert d.agents["1002"].state is AgentState.AVAILABLE  # not given to the sticky caller yet
    assert offered_agent(d.tick(21)) == "1002"


def test_sticky_caller_gets_own_agent_when_it_frees_up():
    d = distributor([queue(sticky=StickyPolicy(max_wait=60))], [agent("1001"), agent("1002")])
    d.enqueue(caller("other", at=0), 0)
    d.enqueue(caller("plain", at=1), 1)  # rings 1002
    d.enqueue(caller("c1", at=2, sticky_agent="1001"), 2)
    d.enqueue(caller("older", at=3), 3)
    intents = d.offer_failed("other", "1001", 10)
    assert d.agents["1001"].current_call == "c1", intents


def test_max_wait_exits_with_configured_action():
    d = distributor([queue(max_wait=120, max_wait_action=ExitAction.VOICEMAIL)], [])
    d.enqueue(caller("c1"), 0)
    [exit_] = d.tick(120)
    assert exit_ == CallerExit("c1", "support", "max wait", ExitAction.VOICEMAIL, 120)


def test_full_queue_turns_caller_away():
    d = distributor([queue(max_length=1)], [])
    d.enqueue(caller("c1"), 0)
    [exit_] = d.enqueue(caller("c2", at=1), 1)
    assert exit_.reason == "queue full"
    assert "c2" not in d.waiting


def test_ring_all_rings_every_free_agent_and_cancels_losers_on_answer():
    d = distributor([queue(strategy=Strategy.RING_ALL)], [agent("1001"), agent("1002"), agent("1003")])
    [offer] = [i for i in d.enqueue(caller("c1"), 0) if hasattr(i, "agent_ids")]
    assert offer.agent_ids == ("1001", "1002", "1003")
    intents = d.offer_answered("c1", "1002", 4)
    cancelled = sorted(i.agent_id for i in intents if isinstance(i, CancelOffer))
    assert cancelled == ["1001", "1003"]
    assert d.agents["1001"].state is AgentState.AVAILABLE
    assert d.agents["1002"].state is AgentState.ON_CALL


def test_unregistered_phone_gets_no_offers_and_mid_offer_unregister_moves_caller_on():
    d = distributor([queue()], [agent("1001", idle_since=-5), agent("1002")])
    d.set_registered("1002", False, 0)
    assert offered_agent(d.enqueue(caller("c1"), 0)) == "1001"
    d.set_registered("1002", True, 1)
    intents = d.set_registered("1001", False, 2)
    assert offered_agent(intents) == "1002"
    assert d.agents["1001"].state is AgentState.AVAILABLE and not d.agents["1001"].can_take_offer


def test_not_ready_during_call_applies_after_wrap_up():
    d = distributor([queue(wrap_up_seconds=5)], [agent("1001")])
    d.enqueue(caller("c1"), 0)
    d.offer_answered("c1", "1001", 1)
    assert d.set_not_ready("1001", "training", 2) == []
    d.call_ended("1001", 10)
    assert transitions(d.tick(15), "1001") == [AgentState.NOT_READY]
    assert d.agents["1001"].not_ready_reason == "training"


def test_logout_while_ringing_puts_caller_back_in_line_for_another_agent():
    d = distributor([queue()], [agent("1001", idle_since=-5), agent("1002")])
    d.set_not_ready("1002", "break", 0)
    d.enqueue(caller("c1"), 0)
    intents = d.logout("1001", 1)
    assert CancelOffer("c1", "1001", "logout") in intents
    assert offered_call(d.set_ready("1002", 2)) == "c1"


def test_lost_answer_event_is_repaired_by_offer_expiry():
    d = distributor([queue(offer_timeout=20)], [agent("1001", idle_since=-5), agent("1002")])
    d.enqueue(caller("c1"), 0)
    intents = d.tick(25)
    assert CancelOffer("c1", "1001", "offer expired") in intents
    assert offered_agent(intents) == "1002"


def test_unknown_queue_is_refused_with_the_known_ones():
    d = distributor([queue()], [])
    with pytest.raises(AcdError, match="known: support"):
        d.enqueue(caller("c1", queue_name="sales"), 0)


def test_position_counts_callers_ahead():
    d = distributor([queue()], [])
    for n in range(3):
        d.enqueue(caller(f"c{n}", at=n), n)
    assert [d.position(f"c{n}", 5) for n in range(3)] == [1, 2, 3]


def test_sticky_caller_falls_back_at_once_when_its_agent_logs_out():
    d = distributor([queue(sticky=StickyPolicy(max_wait=60))], [agent("1001"), agent("1002")])
    d.set_not_ready("1001", "meeting", 0)
    d.set_not_ready("1002", "break", 0)
    d.enqueue(caller("c1", at=1, sticky_agent="1001"), 1)
    d.set_ready("1002", 2)
    assert d.agents["1002"].state is AgentState.AVAILABLE  # kept free: c1 waits for 1001 in its sticky window
    intents = d.logout("1001", 3)
    assert offered_call(intents) == "c1" and d.agents["1002"].current_call == "c1"


def test_agent_who_missed_the_first_caller_still_serves_the_next_one_in_line():
    d = distributor([queue()], [agent("1001")])
    d.enqueue(caller("c1", at=0), 0)
    d.enqueue(caller("c2", at=1), 1)
    intents = d.offer_failed("c1", "1001", 20)  # 1001 missed c1: it must not idle while c2 waits
    assert offered_call(intents) == "c2"
