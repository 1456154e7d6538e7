"""The answer/job ordering of a real switch (issue 14.1): CHANNEL_ANSWER comes before the originate's
BACKGROUND_JOB, and a leg uuid_bridged while its originate still runs ends `-ERR ORIGINATOR_CANCEL`
although it stays up and bridged."""
from __future__ import annotations

from .helpers import connect_inbound


def test_the_answer_event_comes_before_the_job_result(sim):
    sim.add_endpoint("1001", answer_after=0.1)
    esl = connect_inbound(sim.address)
    esl.cmd("event plain CHANNEL_ANSWER BACKGROUND_JOB")
    esl.cmd("bgapi originate {origination_uuid=leg-1}user/1001 &park()")
    names = []
    while "BACKGROUND_JOB" not in names:
        names.append(esl.wait_event(lambda f: f.event_name in ("CHANNEL_ANSWER", "BACKGROUND_JOB")).event_name)
    assert names == ["CHANNEL_ANSWER", "BACKGROUND_JOB"]
    assert esl.log[-1].body.endswith(b"+OK leg-1\n")
    esl.cmd("api uuid_kill leg-1")
    esl.close()


def test_a_leg_bridged_inside_its_originate_stays_up_while_the_job_reports_originator_cancel(sim):
    sim.switch.latency.originate_return = 0.5  # a wide window, so the bridge surely lands inside it
    sim.set_destination("n-caller", "answer", after=0.1)
    sim.add_endpoint("1001", answer_after=0.1)
    esl = connect_inbound(sim.address)
    assert esl.cmd("api originate {origination_uuid=caller}sofia/gw/n-caller &park()").body == b"+OK caller\n"
    esl.cmd("event plain CHANNEL_ANSWER BACKGROUND_JOB CHANNEL_BRIDGE")
    job = esl.cmd("bgapi originate {origination_uuid=leg-1}user/1001 &park()").h["Job-UUID"]
    # When the engine bridges the caller to the leg as soon as its answer event arrives
    esl.wait_event(lambda f: f.event_name == "CHANNEL_ANSWER" and f.ev.get("Unique-ID") == "leg-1")
    assert esl.cmd("api uuid_bridge caller leg-1").body == b"+OK leg-1\n"
    # Then the originate ends -ERR ORIGINATOR_CANCEL, while the leg is up and bridged to the caller
    frame = esl.wait_event(lambda f: f.event_name == "BACKGROUND_JOB" and f.ev.get("Job-UUID") == job)
    assert frame.body.endswith(b"-ERR ORIGINATOR_CANCEL\n")
    assert sim.wait_until(lambda: sim.channels["caller"].bridged_to is sim.channels.get("leg-1"), 2)
    leg = sim.channels["leg-1"]
    assert leg.up and leg.answered and leg.bridged_in_originate
    # And the leg's own hang-up still ends the bridge
    esl.cmd("api uuid_kill leg-1")
    assert sim.wait_until(lambda: "leg-1" not in sim.channels, 2)
    esl.cmd("api hupall")
    esl.close()


def test_api_on_answer_runs_inside_freeswitch_when_the_leg_is_answered(sim):
    sim.set_destination("n-caller", "answer", after=0.1)
    sim.add_endpoint("1001", answer_after=0.1)
    esl = connect_inbound(sim.address)
    assert esl.cmd("api originate {origination_uuid=caller}sofia/gw/n-caller &park()").body == b"+OK caller\n"
    esl.cmd("event plain CHANNEL_ANSWER BACKGROUND_JOB")
    job = esl.cmd("bgapi originate {origination_uuid=leg-1,api_on_answer='uuid_bridge caller leg-1'}"
                  "user/1001 &park()").h["Job-UUID"]
    frame = esl.wait_event(lambda f: f.event_name == "BACKGROUND_JOB" and f.ev.get("Job-UUID") == job)
    assert frame.body.endswith(b"-ERR ORIGINATOR_CANCEL\n")  # bridged inside its own originate
    assert sim.wait_until(lambda: sim.channels["caller"].bridged_to is sim.channels.get("leg-1"), 2)
    esl.cmd("api hupall")
    esl.close()
