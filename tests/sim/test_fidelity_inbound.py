"""Fidelity: inbound ESL conversations (captures 01, 02, 07, 09, 10, 11, 12) replayed byte for byte."""
from __future__ import annotations

import json
import os

import pytest
from gevent import socket

from engine.sim import FreeSwitchSim

from .helpers import CAPTURES, Peer
from .replay import Replayer, normalise
from .shapes import content_types, header_names, reply_texts
from .test_fidelity_calls import PUBLIC_PRELUDE, assert_same_shapes, capture
from .test_fidelity_originate import parked_call, settle


CAPTURED_BRIDGED_A = "738de9aa-03b0-49cc-830c-fc0a30c16da1"     # capture 09's A-leg of the bridged pair
CAPTURED_PARKED = "cf35a1db-8b65-414f-97b0-f050436daac9"        # capture 09's parked call


@pytest.fixture
def slow_sim():
    """time_scale 1: no HEARTBEAT can slip into a fast protocol replay."""
    s = FreeSwitchSim(password="ClueCon", time_scale=1.0)
    s.start()
    yield s
    s.stop()


def raw_replay(sim, path: str) -> list:
    """Send the captured client bytes in one go and collect everything until the simulator closes."""
    with open(path, "rb") as f:
        data = f.read()
    sock = socket.create_connection(sim.address)
    peer = Peer(sock)
    sock.sendall(data)
    assert peer.wait_closed(10)
    return peer.log


def test_inbound_basics_replay_matches_capture_01(slow_sim):
    real = capture("01-inbound-basics")
    mine = raw_replay(slow_sim, os.path.join(CAPTURES, "01-inbound-basics", "to_fs.txt"))
    assert content_types(mine) == content_types(real)
    assert [normalise(t) for t in reply_texts(mine)] == [normalise(t) for t in reply_texts(real)]
    bodies = {i: f.body for i, f in enumerate(mine) if f.content_type == "api/response"}
    real_bodies = {i: f.body for i, f in enumerate(real) if f.content_type == "api/response"}
    for i in (3, 4, 5, 6, 8):       # show channels as json, show channels, unknown cmd, uuid_kill, echo UTF-8
        assert bodies[i] == real_bodies[i]
    assert header_names(mine)["BACKGROUND_JOB"] == header_names(real)["BACKGROUND_JOB"]
    job_frames = [f for f in mine if f.content_type.startswith("text/event")]
    assert [f.content_type for f in job_frames] == [f.content_type for f in real if f.content_type.startswith(
        "text/event")]
    xml = next(f for f in mine if f.content_type == "text/event-xml").body.decode()
    assert xml.startswith("<event>\n  <headers>\n    <Event-Name>BACKGROUND_JOB</Event-Name>")
    assert xml.endswith("  </body>\n</event>\n")
    assert mine[-1].body == real[-1].body


@pytest.mark.parametrize("case", ["badpass", "emptyline", "noauth"])
def test_auth_failures_match_capture_02(slow_sim, case):
    real = capture("02-inbound-auth-failure", case)
    mine = raw_replay(slow_sim, os.path.join(CAPTURES, "02-inbound-auth-failure", case, "to_fs.txt"))
    assert content_types(mine) == content_types(real)
    assert reply_texts(mine) == reply_texts(real)
    assert mine[-1].body == real[-1].body


def test_registration_events_match_capture_07(slow_sim):
    real = capture("07-registration", "reg")
    only_custom = capture("07-registration", "customonly")
    rep = Replayer(slow_sim, "07-registration", "reg", real=real)
    bare = Replayer(slow_sim, "07-registration", "customonly", real=only_custom)

    def fire(_rep) -> None:
        slow_sim.add_endpoint("1001", registered=False)
        slow_sim.register("1001")
        slow_sim.unregister("1001")
        slow_sim.expire("1001")
        assert _rep.peer is not None
        _rep.peer.wait_event(lambda f: f.ev.get("Event-Subclass") == "sofia::expire")
    mine = rep.run(hooks={2: fire})
    names, real_names = header_names(mine), header_names(real)
    for sub in ("sofia::register", "sofia::unregister", "sofia::expire"):
        assert names["CUSTOM/" + sub] == real_names["CUSTOM/" + sub]
    # a bare `event plain CUSTOM` receives no subclassed event
    got = bare.run(hooks={2: lambda r: slow_sim.register("1001")})
    assert [f for f in got if f.event is not None] == []
    assert reply_texts(got) == reply_texts(only_custom)


def test_log_stream_matches_capture_11(slow_sim):
    real = capture("11-log-stream")

    def logs_seen(n):
        def _wait(rep) -> None:
            assert slow_sim.wait_until(lambda: sum(f.content_type == "log/data" for f in rep.peer.log) >= n, 2)
        return _wait
    # like the capture, wait for the asynchronous log lines before changing the level
    mine = Replayer(slow_sim, "11-log-stream", real=real).run(hooks={4: logs_seen(2), 7: logs_seen(3)})
    assert reply_texts(mine) == reply_texts(real)
    assert content_types(mine) == content_types(real)
    logs = [f for f in mine if f.content_type == "log/data"]
    real_logs = [f for f in real if f.content_type == "log/data"]
    assert [[k for k, _ in f.headers] for f in logs] == [[k for k, _ in f.headers] for f in real_logs]
    assert [f.h["Log-Level"] for f in logs] == [f.h["Log-Level"] for f in real_logs]
    assert logs[1].body.decode().endswith("[ERR] mod_commands.c:7247 esl capture log line two 你好\n")


def test_heartbeat_fires_and_nixevent_removes_it(sim):
    # capture 10: HEARTBEAT every 20 s (0.2 s here) with the §4.2 header set; nixevent HEARTBEAT stops them
    real = capture("10-idle-heartbeat-noise", "allplain")
    from .helpers import connect_inbound
    peer = connect_inbound(sim.address)
    peer.cmd("event plain HEARTBEAT")
    beat = peer.wait_event(lambda f: f.event_name == "HEARTBEAT", timeout=2)
    assert {k for k, _ in beat.event} == header_names(real)["HEARTBEAT"]
    assert peer.cmd("nixevent HEARTBEAT").h["Reply-Text"] == "+OK events nixed"
    sim.switch.fire(sim.switch.heartbeat_event())
    r = peer.cmd("api uuid_exists x")
    assert r.body == b"false"
    assert all(f.event_name != "HEARTBEAT" for f in peer.log[peer.log.index(r) - 1:])
    peer.close()


def test_resync_views_match_capture_09(sim):
    real = capture("09-resync-views")
    sim.add_endpoint("1001", answer_after=0.2)
    sim.route("5002", apps=PUBLIC_PRELUDE + [("set", "capture_test=5002"), ("bridge", "user/1001@127.0.0.1")])
    sim.route("5003", apps=PUBLIC_PRELUDE + [("set", "capture_test=5003"), ("answer", ""), ("park", "")])
    rep = Replayer(sim, "09-resync-views", real=real)

    def place(r) -> None:
        a = sim.place_call("5002", "01011", "ESL Capture")
        b = sim.place_call("5003", "01011", "ESL Capture")
        assert sim.wait_until(lambda: a.channel.bridged_to is not None and "CHANNEL_PARK" in b.events, 5)
        r.bind(CAPTURED_BRIDGED_A, a.uuid)
        r.bind(CAPTURED_PARKED, b.uuid)
    mine = rep.run(hooks={1: place}, before_exit=settle(sim))
    assert reply_texts(mine) == reply_texts(real)
    my_api = [f.body for f in mine if f.content_type == "api/response"]
    real_api = [f.body for f in real if f.content_type == "api/response"]
    for k in range(4):                       # show channels/calls/detailed_calls/bridged_calls as json
        mj, rj = json.loads(my_api[k]), json.loads(real_api[k])
        assert mj["row_count"] == rj["row_count"]
        assert [list(r) for r in mj["rows"]] == [list(r) for r in rj["rows"]]
        assert all(isinstance(v, str) for r in mj["rows"] for v in r.values())
    assert my_api[4].split(b"\n")[0] == real_api[4].split(b"\n")[0]
    assert my_api[6] == real_api[6]          # "\n3 total.\n"
    dump = json.loads(my_api[7])
    assert set(k for k in dump if not k.startswith("variable_")) == set(
        k for k in json.loads(real_api[7]) if not k.startswith("variable_"))
    assert my_api[9:12] == [b"true", b"false", b"5002"]
    assert my_api[-1] == b"\n0 total.\n"


def test_inbound_call_control_matches_capture_12(sim):
    real = capture("12-inbound-call-control")
    sim.set_sound("/usr/freeswitch/share/freeswitch/sounds/custom/long_announcement.wav", 15.0)
    rep = Replayer(sim, "12-inbound-call-control", real=real)

    def broadcast_played(r) -> None:        # the capture transferred after the broadcast tone had ended
        assert sim.wait_until(lambda: sum(f.event_name == "PLAYBACK_STOP" for f in r.peer.log) >= 2, 3)
    mine = rep.run(hooks={3: parked_call(sim, real, "5003"), 9: broadcast_played}, before_exit=settle(sim))
    assert [normalise(t) for t in reply_texts(mine)] == [normalise(t) for t in reply_texts(real)]
    my_api = [normalise(f.body.decode()) for f in mine if f.content_type == "api/response"]
    real_api = [normalise(f.body.decode()) for f in real if f.content_type == "api/response"]
    assert my_api == real_api
    assert_same_shapes(mine, real)


@pytest.mark.parametrize("case", ["allplain", "alljson", "filtered", "nixheartbeat"])
def test_idle_heartbeat_noise_matches_capture_10(sim, case):
    real = capture("10-idle-heartbeat-noise", case)
    rep = Replayer(sim, "10-idle-heartbeat-noise", case, real=real)

    def two_beats(r) -> None:               # the capture idled through two heartbeats
        if case == "filtered":
            start = sim.switch.heartbeats
            assert sim.wait_until(lambda: sim.switch.heartbeats >= start + 2, 3)
        else:
            assert sim.wait_until(lambda: sum(f.event_name == "RE_SCHEDULE" for f in r.peer.log) >= 2, 3)
    mine = rep.run(before_exit=two_beats)
    assert content_types(mine) == content_types(real)
    assert reply_texts(mine) == reply_texts(real)
    assert [f.event_name for f in mine if f.event] == [f.event_name for f in real if f.event]
    if case != "filtered":
        assert header_names(mine)["RE_SCHEDULE"] == header_names(real)["RE_SCHEDULE"]
