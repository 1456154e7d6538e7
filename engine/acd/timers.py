"""The ACD's timer greenlet: sleeps until the distributor's next timer, woken early when a sooner one appears."""
from __future__ import annotations

import logging
from typing import Callable

import gevent
from gevent.event import Event as Flag

log = logging.getLogger(__name__)


class TimerLoop:
    """Runs `work` whenever the next due time (`next_due()`, on `clock`) passes or `wake()` is called."""

    def __init__(self, next_due: Callable[[], float | None], clock: Callable[[], float]) -> None:
        self.next_due = next_due
        self.clock = clock
        self._wake = Flag()
        self._sleeping_until = float("-inf")  # due time the greenlet waits for (-inf: not waiting)
        self._greenlet: gevent.Greenlet | None = None

    def start(self, work: Callable[[], None]) -> None:
        self._greenlet = gevent.spawn(self._run, work)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)

    def wake(self) -> None:
        self._wake.set()

    def due_changed(self) -> None:
        """Wake the greenlet when the next timer now falls before the one it waits for."""
        due = self.next_due()
        if due is not None and due < self._sleeping_until:
            self._wake.set()

    def _run(self, work: Callable[[], None]) -> None:
        while True:
            due = self.next_due()
            self._sleeping_until = float("inf") if due is None else due
            wait = None if due is None else max(0.0, due - self.clock())
            self._wake.clear()
            self._wake.wait(timeout=wait)
            self._sleeping_until = float("-inf")  # running: no need to wake
            try:
                work()
            except Exception:  # distribution must never stop for good: log, then keep serving timers
                log.exception("ACD timers failed; continuing")
