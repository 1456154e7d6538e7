"""Fidelity: calls driven through the simulator have the captured per-channel event order and header names."""
from __future__ import annotations

import os

import pytest

from engine.sim import Hangup, Press

from .helpers import CAPTURES, connect_inbound, split_file
from .shapes import channel_orders, channel_states, has_variables, header_names, non_event_types, reply_texts

NOISE = "filter Event-Name /^(?!(HEARTBEAT|RE_SCHEDULE|MESSAGE_QUERY)$)/"
PUBLIC_PRELUDE = [("set", "outside_call=true"), ("export", "RFC2822_DATE=${strftime(%a, %d %b %Y %T %z)}")]


def capture(name: str, sub: str = "") -> list:
    path = os.path.join(CAPTURES, name, sub, "from_fs.bin")
    assert os.path.exists(path), "capture %s missing" % name
    return split_file(path)


def observer(sim, fmt: str = "plain"):
    peer = connect_inbound(sim.address)
    assert peer.cmd("event %s ALL" % fmt).h["Reply-Text"] == "+OK event listener enabled %s" % fmt
    assert peer.cmd(NOISE).h["Reply-Text"].startswith("+OK filter added.")
    return peer


def finish(peer, sim, until_destroyed: int = 1) -> list:
    seen = [0]

    def destroyed(fr) -> bool:
        if fr.ev.get("Event-Name") == "CHANNEL_STATE" and fr.ev.get("Channel-State") == "CS_DESTROY":
            seen[0] += 1
        return seen[0] >= until_destroyed
    peer.wait_event(destroyed, timeout=10)
    assert peer.cmd("exit").h["Reply-Text"] == "+OK bye"
    assert peer.wait_closed()
    return peer.log


def assert_same_shapes(mine: list, real: list, events: set[str] | None = None) -> None:
    """Same per-channel event order; same non-variable header names and variable presence per event."""
    mo, ro = channel_orders(mine), channel_orders(real)
    if mo != ro:
        import difflib
        print("\n".join(difflib.unified_diff(sum(ro, ["--"]), sum(mo, ["--"]), "real", "sim", lineterm="")))
    assert mo == ro
    real_names, my_names = header_names(real), header_names(mine)
    for name in events or set(real_names):
        if name in real_names and name in my_names and not name.startswith(("API", "MESSAGE")):
            assert my_names[name] == real_names[name], name
    ms, rs = channel_states(mine), channel_states(real)
    for mine_ch, real_ch in zip(ms, rs):
        for a, b in zip(mine_ch, real_ch):
            assert a == b, "state headers differ:\n sim  %s\n real %s" % (a, b)
    real_vars, my_vars = has_variables(real), has_variables(mine)
    for name, flag in real_vars.items():
        if name in my_vars:
            assert my_vars[name] == flag, name


def lifecycle_route(sim) -> None:
    sim.set_sound("/sounds/welcome.wav", 2.5)
    sim.set_sound("/sounds/enter_digits.wav", 2.0)
    sim.set_sound("/sounds/invalid.wav", 1.0)
    sim.set_sound("/sounds/goodbye.wav", 1.9)
    sim.route("5000", apps=PUBLIC_PRELUDE + [
        ("set", "capture_test=5000"), ("answer", ""), ("playback", "/sounds/welcome.wav"),
        ("play_and_get_digits", "1 4 1 4000 # /sounds/enter_digits.wav /sounds/invalid.wav pagd_digits \\d+"),
        ("playback", "/sounds/goodbye.wav"), ("hangup", "NORMAL_CLEARING")])


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_inbound_call_lifecycle_matches_capture_03(sim, fmt):
    real = capture("03-call-lifecycle-" + fmt)
    lifecycle_route(sim)
    peer = observer(sim, fmt)
    script = [Press("123#", at=1.0, gap=0.4, during="play_and_get_digits")]
    call = sim.place_call("5000", "01011", "ESL Capture", script=script)
    mine = finish(peer, sim)
    assert call.channel.variables["pagd_digits"] == "123"
    assert non_event_types(mine) == non_event_types(real)
    assert reply_texts(mine) == reply_texts(real)
    assert_same_shapes(mine, real)


def test_dialplan_bridge_to_agent_matches_capture_06a(sim):
    real = capture("06a-bridge-dialplan")
    sim.add_endpoint("1001", answer_after=0.5)
    sim.route("5002", apps=PUBLIC_PRELUDE + [("set", "capture_test=5002"), ("bridge", "user/1001@127.0.0.1")])
    peer = observer(sim)
    call = sim.place_call("5002", "01011", "ESL Capture", script=[Hangup(at=2.0)])
    mine = finish(peer, sim, until_destroyed=2)
    assert call.hangup_cause == "NORMAL_CLEARING"
    assert_same_shapes(mine, real)
