"""Denial of service from the switch side: a hostile or broken peer on the inbound event socket cannot grow
our memory without bound, flood our log, or hold the connection in a handshake forever."""
from __future__ import annotations

import logging

import gevent
import pytest
from gevent.event import Event as Flag
from gevent.server import StreamServer

from engine.esl.connection import InboundConnection

AUTH_REQUEST = b"Content-Type: auth/request\n\n"
AUTH_OK = b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
EVENTS_OK = b"Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n"


def json_event(body: bytes) -> bytes:
    return b"Content-Length: %d\nContent-Type: text/event-json\n\n%s" % (len(body), body)


def custom_event(n: int, pad: int = 0) -> bytes:
    return json_event(b'{"Event-Name":"CUSTOM","Event-Subclass":"jq::test","Seq":"%d","Pad":"%s"}' % (n, b"x" * pad))


def read_command(sock) -> bytes:
    data = b""
    while b"\n\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("client closed")
        data += chunk
    return data


def handshake(sock) -> None:
    sock.sendall(AUTH_REQUEST)
    read_command(sock)
    sock.sendall(AUTH_OK)
    read_command(sock)
    sock.sendall(EVENTS_OK)


def serve(handler) -> StreamServer:
    server = StreamServer(("127.0.0.1", 0), handler)
    server.start()
    return server


def wait_for(predicate, timeout: float = 10.0) -> bool:
    with gevent.Timeout(timeout, False):
        while not predicate():
            gevent.sleep(0.005)
        return True
    return False


def esl_records(caplog, level: int = logging.WARNING) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("engine.esl") and r.levelno >= level]


@pytest.fixture
def connections():
    made: list[InboundConnection] = []
    yield made
    for connection in made:
        connection.close()


def connect(server: StreamServer, made: list, **options) -> InboundConnection:
    connection = InboundConnection("127.0.0.1", server.server_port, "x", **options)
    made.append(connection)
    return connection


def test_events_before_auth_request_are_not_kept_and_a_flood_of_them_ends_the_connection(connections) -> None:
    sent = [0]

    def not_freeswitch(sock, _address) -> None:
        try:
            while True:  # events without end, never an auth/request
                sock.sendall(custom_event(sent[0], pad=1000))
                sent[0] += 1
        except OSError:
            pass

    server = serve(not_freeswitch)
    connection = connect(server, connections, reconnect_min_delay=5).start()
    try:
        assert wait_for(lambda: "without auth/request" in connection.last_error)
        assert not connection.connected
    finally:
        server.stop(timeout=0.1)


def test_an_event_flood_is_held_back_by_a_backlog_bounded_in_bytes_and_nothing_is_lost(connections) -> None:
    # Given a switch that writes 20,000 events of ~1 KB, and a handler that is stuck for now
    total = 20_000

    def flooding_freeswitch(sock, _address) -> None:
        handshake(sock)
        for n in range(total):
            sock.sendall(custom_event(n, pad=1000))
        gevent.sleep(30)

    server = serve(flooding_freeswitch)
    connection = connect(server, connections, max_queued_bytes=256 * 1024, heartbeat_timeout=60)
    release, seen = Flag(), []
    connection.add_handler(lambda event: (release.wait(), seen.append(event.headers["Seq"])))
    connection.start()
    try:
        # When the backlog fills, the reader stops reading with no more than the budget queued
        assert wait_for(lambda: connection.backlog.waiting_for_room)
        assert connection.backlog.bytes <= 256 * 1024
        # Then, once the handler moves again, every event arrives, in order
        release.set()
        assert wait_for(lambda: len(seen) == total, timeout=60)
        assert seen == [str(n) for n in range(total)]
    finally:
        server.stop(timeout=0.1)


def test_malformed_events_and_unsolicited_replies_log_a_few_lines_not_one_each(connections, caplog) -> None:
    caplog.set_level(logging.WARNING)

    def broken_freeswitch(sock, _address) -> None:
        handshake(sock)
        for n in range(500):
            sock.sendall(json_event(b'{"Event-Name":"CUSTOM","Seq":"%d","bad":"\\u12"}' % n))  # breaks on decode
            sock.sendall(json_event(b"not json %d" % n))  # breaks at once
            sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK nobody asked\n\n")
        sock.sendall(custom_event(999_999))
        gevent.sleep(30)

    server = serve(broken_freeswitch)
    connection = connect(server, connections)
    good = Flag()

    def handler(event) -> None:
        dict(event.headers)  # a handler that reads every header decodes the whole event
        if event.headers.get("Seq") == "999999":
            good.set()

    connection.add_handler(handler)
    connection.start()
    try:
        assert good.wait(10), "the valid event after the broken ones must still arrive"
        records = esl_records(caplog)
        assert 1 <= len(records) <= 6, [r.getMessage() for r in records]
        assert not any(r.exc_info for r in records), "a peer's bad frame is not our bug: no traceback"
        assert connection.sessions == 1
    finally:
        server.stop(timeout=0.1)


def test_a_subscription_that_is_never_answered_ends_the_session_with_a_log_line(connections, caplog) -> None:
    caplog.set_level(logging.WARNING)
    sessions: list[int] = []

    def mute_freeswitch(sock, _address) -> None:
        sessions.append(1)
        sock.sendall(AUTH_REQUEST)
        read_command(sock)
        sock.sendall(AUTH_OK)
        read_command(sock)  # the `event json ...` command: never answered
        for _ in range(300):
            sock.sendall(b"Content-Type: text/event-json\nContent-Length: 2\n\n{}")  # keeps the socket busy
            gevent.sleep(0.01)

    server = serve(mute_freeswitch)
    connection = connect(server, connections, handshake_timeout=0.3, reconnect_min_delay=0.01,
                         reconnect_max_delay=0.05).start()
    try:
        assert wait_for(lambda: len(sessions) >= 2)
        assert not connection.connected
        assert any("subscription" in r.getMessage() for r in esl_records(caplog))
    finally:
        server.stop(timeout=0.1)


def test_an_auth_request_that_trickles_in_forever_times_out(connections) -> None:
    def trickling_freeswitch(sock, _address) -> None:
        try:
            for byte in b"Content-Type: auth/request" * 100:  # one byte at a time, never the blank line
                sock.sendall(bytes([byte]))
                gevent.sleep(0.02)
        except OSError:
            pass

    server = serve(trickling_freeswitch)
    connection = connect(server, connections, heartbeat_timeout=60, handshake_timeout=0.3,
                         reconnect_min_delay=5).start()
    try:
        assert wait_for(lambda: "no auth/request within" in connection.last_error)
    finally:
        server.stop(timeout=0.1)


def test_an_auth_reply_that_never_comes_times_out(connections) -> None:
    def silent_after_auth(sock, _address) -> None:
        sock.sendall(AUTH_REQUEST)
        read_command(sock)
        gevent.sleep(30)

    server = serve(silent_after_auth)
    connection = connect(server, connections, heartbeat_timeout=60, handshake_timeout=0.3,
                         reconnect_min_delay=5).start()
    try:
        assert wait_for(lambda: "no reply to auth within" in connection.last_error)
    finally:
        server.stop(timeout=0.1)
