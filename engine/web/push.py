"""Server-sent events: each browser stream is a bounded queue; the console pushes to an audience, never blocking.

How it works: a message is encoded once (`event:` + `data:` JSON) and the same bytes object is put on the
queue of every stream in its audience ("agent:<id>" or "supervisors"): fan-out costs one append per
stream, never one encoding per stream. A stream's greenlet wakes once, drains whatever is queued and
writes it in one socket write. A stream whose queue is full (a browser not reading fast enough) loses
its backlog and gets a single resync marker instead: when it next writes, it sends a fresh snapshot
(the agent's state or the whole floor) built by `resync()`, so a slow browser costs bounded memory and
catches up without reconnecting. Streams send a comment every `heartbeat` seconds so proxies keep them
open and dead peers are noticed: one greenlet for the whole hub, not a timer per stream and wait.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterator

import gevent
import orjson
from gevent.queue import Empty, Full, Queue

log = logging.getLogger(__name__)
QUEUE_MESSAGES = 64
MAX_WRITE_BYTES = 256 * 1024  # one drained write is at most about this size
_CLOSE = b""
_RESYNC = b"\0resync"
KEEP_ALIVE = b": keep-alive\n\n"  # never a valid SSE message: compared by identity


class TooManyStreams(Exception):
    """The configured maximum of open streams is reached."""


class PushHub:
    """Streams by audience."""

    def __init__(self, max_streams: int = 5000, heartbeat: float = 15.0) -> None:
        self.max_streams = max_streams
        self.heartbeat = heartbeat
        self._audiences: dict[str, set[Queue]] = {}
        self.count = 0
        self.resyncs = 0  # slow streams sent a snapshot instead of their backlog
        self._beat: gevent.Greenlet | None = None

    def publish(self, audience: str, name: str, data: dict) -> None:
        streams = self._audiences.get(audience)
        if not streams:
            return
        message = encode(name, data)  # once per event, whatever the number of streams
        for queue in tuple(streams):
            try:
                queue.put_nowait(message)
            except Full:
                self._overflow(queue, audience)

    def watching(self, audience: str) -> bool:
        """Is a stream open for this audience (e.g. an agent's console)?"""
        return bool(self._audiences.get(audience))

    def _overflow(self, queue: Queue, audience: str) -> None:
        """Drop a slow stream's backlog; it will send a fresh snapshot instead."""
        queue.queue.clear()
        queue.put_nowait(_RESYNC)
        self.resyncs += 1
        log.info("push: a %s stream fell behind; it gets a fresh snapshot", audience.split(":")[0])

    def stream(self, audiences: tuple[str, ...], first: bytes = b"", allowed: Callable[[], bool] = lambda: True,
               resync: Callable[[], bytes] | None = None) -> Iterator[bytes]:
        """The body of one SSE response: `first`, then messages for these audiences until the client leaves
        or `allowed()` turns false (the user was removed or changed role): checked before each write.
        `resync()` gives the snapshot a stream that fell behind sends instead of its dropped backlog."""
        if self.count >= self.max_streams:
            raise TooManyStreams(f"{self.count} streams are open (web.max_push_clients)")
        queue: Queue = Queue(QUEUE_MESSAGES)
        if self._beat is None or self._beat.dead:
            self._beat = gevent.spawn(self._heartbeats)
        for audience in audiences:
            self._audiences.setdefault(audience, set()).add(queue)
        self.count += 1
        return self._run(queue, audiences, first, allowed, resync)

    def _run(self, queue: Queue, audiences: tuple[str, ...], first: bytes, allowed: Callable[[], bool],
             resync: Callable[[], bytes] | None) -> Iterator[bytes]:
        try:
            yield b"retry: 2000\n" + first
            while True:
                batch = [queue.get()]  # no timer per wait: the hub's one heartbeat greenlet wakes idle streams
                size = len(batch[0])
                while size < MAX_WRITE_BYTES:  # drain what is already queued: one write for all of it
                    try:
                        message = queue.get_nowait()
                    except Empty:
                        break
                    batch.append(message)
                    size += len(message)
                if any(m is _CLOSE for m in batch) or not allowed():
                    return
                if any(m is _RESYNC for m in batch):
                    after = batch[max(i for i, m in enumerate(batch) if m is _RESYNC) + 1:]
                    batch = ([resync()] if resync is not None else []) + after
                yield b"".join(batch)
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

    def _heartbeats(self) -> None:
        """Every `heartbeat` seconds a comment on every idle stream (proxies keep it open, dead peers show)."""
        while self._audiences:
            gevent.sleep(self.heartbeat)
            for streams in list(self._audiences.values()):
                for queue in tuple(streams):
                    if queue.empty():
                        queue.put_nowait(KEEP_ALIVE)

    def close_all(self) -> None:
        """End every stream (server shutdown)."""
        for streams in list(self._audiences.values()):
            for queue in list(streams):
                queue.queue.clear()
                queue.put_nowait(_CLOSE)


def encode(name: str, data: dict) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
