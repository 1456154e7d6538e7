"""Applications and call outcomes in the simulator: durations, digit collection, recording, bridge, endpoints."""
from __future__ import annotations

import time
import wave

from engine.sim import Hangup, Press
from engine.sim.sounds import write_silence_wav


def run(sim, apps, script=None, did="100"):
    sim.route(did, apps=apps)
    call = sim.place_call(did, "13800000000", script=script or [])
    assert call.wait_destroyed(10)
    return call


def test_playback_lasts_as_long_as_the_wav_file(sim, tmp_path):
    wav = tmp_path / "two_seconds.wav"
    write_silence_wav(str(wav), 2.0)
    start = time.monotonic()
    call = run(sim, [("answer", ""), ("playback", str(wav))])
    elapsed = time.monotonic() - start
    assert 2.0 * sim.time_scale <= elapsed < 2.0 * sim.time_scale + 0.5
    assert call.channel.variables["playback_ms"] == "2000"
    assert call.played == [str(wav)]


def test_missing_file_is_file_not_found_without_playback_events(sim):
    call = run(sim, [("answer", ""), ("playback", "/nope.wav")])
    assert "PLAYBACK_START" not in call.events
    assert call.played == []


def test_playback_terminator_stops_it_and_is_recorded(sim):
    sim.set_sound("/long.wav", 30)
    call = run(sim, [("answer", ""), ("playback", "/long.wav"), ("hangup", "")], [Press("*", at=0.5)])
    assert call.channel.variables["playback_terminator_used"] == "*"
    assert int(call.channel.variables["playback_ms"]) < 30000


def test_play_and_get_digits_plays_invalid_file_on_every_failed_try(sim):
    sim.set_sound("/menu.wav", 1)
    sim.set_sound("/invalid.wav", 1)
    call = run(sim, [("answer", ""), ("play_and_get_digits",
                                      "1 1 3 1000 # /menu.wav /invalid.wav choice [12]")],
               [Press("9", at=0.2, during="play_and_get_digits")])
    assert call.played == ["/menu.wav", "/invalid.wav"] * 3
    assert "choice" not in call.channel.variables
    assert call.channel.variables["choice_invalid"] == "9"
    assert call.channel.variables["read_result"] == "failure"


def test_read_with_terminator_sets_success_and_terminator_used(sim):
    sim.set_sound("/p.wav", 0.5)
    call = run(sim, [("answer", ""), ("read", "2 6 /p.wav acct 3000 #")],
               [Press("1234#", at=0.1, during="read")])
    v = call.channel.variables
    assert (v["acct"], v["read_result"], v["read_terminator_used"]) == ("1234", "success", "#")


def test_read_timeout_without_digits_is_failure(sim):
    call = run(sim, [("answer", ""), ("read", "1 4 silence acct 1000 #")])
    assert call.channel.variables["read_result"] == "failure"
    assert "acct" not in call.channel.variables


def test_record_writes_a_wav_of_the_recorded_length(sim, tmp_path):
    path = tmp_path / "rec" / "msg.wav"
    call = run(sim, [("answer", ""), ("record", "%s 3" % path)])
    with wave.open(str(path)) as w:
        assert abs(w.getnframes() / w.getframerate() - 3.0) < 0.05
    assert call.channel.variables["record_seconds"] == "3"
    assert "RECORD_START" in call.events and "RECORD_STOP" in call.events


def test_record_session_stops_on_hangup_and_writes_file(sim, tmp_path):
    path = tmp_path / "whole_call.wav"
    call = run(sim, [("answer", ""), ("record_session", str(path)), ("sleep", "2000")])
    assert path.exists() and path.stat().st_size > 44
    assert call.events.index("RECORD_STOP") > call.events.index("CHANNEL_HANGUP")


def test_unknown_app_hangs_up_destination_out_of_order(sim):
    call = run(sim, [("answer", ""), ("no_such_app", "x"), ("playback", "/x.wav")])
    assert call.hangup_cause == "DESTINATION_OUT_OF_ORDER"
    assert ("playback", "/x.wav") not in call.apps


def test_speak_without_tts_engine_hangs_up(sim):
    call = run(sim, [("answer", ""), ("speak", "hello")])
    assert call.hangup_cause == "DESTINATION_OUT_OF_ORDER"


def test_speak_lasts_in_proportion_to_the_text(sim):
    start = time.monotonic()
    run(sim, [("answer", ""), ("speak", "flite|kal|" + "x" * 100)])
    assert time.monotonic() - start >= 100 * 0.07 * sim.time_scale


def test_bridge_to_agent_that_answers_then_hangs_up_continues_dialplan(sim):
    sim.add_endpoint("1001", answer_after=0.5, hangup_after=1.0)
    call = run(sim, [("bridge", "user/1001"), ("set", "after=yes")])
    v = call.channel.variables
    assert v["after"] == "yes" and v["DIALSTATUS"] == "SUCCESS"
    assert v["last_bridge_hangup_cause"] == "NORMAL_CLEARING"
    assert "CHANNEL_BRIDGE" in call.events and "CHANNEL_UNBRIDGE" in call.events


def test_bridge_failure_hangs_up_caller_unless_continue_on_fail(sim):
    sim.add_endpoint("1002", reject_cause="CALL_REJECTED")
    call = run(sim, [("bridge", "user/1002"), ("set", "after=yes")])
    assert call.hangup_cause == "CALL_REJECTED" and "after" not in call.channel.variables
    call = run(sim, [("set", "continue_on_fail=true"), ("bridge", "user/1002"), ("set", "after=yes")], did="101")
    assert call.channel.variables["after"] == "yes"
    assert call.channel.variables["originate_disposition"] == "CALL_REJECTED"


def test_bridge_no_answer_continues_dialplan_even_without_continue_on_fail(sim):
    sim.add_endpoint("1003", answer_after=None)
    call = run(sim, [("set", "call_timeout=2"), ("bridge", "user/1003"), ("set", "after=yes")])
    assert call.channel.variables["DIALSTATUS"] == "NOANSWER"
    assert call.channel.variables["after"] == "yes"


def test_bridge_to_unregistered_agent_fails_user_not_registered(sim):
    sim.add_endpoint("1004", registered=False)
    call = run(sim, [("set", "continue_on_fail=true"), ("bridge", "user/1004")])
    assert call.channel.variables["originate_failed_cause"] == "USER_NOT_REGISTERED"


def test_hangup_after_bridge_uses_peer_cause(sim):
    sim.add_endpoint("1005", answer_after=0.2, hangup_after=0.5)
    call = run(sim, [("set", "hangup_after_bridge=true"), ("bridge", "user/1005"), ("set", "after=yes")])
    assert "after" not in call.channel.variables
    assert call.hangup_cause == "NORMAL_CLEARING"


def test_caller_hangup_during_bridge_hangs_up_agent_leg(sim):
    sim.add_endpoint("1006", answer_after=0.2)
    sim.route("7", apps=[("bridge", "user/1006")])
    call = sim.place_call("7", "700", script=[Hangup(at=1.0)])
    assert call.wait_destroyed(5)
    assert sim.wait_until(lambda: not sim.channels, 5)
    assert call.hangup_cause == "NORMAL_CLEARING"
    assert "CHANNEL_UNBRIDGE" in call.events


def test_transfer_reruns_dialplan_with_new_destination(sim):
    sim.route("8", apps=[("answer", ""), ("transfer", "9 XML default")])
    sim.route("9", apps=[("set", "landed=9")])
    call = sim.place_call("8", "800")
    assert call.wait_destroyed(5)
    assert call.channel.variables["landed"] == "9"
    assert call.channel.profile.rdnis == "8"


def test_caller_abandons_while_ringing_with_from_start(sim):
    sim.route("10", apps=[("ring_ready", ""), ("sleep", "60000")])
    call = sim.place_call("10", "1000", script=[Hangup(at=0.5, from_start=True)])
    assert call.wait_hangup(2)
    assert not call.channel.answered


def test_read_with_required_terminator_fails_on_timeout(sim):
    call = run(sim, [("answer", ""), ("read", "1 4 silence a 1000 =# 500")], [Press("12", at=0.1)])
    assert call.channel.variables["a"] == "12"
    assert call.channel.variables["read_result"] == "failure"


def test_read_with_plus_terminator_keeps_it_in_the_digits(sim):
    call = run(sim, [("answer", ""), ("read", "1 4 silence b 2000 +#")], [Press("34#", at=0.1)])
    assert call.channel.variables["b"] == "34#"
    assert call.channel.variables["read_result"] == "success"


def test_file_string_lasts_as_long_as_its_parts(sim):
    sim.set_sound("/a.wav", 1.0)
    sim.set_sound("/b.wav", 2.0)
    call = run(sim, [("answer", ""), ("playback", "file_string:///a.wav!/b.wav")])
    assert call.channel.variables["playback_ms"] == "3000"
