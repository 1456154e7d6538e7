"""Faults a simulated FreeSWITCH can be told to show: dropped sockets, slow replies, bad frames, lost events, restarts.

`sim.faults` (a `Faults`) is the control API; the switch and its listeners consult it at two points only
(`Switch.fire` drops lost events, `Listener.handle` waits out the reply delay). Each fault is what the engine
would see from a real FreeSWITCH: a TCP connection closed without a goodbye, a reply that comes late, a frame
mod_event_socket would never send, an event that never arrives, or a process that died and came back (no
channel survives, every socket is new, a new Core-UUID).
"""
from __future__ import annotations

import logging
import uuid as uuidlib
from typing import TYPE_CHECKING

import gevent

if TYPE_CHECKING:  # pragma: no cover
    from engine.sim.control import FreeSwitchSim
    from engine.sim.listener import Listener
    from engine.sim.wire import Event

log = logging.getLogger(__name__)
HANGUP_EVENTS = ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY")
MALFORMED = b"Content-Type: text/event-plain\nContent-Length: 12x4\n\nEvent-Name: HEARTBEAT\n\n"


class Faults:
    """The fault switches of one simulator (all off by default)."""

    def __init__(self, sim: FreeSwitchSim) -> None:
        self.sim = sim
        self.reply_delay = 0.0                    # seconds every command waits before it is handled
        self.lost: dict[str, frozenset[str]] = {}  # channel uuid -> event names that never reach a socket
        self.down = False                          # the process is dead: nothing is sent at all
        self.restarts = 0
        sim.switch.faults = self

    # -- hooks (called by the switch and its listeners) ------------------------------------------
    def drops(self, event: Event) -> bool:
        """Is this event lost (never written to any socket)?"""
        if self.down:
            return True
        names = self.lost.get(event.uuid) if event.uuid else None
        return bool(names and event.name in names)

    def before_reply(self) -> None:
        if self.reply_delay > 0:
            gevent.sleep(self.reply_delay)

    # -- faults ---------------------------------------------------------------------------------
    def delay_replies(self, ms: float) -> None:
        """Every command (inbound and outbound sockets) is answered `ms` later than usual (0: back to normal)."""
        self.reply_delay = max(0.0, ms / 1000.0)

    def lose_hangup(self, uuid: str, events: tuple[str, ...] = HANGUP_EVENTS) -> None:
        """The channel's hang-up events never reach any socket (the call still ends on the switch)."""
        self.lost[uuid] = frozenset(events)

    def drop_control(self) -> int:
        """Close every inbound (control) ESL connection at once, with no disconnect notice; returns how many."""
        return self._kill([lst for lst in self._listeners() if not lst.outbound])

    def drop_call_socket(self, uuid: str) -> int:
        """Close the outbound socket that controls channel `uuid` mid-call (the dialplan then goes on or ends
        the call, as mod_event_socket does after its client goes away)."""
        return self._kill([lst for lst in self._listeners()
                           if lst.outbound and lst.session is not None and lst.session.uuid == uuid])

    def send_malformed(self) -> int:
        """Write a frame whose Content-Length is not a number on every inbound connection."""
        targets = [lst for lst in self._listeners() if not lst.outbound and lst.authed]
        for lst in targets:
            lst.send(MALFORMED)
        return len(targets)

    def restart(self, down_for: float = 0.3) -> None:
        """FreeSWITCH dies and starts again: every socket closes without a word, every channel is gone
        (no event tells anyone), nothing answers for `down_for` real seconds, then a fresh process (new
        Core-UUID, Event-Sequence from 1) listens on the same port."""
        sim, sw = self.sim, self.sim.switch
        self.down = True
        server = sim._server
        server.server.stop(timeout=0)
        if server._heartbeat is not None:
            server._heartbeat.kill(block=False)
        self._kill(self._listeners())
        for channel in list(sw.channels.values()):
            channel.hangup("CRASH")
        gevent.sleep(0)
        for channel in list(sw.channels.values()):
            channel.release_session()
        sim.wait_until(lambda: not sw.channels, 5.0)
        sw.channels.clear()
        gevent.sleep(down_for)
        sw.core_uuid = str(uuidlib.uuid4())
        sw.sequence = 0
        sw.sessions_since_startup = 0
        self.lost.clear()
        self.down = False
        self.restarts += 1
        sim._server = type(server)(sw, *server.address)
        sim._server.start()
        log.info("sim: restarted (core %s)", sw.core_uuid)

    # -- helpers --------------------------------------------------------------------------------
    def _listeners(self) -> list[Listener]:
        return list(self.sim.switch.listeners)

    @staticmethod
    def _kill(listeners: list[Listener]) -> int:
        for lst in listeners:
            lst._killed = True  # nothing more is queued, nothing queued is written
            lst._out.clear()
            lst._shutdown()
            lst._writer.kill(block=False)
        return len(listeners)
