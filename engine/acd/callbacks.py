"""Agent-first callbacks: a caller who pressed the callback key keeps its place in line as a *virtual* caller;
when an agent answers the offer, the customer is dialled and bridged to that agent.

Needs `dial_customer` (number -> dial string, e.g. a gateway endpoint); without it the service stores a
callback task for the dialer instead. A callback that cannot be completed (customer busy, no answer,
bridge failure) stays open in the callback book with the attempt counted (closed as failed after
`MAX_CALLBACK_ATTEMPTS`). Every virtual caller is booked (source `agent_first`) before it joins the line,
and `restore_callbacks` (run by `start`) puts the ones still owed back in line after a restart.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

import gevent

from engine.acd.distributor import AcdError, Distributor
from engine.acd.executor import IntentExecutor
from engine.acd.legs import SwitchLegs, parse_job_body
from engine.acd.live_calls import LiveCalls
from engine.acd.models import WaitingCaller
from engine.acd.ports import AGENT_FIRST_SOURCE, CallbackBook, CustomerInfo, CustomerLookup, InteractionLog
from engine.acd.queued import CallbackLine, QueuedCall
from engine.esl import commands
from engine.esl.commands import HangupCause

log = logging.getLogger(__name__)
CUSTOMER_RING_SECONDS = 30.0


class CallbackDialer:
    """Agent-first callbacks: virtual callers in line, the customer dialled once an agent answers."""

    def __init__(self, distributor: Distributor, live: LiveCalls, *, legs: SwitchLegs, clock: Callable[[], float],
                 executor: IntentExecutor, interactions: InteractionLog, callbacks: CallbackBook,
                 customers: CustomerLookup, dial_customer: Callable[[str], str] | None) -> None:
        self.distributor = distributor
        self.live = live
        self.legs = legs
        self.clock = clock
        self.executor = executor
        self.interactions = interactions
        self.callbacks = callbacks
        self.customers = customers
        self.dial_customer = dial_customer  # number -> dial string; None: callbacks go to the dialer's book

    def queue_callback(self, number: str, queue: str, *, since: float | None = None,
                       priority: int = 0, required_skills: Mapping[str, int] | None = None,
                       customer: CustomerInfo | None = None, callback_id: str | None = None) -> str:
        """Put a virtual caller for `number` in `queue` (at its old place when `since` is given); returns its id.

        The callback is written to the callback book first (source `agent_first`, due at its place in
        line), so a restart finds it again (`restore_callbacks`); `callback_id` is that entry when reloaded.
        """
        if self.dial_customer is None:
            raise AcdError("agent-first callbacks need dial_customer (how to dial a customer number)")
        if queue not in self.distributor.queues:
            raise AcdError(f"unknown queue {queue!r}")
        now = self.clock()
        line = CallbackLine(commands.new_uuid(), number, customer.name if customer else "")
        call = QueuedCall(f"cb-{line.uuid}", line, queue, number, customer, "zh", now, callback=True)
        self.live.add(call, line.uuid)
        self.interactions.queue_event(call.call_id, now, caller=number, queue=queue, queue_entered_at=now)
        call.callback_id = callback_id or self._book_callback(call, queue, now if since is None else since)
        caller = WaitingCaller(call.call_id, queue, now if since is None else since, priority=priority,
                               required_skills=dict(required_skills or {}),
                               features=customer.features if customer else {}, callback=True)
        log.info("call %s: agent-first callback %s queued in %s", call.call_id, call.callback_id, queue)
        gevent.spawn(self._work_callback, call)
        self.executor.execute(self.distributor.enqueue(caller, now))
        return call.call_id

    def _book_callback(self, call: QueuedCall, queue: str, since: float) -> str | None:
        try:
            return self.callbacks.request_callback(call.caller_number, f"agent-first callback in {queue}", since,
                                                   AGENT_FIRST_SOURCE, call_id=call.call_id,
                                                   customer_id=call.customer.customer_id if call.customer else None)
        except Exception:
            log.exception("call %s: could not book the callback; it lives in memory only", call.call_id)
            return None

    def restore_callbacks(self) -> list[str]:
        """Put every agent-first callback still owed in the book back in line (at start); returns the call ids."""
        pending_of = getattr(self.callbacks, "pending_agent_first", None)
        if self.dial_customer is None or pending_of is None:
            return []
        known = {c.callback_id for c in self.live.calls.values() if c.callback_id}
        restored = []
        for pending in pending_of(self.clock()):
            if pending.callback_id in known:
                continue
            if pending.queue not in self.distributor.queues:
                log.warning("callback %s: queue %s no longer exists; left to the dialer", pending.callback_id,
                            pending.queue)
                continue
            customer = self.customers.lookup(pending.number, pending.customer_id)
            restored.append(self.queue_callback(pending.number, pending.queue, since=pending.since,
                                                customer=customer, callback_id=pending.callback_id))
        if restored:
            log.info("restored %d agent-first callbacks from the book", len(restored))
        return restored

    def _work_callback(self, call: QueuedCall) -> None:
        try:
            call.decided.wait()
            if call.status == "connected":
                try:
                    self._dial_back(call)
                except Exception as exc:  # never leave the agent on a parked leg
                    log.exception("call %s: agent-first callback failed", call.call_id)
                    self._callback_failed(call, type(exc).__name__)
        finally:
            self.live.remove(call, call.channel.uuid)

    def _dial_back(self, call: QueuedCall) -> None:
        customer_leg = call.channel.uuid
        endpoint = self.dial_customer(call.caller_number)  # type: ignore[misc]
        call.channel.dialled_at = self.clock()
        job = self.legs.ring_customer(customer_leg, endpoint, call_id=call.call_id, queue=call.queue,
                                      timeout=CUSTOMER_RING_SECONDS)
        try:
            result = parse_job_body(job.get(timeout=CUSTOMER_RING_SECONDS + 10))
        except Exception as exc:  # result lost (e.g. ESL reconnect) though FreeSWITCH may still dial: cancel it
            self.legs.hang_up(customer_leg, HangupCause.ORIGINATOR_CANCEL)
            result = parse_job_body(f"-ERR {type(exc).__name__}")
        if not result.answered or call.finished.is_set():
            if result.answered:  # the agent left while the customer was ringing: don't leave them on a dead line
                self.legs.hang_up(customer_leg)
            self._callback_failed(call, result.cause)
            return
        reply = self.legs.control.api(commands.uuid_bridge(call.agent_leg or "", customer_leg))
        if reply.startswith(commands.REPLY_ERR):
            self.legs.hang_up(customer_leg)
            self._callback_failed(call, reply.strip())
            return
        call.bridged = True
        self.interactions.queue_event(call.call_id, self.clock(), bridged_at=self.clock())
        self._callback_worked(call, reached=True)
        call.finished.wait()
        self.legs.hang_up(customer_leg)

    def _callback_failed(self, call: QueuedCall, cause: str) -> None:
        log.info("call %s: customer not reached for the callback (%s); leaving it to the dialer", call.call_id, cause)
        if call.agent_leg and not call.finished.is_set():
            self.legs.hang_up(call.agent_leg)
        if call.callback_id is not None:  # still open in the book (for the dialer, or after a restart)
            self._callback_worked(call, reached=False)
            return
        self.executor.request_callback(call, f"agent-first callback failed ({cause}) in {call.queue}", self.clock(),
                               "queue_callback")

    def _callback_worked(self, call: QueuedCall, reached: bool) -> None:
        worked = getattr(self.callbacks, "callback_worked", None)
        if worked is None or call.callback_id is None:
            return
        try:
            worked(call.callback_id, reached, self.clock(), call.agent_id)
        except Exception:
            log.exception("call %s: could not record the callback attempt", call.call_id)

    def keep_place(self, call: QueuedCall, waiting: Any) -> str | None:
        """Exit key: swap the real caller for a virtual one with the same place and priority."""
        if self.dial_customer is None or waiting is None or not call.caller_number.lstrip("+").isdigit():
            return None
        return self.queue_callback(call.caller_number, call.queue, since=waiting.enqueued_at,
                                   priority=waiting.priority, required_skills=dict(waiting.required_skills),
                                   customer=call.customer)
