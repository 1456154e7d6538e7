"""The outbound-socket port runs a flow only for a channel the switch confirms (issue 13.5): a local process
that connects and claims to be a call gets nothing; a real call from the switch runs as usual."""
from __future__ import annotations

import socket

import pytest

from engine.esl.connection import InboundConnection, OutboundServer
from engine.ha.verify import VerifiedCalls
from engine.sim import FreeSwitchSim

PASSWORD = "verify-test"


@pytest.fixture
def sim(tmp_path):
    s = FreeSwitchSim(password=PASSWORD, time_scale=0.05, sounds_dir=str(tmp_path))
    s.start()
    yield s
    s.stop()


def fake_switch(address, claimed_uuid: str) -> bytes:
    """Connect like FreeSWITCH's `socket` app would, claiming a channel; return what the engine sent."""
    sock = socket.create_connection(address, timeout=5)
    received = b""
    replies = 0
    try:
        while True:
            try:
                chunk = sock.recv(4096)
            except socket.timeout:
                break
            if not chunk:
                break
            received += chunk
            while received.count(b"\n\n") > replies:
                if replies == 0:  # the reply to `connect` carries the channel data
                    sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK\n"
                                 b"Unique-ID: " + claimed_uuid.encode() + b"\n"
                                 b"Channel-Unique-ID: " + claimed_uuid.encode() + b"\n"
                                 b"Caller-Caller-ID-Number: 13800138000\nCaller-Destination-Number: 4000\n\n")
                else:
                    sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
                replies += 1
    finally:
        sock.close()
    return received


def test_a_connection_for_a_channel_no_switch_has_runs_no_flow(sim):
    host, port = sim.address
    control = InboundConnection(host, port, PASSWORD, reconnect_min_delay=0.05).start()
    assert control.wait_connected(5)
    ran: list[str] = []

    def flow(channel) -> None:
        ran.append(channel.uuid)
        channel.hangup()

    handler = VerifiedCalls(flow, [control])
    server = OutboundServer("127.0.0.1", 0, handler, linger=0).start()
    try:
        # Given a local process posing as the switch, claiming a channel that does not exist
        sent = fake_switch(server.address, "3f0c9a57-8c4e-4a0e-9d1e-5a1d2c3b4a59")
        # Then no flow ran and nothing was executed on its behalf
        assert ran == [] and handler.refused == 1
        assert b"execute" not in sent and b"sendmsg" not in sent
        # And a claim that is not even a channel id is refused the same way (never reaches a command)
        fake_switch(server.address, "x y\nbgapi originate")
        assert ran == [] and handler.refused == 2
        # While a real call from the switch runs its flow
        sim.route("4000", socket="%s:%d async full" % server.address)
        call = sim.place_call("4000", "13800138000")
        assert sim.wait_until(lambda: call.uuid in ran, 10)
    finally:
        server.stop(timeout=1)
        control.close()
