"""One ESL socket under gevent: ordered sends, replies matched FIFO to their commands, typed errors.

How it works: FreeSWITCH answers every command on a connection exactly once and in order (ESL.md §2.5),
so `request()` appends a future to a FIFO and writes the command under one lock; the reader pops the
FIFO for each `command/reply` or `api/response`. Every other frame is handed back to the caller of
`read_messages()`. A send that cannot complete within `send_timeout` (a peer that stopped reading) closes
the socket, which the reader then reports as `ConnectionLost`. Lines a broken peer can repeat at will
(unsolicited replies, undecodable events) go through a rate-limited log.
"""
from __future__ import annotations

import logging
from collections import deque

import gevent
from gevent import socket as gsocket
from gevent.event import AsyncResult
from gevent.lock import Semaphore

from engine.esl.events import ApiResponse, CommandReply, EventDecodeError, Message, classify
from engine.esl.protocol import Frame, Parser
from engine.logs import RateLimitedLog

log = logging.getLogger(__name__)

RECV_BYTES = 256 * 1024


class EslError(Exception):
    """Base of every error this layer raises."""


class ConnectionLost(EslError):
    """The socket closed, went silent past the watchdog, or stopped accepting bytes."""


class CommandError(EslError):
    """FreeSWITCH answered a command with -ERR (the text says why)."""


class AuthenticationFailed(EslError):
    """The password was refused."""


def enable_keepalive(sock: gsocket.socket, idle: int = 30, interval: int = 10, count: int = 3) -> None:
    """TCP keepalive, so a peer host that vanishes without closing the connection is noticed (~60 s)."""
    sock.setsockopt(gsocket.SOL_SOCKET, gsocket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval), ("TCP_KEEPCNT", count)):
        if hasattr(gsocket, option):
            sock.setsockopt(gsocket.IPPROTO_TCP, getattr(gsocket, option), value)


class CommandTimeout(EslError):
    """FreeSWITCH did not answer a command in time."""


class Wire:
    """A connected ESL socket with a reply FIFO; used by the inbound client and by each outbound call."""

    def __init__(self, sock: gsocket.socket, *, send_timeout: float = 10.0, parser: Parser | None = None,
                 peer_log: RateLimitedLog | None = None) -> None:
        self.sock = sock
        self.parser = parser or Parser()
        self.send_timeout = send_timeout
        self.peer_log = peer_log or RateLimitedLog(log)  # pass one in to share the limit across connections
        self._replies: deque[AsyncResult] = deque()
        self._send_lock = Semaphore()
        self.closed = False
        self.close_reason = ""
        self.bytes_received = 0
        self.last_read_bytes = 0  # bytes of the frames the last read completed: what its messages cost, roughly

    def request(self, data: bytes) -> AsyncResult:
        """Send one command; the returned future resolves to its CommandReply or ApiResponse."""
        if self.closed:
            raise ConnectionLost(self.close_reason or "connection is closed")
        result = AsyncResult()
        with self._send_lock:
            self._replies.append(result)
            try:
                with gevent.Timeout(self.send_timeout, ConnectionLost("peer stopped reading (send timed out)")):
                    self.sock.sendall(data)
            except (OSError, ConnectionLost) as exc:
                self.close()
                lost = exc if isinstance(exc, ConnectionLost) else ConnectionLost(f"send failed: {exc}")
                result.set_exception(lost)
                raise lost from None
        return result

    def read_frames(self) -> list[Frame]:
        """Block until at least one byte arrives; return the frames it completed. Raises ConnectionLost."""
        if self.closed:
            raise ConnectionLost(self.close_reason or "connection is closed")
        try:
            data = self.sock.recv(RECV_BYTES)
        except gsocket.timeout:
            raise ConnectionLost("no data within the heartbeat timeout") from None
        except OSError as exc:
            raise ConnectionLost(self.close_reason or f"receive failed: {exc}") from None
        if not data:
            raise ConnectionLost(self.close_reason or "closed by peer")
        self.bytes_received += len(data)
        before = self.parser.buffered
        frames = self.parser.feed(data)
        self.last_read_bytes = before + len(data) - self.parser.buffered
        return frames

    def settle_reply(self, message: CommandReply | ApiResponse) -> None:
        """Hand a reply to the oldest waiting command."""
        if not self._replies:
            self.peer_log.warning("unsolicited reply", "reply with no command waiting (ignored): %.80r",
                                  getattr(message, "text", "api/response"))
            return
        self._replies.popleft().set(message)

    def read_messages(self) -> list[Message]:
        """Read, settle replies, and return the other messages (events, notices) in order."""
        out: list[Message] = []
        for frame in self.read_frames():
            try:
                message = classify(frame)
            except EventDecodeError as exc:
                self.peer_log.warning("undecodable event", "dropping an undecodable event: %s", exc)
                continue
            if isinstance(message, (CommandReply, ApiResponse)):
                self.settle_reply(message)
            else:
                out.append(message)
        return out

    def fail_pending(self, exc: Exception) -> None:
        """Fail every command still waiting for a reply."""
        while self._replies:
            pending = self._replies.popleft()
            if not pending.ready():
                pending.set_exception(exc)

    def close(self, reason: str = "") -> None:
        """Close the socket; `reason` becomes the message of the reader's ConnectionLost."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        try:
            self.sock.close()
        except OSError:
            pass
