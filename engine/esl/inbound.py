"""Inbound ESL client under gevent: auth, subscriptions, filters, api/bgapi, reconnect, heartbeat watchdog.

How it works: one session greenlet connects, authenticates, restores subscriptions and filters, then
reads. Replies settle the FIFO futures of `api()`; BACKGROUND_JOB events settle `bgapi()` futures keyed
by the Job-UUID we chose; every event is also queued, in batches, for the dispatcher greenlet that calls
the handlers. Slow consumers: the event queue is bounded (`max_queued_batches`); when it is full the
reader stops reading, so back-pressure reaches FreeSWITCH's own 100,000-event listener queue; nothing is
dropped silently (if FreeSWITCH gives up it disconnects us, we reconnect and the reconciler rebuilds
state). Handlers run in the dispatcher greenlet and must not block on `api()` there; doing so raises
`RuntimeError` instead of risking a deadlock. A socket silent for `heartbeat_timeout` (FreeSWITCH sends
HEARTBEAT every 20 s) is declared dead and the session reconnects with exponential backoff.
"""
from __future__ import annotations

import logging
import random
from typing import Callable, Iterable, Mapping

import gevent
from gevent import socket as gsocket
from gevent.event import AsyncResult, Event as Flag
from gevent.queue import Queue

from engine.esl import commands
from engine.esl.events import ApiResponse, AuthRequest, CommandReply, DisconnectNotice, Event, Message, RudeRejection
from engine.esl.protocol import ProtocolError, encode_command
from engine.esl.wire import (AuthenticationFailed, CommandError, CommandTimeout, ConnectionLost, EslError, Wire,
                             enable_keepalive)

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]


class InboundConnection:
    """A long-lived control connection to FreeSWITCH's inbound event socket."""

    def __init__(self, host: str, port: int, password: str, *, event_format: str = "json",
                 events: Iterable[str] = (commands.EV_ALL,), filters: Iterable[tuple[str, str]] = (),
                 heartbeat_timeout: float = 60.0, connect_timeout: float = 5.0,
                 reconnect_min_delay: float = 0.2, reconnect_max_delay: float = 30.0,
                 max_queued_batches: int = 2000, send_timeout: float = 10.0) -> None:
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
        self.reconnect_min_delay, self.reconnect_max_delay = reconnect_min_delay, reconnect_max_delay
        self._handlers: list[EventHandler] = []
        self._reconnect_callbacks: list[Callable[[], None]] = []
        self._jobs: dict[str, AsyncResult] = {}
        self._queue: Queue = Queue(maxsize=max_queued_batches)
        self._connected = Flag()
        self._closing = False
        self._wire: Wire | None = None
        self._session_greenlet: gevent.Greenlet | None = None
        self._dispatcher: gevent.Greenlet | None = None
        self.sessions = 0  # how many times we (re)connected, for tests and metrics
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
        delay = self.reconnect_min_delay
        while not self._closing:
            sessions_before = self.sessions
            try:
                self._session()
            except AuthenticationFailed as exc:
                self.last_error = str(exc)
                log.error("FreeSWITCH %s:%s refused the password; retrying in %.0fs", self.host, self.port,
                          self.reconnect_max_delay)
                delay = self.reconnect_max_delay
            except (ConnectionLost, ProtocolError, OSError, EslError) as exc:
                self.last_error = str(exc)
                if not self._closing:
                    log.warning("ESL connection to %s:%s lost: %s", self.host, self.port, exc)
            except Exception as exc:  # a bug must not end reconnection for good
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("ESL session to %s:%s failed unexpectedly", self.host, self.port)
            finally:
                self._teardown()
            if self._closing:
                break
            if self.sessions > sessions_before:  # the session had worked: start the backoff afresh
                delay = self.reconnect_min_delay
            gevent.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.reconnect_max_delay)

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
        sock = gsocket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
        sock.settimeout(self.heartbeat_timeout)
        enable_keepalive(sock)
        wire = Wire(sock, send_timeout=self.send_timeout)
        self._wire = wire
        backlog: list[Message] = []
        while not any(isinstance(m, AuthRequest) for m in backlog):
            backlog.extend(wire.read_messages())
            if any(isinstance(m, (RudeRejection, DisconnectNotice)) for m in backlog):
                raise ConnectionLost("FreeSWITCH refused the connection (ACL)")
        pending_auth = wire.request(encode_command(commands.auth(self._password)))
        while not pending_auth.ready():
            wire.read_messages()
        reply = pending_auth.get()
        if not (isinstance(reply, CommandReply) and reply.ok):
            raise AuthenticationFailed(getattr(reply, "text", "auth refused"))
        gevent.spawn(self._subscribe, wire)
        self._read_loop(wire)

    def _subscribe(self, wire: Wire) -> None:
        try:
            replies = [wire.request(encode_command(commands.subscribe(self.event_format, self.events)))]
            for header, value in self.filters:
                replies.append(wire.request(encode_command(commands.filter_add(header, value))))
            for pending in replies:
                reply = pending.get(timeout=self.heartbeat_timeout)
                if not reply.ok:
                    log.error("FreeSWITCH refused a subscription or filter: %s", reply.text)
        except (ConnectionLost, gevent.Timeout):
            return
        if wire is not self._wire:
            return
        self.sessions += 1
        self._connected.set()
        log.info("connected to FreeSWITCH %s:%s (session %d)", self.host, self.port, self.sessions)
        for callback in list(self._reconnect_callbacks):
            gevent.spawn(callback)

    def _read_loop(self, wire: Wire) -> None:
        jobs = self._jobs
        queue = self._queue
        while True:
            batch: list[Event] = []
            for message in wire.read_messages():
                if type(message) is Event:
                    if message.name == commands.EV_BACKGROUND_JOB:
                        job = jobs.pop(message.headers.get(commands.H_JOB_UUID, ""), None)
                        if job is not None:
                            job.set(message.body or "")
                    batch.append(message)
                elif isinstance(message, (DisconnectNotice, RudeRejection)):
                    if batch and self._handlers:  # the last events before the notice still count
                        queue.put(batch)
                    reason = message.message.strip() if isinstance(message, DisconnectNotice) else "ACL refusal"
                    raise ConnectionLost(f"FreeSWITCH disconnected us: {reason}")
                else:
                    log.debug("ignoring %r", message)
            if batch and self._handlers:
                queue.put(batch)

    def _dispatch_loop(self) -> None:
        for batch in self._queue:
            handlers = list(self._handlers)
            for event in batch:
                for handler in handlers:
                    try:
                        handler(event)
                    except Exception:  # a broken handler must not stop the others
                        log.exception("event handler failed on %s", event.name)


__all__ = ["InboundConnection", "ApiResponse", "CommandError", "ConnectionLost", "AuthenticationFailed"]
