"""Smoke: inbound auth, api, originate, and an outbound socket call with answer/playback/digits/hangup."""
from __future__ import annotations

from engine.sim import Hangup, Press

from .helpers import connect_inbound


def test_inbound_auth_and_status(sim):
    peer = connect_inbound(sim.address)
    r = peer.cmd("api status")
    assert r.content_type == "api/response"
    assert r.body.startswith(b"UP ")
    r = peer.cmd("api nonexistent_cmd")
    assert r.body == b"-ERR nonexistent_cmd Command not found!\n"
    peer.close()


def test_outbound_call_answer_play_collect_hangup(sim, engine_listener, tmp_path):
    sim.route("5000", socket=engine_listener.address + " async full")
    sim.set_sound("/snd/welcome.wav", 2.0)
    call = sim.place_call("5000", "1001", "Alice", script=[Press("12#", at=0.5), Hangup(at=20)])
    peer = engine_listener.accept()
    peer.send("connect")
    data = peer.next()
    assert data.h["Content-Type"] == "command/reply"
    assert data.h["Reply-Text"] == "%2BOK%0A"
    assert peer.cmd("myevents").h["Reply-Text"] == "+OK Events Enabled"
    assert peer.cmd("linger").h["Reply-Text"] == "+OK will linger"
    peer.send("sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true\nEvent-UUID: u1")
    assert peer.next_reply().h["Reply-Text"] == "+OK"
    peer.wait_event(lambda f: f.event_name == "CHANNEL_EXECUTE_COMPLETE" and f.ev["Application-UUID"] == "u1")
    peer.send("sendmsg\ncall-command: execute\nexecute-app-name: play_and_get_digits\n"
              "execute-app-arg: 1 4 1 4000 # /snd/welcome.wav /snd/invalid.wav d \\d+\nEvent-UUID: u2")
    done = peer.wait_event(lambda f: f.event_name == "CHANNEL_EXECUTE_COMPLETE"
                           and f.ev["Application-UUID"] == "u2")
    assert done.ev["variable_d"] == "12"
    peer.send("sendmsg\ncall-command: execute\nexecute-app-name: hangup\nEvent-UUID: u3")
    peer.wait_event(lambda f: f.event_name == "CHANNEL_HANGUP_COMPLETE")
    notice = peer.next()
    assert notice.h["Content-Disposition"] == "linger"
    peer.close()
    assert call.wait_hangup(2)
    assert sim.wait_until(lambda: call.uuid not in sim.channels, 2)
