"""The outbound-socket port against peers that are not a working FreeSWITCH: a fake switch that never completes
an application, a wave of idle connections, and a process whose open-file limit is below the call pool."""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import gevent
from gevent import socket as gsocket
from gevent.event import Event as Flag

from engine.esl import commands
from engine.esl.connection import CallHungUp, OutboundServer
from engine.esl.outbound import call_capacity, raise_fd_limit
from engine.sim.wire import CommandReader

ROOT = Path(__file__).resolve().parents[2]
CHANNEL_DATA = (b"Content-Type: command/reply\nReply-Text: %2BOK%0A\nEvent-Name: CHANNEL_DATA\n"
                b"Unique-ID: 6a7e0c52-0000-4000-8000-000000000001\nCaller-Caller-ID-Number: 13800138000\n\n")
OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"


class FakeSwitch:
    """Plays FreeSWITCH's side of one outbound call: acknowledges every command, never completes an app."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = gsocket.create_connection(address)
        self.commands: list = []
        self.closed = Flag()
        self._reader = CommandReader()
        gevent.spawn(self._run)

    def _run(self) -> None:
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                for command in self._reader.feed(data):
                    self.commands.append(command)
                    self.sock.sendall(CHANNEL_DATA if command.line == "connect" else OK)
        except OSError:
            pass
        finally:
            self.closed.set()
            self.sock.close()


def warnings_from(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and text in r.getMessage()]


def test_an_application_that_never_completes_hangs_the_call_up_after_its_execute_timeout(caplog) -> None:
    caplog.set_level(logging.WARNING)
    outcome: list[BaseException] = []

    def flow(channel) -> None:
        try:
            channel.play("/var/lib/jinqiao/sounds/welcome.wav")
        except CallHungUp as exc:
            outcome.append(exc)

    server = OutboundServer("127.0.0.1", 0, flow, execute_timeout=0.3).start()
    try:
        switch = FakeSwitch(server.address)
        assert switch.closed.wait(10), "the call socket must be closed, not held forever"
        assert outcome and "did not complete within" in str(outcome[0])
        # The engine asked the switch to hang the call up before closing, and said so once
        assert [c.header("call-command") for c in switch.commands if c.line == "sendmsg"][-1] == "hangup"
        assert len(warnings_from(caplog, "did not complete within")) == 1
        assert server.completed_calls == 1
    finally:
        server.stop(timeout=0.1)


def test_bridge_gets_its_own_longer_execute_timeout() -> None:
    server = OutboundServer("127.0.0.1", 0, lambda channel: None, execute_timeout=60, bridge_timeout=7200)
    assert server.execute_timeouts == {commands.APP_BRIDGE: 7200}
    assert server.execute_timeout == 60


def test_idle_connections_are_closed_in_time_and_logged_a_few_times_not_each(caplog) -> None:
    caplog.set_level(logging.WARNING)
    served = Flag()
    server = OutboundServer("127.0.0.1", 0, lambda channel: served.set(), max_calls=4, connect_timeout=0.2).start()
    idle = [gsocket.create_connection(server.address) for _ in range(20)]  # never send channel data
    try:
        switch = FakeSwitch(server.address)  # a real call behind the wave
        assert served.wait(10)
        assert switch.closed.wait(10)
        for sock in idle:
            sock.settimeout(10)
            assert sock.recv(100) == b"connect\n\n" and sock.recv(100) == b""  # closed by the engine
        assert server.failed_calls == 20
        assert 1 <= len(warnings_from(caplog, "failed during setup")) <= 2
    finally:
        for sock in idle:
            sock.close()
        server.stop(timeout=0.1)


def test_call_capacity_fits_the_open_file_limit() -> None:
    assert call_capacity(5000, 1024) <= 1024 - 128
    assert call_capacity(5000, 1_048_576) == 5000
    assert call_capacity(10, 20) == 1  # never zero


def test_the_soft_open_file_limit_is_raised_towards_the_hard_limit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        wanted = min(hard, 4096)
        assert raise_fd_limit(wanted) == wanted
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == wanted
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


SERVER_WITH_LOW_FD_LIMIT = """
import resource
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))  # as if the hard limit were 256
from gevent import monkey
monkey.patch_all()
import logging, sys, gevent
logging.basicConfig(level=logging.WARNING)
from engine.esl.outbound import OutboundServer
server = OutboundServer("127.0.0.1", 0, lambda channel: print("served", flush=True), connect_timeout=0.3).start()
print(server.address[1], server.capacity, flush=True)
gevent.sleep(120)
"""


def test_a_wave_of_idle_connections_over_the_open_file_limit_waits_instead_of_failing_with_emfile() -> None:
    # Given an engine whose process may open 256 files, with the default pool of 5,000 calls
    child = subprocess.Popen([sys.executable, "-c", SERVER_WITH_LOW_FD_LIMIT], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    idle: list = []
    try:
        port, capacity = map(int, child.stdout.readline().split())
        assert capacity < 256
        # When 400 connections arrive that never send channel data, then a real call
        idle = [gsocket.create_connection(("127.0.0.1", port)) for _ in range(400)]
        switch = FakeSwitch(("127.0.0.1", port))
        # Then the call is served once the idle ones are closed, and nothing failed for lack of descriptors
        with gevent.Timeout(30):
            assert child.stdout.readline().strip() == "served"
        assert switch.closed.wait(10)
    finally:
        for sock in idle:
            sock.close()
        child.kill()
        _out, err = child.communicate(timeout=10)
    assert "Too many open files" not in err, err[-2000:]
