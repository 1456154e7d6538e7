"""The inbound event socket (port 8021-like): accept, send auth/request, serve a Listener; HEARTBEAT timer."""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import gevent
from gevent import socket
from gevent.server import StreamServer

from engine.sim import wire
from engine.sim.listener import Listener

if TYPE_CHECKING:
    from engine.sim.switch import Switch

log = logging.getLogger(__name__)
HEARTBEAT_INTERVAL = 20.0


class InboundServer:
    """StreamServer speaking inbound ESL for one Switch."""

    def __init__(self, switch: Switch, host: str = "127.0.0.1", port: int = 8021) -> None:
        self.switch = switch
        self.server = StreamServer((host, port), self._handle, backlog=4096)
        self._heartbeat: gevent.Greenlet | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address[0], self.server.address[1]

    def start(self) -> None:
        self.server.start()
        self._heartbeat = gevent.spawn(self._beat)

    def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.kill(block=False)
        for lst in list(self.switch.listeners):
            if not lst.outbound:
                lst.send(wire.disconnect_notice(body=wire.SHUTDOWN))
                lst.close_after_flush()
        self.server.stop(timeout=1)

    def _beat(self) -> None:
        while True:
            self.switch.sleep(HEARTBEAT_INTERVAL)
            self.switch.heartbeats += 1
            self.switch.fire(self.switch.heartbeat_event())
            self.switch.fire_simple("RE_SCHEDULE", [("Task-ID", "1"), ("Task-Desc", "heartbeat"),
                                                    ("Task-Group", "core"),
                                                    ("Task-Runtime", str(int(time.time()) + 20))])

    def _handle(self, sock, address) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        lst = Listener(self.switch, sock)
        lst.send(wire.auth_request())
        lst.run()
