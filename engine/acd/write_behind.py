"""Store writes off the call path: an ordered write-behind queue, journaled first so a crash loses nothing.

How it works: the ACD's record ports (`AgentLog`, `InteractionLog`) are served by `WriteBehindAgentLog` and
`WriteBehindInteractions`, which only *submit* the write: it is appended as one JSON line to a journal
file (a plain `write()`, microseconds, no fsync) and put on an in-memory queue, then the event handler goes
on to send its switch command. One worker greenlet applies the writes in submission order, and only when
the engine has nothing else to run (`gevent.idle`), so a synchronous SQLite write never sits between a
switch event and the command it triggers. After each write the worker appends a `done` mark; once the
queue is empty the journal is truncated.

Crash safety (the choice, written down): a write still queued when the process dies is in the journal
(the kernel has it, even without fsync) and `replay()` applies it at the next start, before anything
else; the one write being applied at the crash may be applied twice (its `done` mark was not written):
interaction updates are idempotent, an agent timeline step may appear twice. A power loss can drop the
journal's last lines the OS had not flushed, the same exposure as the store's own `synchronous=NORMAL`.
Reads that need earlier writes (a callback linked to the call's interaction, a recording) call `flush()`.
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from typing import Any, Callable, Mapping

import gevent
from gevent.event import Event as Flag

log = logging.getLogger(__name__)
RETRY_SECONDS = 0.5  # a write the store refused for a transient reason (locked, unavailable) is retried,
MAX_RETRY_SECONDS = 2.0  # backing off to this; it is never dropped for a transient reason before
MAX_ATTEMPTS = 100_000  # this many attempts (days of outage): the journal keeps it for the next start anyway
BUSY_QUEUE = 1000  # with this many writes waiting, the worker stops waiting for idle moments


class WriteBehind:
    """An ordered queue of store writes to named targets (`register`), applied by one worker greenlet."""

    def __init__(self, journal_path: str | None = None, *, idle: Callable[[], None] = gevent.idle) -> None:
        self.journal_path = journal_path
        self._idle = idle
        self._targets: dict[str, Any] = {}
        self._queue: deque[tuple[int, str, str, tuple, dict]] = deque()
        self._seq = 0
        self._fd: int | None = None
        self._wake = Flag()
        self._drained = Flag()
        self._drained.set()
        self._worker: gevent.Greenlet | None = None
        self.applied = 0
        self.failed = 0
        self.retries = 0
        self.outage_since: float | None = None  # monotonic time the store started refusing writes

    # ----- setup --------------------------------------------------------------------------------
    def register(self, name: str, target: Any) -> None:
        self._targets[name] = target

    def start(self) -> "WriteBehind":
        if self.journal_path is not None and self._fd is None:
            os.makedirs(os.path.dirname(os.path.abspath(self.journal_path)), exist_ok=True)
            self._fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if self._worker is None or self._worker.dead:
            self._worker = gevent.spawn(self._run)
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Apply what is queued (up to `timeout` s), then stop; True when nothing was left behind."""
        drained = self.flush(timeout)
        if self._worker is not None:
            self._worker.kill(block=False)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        return drained

    def replay(self) -> int:
        """Apply the journal's writes that have no `done` mark (after a crash), in order; returns how many."""
        if self.journal_path is None or not os.path.exists(self.journal_path):
            return 0
        pending: dict[int, dict[str, Any]] = {}
        with open(self.journal_path, encoding="utf-8") as journal:
            for number, line in enumerate(journal, 1):
                try:
                    entry = json.loads(line)
                except ValueError:  # a line cut by the crash: the write it started was never acknowledged
                    log.warning("write-behind journal %s: line %d unreadable; skipped", self.journal_path, number)
                    continue
                if "done" in entry:
                    pending.pop(entry["done"], None)
                else:
                    pending[entry["n"]] = entry
        for entry in pending.values():
            self._apply(entry["t"], entry["m"], tuple(entry["a"]), dict(entry["k"]))
        open(self.journal_path, "w").close()
        if pending:
            log.warning("write-behind: replayed %d writes left by the previous run", len(pending))
        return len(pending)

    # ----- use ----------------------------------------------------------------------------------
    def submit(self, target: str, method: str, *args: Any, **kwargs: Any) -> None:
        """Queue `targets[target].method(*args, **kwargs)`; never blocks, never touches the store."""
        self._seq += 1
        if self._fd is not None:
            line = json.dumps({"n": self._seq, "t": target, "m": method, "a": args, "k": kwargs},
                              ensure_ascii=False, separators=(",", ":"), default=str)
            os.write(self._fd, line.encode("utf-8") + b"\n")
        self._queue.append((self._seq, target, method, args, kwargs))
        self._drained.clear()
        self._wake.set()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every write submitted so far is applied; False on timeout."""
        return self._drained.wait(timeout)

    @property
    def pending(self) -> int:
        return len(self._queue)

    # ----- the worker ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            if not self._queue:
                self._truncate()
                self._drained.set()
                self._wake.clear()
                self._wake.wait()
                continue
            if len(self._queue) < BUSY_QUEUE:
                self._idle()  # let switch commands and events go first
            seq, target, method, args, kwargs = self._queue[0]
            self._apply(target, method, args, kwargs)
            self._queue.popleft()
            if self._fd is not None:
                os.write(self._fd, b'{"done":%d}\n' % seq)

    def _apply(self, target: str, method: str, args: tuple, kwargs: Mapping[str, Any]) -> None:
        """Apply one write; a transient failure (database locked or unreachable) is retried until the store is
        back, however long that takes (the write is in the journal, and the writes after it must wait for it
        to keep their order); any other failure is logged and the write dropped."""
        delay = RETRY_SECONDS
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                getattr(self._targets[target], method)(*args, **kwargs)
                self.applied += 1
                if self.outage_since is not None:
                    log.info("write-behind: the store is back after %.1fs; %d writes waiting",
                             time.monotonic() - self.outage_since, len(self._queue))
                    self.outage_since = None
                return
            except Exception as exc:
                if not _transient(exc):
                    self.failed += 1
                    log.exception("write-behind: %s.%s failed; dropped", target, method)
                    return
                if self.outage_since is None:
                    self.outage_since = time.monotonic()
                    log.warning("write-behind: %s.%s: %s; retrying until the store is back", target, method, exc)
                self.retries += 1
                gevent.sleep(delay)
                delay = min(MAX_RETRY_SECONDS, delay * 2)
        self.failed += 1
        log.error("write-behind: %s.%s still failing after %d attempts; dropped", target, method, MAX_ATTEMPTS)

    def _truncate(self) -> None:
        if self._fd is not None and not self._queue:
            os.ftruncate(self._fd, 0)


def _transient(exc: Exception) -> bool:
    from engine.store.errors import StoreUnavailable
    return isinstance(exc, StoreUnavailable)


class WriteBehindAgentLog:
    """AgentLog whose writes go through the write-behind queue (target `agent_log`)."""

    def __init__(self, queue: WriteBehind, agent_log: Any) -> None:
        self.queue = queue
        queue.register("agent_log", agent_log)

    def agent_state(self, agent_id: str, state: str, reason: str, at: float) -> None:
        self.queue.submit("agent_log", "agent_state", agent_id, state, reason, at)


class WriteBehindInteractions:
    """InteractionLog whose writes go through the write-behind queue (target `interactions`); reads of the
    interaction id (callbacks, recordings) wait for the writes before them."""

    def __init__(self, queue: WriteBehind, interactions: Any) -> None:
        self.queue = queue
        self.inner = interactions
        queue.register("interactions", interactions)

    def queue_event(self, call_id: str, at: float, **fields: Any) -> None:
        self.queue.submit("interactions", "queue_event", call_id, at, **fields)

    def interaction_id(self, call_id: str, at: float | None = None, caller: str | None = None) -> int | None:
        self.queue.flush()
        return self.inner.interaction_id(call_id, at, caller)

    @property
    def interactions(self) -> Any:  # the repository, for adapters that read it (StoreCallbacks._queue_of)
        return self.inner.interactions

