"""greenswitch (a third-party gevent ESL client) works against the simulator, inbound and outbound."""
from __future__ import annotations

import gevent
import pytest
from gevent.event import AsyncResult
from gevent.server import StreamServer

from engine.sim import Hangup, Press

greenswitch = pytest.importorskip("greenswitch")


def test_greenswitch_inbound_auth_api_bgapi_and_events(sim):
    sim.set_destination("4155550100", "answer", after=0.2)
    esl = greenswitch.InboundESL(host=sim.address[0], port=sim.address[1], password="ClueCon")
    esl.connect()
    try:
        assert esl.send("api uuid_exists nope").data == "false"
        got: dict[str, list] = {"jobs": [], "answers": []}
        esl.register_handle("BACKGROUND_JOB", lambda ev: got["jobs"].append(ev))
        esl.register_handle("CHANNEL_ANSWER", lambda ev: got["answers"].append(ev))
        assert esl.send("event plain BACKGROUND_JOB CHANNEL_ANSWER").headers["Reply-Text"].startswith("+OK")
        reply = esl.send("bgapi originate {origination_uuid=gs-leg-1}sofia/gw/4155550100 &park()")
        job = reply.headers["Job-UUID"]
        assert sim.wait_until(lambda: got["jobs"] and got["answers"], 5)
        assert got["jobs"][0].headers["Job-UUID"] == job
        # greenswitch folds an event body into its last header; the result line is in there
        assert "+OK gs-leg-1" in got["jobs"][0].headers["Content-Length"]
        assert got["answers"][0].headers["Unique-ID"] == "gs-leg-1"
        assert esl.send("api uuid_kill gs-leg-1").data == "+OK\n"
    finally:
        esl.stop()


def test_greenswitch_inbound_wrong_password_is_refused(sim):
    esl = greenswitch.InboundESL(host=sim.address[0], port=sim.address[1], password="wrong")
    with pytest.raises(Exception):
        esl.connect()


def test_greenswitch_outbound_session_answers_plays_and_collects_digits(sim):
    result: AsyncResult = AsyncResult()

    def handle(sock, addr) -> None:
        session = greenswitch.esl.OutboundSession(addr, sock)
        try:
            session.connect()
            session.myevents()
            session.linger()
            session.answer()
            session.playback("/snd/hello.wav")
            digits = session.play_and_get_digits(1, 4, 1, 3000, "#", "/snd/menu.wav", "/snd/bad.wav",
                                                 "choice", "\\d+", 2000, "")
            result.set((session.caller_id_number, digits))
            session.hangup()
            gevent.sleep(0.05)
        except Exception as exc:  # noqa: BLE001
            result.set_exception(exc)
        finally:
            session.stop()

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    try:
        sim.set_sound("/snd/hello.wav", 1.0)
        sim.set_sound("/snd/menu.wav", 2.0)
        sim.route("9000", socket="127.0.0.1:%d async full" % server.address[1])
        call = sim.place_call("9000", "13800138000", script=[Press("42#", at=0.5, during="play_and_get_digits"),
                                                              Hangup(at=60)])
        caller, digits = result.get(timeout=10)
        assert caller == "13800138000"
        assert digits == "42"
        assert call.wait_hangup(5)
        assert call.played[:2] == ["/snd/hello.wav", "/snd/menu.wav"]
    finally:
        server.stop()
