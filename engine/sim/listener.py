"""One ESL connection of mod_event_socket (inbound or outbound): command parsing, subscriptions, filters.

How it works: a reader greenlet parses command blocks and answers them in order (one reply per command).
Events offered by the switch are checked against the subscription, the myevents binding and the filters
(§2.3) and queued; a writer greenlet flushes the queue in batches. While an `api` runs, events are held
and written after its reply, as FreeSWITCH's single listener thread does.
"""
from __future__ import annotations

import logging
import re
import uuid as uuidlib
from collections import deque
from typing import TYPE_CHECKING, Callable

import gevent
from gevent.event import Event as GEvent

from engine.sim import wire
from engine.sim.switch import EVENT_NAME_SET, EVENT_NAMES
from engine.sim.wire import Command, CommandReader, Event

if TYPE_CHECKING:
    from engine.sim.channel import Channel
    from engine.sim.switch import Switch

log = logging.getLogger(__name__)

MYEVENTS = frozenset(
    "CHANNEL_ANSWER CHANNEL_APPLICATION CHANNEL_BRIDGE CHANNEL_CREATE CHANNEL_DATA CHANNEL_DESTROY CHANNEL_EXECUTE "
    "CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_ORIGINATE CHANNEL_UUID "
    "CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_STATE CHANNEL_UNBRIDGE "
    "CHANNEL_UNPARK DETECTED_SPEECH DTMF NOTALK TALK".split())
LOG_LEVELS = {"console": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4, "notice": 5, "info": 6,
              "debug": 7}
MAX_QUEUED = 100000
OUTBOUND_NOT_FULL_OK = ("connect", "getvar", "myevents", "filter", "resume", "divert_events", "sendmsg", "exit")


class Listener:
    """An event-socket listener bound to one TCP connection."""

    def __init__(self, switch: Switch, sock, outbound_session: Channel | None = None,
                 async_mode: bool = True, full: bool = True) -> None:
        self.switch = switch
        self.sock = sock
        self.reader = CommandReader()
        self.fmt = "plain"
        self.names: set[str] = set()
        self.subclasses: set[str] = set()
        self.all_custom = False
        self.events_on = False
        self.filters: list[tuple[str, str]] = []
        self.outbound = outbound_session is not None
        self.session: Channel | None = outbound_session
        self.myevents = False
        self.async_mode = async_mode
        self.full = full
        self.authed = self.outbound
        self.linger: int | None = None
        self.resume = False
        self.log_level: int | None = None
        self.connected = GEvent()            # outbound: `connect` received and answered
        self.settled = GEvent()              # outbound: the command after `connect` was answered
        self.closed = GEvent()
        self._out: deque[bytes] = deque()
        self._held: list[bytes] | None = None
        self._wake = GEvent()
        self._first = True
        self._swallow = False
        self._killed = False
        self.on_close: list[Callable[[], None]] = []
        self._writer = gevent.spawn(self._write_loop)

    # -- output -------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self.closed.is_set() or self._killed:
            return
        if len(self._out) >= MAX_QUEUED:
            # FreeSWITCH kills a listener whose event queue overflows (MAX_MISSED in event_handler)
            log.warning("sim: listener queue over %d frames, killing it", MAX_QUEUED)
            self._killed = True
            self._out.clear()
            self._out.append(wire.disconnect_notice(body=b"killed listener because of lost events\n"))
            self.close_after_flush()
            return
        self._out.append(data)
        self._wake.set()

    def _write_loop(self) -> None:
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                while self._out:
                    chunks = []
                    while self._out:
                        item = self._out.popleft()
                        if item is _CLOSE:
                            if chunks:
                                self.sock.sendall(b"".join(chunks))
                            self._shutdown()
                            return
                        chunks.append(item)
                    self.sock.sendall(b"".join(chunks))
        except OSError:
            self._shutdown()

    def close_after_flush(self) -> None:
        self._out.append(_CLOSE)  # type: ignore[arg-type]
        self._wake.set()

    def _shutdown(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self.switch.remove_listener(self)
        try:
            self.sock.close()
        except OSError:
            pass
        for cb in self.on_close:
            cb()

    # -- events -------------------------------------------------------------------------------
    def accepts(self, ev: Event) -> bool:
        if self.myevents and self.session is not None and ev.uuid != self.session.uuid:
            return False
        if ev.name == "CUSTOM":
            if not ("CUSTOM" in self.names or self.all_custom or self.subclasses):
                return False
            if not (self.all_custom or ev.subclass in self.subclasses or
                    (not ev.subclass and "CUSTOM" in self.names)):
                return False
        elif ev.name not in self.names:
            return False
        if self.filters and not self._filters_pass(ev):
            return False
        return True

    def _filters_pass(self, ev: Event) -> bool:
        allowed = False
        for header, value in self.filters:
            have = ev.get_ci(header)
            if have is None:
                continue
            negative = value.startswith("-")
            if value[:1] in "+-":
                value = value[1:]
            if value.startswith("/") and value.rfind("/") > 0:
                pattern = value[1:value.rfind("/")]
                try:
                    hit = re.search(pattern, have) is not None
                except re.error:
                    hit = False
            else:
                hit = have.lower() == value.lower()
            if hit:
                if negative:
                    return False
                allowed = True
        return allowed

    def offer(self, ev: Event) -> None:
        if self.closed.is_set() or not self.accepts(ev):
            return
        self.queue_frame(ev.frame(self.fmt))

    def queue_frame(self, data: bytes) -> None:
        """Queue an event or log frame; held back while an `api` runs."""
        if self._held is not None:
            self._held.append(data)
        else:
            self.send(data)

    # -- input --------------------------------------------------------------------------------
    def run(self) -> None:
        """Read and answer commands until the peer closes or we close."""
        self.switch.add_listener(self)
        try:
            while not self.closed.is_set():
                data = self.sock.recv(65536)
                if not data:
                    break
                try:
                    commands = self.reader.feed(data)
                except wire.BadContentLength:
                    self.send(wire.disconnect_notice())
                    self.close_after_flush()
                    self._writer.join(1.0)
                    break
                for cmd in commands:
                    self.handle(cmd)
                    if self.closed.is_set():
                        break
        except OSError:
            pass
        finally:
            self._shutdown()
            self._writer.kill(block=False)

    def reply(self, text: str, extra: list[tuple[str, str]] | None = None) -> None:
        if self._swallow:
            self._swallow = False
            return
        self.send(wire.command_reply(text, extra))

    def handle(self, cmd: Command) -> None:
        line = cmd.line
        low = line.lower()
        self.switch.command_log.append("auth ********" if low.startswith("auth ") else line)
        first = self._first
        self._first = False
        faults = getattr(self.switch, "faults", None)
        if faults is not None:
            faults.before_reply()
        if self.outbound and first and not low.startswith("connect"):
            self._swallow = True
        if low.startswith("exit") or low == "...":
            self.reply("+OK bye")
            self.send(wire.disconnect_notice(self.session.uuid if self.outbound and self.session else None))
            self.close_after_flush()
            return
        if not self.authed:
            if low.startswith("auth "):
                if line[5:].strip() == self.switch.password:
                    self.authed = True
                    self.reply("+OK accepted")
                else:
                    self.reply("-ERR invalid")
                    self.send(wire.disconnect_notice())
                    self.close_after_flush()
                return
            self.reply("-ERR command not found")
            return
        from engine.sim import commands as handlers
        handlers.dispatch(self, cmd, low, first)
        if self.connected.is_set() and not low.startswith("connect"):
            self.settled.set()

    # -- api blocking -------------------------------------------------------------------------
    def hold_events(self) -> None:
        self._held = []

    def release_events(self) -> None:
        held, self._held = self._held, None
        for data in held or ():
            self.send(data)

    # -- subscriptions ------------------------------------------------------------------------
    def subscribe(self, words: list[str]) -> bool:
        request = _EventWords(words)
        if request.all:
            self.names.update(EVENT_NAMES)
            self.all_custom = True
        if request.custom:
            self.names.add("CUSTOM")
        self.names.update(request.names)
        self.subclasses.update(request.subclasses)
        if request.found:
            self.events_on = True
            self.switch.subscribed(self)
        return request.found

    def unsubscribe(self, words: list[str]) -> bool:
        request = _EventWords(words)
        if request.all:
            self.names.clear()
            self.subclasses.clear()
            self.all_custom = False
        for name in request.names:
            self.names.discard(name)
            self.names.discard("ALL")
        self.subclasses.difference_update(request.subclasses)
        return request.found

    def new_job_uuid(self, cmd: Command) -> str:
        return (cmd.header("Job-UUID") or str(uuidlib.uuid4()))[:36]


class _EventWords:
    """The words of `event`/`nixevent`: names (case-insensitive, optional SWITCH_EVENT_ prefix; unknown ones
    skipped), ALL, and after CUSTOM every word a subclass."""

    def __init__(self, words: list[str]) -> None:
        self.names: list[str] = []
        self.subclasses: list[str] = []
        self.all = self.custom = False
        for word in words:
            if self.custom:
                self.subclasses.append(word)
                continue
            name = word.upper()
            if name.startswith("SWITCH_EVENT_"):
                name = name[13:]
            if name == "ALL":
                self.all = True
            elif name == "CUSTOM":
                self.custom = True
            elif name in EVENT_NAME_SET:
                self.names.append(name)
        self.found = bool(self.all or self.custom or self.names or self.subclasses)


class _CloseMarker(bytes):
    pass


_CLOSE = _CloseMarker(b"")
