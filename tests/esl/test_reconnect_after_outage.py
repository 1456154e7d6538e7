"""Reconnecting after an outage of any length: soon after FreeSWITCH accepts again, with one warning while it
is away (from the connection and from the reconciler), and the settings visible in the example config."""
from __future__ import annotations

import logging
import math
from pathlib import Path
from types import SimpleNamespace

import gevent
import pytest
from gevent.server import StreamServer

from engine.acd.reconciler import Reconciler
from engine.config import ConfigError, FreeswitchSection, load_config
from engine.esl.connection import ConnectionLost, InboundConnection
from engine.esl.inbound import reconnect_delay

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float = 10.0) -> bool:
    with gevent.Timeout(timeout, False):
        while not predicate():
            gevent.sleep(0.005)
        return True
    return False


OPEN: list = []


def freeswitch(sock, _address) -> None:
    OPEN.append(sock)
    try:
        sock.sendall(b"Content-Type: auth/request\n\n")
        sock.recv(1024)
        sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
        sock.recv(1024)
        sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n")
        while sock.recv(1024):
            pass
    except OSError:
        pass


@pytest.mark.parametrize("defaults", ["connection", "config"])
def test_after_an_outage_of_any_length_the_next_attempt_comes_within_a_few_seconds(defaults: str) -> None:
    source = InboundConnection("127.0.0.1", 1, "x") if defaults == "connection" else FreeswitchSection()
    delay, down_for = None, 0.0
    while down_for < 3600:  # an hour of refused connections
        delay = reconnect_delay(delay, source.reconnect_min_delay, source.reconnect_max_delay)
        down_for += delay
        assert delay * 1.2 <= 2.5  # jitter included: the engine is back within ~2.5 s of the switch
    assert reconnect_delay(None, source.reconnect_min_delay, source.reconnect_max_delay) == source.reconnect_min_delay


def test_an_outage_logs_one_warning_then_one_line_when_the_switch_is_back(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="engine.esl")
    server = StreamServer(("127.0.0.1", 0), freeswitch)
    server.start()
    port = server.server_port
    connection = InboundConnection("127.0.0.1", port, "x", reconnect_min_delay=0.01, reconnect_max_delay=0.02).start()
    try:
        assert connection.wait_connected(5)
        # When FreeSWITCH goes away and stays away for many attempts
        server.stop(timeout=0.1)
        for sock in OPEN:
            sock.close()
        attempts = connection.attempts
        assert wait_for(lambda: connection.attempts >= attempts + 20)
        with pytest.raises(ConnectionLost):
            connection.api("status", timeout=0.01)
        outage = [r for r in caplog.records if r.name.startswith("engine.esl") and r.levelno >= logging.WARNING]
        assert len(outage) == 1, [r.getMessage() for r in outage]
        assert "lost" in outage[0].getMessage()
        # Then it comes back and the engine says so, once
        server = StreamServer(("127.0.0.1", port), freeswitch)
        server.start()
        assert connection.wait_connected(5)
        back = [r.getMessage() for r in caplog.records if "again after" in r.getMessage()]
        assert len(back) == 1 and connection.sessions == 2
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    finally:
        connection.close()
        server.stop(timeout=0.1)


def test_the_reconciler_warns_once_while_the_switch_is_unreachable_and_never_logs_a_traceback(caplog) -> None:
    caplog.set_level(logging.INFO, logger="engine.acd")
    control = SimpleNamespace(connected=False)

    def api(*_args, **_kwargs):  # as InboundConnection.api: the connection is marked down before this raises
        control.connected = False
        raise ConnectionLost("not connected to FreeSWITCH at 127.0.0.1:8021")

    legs = SimpleNamespace(control=control, live_channels=api, channel_exists=api)
    reconciler = Reconciler(SimpleNamespace(legs=legs), interval=30)
    for _ in range(5):  # five scheduled rounds while disconnected
        assert reconciler.run_once() is None
    control.connected = True  # connected when checked, lost during the round
    assert reconciler.run_once() is None
    assert reconciler.run_once() is None
    records = [r for r in caplog.records if r.name.startswith("engine.acd")]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert "paused" in records[0].getMessage() and not records[0].exc_info


def test_the_example_config_shows_the_reconnect_heartbeat_and_timeout_settings() -> None:
    text = (ROOT / "conf" / "jinqiao.example.yaml").read_text()
    for setting in ("heartbeat_timeout", "reconnect_min_delay", "reconnect_max_delay", "handshake_timeout",
                    "connect_timeout", "execute_timeout", "bridge_timeout", "event_queue_mb"):
        assert f"  {setting}:" in text, setting
    config = load_config(str(ROOT / "conf" / "jinqiao.example.yaml"), environ={})
    assert config.freeswitch.reconnect_max_delay <= 2
    assert config.outbound.execute_timeout > 0 and math.isfinite(config.outbound.bridge_timeout)


@pytest.mark.parametrize("section,key,value", [
    ("freeswitch", "reconnect_max_delay", ".nan"), ("freeswitch", "handshake_timeout", ".inf"),
    ("freeswitch", "reconnect_min_delay", "0"), ("outbound", "execute_timeout", "-1"),
    ("outbound", "bridge_timeout", ".nan"), ("outbound", "connect_timeout", "0"),
    ("freeswitch", "event_queue_mb", "0"),
])
def test_timeouts_and_delays_must_be_finite_positive_numbers(tmp_path, section: str, key: str, value: str) -> None:
    path = tmp_path / "jinqiao.yaml"
    path.write_text(f"{section}:\n  {key}: {value}\n")
    with pytest.raises(ConfigError) as error:
        load_config(str(path), environ={})
    assert f"{section}.{key}" in str(error.value) and "jinqiao.yaml:2" in str(error.value)
