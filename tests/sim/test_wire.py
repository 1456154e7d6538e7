"""Server-side ESL encoding: FreeSWITCH's url-encoder quirks, event formats, the command reader."""
from __future__ import annotations

import json

import pytest
from gevent import socket

from engine.sim.wire import BadContentLength, CommandReader, Event, url_encode

from .helpers import Peer, connect_inbound


@pytest.mark.parametrize("raw,encoded", [
    ("a b", "a%20b"), ("+OK\n", "%2BOK%0A"), ("sip:1001@127.0.0.1:5060", "sip%3A1001%40127.0.0.1%3A5060"),
    ("é", "%C3%A9"), ("a,b;c", "a,b%3Bc"), ("100%41", "100%41"), ("50%", "50%25"), ("%4a", "%254a"),
    ("!$'()*,-./_~", "!$'()*,-./_~"), ("{x=1}", "%7Bx%3D1%7D"), ('"q"', "%22q%22"),
])
def test_url_encoding_reproduces_freeswitch_quirks(raw, encoded):
    assert url_encode(raw) == encoded


def test_plain_event_ends_with_blank_line_or_body_and_counts_bytes():
    ev = Event("CUSTOM", [("Event-Name", "CUSTOM"), ("Caller", "张三"), ("Empty", "")])
    frame = ev.frame("plain")
    head, _, payload = frame.partition(b"\n\n")
    assert head.startswith(b"Content-Length: ") and head.endswith(b"Content-Type: text/event-plain")
    assert int(head.split(b"\n")[0].split(b": ")[1]) == len(payload)
    assert payload.endswith(b"Empty: _undef_\n\n")
    with_body = Event("BACKGROUND_JOB", [("Event-Name", "BACKGROUND_JOB")], "+OK 你好\n").frame("plain")
    assert with_body.endswith(b"Content-Length: 11\n\n" + "+OK 你好\n".encode())


def test_json_event_keeps_duplicate_names_and_raw_utf8():
    ev = Event("CHANNEL_HANGUP_COMPLETE", [("Hangup-Cause", "USER_BUSY"), ("Caller", "张三"),
                                           ("Hangup-Cause", "USER_BUSY")])
    payload = ev.frame("json").partition(b"\n\n")[2]
    assert payload.count(b'"Hangup-Cause":"USER_BUSY"') == 2
    assert "张三".encode() in payload
    assert json.loads(payload)["Caller"] == "张三"


def test_command_reader_handles_crlf_blank_lines_and_bodies():
    r = CommandReader()
    cmds = r.feed(b"\r\n\nauth ClueCon\r\n\r\nsendmsg\ncontent-type: text/plain\ncontent-length: 5\n\nab cd"
                  b"api status\n\n")
    assert [c.line for c in cmds] == ["auth ClueCon", "sendmsg", "api status"]
    assert cmds[1].body == b"ab cd" and cmds[1].header("Content-Type") == "text/plain"
    assert r.feed(b"event plain ") == [] and r.partial
    assert [c.line for c in r.feed(b"ALL\n\n")] == ["event plain ALL"]


def test_command_reader_rejects_oversized_content_length():
    with pytest.raises(BadContentLength):
        CommandReader().feed(b"sendmsg\ncontent-length: 99999999999\n\n")


def test_invalid_content_length_drops_the_connection_without_reply(sim):
    peer = connect_inbound(sim.address)
    peer.send("sendmsg\ncontent-length: -5")
    assert peer.wait_closed()
    assert [f.content_type for f in peer.log[-1:]] == ["text/disconnect-notice"]


def test_inbound_myevents_binds_connection_and_closes_it_at_hangup(sim):
    sim.route("20", apps=[("answer", ""), ("park", "")])
    call = sim.place_call("20", "2000")
    other = sim.place_call("20", "2001")
    assert sim.wait_until(lambda: "CHANNEL_PARK" in call.events and "CHANNEL_PARK" in other.events, 2)
    sock = socket.create_connection(sim.address)
    peer = Peer(sock)
    peer.next()
    peer.cmd("auth ClueCon")
    assert peer.cmd("myevents %s json" % call.uuid).h["Reply-Text"] == "+OK Events Enabled"
    other.hangup()
    call.hangup()
    assert peer.wait_closed(3)
    uuids = {f.ev.get("Unique-ID") for f in peer.log if f.event is not None}
    assert uuids == {call.uuid}
    assert peer.log[-1].h["Content-Disposition"] == "disconnect"
    assert call.wait_destroyed(2)


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_variables_on_events_track_every_set_and_unset(sim, fmt):
    sim.route("30", apps=[("set", "a=1"), ("set", "b=2"), ("set", "a=3"), ("unset", "b"), ("set", "c=x y"),
                          ("hangup", "")])
    peer = connect_inbound(sim.address)
    peer.cmd("event %s CHANNEL_EXECUTE_COMPLETE" % fmt)
    call = sim.place_call("30", "3000")
    seen = []
    while len(seen) < 6:
        ev = peer.wait_event(lambda f: f.event_name == "CHANNEL_EXECUTE_COMPLETE").ev
        seen.append((ev.get("variable_a"), ev.get("variable_b"), ev.get("variable_c")))
    assert seen == [("1", None, None), ("1", "2", None), ("3", "2", None), ("3", None, None),
                    ("3", None, "x y"), ("3", None, "x y")]
    assert call.wait_destroyed(2)
    peer.close()
