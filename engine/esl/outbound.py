"""Outbound ESL under gevent: a server for FreeSWITCH's `socket` app and a blocking per-call facade.

How it works: for each connection the server sends `connect`, reads the channel data, subscribes with
`myevents`, asks FreeSWITCH to `linger`, and runs the flow handler in that connection's greenlet with a
`CallChannel`. A reader greenlet settles replies FIFO and resolves each `execute()` future with the
CHANNEL_EXECUTE_COMPLETE whose `Application-UUID` equals the `Event-UUID` we sent (never by application
name). CHANNEL_HANGUP, a disconnect notice or a closed socket fail every pending future with `CallHungUp`.
Every execute is sent with `event-lock: true`, so commands run one after another, never nested.

A peer that is not (or no longer) a working FreeSWITCH cannot hold a call greenlet: setup (`connect` data,
`myevents`, `linger`) must finish within `connect_timeout`, and every application must complete within its
execute timeout (generous, per application: a bridge lasts as long as the conversation), after which the
call is hung up and its socket closed. The pool of concurrent calls is sized to the file descriptors the
process may open (the soft limit is raised towards the hard one first), so a wave of connections waits
in the listen backlog instead of failing with EMFILE.
"""
from __future__ import annotations

import logging
import resource
from typing import Callable, Mapping

import gevent
from gevent import socket as gsocket
from gevent.event import AsyncResult, Event as Flag
from gevent.pool import Pool
from gevent.server import StreamServer

from engine.esl import commands
from engine.esl.events import CommandReply, DisconnectNotice, Event, EventDecodeError
from engine.esl.protocol import ProtocolError, ascii_int, encode_command, encode_sendmsg
from engine.esl.wire import CommandError, ConnectionLost, EslError, Wire, enable_keepalive
from engine.logs import RateLimitedLog

log = logging.getLogger(__name__)

DEFAULT_EXECUTE_TIMEOUT = 3600.0  # an hour: far longer than any prompt, digit collection or recording
DEFAULT_BRIDGE_TIMEOUT = 86400.0  # a bridge completes when the conversation ends
FD_RESERVE_MIN = 128  # descriptors kept for the store, the control connection, web clients, TTS, logs


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards `wanted` (never above the hard limit); return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:  # e.g. a container that forbids it: size to what we have
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
    return soft


def call_capacity(max_calls: int, fd_limit: int) -> int:
    """How many calls may run at once: `max_calls`, unless the descriptors (one per call) cannot hold them."""
    reserve = max(FD_RESERVE_MIN, fd_limit // 8)
    return max(1, min(max_calls, fd_limit - reserve))


class CallHungUp(EslError):
    """The caller's channel is gone; raised by every CallChannel method from then on."""


def mask_number(number: str) -> str:
    """Mask a phone number for logs: keep the first 3 and last 2 digits."""
    if len(number) <= 5:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 5) + number[-2:]


class CallChannel:
    """One call controlled over its own outbound socket; blocking methods for flow code."""

    def __init__(self, wire: Wire, channel_data: dict[str, str], *,
                 execute_timeout: float = DEFAULT_EXECUTE_TIMEOUT,
                 execute_timeouts: Mapping[str, float] | None = None, reply_timeout: float = 30.0) -> None:
        self._wire = wire
        self.data = channel_data
        self.uuid = channel_data.get(commands.H_UNIQUE_ID) or channel_data.get("Channel-Unique-ID", "")
        self.caller_number = channel_data.get(commands.H_CALLER_NUMBER, "")
        self.caller_name = channel_data.get(commands.H_CALLER_NAME, "")
        self.destination_number = channel_data.get(commands.H_DESTINATION_NUMBER, "")
        self.variables = {k[9:]: v for k, v in channel_data.items() if k.startswith("variable_")}
        self.hung_up = False
        self.hangup_cause = ""
        self.hangup_complete: Event | None = None
        self._hangup_complete_flag = Flag()
        self._hung_up_flag = Flag()
        self._executing: dict[str, AsyncResult] = {}
        self._handlers: list[Callable[[Event], None]] = []
        self._reader: gevent.Greenlet | None = None
        self._execute_timeout = execute_timeout
        self._execute_timeouts = ({commands.APP_BRIDGE: DEFAULT_BRIDGE_TIMEOUT} if execute_timeouts is None
                                  else dict(execute_timeouts))
        self._reply_timeout = reply_timeout
        self.last_execute_at = 0.0  # monotonic time the last command was sent (for node-gap metrics)

    def __repr__(self) -> str:
        return f"<CallChannel {self.uuid} from {mask_number(self.caller_number)}>"

    # --- events -----------------------------------------------------------------------------------------
    def add_handler(self, handler: Callable[[Event], None]) -> Callable[[], None]:
        """Call `handler(event)` for each event of this channel (in the reader greenlet; must not block)."""
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler) if handler in self._handlers else None

    def _on_event(self, event: Event) -> None:
        try:
            self._track(event)
        except EventDecodeError as exc:
            self._wire.peer_log.warning("undecodable event", "call %s: dropping an undecodable event: %s",
                                        self.uuid, exc)
            return
        for handler in self._handlers:
            try:
                handler(event)
            except EventDecodeError as exc:
                self._wire.peer_log.warning("undecodable event", "call %s: dropping an undecodable event: %s",
                                            self.uuid, exc)
                return
            except Exception:
                self._wire.peer_log.log(logging.ERROR, f"handler {id(handler)}",
                                        "call %s: channel event handler failed on %s", self.uuid, event.name,
                                        exc_info=True)

    def _track(self, event: Event) -> None:
        """Settle executes and note the hang-up from one event (decodes the headers it needs)."""
        name = event.name
        if name == commands.EV_CHANNEL_EXECUTE_COMPLETE:
            pending = self._executing.pop(event.headers.get(commands.H_APPLICATION_UUID, ""), None)
            if pending is not None:
                pending.set(event)
        elif name == commands.EV_CHANNEL_HANGUP:
            self._mark_hung_up(event.headers.get(commands.H_HANGUP_CAUSE, "NORMAL_CLEARING"))
        elif name == commands.EV_CHANNEL_HANGUP_COMPLETE:
            self._mark_hung_up(event.headers.get(commands.H_HANGUP_CAUSE, "NORMAL_CLEARING"))
            self.hangup_complete = event
            self._hangup_complete_flag.set()

    def _mark_hung_up(self, cause: str) -> None:
        """The caller is gone: refuse new commands. A running app still completes: FreeSWITCH sends its
        CHANNEL_EXECUTE_COMPLETE after CHANNEL_HANGUP (captures 05b, 05c), e.g. with `record_ms`."""
        if self.hung_up:
            return
        self.hung_up = True
        self.hangup_cause = cause
        self._hung_up_flag.set()

    def _fail_executing(self) -> None:
        gone = CallHungUp(f"call {self.uuid} hung up ({self.hangup_cause or 'socket closed'})")
        pending, self._executing = self._executing, {}
        for future in pending.values():
            if not future.ready():
                future.set_exception(gone)

    def _read_loop(self) -> None:
        try:
            while True:
                for message in self._wire.read_messages():
                    if type(message) is Event:
                        self._on_event(message)
                    elif isinstance(message, DisconnectNotice):
                        if not message.is_linger:
                            raise ConnectionLost("FreeSWITCH closed the call socket")
                        # Lingering: the hung-up channel's last events are already here.
                        self._mark_hung_up(self.hangup_cause or "NORMAL_CLEARING")
                        self._fail_executing()
        except (ConnectionLost, EslError, ProtocolError, OSError) as exc:
            log.debug("call %s: socket ended: %s", self.uuid, exc)
        finally:
            self._mark_hung_up(self.hangup_cause or "NORMAL_CLEARING")
            self._fail_executing()
            self._wire.fail_pending(CallHungUp(f"call {self.uuid}: socket closed"))
            self._hangup_complete_flag.set()
            self._wire.close()

    def _raise_if_hung_up(self) -> None:
        if self.hung_up:
            raise CallHungUp(f"call {self.uuid} hung up ({self.hangup_cause})")

    def _start_reader(self) -> None:
        self._reader = gevent.spawn(self._read_loop)

    # --- commands ----------------------------------------------------------------------------------------
    def _command(self, data: bytes) -> CommandReply:
        self._raise_if_hung_up()
        try:
            reply = self._wire.request(data).get(timeout=self._reply_timeout)
        except ConnectionLost:
            raise CallHungUp(f"call {self.uuid}: socket closed") from None
        except gevent.Timeout:
            log.warning("call %s: no reply from FreeSWITCH in %.0fs; closing the call socket", self.uuid,
                        self._reply_timeout)
            self._wire.close()
            raise CallHungUp(f"call {self.uuid}: FreeSWITCH stopped answering") from None
        return reply

    def execute_async(self, app: str, arg: str = "") -> AsyncResult:
        """Send a dialplan application; the future resolves to its CHANNEL_EXECUTE_COMPLETE (matched by the
        Application-UUID equal to the Event-UUID we sent) or fails with CallHungUp / CommandError."""
        event_uuid = commands.new_uuid()
        done = AsyncResult()
        self._executing[event_uuid] = done
        self.last_execute_at = gevent.get_hub().loop.now()
        try:
            reply = self._command(encode_sendmsg(None, commands.CALL_COMMAND_EXECUTE,
                                                 commands.execute_headers(app, event_uuid), arg or None))
        except CallHungUp:
            self._executing.pop(event_uuid, None)
            raise
        if not reply.ok:
            self._executing.pop(event_uuid, None)
            raise CommandError(f"{app}: {reply.text}")
        return done

    def execute(self, app: str, arg: str = "", *, timeout: float | None = None) -> Event:
        """Run a dialplan application and block until it completes; returns its CHANNEL_EXECUTE_COMPLETE.

        If the caller hangs up while it runs, the completion (which FreeSWITCH still sends) is returned
        and `hung_up` is set; the next command raises CallHungUp. An application that does not complete
        within its execute timeout (`timeout`, else the one configured for `app`) hangs the call up (the
        switch is not doing its job) and raises CallHungUp.
        """
        timeout = self.execute_timeout_for(app) if timeout is None else timeout
        try:
            return self.execute_async(app, arg).get(timeout=timeout)
        except gevent.Timeout:
            self.give_up(f"{app} did not complete within {timeout:g}s")
            raise CallHungUp(f"call {self.uuid}: {app} did not complete within {timeout:g}s") from None

    def execute_timeout_for(self, app: str) -> float:
        """Seconds `app` may run before the call is given up."""
        return self._execute_timeouts.get(app, self._execute_timeout)

    def give_up(self, why: str) -> None:
        """Ask FreeSWITCH to hang the call up (without waiting) and close its socket; logs one line."""
        log.warning("call %s: %s; hanging up and closing the call socket", self.uuid, why)
        cause = commands.HangupCause.RECOVERY_ON_TIMER_EXPIRE
        if not self.hung_up and not self._wire.closed:
            try:
                self._wire.request(encode_sendmsg(None, commands.CALL_COMMAND_HANGUP, commands.hangup_headers(cause)))
            except (ConnectionLost, EslError):
                pass
        self._mark_hung_up(self.hangup_cause or cause.name)
        self._wire.close(why)

    def answer(self) -> None:
        self.execute(commands.APP_ANSWER)
        self._raise_if_hung_up()

    def set_variable(self, name: str, value: str) -> None:
        self.execute(commands.APP_SET, commands.set_arg(name, value))
        self.variables[name] = str(value)
        self._raise_if_hung_up()

    def _ensure_variable(self, name: str, value: str) -> None:
        if self.variables.get(name) != value:
            self.set_variable(name, value)

    def play(self, path: str, *, terminators: str = "none") -> str:
        """Play a file (or stream); returns the terminator digit that interrupted it, or ""."""
        self._ensure_variable(commands.VAR_PLAYBACK_TERMINATORS, terminators)
        event = self.execute(commands.APP_PLAYBACK, path)
        self._raise_if_hung_up()
        return event.variable(commands.VAR_PLAYBACK_TERMINATOR_USED) or ""

    def collect(self, *, prompt: str, min_digits: int, max_digits: int, tries: int = 1, timeout_ms: int = 5000,
                terminators: str = "#", invalid_prompt: str = "silence_stream://250", regexp: str = "\\d+",
                digit_timeout_ms: int | None = None, variable: str = "jq_digits") -> str:
        """play_and_get_digits; returns the valid digits entered, or "" when the tries ran out."""
        arg = commands.play_and_get_digits_arg(
            min_digits=min_digits, max_digits=max_digits, tries=tries, timeout_ms=timeout_ms,
            terminators=terminators, prompt=prompt, invalid_prompt=invalid_prompt, variable=variable,
            regexp=regexp, digit_timeout_ms=digit_timeout_ms)
        event = self.execute(commands.APP_PLAY_AND_GET_DIGITS, arg)
        self._raise_if_hung_up()
        return event.variable(variable) or ""

    def record(self, path: str, *, max_seconds: int, silence_threshold: int = 200, silence_seconds: int = 3,
               terminators: str = "#") -> float:
        """Record the caller into `path`; returns the seconds recorded.

        A caller who hangs up to end a voicemail still gets it saved: this returns normally (with
        `hung_up` set) and the next command raises CallHungUp.
        """
        self._ensure_variable(commands.VAR_PLAYBACK_TERMINATORS, terminators)
        event = self.execute(commands.APP_RECORD,
                             commands.record_arg(path, max_seconds, silence_threshold, silence_seconds),
                             timeout=max(self.execute_timeout_for(commands.APP_RECORD), max_seconds + 60.0))
        ms = ascii_int(event.variable(commands.VAR_RECORD_MS))
        if ms is not None:
            return ms / 1000.0
        seconds = event.variable(commands.VAR_RECORD_SECONDS) or "0"
        return float(seconds) if seconds.isascii() and seconds.replace(".", "", 1).isdigit() else 0.0

    def bridge(self, dial_string: str) -> str:
        """Bridge to a dial string; returns the originate disposition ("SUCCESS" or a cause name).

        `continue_on_fail` is set on this leg first: without it a failed bridge hangs the caller up
        (ESL.md §5.3), and the flow could not offer an alternative.
        """
        self._ensure_variable(commands.VAR_CONTINUE_ON_FAIL, "true")
        event = self.execute(commands.APP_BRIDGE, dial_string)
        self._raise_if_hung_up()
        return (event.variable(commands.VAR_ORIGINATE_DISPOSITION) or event.variable(commands.VAR_DIALSTATUS)
                or event.headers.get(commands.H_APPLICATION_RESPONSE, ""))

    def transfer(self, extension: str, dialplan: str = "XML", context: str = "default") -> None:
        """Hand the call to another extension; what happens to it afterwards is the dialplan's business."""
        self.execute(commands.APP_TRANSFER, commands.transfer_arg(extension, dialplan, context))

    def sleep(self, ms: int) -> None:
        self.execute(commands.APP_SLEEP, str(int(ms)))
        self._raise_if_hung_up()

    def hangup(self, cause: str = "NORMAL_CLEARING", wait: float = 5.0) -> None:
        """Hang the call up (no error if it is already gone) and wait for FreeSWITCH to confirm."""
        if self.hung_up:
            return
        try:
            self._command(encode_sendmsg(None, commands.CALL_COMMAND_HANGUP, commands.hangup_headers(cause)))
        except CallHungUp:
            return
        self.wait_hangup(wait)

    def wait_hangup(self, timeout: float | None = None) -> bool:
        """Wait until the channel has hung up (CHANNEL_HANGUP or the socket closing)."""
        return self._hung_up_flag.wait(timeout)

    def wait_hangup_complete(self, timeout: float | None = None) -> Event | None:
        """Wait for CHANNEL_HANGUP_COMPLETE (the CDR event, delivered thanks to linger), or None."""
        self._hangup_complete_flag.wait(timeout)
        return self.hangup_complete

    def close(self) -> None:
        self._wire.close()
        if self._reader is not None:
            self._reader.join(timeout=1.0)


CallHandler = Callable[[CallChannel], None]


class OutboundServer:
    """Accepts FreeSWITCH `socket` connections and runs `handler(channel)` in one greenlet per call."""

    def __init__(self, host: str, port: int, handler: CallHandler, *, linger: int = 10, event_format: str = "json",
                 max_calls: int = 5000, connect_timeout: float = 5.0,
                 execute_timeout: float = DEFAULT_EXECUTE_TIMEOUT, bridge_timeout: float = DEFAULT_BRIDGE_TIMEOUT,
                 fd_limit: int | None = None) -> None:
        self.handler = handler
        self.linger = linger
        self.event_format = event_format
        self.connect_timeout = connect_timeout
        self.execute_timeout = execute_timeout
        self.execute_timeouts = {commands.APP_BRIDGE: bridge_timeout}
        self.active_calls = 0
        self.completed_calls = 0
        self.failed_calls = 0
        self._peer_log = RateLimitedLog(log)
        if fd_limit is None:
            fd_limit = raise_fd_limit(max_calls + max(FD_RESERVE_MIN, max_calls // 7))
        self.capacity = call_capacity(max_calls, fd_limit)
        if self.capacity < max_calls:
            log.warning("outbound.max_calls %d is more than the open-file limit (%d) allows: at most %d calls at "
                        "once (raise LimitNOFILE / ulimit -n)", max_calls, fd_limit, self.capacity)
        self._server = StreamServer((host, port), self._handle, spawn=Pool(self.capacity), backlog=4096)

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address[0], self._server.server_port

    def start(self) -> "OutboundServer":
        self._server.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._server.stop(timeout=timeout)

    def _connect(self, sock: gsocket.socket) -> CallChannel:
        sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
        enable_keepalive(sock)  # a FreeSWITCH host that dies without closing TCP ends its calls here
        wire = Wire(sock, peer_log=self._peer_log)
        try:
            with gevent.Timeout(self.connect_timeout,
                                ConnectionLost(f"call setup not done within {self.connect_timeout:g}s")):
                pending = wire.request(encode_command("connect"))
                while not pending.ready():
                    for message in wire.read_messages():
                        log.debug("event before connect reply ignored: %r", message)
                reply = pending.get()
                channel = CallChannel(wire, dict(reply.headers), execute_timeout=self.execute_timeout,
                                      execute_timeouts=self.execute_timeouts)
                channel._start_reader()
                replies = [wire.request(encode_command(f"myevents {self.event_format}"))]
                if self.linger:
                    replies.append(wire.request(encode_command(f"linger {int(self.linger)}")))
                for future in replies:
                    answer = future.get()
                    if not answer.ok:
                        log.warning("call %s: %s refused: %s (is the socket app missing 'full'?)", channel.uuid,
                                    "linger" if future is not replies[0] else "myevents", answer.text)
        except BaseException:
            wire.close("call setup failed")
            raise
        return channel

    def _handle(self, sock: gsocket.socket, address: tuple) -> None:
        try:
            channel = self._connect(sock)
        except (ConnectionLost, EslError, ProtocolError, OSError, gevent.Timeout) as exc:
            self._peer_log.warning("setup failed", "outbound connection from %s failed during setup: %s",
                                   address[0] if address else "?", exc)
            self.failed_calls += 1
            sock.close()
            return
        self.active_calls += 1
        try:
            self.handler(channel)
            self.completed_calls += 1
        except CallHungUp:
            self.completed_calls += 1
        except Exception:
            self.failed_calls += 1
            log.exception("call %s: flow handler failed", channel.uuid)
        finally:
            self.active_calls -= 1
            channel.close()
