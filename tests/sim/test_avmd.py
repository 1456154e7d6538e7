"""mod_avmd in the simulator: avmd::* events as the module builds them; a machine beeps, a human never does."""
from __future__ import annotations

import pytest

from engine.esl import commands as C

from .helpers import connect_inbound

PRELUDE = ["Event-Subclass", "Event-Name", "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname",
           "FreeSWITCH-IPv4", "FreeSWITCH-IPv6", "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp",
           "Event-Calling-File", "Event-Calling-Function", "Event-Calling-Line-Number", "Event-Sequence"]
BEEP_HEADERS = ["Unique-ID", "Call-command", "Beep-Status", "Frequency", "Frequency-variance", "Amplitude",
                "Amplitude-variance", "Detection-time", "Detector-resolution", "Detector-offset", "Detector-index"]


@pytest.fixture
def esl(sim):
    peer = connect_inbound(sim.address)
    peer.cmd("event plain CHANNEL_ANSWER CHANNEL_HANGUP CUSTOM %s %s %s"
             % (C.SUBCLASS_AVMD_START, C.SUBCLASS_AVMD_BEEP, C.SUBCLASS_AVMD_STOP))
    yield peer
    peer.close()


def _avmd(esl, subclass: str, uuid: str):
    return esl.wait_event(lambda f: f.ev.get("Event-Subclass") == subclass and f.ev.get("Unique-ID") == uuid)


def _names(frame) -> list[str]:
    return [k for k, _ in frame.event if k != "Content-Length"]


def test_a_machine_beeps_when_its_greeting_ends_and_the_api_starts_and_stops_avmd(sim, esl):
    sim.set_destination("5550100", "machine", after=0.5, machine_greeting=150.0)
    assert esl.cmd("api originate {origination_uuid=m1}sofia/gateway/gw/5550100 &park()").body == b"+OK m1\n"
    name = sim.channels["m1"].name
    assert esl.cmd("api %s m1 start" % C.API_AVMD).body.decode() == "+OK\n [m1] [%s] started!\n\n" % name
    start = _avmd(esl, C.SUBCLASS_AVMD_START, "m1")
    assert _names(start) == PRELUDE + ["Unique-ID", "Call-command", "Start-time"]
    assert start.ev["Event-Name"] == "CUSTOM" and start.ev["Call-command"] == "avmd"
    assert start.ev["Event-Calling-File"] == "mod_avmd.c" and start.ev["Start-time"].isdigit()
    assert esl.cmd("api avmd m1 start").body.decode() == "-ERR, avmd for FreeSWITCH session [m1]\n already started\n\n"
    beep = _avmd(esl, C.SUBCLASS_AVMD_BEEP, "m1")
    assert _names(beep) == PRELUDE + BEEP_HEADERS
    assert beep.ev[C.H_BEEP_STATUS] == "DETECTED" and beep.ev["Frequency"] == "1000.000000"
    assert int(beep.ev["Detection-time"]) > 0
    leg = sim.channels["m1"]
    assert leg.machine and leg.get_var(C.VAR_AVMD_DETECT) == "TRUE"
    assert esl.cmd("api uuid_getvar m1 %s" % C.VAR_AVMD_TOTAL_TIME).body.decode().startswith("[")
    # the module's API stop passes beep status 0 and no session info: this is what it fires
    assert esl.cmd("api avmd m1 stop").body.decode() == "+OK\n [m1] [%s] stopped\n\n" % name
    stop = _avmd(esl, C.SUBCLASS_AVMD_STOP, "m1")
    assert _names(stop) == PRELUDE + ["Unique-ID", "Call-command", "Beep-Status", "Stop-status", "Total-time"]
    assert stop.ev["Stop-status"] == "ERROR (AVMD SESSION OBJECT NOT FOUND IN MEDIA BUG)"
    assert esl.cmd("api avmd m1 stop").body.decode() == (
        "+ERR, avmd has not yet been started on\n [m1] [%s]\n\n" % name)
    esl.cmd("api uuid_kill m1")


def test_a_human_never_beeps_and_avmd_stop_reports_not_detected(sim, esl):
    sim.set_destination("5550101", "answer", after=0.5, hangup_after=150.0)
    r = esl.cmd("api originate {origination_uuid=h1}sofia/gateway/gw/5550101 %s,park inline" % C.APP_AVMD_START)
    assert r.body == b"+OK h1\n"
    leg = sim.channels["h1"]
    _avmd(esl, C.SUBCLASS_AVMD_START, "h1")
    esl.send("sendmsg h1\ncall-command: execute\nexecute-app-name: %s" % C.APP_AVMD_STOP)
    stop = _avmd(esl, C.SUBCLASS_AVMD_STOP, "h1")
    assert _names(stop) == PRELUDE + ["Unique-ID", "Call-command", "Beep-Status", "Total-time"]
    assert stop.ev[C.H_BEEP_STATUS] == "NOTDETECTED" and int(stop.ev["Total-time"]) > 0
    esl.cmd("api avmd h1 start")                                    # again, until the person hangs up
    esl.wait_event(lambda f: f.event_name == "CHANNEL_HANGUP" and f.ev.get("Unique-ID") == "h1")
    beeps = [f for f in esl.log if f.ev.get("Event-Subclass") == C.SUBCLASS_AVMD_BEEP]
    assert beeps == [] and leg.get_var(C.VAR_AVMD_DETECT) == ""


def test_a_machine_answered_after_its_beep_is_not_detected_late(sim, esl):
    sim.set_destination("5550102", "machine", after=0.5, machine_greeting=0.0, hangup_after=20.0)
    assert esl.cmd("api originate {origination_uuid=m2}sofia/gateway/gw/5550102 &park()").body == b"+OK m2\n"
    leg = sim.channels["m2"]
    assert sim.wait_until(lambda: leg.machine, 2)
    leg.machine_greeting_until -= 10.0                              # its beep is long over
    esl.cmd("api avmd m2 start")
    esl.wait_event(lambda f: f.event_name == "CHANNEL_HANGUP" and f.ev.get("Unique-ID") == "m2")
    assert [f for f in esl.log if f.ev.get("Event-Subclass") == C.SUBCLASS_AVMD_BEEP] == []


def test_api_errors_are_the_modules(sim, esl):
    assert esl.cmd("api avmd").body.decode().startswith("-ERR, bad command!\n-USAGE: <uuid> < start | stop |")
    assert esl.cmd("api avmd nope start").body.decode().startswith(
        "-ERR, no FreeSWITCH session for uuid [nope]!\n-USAGE: ")
    sim.route("4000", apps=[("answer", ""), ("park", "")])
    call = sim.place_call("4000", "13800138000")
    assert sim.wait_until(lambda: call.channel.answered, 2)
    name = call.channel.name
    assert esl.cmd("api avmd %s start" % call.uuid).body.decode() == (
        "-ERR, can't set direction for channel [%s]\n for FreeSWITCH session [%s]. Please check avmd "
        "configuration\n\n+ERR\n [%s] [%s] NOT started!\n\n" % (name, call.uuid, call.uuid, name))
    call.hangup()


def test_population_machines_beep_and_the_ground_truth_records_it(sim, esl):
    sim.set_population(answer=0, machine=1, busy=0, unallocated=0, seed=2, machine_record=5.0)
    r = esl.cmd("api originate {origination_uuid=p1,originate_timeout=30}sofia/gateway/gw/5553000 "
                "%s,park inline" % C.APP_AVMD_START)
    assert r.body == b"+OK p1\n"
    beep = _avmd(esl, C.SUBCLASS_AVMD_BEEP, "p1")
    assert sim.wait_until(lambda: sim.population_log[0].done, 5)
    truth = sim.population_log[0]
    assert truth.machine and truth.hung_up_by == "callee"
    assert truth.avmd_beep_at is not None and truth.avmd_beep_at >= truth.beep_at >= truth.answered_at
    assert int(beep.ev["Event-Date-Timestamp"]) >= int(truth.beep_at * 1e6)


def test_avmd_started_by_api_on_answer_hears_the_machine(sim, esl):
    sim.set_destination("5550103", "machine", after=0.5, machine_greeting=5.0)
    r = esl.cmd("api originate {origination_uuid=m3,%s='%s m3 %s'}sofia/gateway/gw/5550103 &park()"
                % (C.VAR_API_ON_ANSWER, C.API_AVMD, C.AVMD_CMD_START))
    assert r.body == b"+OK m3\n"
    start = _avmd(esl, C.SUBCLASS_AVMD_START, "m3")
    beep = _avmd(esl, C.SUBCLASS_AVMD_BEEP, "m3")
    assert int(beep.ev["Event-Date-Timestamp"]) >= int(start.ev["Start-time"]) + int(beep.ev["Detection-time"])
    assert sim.channels["m3"].get_var(C.VAR_AVMD_DETECT) == "TRUE"
    esl.cmd("api uuid_kill m3")
