"""Scripted callers: Press/Wait/Hangup timing relative to answer, and SimCall state."""
from __future__ import annotations

from engine.sim import Hangup, Press, Wait


def collect(sim, script, did):
    sim.route(did, apps=[("answer", ""), ("read", "1 4 silence got 3000 # 2000"), ("hangup", "")])
    call = sim.place_call(did, "1390000", script=script)
    assert call.wait_destroyed(5)
    return call


def test_wait_shorter_than_digit_timeout_keeps_digits_together(sim):
    call = collect(sim, [Press("1", at=0.5), Wait(1.0), Press("2")], "1")
    assert call.channel.variables["got"] == "12"


def test_wait_longer_than_digit_timeout_splits_the_input(sim):
    call = collect(sim, [Press("1", at=0.5), Wait(5.0), Press("2")], "2")
    assert call.channel.variables["got"] == "1"
    assert call.channel.variables["read_result"] == "timeout"


def test_scripted_hangup_ends_the_call_with_its_cause(sim):
    sim.route("3", apps=[("answer", ""), ("park", "")])
    call = sim.place_call("3", "1390001", script=[Hangup(at=1.0, cause="NORMAL_UNSPECIFIED")])
    assert call.wait_hangup(2)
    assert call.hung_up and call.hangup_cause == "NORMAL_UNSPECIFIED"
    assert call.apps == [("answer", ""), ("park", "")]
    assert sim.command_log == []
