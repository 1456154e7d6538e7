"""Server-sent events: each browser stream is a bounded queue; the console pushes to an audience, never blocking.

How it works: a message is encoded once (`event:` + `data:` JSON) and the same bytes are put on the queue
of every stream in its audience ("agent:<id>" or "supervisors"). A stream whose queue is full (a browser
not reading) is closed; EventSource reconnects and the page reloads its state. Streams send a comment
every `heartbeat` seconds so proxies keep them open and dead peers are noticed.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterator

import orjson
from gevent.queue import Empty, Full, Queue

log = logging.getLogger(__name__)
QUEUE_MESSAGES = 64
_CLOSE = b""


class TooManyStreams(Exception):
    """The configured maximum of open streams is reached."""


class PushHub:
    """Streams by audience."""

    def __init__(self, max_streams: int = 5000, heartbeat: float = 15.0) -> None:
        self.max_streams = max_streams
        self.heartbeat = heartbeat
        self._audiences: dict[str, set[Queue]] = {}
        self.count = 0

    def publish(self, audience: str, name: str, data: dict) -> None:
        streams = self._audiences.get(audience)
        if not streams:
            return
        message = b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
        for queue in list(streams):
            try:
                queue.put_nowait(message)
            except Full:
                log.info("push: a %s stream is not reading; closing it", audience.split(":")[0])
                streams.discard(queue)
                self.count -= 1
                queue.queue.clear()
                queue.put_nowait(_CLOSE)

    def stream(self, audiences: tuple[str, ...], first: bytes = b"",
               allowed: Callable[[], bool] = lambda: True) -> Iterator[bytes]:
        """The body of one SSE response: `first`, then messages for these audiences until the client leaves
        or `allowed()` turns false (the user was removed or changed role): checked before each write."""
        if self.count >= self.max_streams:
            raise TooManyStreams(f"{self.count} streams are open (web.max_push_clients)")
        queue: Queue = Queue(QUEUE_MESSAGES)
        for audience in audiences:
            self._audiences.setdefault(audience, set()).add(queue)
        self.count += 1
        return self._run(queue, audiences, first, allowed)

    def _run(self, queue: Queue, audiences: tuple[str, ...], first: bytes,
             allowed: Callable[[], bool]) -> Iterator[bytes]:
        try:
            yield b"retry: 2000\n" + first
            while True:
                try:
                    message = queue.get(timeout=self.heartbeat)
                except Empty:
                    message = b": keep-alive\n\n"
                if message is _CLOSE or not allowed():
                    return
                yield message
        finally:
            removed = False
            for audience in audiences:
                streams = self._audiences.get(audience)
                if streams is not None and queue in streams:
                    streams.discard(queue)
                    removed = True
                    if not streams:
                        del self._audiences[audience]
            if removed:
                self.count -= 1


def encode(name: str, data: dict) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
