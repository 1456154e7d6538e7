"""Thin adapters from the ACD's ports (ports.py) to the store's repositories and screen-pop lookup."""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from engine.acd.models import Agent
from engine.acd.ports import AGENT_FIRST_SOURCE, MAX_CALLBACK_ATTEMPTS, CustomerInfo, PendingCallback
from engine.store.errors import InvalidPhoneNumber, StoreError
from engine.store.records import CallbackStatus

log = logging.getLogger(__name__)
PENDING_SCAN_LIMIT = 10_000  # open due callbacks scanned at start for agent-first ones


def agents_from_store(repository: Any) -> list[Agent]:
    """Every active agent of the store's AgentRepository as a logged-out ACD Agent with its skills."""
    return [Agent(agent_id=a.id, extension=a.extension or a.id, name=a.name, skills=dict(a.skills))
            for a in repository.list()]


class StoreAgentDirectory:
    """Find one agent in the store (for agents added while the engine runs)."""

    def __init__(self, repository: Any) -> None:
        self.repository = repository

    def __call__(self, agent_id: str) -> Agent | None:
        found = self.repository.get(agent_id)
        if found is None or not getattr(found, "active", True):
            return None
        return Agent(agent_id=found.id, extension=found.extension or found.id, name=found.name,
                     skills=dict(found.skills))


class StoreAgentLog:
    """AgentLog over AgentRepository.record_state_change."""

    def __init__(self, agents: Any) -> None:
        self.agents = agents

    def agent_state(self, agent_id: str, state: str, reason: str, at: float) -> None:
        self.agents.record_state_change(agent_id, state, reason or None, at)


class StoreInteractions:
    """InteractionLog over InteractionRepository: the interaction of a call is found (or opened) by call id."""

    def __init__(self, interactions: Any, remember: int = 10_000) -> None:
        self.interactions = interactions
        self.remember = remember  # call ids whose interaction id is kept (the most recently used)
        self._ids: OrderedDict[str, int] = OrderedDict()

    def interaction_id(self, call_id: str, at: float | None = None, caller: str | None = None) -> int | None:
        known = self._ids.get(call_id)
        if known is not None:
            self._ids.move_to_end(call_id)
            return known
        found = self.interactions.by_call_id(call_id)
        if found is not None:
            return self._keep(call_id, found.id)
        if at is None:
            return None
        return self._keep(call_id, self.interactions.start("inbound", at, caller=caller, call_id=call_id))

    def _keep(self, call_id: str, interaction_id: int) -> int:
        """Cache the id; the oldest entries go, so a long-running engine does not grow per call ever handled."""
        self._ids[call_id] = interaction_id
        while len(self._ids) > self.remember:
            self._ids.popitem(last=False)
        return interaction_id

    def queue_event(self, call_id: str, at: float, **fields: Any) -> None:
        """Update the call's interaction; `caller` and `arrived_at` only open it (an interaction the IVR
        opened keeps its own arrival, so the time spent in the IVR is not lost)."""
        caller = fields.pop("caller", None)
        arrived = fields.pop("arrived_at", None)
        interaction = self.interaction_id(call_id, at if arrived is None else arrived, caller)
        if interaction is not None and fields:
            self.interactions.update(interaction, **fields)


class StoreCallbacks:
    """CallbackBook over CallbackRepository (which merges requests per number and local day)."""

    def __init__(self, callbacks: Any, interactions: StoreInteractions | None = None) -> None:
        self.callbacks = callbacks
        self.interactions = interactions

    def request_callback(self, number: str, reason: str, due_at: float, source: str, *,
                         customer_id: str | None = None, call_id: str | None = None) -> str | None:
        interaction = self.interactions.interaction_id(call_id) if (self.interactions and call_id) else None
        try:
            callback = self.callbacks.request(number, reason, due_at, source,
                                              customer_id=int(customer_id) if customer_id and customer_id.isdigit() else None,
                                              interaction_id=interaction)
        except InvalidPhoneNumber:
            log.info("call %s: no callback, the caller ID is not a phone number", call_id)
            return None
        return str(callback.id)


    def pending_agent_first(self, now: float) -> list[PendingCallback]:
        """Open agent-first callbacks, oldest place in line first; the queue comes from the linked interaction
        (or the reason text `... in <queue>`). Uses `CallbackRepository.due`: the store has no query by source."""
        pending = []
        for callback in self.callbacks.due(now, limit=PENDING_SCAN_LIMIT):
            if callback.source != AGENT_FIRST_SOURCE:
                continue
            queue = self._queue_of(callback)
            if not queue:
                log.warning("callback %s: agent-first callback without a queue; left to the dialer", callback.id)
                continue
            pending.append(PendingCallback(str(callback.id), callback.number, queue, callback.due_at.timestamp(),
                                           None if callback.customer_id is None else str(callback.customer_id)))
        return pending

    def callback_worked(self, callback_id: str, reached: bool, at: float, agent_id: str | None = None) -> None:
        """Count the attempt; close the callback done when the customer was reached, failed after the last try."""
        try:
            callback = self.callbacks.record_attempt(int(callback_id), agent_id)
            if reached:
                self.callbacks.close(callback.id, CallbackStatus.DONE, at)
            elif callback.attempts >= MAX_CALLBACK_ATTEMPTS:
                self.callbacks.close(callback.id, CallbackStatus.FAILED, at)
        except (StoreError, ValueError):
            log.exception("callback %s: could not record the attempt", callback_id)

    def _queue_of(self, callback: Any) -> str:
        if callback.interaction_id is not None and self.interactions is not None:
            found = self.interactions.interactions.get(callback.interaction_id)
            if found is not None and found.queue:
                return found.queue
        reason = callback.reason or ""
        return reason.rsplit(" in ", 1)[-1].strip() if " in " in reason else ""


class StoreRecordings:
    """RecordingCatalog over RecordingRepository, attached to the call's interaction."""

    def __init__(self, recordings: Any, interactions: StoreInteractions) -> None:
        self.recordings = recordings
        self.interactions = interactions

    def add_recording(self, call_id: str, path: str, duration: float, size: int, sha256: str, at: float) -> None:
        self.recordings.add(path, duration, size, sha256, self.interactions.interaction_id(call_id), at=at)


class StoreCustomers:
    """CustomerLookup over the store's ScreenPop; with a CustomerRepository it also records the last agent."""

    def __init__(self, screen_pop: Any, customers: Any = None) -> None:
        self.screen_pop = screen_pop
        self.customers = customers

    def agent_served(self, customer_id: str, agent_id: str, at: float) -> None:
        """The customer's last agent (sticky routing `mode: last`) is the one who just talked to them."""
        if self.customers is None or not str(customer_id).isdigit():
            return
        try:
            self.customers.set_last_agent(int(customer_id), agent_id, at)
        except StoreError:
            log.exception("customer %s: could not record the last agent", customer_id)

    def lookup(self, number: str, customer_id: str | None = None) -> CustomerInfo | None:
        try:
            if customer_id and str(customer_id).isdigit():
                context = self.screen_pop.for_customer(int(customer_id))
            else:
                context = self.screen_pop.lookup(number) if number else None
        except StoreError:
            log.exception("customer lookup failed")
            return None
        if context is None:
            return None
        c = context.customer
        return CustomerInfo(
            customer_id=str(c.id), name=c.name, segment=getattr(c.segment, "value", str(c.segment)),
            value_tier="" if c.value_tier is None else str(c.value_tier), tags=tuple(c.tags),
            owner_agent=c.owner_agent_id, last_agent=c.last_agent_id,
            details={"account_no": c.account_no, "language": c.language,
                     "open_callbacks": len(context.open_callbacks),
                     "recent_interactions": [{"at": i.arrived_at.isoformat(), "queue": i.queue, "agent": i.agent_id,
                                              "disposition": i.disposition_code}
                                             for i in context.recent_interactions]})
