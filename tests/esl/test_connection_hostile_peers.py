"""Hostile or broken peers: the inbound client fails fast with a typed error, closes cleanly and reconnects."""
from __future__ import annotations

import gevent
import pytest
from gevent.server import StreamServer

from engine.esl.connection import ConnectionLost, InboundConnection

AUTH_OK = b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
EVENTS_OK = b"Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n"


def handshake(sock) -> None:
    sock.sendall(b"Content-Type: auth/request\n\n")
    sock.recv(1024)
    sock.sendall(AUTH_OK)
    sock.recv(1024)
    sock.sendall(EVENTS_OK)


def serve(handler):
    server = StreamServer(("127.0.0.1", 0), handler)
    server.start()
    return server


def wait_for(predicate, timeout: float = 5.0) -> bool:
    with gevent.Timeout(timeout, False):
        while not predicate():
            gevent.sleep(0.005)
        return True
    return False


@pytest.mark.parametrize("poison", [
    b"Content-Type: api/response\nContent-Length: 99999999999\n\n",  # a Content-Length that lies
    b"Content-Type: api/response\nContent-Length: many\n\n",  # not a number
    b"X-Junk: " + b"a" * (2 << 20),  # a header block that never ends
])
def test_a_poisoned_stream_closes_the_session_and_the_client_reconnects(poison: bytes) -> None:
    sessions: list[int] = []

    def freeswitch(sock, _address) -> None:
        sessions.append(1)
        handshake(sock)
        if len(sessions) == 1:
            sock.sendall(poison)
        gevent.sleep(5)

    server = serve(freeswitch)
    connection = InboundConnection("127.0.0.1", server.server_port, "x", reconnect_min_delay=0.01).start()
    try:
        assert wait_for(lambda: len(sessions) >= 2 and connection.connected)
        assert "exceeds" in connection.last_error or "byte count" in connection.last_error
    finally:
        connection.close()
        server.stop(timeout=0.1)


def test_a_peer_that_stops_reading_makes_the_send_fail_instead_of_hanging() -> None:
    def deaf_freeswitch(sock, _address) -> None:
        handshake(sock)
        gevent.sleep(30)  # never reads again

    server = serve(deaf_freeswitch)
    connection = InboundConnection("127.0.0.1", server.server_port, "x", send_timeout=0.3,
                                   reconnect_min_delay=5).start()
    try:
        assert connection.wait_connected(5)
        jobs = [connection.bgapi("echo " + "x" * (1 << 20)) for _ in range(200)]  # far more than buffers hold
        failed = [job for job in jobs if job.ready() and isinstance(job.exception, ConnectionLost)]
        assert failed, "a send to a peer that does not read must fail, not block forever"
        assert "send timed out" in str(failed[0].exception) or "not connected" in str(failed[-1].exception)
    finally:
        connection.close()
        server.stop(timeout=0.1)


def test_unknown_frames_and_non_utf8_bytes_do_not_break_the_session() -> None:
    def odd_freeswitch(sock, _address) -> None:
        handshake(sock)
        sock.sendall(b"Content-Type: text/brand-new\nContent-Length: 3\n\nabc")
        body = b'{"Event-Name":"CUSTOM","Event-Subclass":"x::y","Caller":"\xe5\xbc\xa0\xff"}'
        sock.sendall(b"Content-Length: %d\nContent-Type: text/event-json\n\n%s" % (len(body), body))
        sock.recv(1024)
        sock.sendall(b"Content-Type: api/response\nContent-Length: 3\n\n+OK")
        gevent.sleep(5)

    server = serve(odd_freeswitch)
    connection = InboundConnection("127.0.0.1", server.server_port, "x").start()
    try:
        assert connection.wait_connected(5)
        assert connection.api("status") == "+OK"
        assert connection.sessions == 1
    finally:
        connection.close()
        server.stop(timeout=0.1)
