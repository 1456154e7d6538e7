"""What the queue service needs from the rest of the engine, as small protocols, plus in-memory versions.

The daemon passes adapters over the store (`store_adapters.py`); tests and the demo use the memory
classes here. Times are epoch seconds (floats).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Protocol


@dataclass(frozen=True)
class CustomerInfo:
    """What routing and the screen-pop need to know about a caller."""

    customer_id: str | None = None
    name: str = ""
    segment: str = ""
    value_tier: str = ""
    tags: tuple[str, ...] = ()
    owner_agent: str | None = None
    last_agent: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # shown on the agent's screen

    @property
    def features(self) -> dict[str, Any]:
        return {"segment": self.segment, "value_tier": self.value_tier, "tags": self.tags}


class CustomerLookup(Protocol):
    def lookup(self, number: str, customer_id: str | None = None) -> CustomerInfo | None: ...


class CustomerHistory(Protocol):
    """Optional part of a CustomerLookup: remember which agent served a customer (for sticky routing)."""

    def agent_served(self, customer_id: str, agent_id: str, at: float) -> None: ...


class AgentLog(Protocol):
    def agent_state(self, agent_id: str, state: str, reason: str, at: float) -> None: ...


class InteractionLog(Protocol):
    """The queue part of a call's interaction record (one per call id)."""

    def queue_event(self, call_id: str, at: float, **fields: Any) -> None: ...


class CallbackBook(Protocol):
    def request_callback(self, number: str, reason: str, due_at: float, source: str, *,
                         customer_id: str | None = None, call_id: str | None = None) -> str | None: ...


AGENT_FIRST_SOURCE = "agent_first"  # callback source of a virtual caller kept in line for an agent
MAX_CALLBACK_ATTEMPTS = 3  # an agent-first callback not reached this many times is closed as failed


@dataclass(frozen=True)
class PendingCallback:
    """An agent-first callback still owed, as reloaded from the book after a restart."""

    callback_id: str
    number: str
    queue: str
    since: float  # the caller's original place in line (epoch seconds)
    customer_id: str | None = None


class PendingCallbacks(Protocol):
    """The callback book's view of agent-first callbacks: which are still owed, and how each attempt went."""

    def pending_agent_first(self, now: float) -> list[PendingCallback]: ...

    def callback_worked(self, callback_id: str, reached: bool, at: float, agent_id: str | None = None) -> None: ...


class RecordingCatalog(Protocol):
    def add_recording(self, call_id: str, path: str, duration: float, size: int, sha256: str, at: float) -> None: ...


class NoCustomers:
    def lookup(self, number: str, customer_id: str | None = None) -> CustomerInfo | None:
        return None


@dataclass
class MemoryCustomers:
    by_number: dict[str, CustomerInfo] = field(default_factory=dict)

    def lookup(self, number: str, customer_id: str | None = None) -> CustomerInfo | None:
        if customer_id is not None:
            for info in self.by_number.values():
                if info.customer_id == customer_id:
                    return info
        return self.by_number.get(number)

    def agent_served(self, customer_id: str, agent_id: str, at: float) -> None:
        for number, info in self.by_number.items():
            if info.customer_id == customer_id:
                self.by_number[number] = replace(info, last_agent=agent_id)


@dataclass
class MemoryRecords:
    """Every ACD record kept in lists: agent states, interaction events, callbacks, recordings."""

    agent_states: list[tuple[str, str, str, float]] = field(default_factory=list)
    queue_events: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    recordings: list[dict[str, Any]] = field(default_factory=list)

    def agent_state(self, agent_id: str, state: str, reason: str, at: float) -> None:
        self.agent_states.append((agent_id, state, reason, at))

    def queue_event(self, call_id: str, at: float, **fields: Any) -> None:
        self.queue_events.append((call_id, at, dict(fields)))

    def request_callback(self, number: str, reason: str, due_at: float, source: str, *,
                         customer_id: str | None = None, call_id: str | None = None) -> str | None:
        import datetime as dt
        day = dt.datetime.fromtimestamp(due_at, dt.timezone.utc).date()
        for existing in self.callbacks:  # one callback per number and day, like the store
            if existing["number"] == number and existing["day"] == day:
                existing["requests"] += 1
                return existing["id"]
        queue = reason.rsplit(" in ", 1)[-1] if " in " in reason else ""
        self.callbacks.append({"id": str(len(self.callbacks) + 1), "number": number, "reason": reason, "day": day,
                               "due_at": due_at, "source": source, "customer_id": customer_id, "call_id": call_id,
                               "requests": 1, "status": "open", "attempts": 0, "queue": queue})
        return self.callbacks[-1]["id"]

    def pending_agent_first(self, now: float) -> list[PendingCallback]:
        return [PendingCallback(c["id"], c["number"], c["queue"], c["due_at"], c["customer_id"])
                for c in self.callbacks if c["source"] == AGENT_FIRST_SOURCE and c["status"] == "open"
                and c["due_at"] <= now and c["queue"]]

    def callback_worked(self, callback_id: str, reached: bool, at: float, agent_id: str | None = None) -> None:
        for c in self.callbacks:
            if c["id"] == callback_id:
                c["attempts"] += 1
                if reached or c["attempts"] >= MAX_CALLBACK_ATTEMPTS:
                    c["status"] = "done" if reached else "failed"

    def add_recording(self, call_id: str, path: str, duration: float, size: int, sha256: str, at: float) -> None:
        self.recordings.append({"call_id": call_id, "path": path, "duration": duration, "size": size,
                                "sha256": sha256, "at": at})

    def events_for(self, call_id: str) -> list[dict[str, Any]]:
        return [fields for cid, _, fields in self.queue_events if cid == call_id]
