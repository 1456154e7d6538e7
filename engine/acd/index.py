"""Indexes that keep a routing decision proportional to the candidates, not to queues x members.

How it works:
- `AvailableAgents` keeps, per queue, the set of member agents who can take an offer right now, and the
  subset of them who meet the queue's own skills (`fits`, checked when the agent is added; an agent's
  skills and memberships change only while it is out of the index). An agent state change touches only
  that agent's own queues.
- `WaitingLine` keeps, per queue, one heap per *requirement* (the exact skill levels a caller needs).
  Priority ages linearly with waiting time at a per-queue rate r, so a caller's effective priority
  `p + r*(now - t0)` orders the same as the time-independent key `p - r*t0`: heaps never need
  re-sorting. When an agent frees up we peek at the head of each requirement group the agent qualifies
  for in each of its queues. Removal is lazy: entries carry the caller's version, stale ones are skipped.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

Requirement = frozenset  # frozenset of (skill, min_level) pairs


def requirement_key(requirement: Mapping[str, int]) -> Requirement:
    return frozenset((s, lvl) for s, lvl in requirement.items() if lvl > 0)


class AvailableAgents:
    """Per-queue sets of agents who may be offered a call now."""

    def __init__(self, fits: Callable[[str, str], bool] | None = None) -> None:
        self._by_queue: dict[str, set[str]] = {}
        self._fitting: dict[str, set[str]] = {}
        self._fits = fits  # (agent_id, queue) -> the agent meets the queue's own skills

    def add(self, agent_id: str, queues: Iterator[str] | list[str]) -> None:
        for queue in queues:
            self._by_queue.setdefault(queue, set()).add(agent_id)
            if self._fits is not None and self._fits(agent_id, queue):
                self._fitting.setdefault(queue, set()).add(agent_id)

    def remove(self, agent_id: str, queues: Iterator[str] | list[str]) -> None:
        for queue in queues:
            members = self._by_queue.get(queue)
            if members is not None:
                members.discard(agent_id)
            fitting = self._fitting.get(queue)
            if fitting is not None:
                fitting.discard(agent_id)

    def in_queue(self, queue: str) -> set[str]:
        return self._by_queue.get(queue, set())

    def fitting(self, queue: str) -> set[str]:
        """Available members who meet the queue's own skills (empty when built without `fits`)."""
        return self._fitting.get(queue, set())


@dataclass(order=True)
class _Entry:
    sort_key: tuple[float, float, int]
    call_id: str = field(compare=False)
    version: int = field(compare=False)


class WaitingLine:
    """Waiting callers of every queue, grouped by requirement, each group a priority heap."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[Requirement, list[_Entry]]] = {}
        self._seq = itertools.count()

    def push(self, queue: str, requirement: Requirement, call_id: str, version: int, *,
             priority: float, enqueued_at: float, aging_per_second: float) -> None:
        static = priority - aging_per_second * enqueued_at
        entry = _Entry((-static, enqueued_at, next(self._seq)), call_id, version)
        heapq.heappush(self._groups.setdefault(queue, {}).setdefault(requirement, []), entry)

    def groups(self, queue: str) -> list[tuple[Requirement, list[_Entry]]]:
        return list(self._groups.get(queue, {}).items())

    def head(self, queue: str, requirement: Requirement, is_live) -> _Entry | None:
        """The best live entry of a group (stale entries are dropped on the way)."""
        group = self._groups.get(queue, {}).get(requirement)
        while group:
            entry = group[0]
            if is_live(entry.call_id, entry.version):
                return entry
            heapq.heappop(group)
        if group is not None and not group:
            del self._groups[queue][requirement]
        return None

    def best(self, queue: str, requirement: Requirement, accept) -> _Entry | None:
        """The best entry `accept` takes, scanning the whole group (O(group); used when the head is refused)."""
        group = self._groups.get(queue, {}).get(requirement, [])
        return min((e for e in group if accept(e.call_id, e.version)), default=None)

    def drain(self) -> list[_Entry]:
        """Every entry (live or stale), emptying the line."""
        entries = [e for groups in self._groups.values() for heap in groups.values() for e in heap]
        self._groups.clear()
        return entries

    def size_hint(self, queue: str) -> int:
        """Entries held for a queue, including stale ones not yet dropped."""
        return sum(len(g) for g in self._groups.get(queue, {}).values())


class Timers:
    """A heap of (due time, what) with lazy cancellation by version."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, str, int]] = []
        self._seq = itertools.count()

    def schedule(self, at: float, kind: str, subject: str, version: int = 0) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), kind, subject, version))

    def due(self, now: float) -> Iterator[tuple[str, str, int]]:
        while self._heap and self._heap[0][0] <= now:
            _, _, kind, subject, version = heapq.heappop(self._heap)
            yield kind, subject, version

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None
