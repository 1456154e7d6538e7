"""The originate API in the simulator: outcomes per destination, dial-string forms, variables."""
from __future__ import annotations

import pytest

from .helpers import connect_inbound


@pytest.fixture
def esl(sim):
    peer = connect_inbound(sim.address)
    yield peer
    peer.close()


@pytest.mark.parametrize("outcome,reply", [
    ("busy", "-ERR USER_BUSY\n"), ("unallocated", "-ERR UNALLOCATED_NUMBER\n"),
    ("rejected", "-ERR CALL_REJECTED\n"), ("not_registered", "-ERR USER_NOT_REGISTERED\n"),
    ("no_user_response", "-ERR NO_USER_RESPONSE\n"),
])
def test_originate_failure_outcomes_reply_with_the_cause(sim, esl, outcome, reply):
    sim.set_destination("5551234", outcome, after=0.2)
    assert esl.cmd("api originate sofia/gateway/gw/5551234 &park()").body.decode() == reply


def test_originate_no_answer_after_originate_timeout(sim, esl):
    sim.set_destination("5550000", "no_answer")
    r = esl.cmd("api originate {originate_timeout=3}sofia/gateway/gw/5550000 &park()")
    assert r.body == b"-ERR NO_ANSWER\n"


def test_originate_answered_with_chosen_uuid_and_caller_id(sim, esl):
    sim.set_destination("5550001", "answer", after=1.0)
    r = esl.cmd("api originate {origination_uuid=jq-1,origination_caller_id_number=4155550100,"
                "origination_caller_id_name=Jinqiao}sofia/gateway/gw/5550001 &park()")
    assert r.body == b"+OK jq-1\n"
    leg = sim.channels["jq-1"]
    assert leg.answered and leg.profile.callee_id_number == "4155550100"   # flipped on answer
    assert sim.wait_until(lambda: "CHANNEL_PARK" in leg.events, 2)
    esl.cmd("api uuid_kill jq-1")
    assert leg.destroyed.wait(2)


def test_originate_app_arguments_end_at_first_parenthesis(sim, esl):
    sim.set_destination("5550002", "answer", after=0.1)
    sim.set_sound("/a(b", 60)
    esl.cmd("api originate {origination_uuid=jq-2}sofia/gateway/gw/5550002 &playback(/a(b).wav)")
    leg = sim.channels.get("jq-2")
    assert leg is not None
    assert sim.wait_until(lambda: leg.apps, 2)
    assert leg.apps[0] == ("playback", "/a(b")
    esl.cmd("api uuid_kill jq-2")


def test_originate_extension_form_runs_the_dialplan(sim, esl):
    sim.set_destination("5550003", "answer", after=0.1)
    sim.route("7777", apps=[("set", "routed=yes"), ("park", "")])
    esl.cmd("api originate {origination_uuid=jq-3}sofia/gateway/gw/5550003 7777 XML default")
    leg = sim.channels["jq-3"]
    assert sim.wait_until(lambda: leg.get_var("routed") == "yes", 2)
    assert leg.profile.destination_number == "7777"
    esl.cmd("api uuid_kill jq-3")


def test_simultaneous_ring_first_answer_wins_other_loses_race(sim, esl):
    sim.add_endpoint("2001", answer_after=0.5)
    sim.add_endpoint("2002", answer_after=3.0)
    r = esl.cmd("api originate {ignore_early_media=true}[origination_uuid=a1]user/2001,"
                "[origination_uuid=a2]user/2002 &park()")
    assert r.body == b"+OK a1\n"
    assert sim.wait_until(lambda: "a2" not in sim.channels, 2)
    esl.cmd("api uuid_kill a1")


def test_sequential_fallback_after_failure(sim, esl):
    sim.add_endpoint("2003", registered=False)
    sim.add_endpoint("2004", answer_after=0.2)
    r = esl.cmd("api originate {origination_uuid=b1}user/2003|user/2004 &park()")
    assert r.body == b"+OK b1\n"
    esl.cmd("api uuid_kill b1")


def test_answering_machine_answers_and_is_marked_on_the_channel(sim, esl):
    sim.set_destination("5550004", "machine", after=0.5, machine_greeting=6.0)
    assert esl.cmd("api originate {origination_uuid=m1}sofia/gateway/gw/5550004 &park()").body == b"+OK m1\n"
    assert sim.channels["m1"].machine
    assert "machine" not in "".join(sim.channels["m1"].variables.values())
    esl.cmd("api uuid_kill m1")


def test_agent_that_never_answers_times_out_and_agent_that_hangs_up(sim, esl):
    sim.add_endpoint("3001", answer_after=None)
    assert esl.cmd("api originate {originate_timeout=1}user/3001 &park()").body == b"-ERR NO_ANSWER\n"
    sim.add_endpoint("3002", answer_after=0.1, hangup_after=5)  # 50 ms real: after the originate has returned
    r = esl.cmd("api originate {origination_uuid=h1}user/3002 &park()")
    assert r.body == b"+OK h1\n"
    leg = sim.channels["h1"]
    assert leg.hungup.wait(2) and leg.hangup_cause == "NORMAL_CLEARING"


def test_show_calls_lists_bridged_pair_once(sim, esl):
    import json
    sim.set_destination("1", "answer", after=0.1)
    sim.set_destination("2", "answer", after=0.1)
    esl.cmd("api originate {origination_uuid=x1}sofia/gw/1 &park()")
    esl.cmd("api originate {origination_uuid=x2}sofia/gw/2 &park()")
    assert esl.cmd("api uuid_bridge x1 x2").body == b"+OK x2\n"
    assert sim.wait_until(lambda: sim.channels["x1"].bridged_to is not None, 2)
    calls = json.loads(esl.cmd("api show calls as json").body)
    assert calls["row_count"] == 1 and calls["rows"][0]["b_uuid"] == "x2"
    chans = json.loads(esl.cmd("api show channels as json").body)
    assert chans["row_count"] == 2
    esl.cmd("api uuid_kill x1")
    assert sim.wait_until(lambda: not sim.channels, 2)


def test_originate_inline_dialplan_hands_the_leg_to_the_engine_socket(sim, esl, engine_listener):
    sim.set_destination("5550005", "answer", after=0.1)
    r = esl.cmd("api originate {origination_uuid=in1,jq_call_id=77}sofia/gateway/gw/5550005 "
                "'set:campaign=c1,socket:%s async full' inline" % engine_listener.address)
    assert r.body == b"+OK in1\n"
    peer = engine_listener.accept()
    peer.send("connect")
    data = peer.next()
    assert data.h["Unique-ID"] == "in1"
    assert data.h["variable_jq_call_id"] == "77" and data.h["variable_campaign"] == "c1"
    peer.close()
    assert sim.wait_until(lambda: "in1" not in sim.channels, 2)
