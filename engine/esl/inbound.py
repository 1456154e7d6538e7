"""Inbound ESL client under gevent: auth, subscriptions, filters, api/bgapi, reconnect, heartbeat watchdog.

How it works: one session greenlet connects, authenticates, restores subscriptions and filters, then
reads. Replies settle the FIFO futures of `api()`; BACKGROUND_JOB events settle `bgapi()` futures keyed
by the Job-UUID we chose; every event is also queued, in batches, for the dispatcher greenlet that calls
the handlers. Slow consumers: the event queue is bounded in bytes as received (`max_queued_bytes`);
when it is full the reader stops reading, so back-pressure reaches FreeSWITCH's own 100,000-event listener
queue; nothing is dropped silently (if FreeSWITCH gives up it disconnects us, we reconnect and the
reconciler rebuilds state). Handlers run in the dispatcher greenlet and must not block on `api()` there;
doing so raises `RuntimeError` instead of risking a deadlock. A socket silent for `heartbeat_timeout`
(FreeSWITCH sends HEARTBEAT every 20 s) is declared dead and the session reconnects.

A broken or hostile peer cannot hold us: the handshake (auth/request, auth reply, subscription replies)
must finish within `handshake_timeout`, at most `MAX_PRE_AUTH_BYTES` may come before auth/request, and
repeated complaints about its frames are rate-limited. Reconnection backs off from `reconnect_min_delay`
to a low cap (`reconnect_max_delay`, 2 s by default: a refused TCP connect costs nothing), so the engine is
back within seconds of FreeSWITCH accepting connections however long it was down; an outage logs one
warning when it starts and one line when it ends.
"""
from __future__ import annotations

import logging
import random
import time
from collections import deque
from typing import Callable, Iterable, Mapping

import gevent
from gevent import socket as gsocket
from gevent.event import AsyncResult, Event as Flag

from engine.esl import commands
from engine.esl.events import (ApiResponse, AuthRequest, CommandReply, DisconnectNotice, Event, EventDecodeError,
                               RudeRejection)
from engine.esl.protocol import ProtocolError, encode_command
from engine.esl.wire import (AuthenticationFailed, CommandError, CommandTimeout, ConnectionLost, EslError, Wire,
                             enable_keepalive)
from engine.logs import RateLimitedLog

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]

MAX_PRE_AUTH_BYTES = 64 * 1024  # FreeSWITCH sends `auth/request` (28 bytes) first and nothing else
AUTH_RETRY_DELAY = 30.0  # a refused password is not an outage: retry slowly, not every couple of seconds


def reconnect_delay(previous: float | None, min_delay: float, max_delay: float) -> float:
    """The next pause before reconnecting: doubling from `min_delay`, capped at `max_delay` (before jitter)."""
    if previous is None:
        return min_delay
    return min(max(previous * 2, min_delay), max_delay)


class EventBacklog:
    """Batches of events waiting for the dispatcher, bounded by the bytes they arrived in and by count.

    `put()` blocks the reader while the backlog is full (one batch is always admitted into an empty
    backlog, so a single large frame cannot stall it); `get()` blocks the dispatcher while it is empty.
    """

    def __init__(self, max_bytes: int, max_batches: int) -> None:
        self.max_bytes, self.max_batches = max_bytes, max_batches
        self.bytes = 0
        self._items: deque[tuple[list[Event], int]] = deque()
        self._not_empty, self._has_room = Flag(), Flag()
        self._has_room.set()
        self.waiting_for_room = False  # the reader is paused by back-pressure (for status and tests)

    def __len__(self) -> int:
        return len(self._items)

    def put(self, batch: list[Event], cost: int) -> None:
        while self._items and (self.bytes + cost > self.max_bytes or len(self._items) >= self.max_batches):
            self._has_room.clear()
            self.waiting_for_room = True
            try:
                self._has_room.wait()
            finally:
                self.waiting_for_room = False
        self._items.append((batch, cost))
        self.bytes += cost
        self._not_empty.set()

    def get(self) -> list[Event]:
        while not self._items:
            self._not_empty.clear()
            self._not_empty.wait()
        batch, cost = self._items.popleft()
        self.bytes -= cost
        self._has_room.set()
        return batch


class InboundConnection:
    """A long-lived control connection to FreeSWITCH's inbound event socket."""

    def __init__(self, host: str, port: int, password: str, *, event_format: str = "json",
                 events: Iterable[str] = (commands.EV_ALL,), filters: Iterable[tuple[str, str]] = (),
                 heartbeat_timeout: float = 60.0, connect_timeout: float = 5.0, handshake_timeout: float = 10.0,
                 reconnect_min_delay: float = 0.2, reconnect_max_delay: float = 2.0,
                 max_queued_bytes: int = 32 << 20, max_queued_batches: int = 2000,
                 send_timeout: float = 10.0) -> None:
        self.host, self.port, self._password = host, port, password
        self.event_format = event_format
        self.events = list(events)
        if commands.EV_ALL not in self.events:
            for needed in (commands.EV_BACKGROUND_JOB, commands.EV_HEARTBEAT):
                if needed not in self.events:
                    self.events.append(needed)
        self.filters = list(filters)
        self.heartbeat_timeout = heartbeat_timeout
        self.send_timeout = send_timeout
        self.connect_timeout = connect_timeout
        self.handshake_timeout = handshake_timeout
        self.reconnect_min_delay, self.reconnect_max_delay = reconnect_min_delay, reconnect_max_delay
        self._handlers: list[EventHandler] = []
        self._reconnect_callbacks: list[Callable[[], None]] = []
        self._jobs: dict[str, AsyncResult] = {}
        self.backlog = EventBacklog(max_queued_bytes, max_queued_batches)
        self._peer_log = RateLimitedLog(log)
        self._outage: tuple[float, str] | None = None  # (monotonic start, kind of error logged) while disconnected
        self._connected = Flag()
        self._closing = False
        self._wire: Wire | None = None
        self._session_greenlet: gevent.Greenlet | None = None
        self._dispatcher: gevent.Greenlet | None = None
        self.sessions = 0  # how many times we (re)connected, for tests and metrics
        self.attempts = 0  # how many times we tried to connect
        self.last_error: str = ""  # why the last session ended (kept across reconnects, for status and tests)

    # --- public API ---------------------------------------------------------------------------------------
    def start(self) -> "InboundConnection":
        self._dispatcher = gevent.spawn(self._dispatch_loop)
        self._session_greenlet = gevent.spawn(self._run)
        return self

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def add_handler(self, handler: EventHandler) -> Callable[[], None]:
        """Call `handler(event)` for every event (in the dispatcher greenlet); returns a remover."""
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler) if handler in self._handlers else None

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Run `callback()` (in its own greenlet) after every successful (re)connection and resubscription."""
        self._reconnect_callbacks.append(callback)

    def api(self, command: str, timeout: float = 10.0) -> str:
        """Run a blocking API command and return its output; raises CommandError on a -ERR command/reply."""
        if gevent.getcurrent() is self._dispatcher:
            raise RuntimeError("api() must not be called from an event handler; spawn a greenlet or use bgapi()")
        wire = self._ready_wire(timeout)
        try:
            reply = wire.request(encode_command("api " + command)).get(timeout=timeout)
        except gevent.Timeout:
            raise CommandTimeout(f"no answer to `api {command.split(' ', 1)[0]}` within {timeout}s") from None
        if isinstance(reply, CommandReply):  # permission errors come back as command/reply
            raise CommandError(reply.text)
        return reply.body

    def sendevent(self, name: str, headers: Mapping[str, str], body: str | None = None,
                  timeout: float = 10.0) -> str:
        """Fire an event into FreeSWITCH (e.g. CUSTOM with Event-Subclass); returns the reply text."""
        if gevent.getcurrent() is self._dispatcher:
            raise RuntimeError("sendevent() must not be called from an event handler; spawn a greenlet")
        wire = self._ready_wire(timeout)
        try:
            reply = wire.request(encode_command(commands.sendevent(name), headers, body)).get(timeout=timeout)
        except gevent.Timeout:
            raise CommandTimeout(f"no answer to sendevent {name} within {timeout}s") from None
        if not reply.ok:
            raise CommandError(reply.text)
        return reply.text

    def bgapi(self, command: str, job_uuid: str | None = None, timeout: float = 600.0) -> AsyncResult:
        """Start a background API job; the future resolves to the BACKGROUND_JOB body. Never blocks.

        A job whose BACKGROUND_JOB has not arrived after `timeout` seconds fails with CommandTimeout and
        is forgotten, so a lost event cannot leave futures (and memory) behind. After a reconnect, jobs
        in flight fail with ConnectionLost although FreeSWITCH still runs them: callers that originate
        must reconcile by the origination_uuid they chose.
        """
        job_uuid = job_uuid or commands.new_uuid()
        result = AsyncResult()
        wire = self._wire
        if wire is None or not self._connected.is_set():
            result.set_exception(ConnectionLost("not connected to FreeSWITCH"))
            return result
        self._jobs[job_uuid] = result

        def check_reply(reply_future: AsyncResult) -> None:
            if not reply_future.successful():
                self._fail_job(job_uuid, reply_future.exception)
                return
            reply = reply_future.value
            if isinstance(reply, CommandReply) and not reply.ok:
                self._fail_job(job_uuid, CommandError(reply.text))

        try:
            wire.request(encode_command("bgapi " + command, {commands.H_JOB_UUID: job_uuid})).rawlink(check_reply)
        except ConnectionLost as exc:
            self._fail_job(job_uuid, exc)
            return result
        timer = gevent.get_hub().loop.timer(timeout)
        timer.start(self._fail_job, job_uuid,
                    CommandTimeout(f"no BACKGROUND_JOB for `{command.split(' ', 1)[0]}` within {timeout}s"))
        result.rawlink(lambda _result: timer.close())
        return result

    def close(self) -> None:
        self._closing = True
        if self._wire is not None:
            self._wire.close()
        for greenlet in (self._session_greenlet, self._dispatcher):
            if greenlet is not None:
                greenlet.kill(block=False)
        self._connected.clear()

    # --- internals ----------------------------------------------------------------------------------------
    def _fail_job(self, job_uuid: str, exc: BaseException) -> None:
        job = self._jobs.pop(job_uuid, None)
        if job is not None and not job.ready():
            job.set_exception(exc)

    def _ready_wire(self, timeout: float) -> Wire:
        if not self._connected.wait(timeout) or self._wire is None:
            raise ConnectionLost(f"not connected to FreeSWITCH at {self.host}:{self.port}")
        return self._wire

    def _run(self) -> None:
        delay: float | None = None
        while not self._closing:
            sessions_before = self.sessions
            refused = False
            try:
                self._session()
            except AuthenticationFailed as exc:
                self.last_error = str(exc)
                refused = True
                self._note_outage("auth", logging.ERROR, "FreeSWITCH %s:%s refused the password: %s; retrying every "
                                  "%.0fs", self.host, self.port, exc, max(AUTH_RETRY_DELAY, self.reconnect_max_delay))
            except (ConnectionLost, ProtocolError, OSError, EslError) as exc:
                self.last_error = str(exc) or type(exc).__name__
                if not self._closing:
                    self._note_outage("lost", logging.WARNING, "ESL connection to %s:%s %s: %s; reconnecting every "
                                      "%.1fs at most", self.host, self.port, "lost" if self.sessions else "failed",
                                      self.last_error, self.reconnect_max_delay)
            except Exception as exc:  # a bug must not end reconnection for good
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("ESL session to %s:%s failed unexpectedly", self.host, self.port)
            finally:
                self._teardown()
            if self._closing:
                break
            if self.sessions > sessions_before:  # the session had worked: start the backoff afresh
                delay = None
            delay = reconnect_delay(delay, self.reconnect_min_delay, self.reconnect_max_delay)
            pause = max(AUTH_RETRY_DELAY, self.reconnect_max_delay) if refused else delay
            gevent.sleep(pause * random.uniform(0.8, 1.2))

    def _note_outage(self, kind: str, level: int, msg: str, *args: object) -> None:
        """Log the first failure of an outage (and a change of kind, e.g. lost -> refused password) once;
        the retries that follow only at debug level."""
        if self._outage is None or self._outage[1] != kind:
            log.log(level, msg, *args)
            self._outage = (self._outage[0] if self._outage else time.monotonic(), kind)
        else:
            log.debug(msg, *args)

    def _teardown(self) -> None:
        self._connected.clear()
        lost = ConnectionLost(self.last_error or "connection closed")
        if self._wire is not None:
            self._wire.close()
            self._wire.fail_pending(lost)
            self._wire = None
        jobs, self._jobs = self._jobs, {}
        for job in jobs.values():
            if not job.ready():
                job.set_exception(lost)

    def _session(self) -> None:
        self.attempts += 1
        sock = gsocket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
        sock.settimeout(self.heartbeat_timeout)
        enable_keepalive(sock)
        wire = Wire(sock, send_timeout=self.send_timeout, peer_log=self._peer_log)
        self._wire = wire
        with gevent.Timeout(self.handshake_timeout,
                            ConnectionLost(f"no auth/request within {self.handshake_timeout:g}s")):
            self._await_auth_request(wire)
        with gevent.Timeout(self.handshake_timeout,
                            ConnectionLost(f"no reply to auth within {self.handshake_timeout:g}s")):
            pending_auth = wire.request(encode_command(commands.auth(self._password)))
            while not pending_auth.ready():
                wire.read_messages()
        reply = pending_auth.get()
        if not (isinstance(reply, CommandReply) and reply.ok):
            raise AuthenticationFailed(getattr(reply, "text", "auth refused"))
        gevent.spawn(self._subscribe, wire)
        self._read_loop(wire)

    def _await_auth_request(self, wire: Wire) -> None:
        """Read until auth/request; anything else first is dropped, and a peer that sends much is refused."""
        while True:
            messages = wire.read_messages()
            for message in messages:
                if isinstance(message, AuthRequest):
                    return
                if isinstance(message, (RudeRejection, DisconnectNotice)):
                    raise ConnectionLost("FreeSWITCH refused the connection (ACL)")
            if wire.bytes_received > MAX_PRE_AUTH_BYTES:
                raise ConnectionLost(f"peer sent {wire.bytes_received} bytes without auth/request: "
                                     "not FreeSWITCH's event socket?")

    def _subscribe(self, wire: Wire) -> None:
        try:
            replies = [wire.request(encode_command(commands.subscribe(self.event_format, self.events)))]
            for header, value in self.filters:
                replies.append(wire.request(encode_command(commands.filter_add(header, value))))
            with gevent.Timeout(self.handshake_timeout):
                for pending in replies:
                    reply = pending.get()
                    if not reply.ok:
                        log.error("FreeSWITCH refused a subscription or filter: %s", reply.text)
        except ConnectionLost:
            return
        except gevent.Timeout:  # the session ends with this reason, logged as the outage begins
            wire.close(f"no reply to the event subscription within {self.handshake_timeout:g}s")
            return
        if wire is not self._wire:
            return
        self.sessions += 1
        self._connected.set()
        if self._outage is not None:
            log.info("connected to FreeSWITCH %s:%s %s %.1fs (session %d)", self.host, self.port,
                     "again after" if self.sessions > 1 else "after failing for", time.monotonic() - self._outage[0],
                     self.sessions)
            self._outage = None
        else:
            log.info("connected to FreeSWITCH %s:%s (session %d)", self.host, self.port, self.sessions)
        for callback in list(self._reconnect_callbacks):
            gevent.spawn(callback)

    def _read_loop(self, wire: Wire) -> None:
        jobs = self._jobs
        backlog = self.backlog
        while True:
            batch: list[Event] = []
            for message in wire.read_messages():
                if type(message) is Event:
                    if message.name == commands.EV_BACKGROUND_JOB:
                        try:
                            job = jobs.pop(message.headers.get(commands.H_JOB_UUID) or "", None)
                        except EventDecodeError as exc:
                            self._peer_log.warning("undecodable event", "dropping an undecodable event: %s", exc)
                            continue
                        if job is not None:
                            job.set(message.body or "")
                    batch.append(message)
                elif isinstance(message, (DisconnectNotice, RudeRejection)):
                    if batch and self._handlers:  # the last events before the notice still count
                        backlog.put(batch, wire.last_read_bytes)
                    reason = message.message.strip() if isinstance(message, DisconnectNotice) else "ACL refusal"
                    raise ConnectionLost(f"FreeSWITCH disconnected us: {reason}")
                else:
                    log.debug("ignoring %r", message)
            if batch and self._handlers:
                backlog.put(batch, wire.last_read_bytes)

    def _dispatch_loop(self) -> None:
        backlog = self.backlog
        while True:
            batch = backlog.get()
            handlers = list(self._handlers)
            for event in batch:
                for handler in handlers:
                    try:
                        handler(event)
                    except EventDecodeError as exc:  # the peer's fault, not the handler's: no traceback
                        self._peer_log.warning("undecodable event", "dropping an undecodable event: %s", exc)
                        break
                    except Exception:  # a broken handler must not stop the others
                        self._peer_log.log(logging.ERROR, f"handler {id(handler)}", "event handler failed on %s",
                                           event.name, exc_info=True)


__all__ = ["InboundConnection", "ApiResponse", "CommandError", "ConnectionLost", "AuthenticationFailed"]
