"""Agent-first callbacks: a caller who pressed the callback key keeps its place in line as a *virtual* caller;
when an agent answers the offer, the customer is dialled and bridged to that agent.

Needs `dial_customer` (number -> dial string, e.g. a gateway endpoint); without it the service stores a
callback task for the dialer instead. A callback that cannot be completed (customer busy, no answer,
bridge failure) also becomes a stored callback task. Virtual callers live in memory only: an engine
restart forgets them (the abandoned-call callback policy still applies to real hang-ups).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping

import gevent

from engine.acd.distributor import AcdError
from engine.acd.legs import parse_job_body
from engine.acd.models import WaitingCaller
from engine.acd.ports import CustomerInfo
from engine.acd.queued import CallbackLine, QueuedCall
from engine.esl import commands

if TYPE_CHECKING:  # pragma: no cover
    from engine.acd.service import QueueService

log = logging.getLogger(__name__)
CUSTOMER_RING_SECONDS = 30.0


class AgentFirstCallbacks:
    """The callback half of QueueService."""

    def queue_callback(self: "QueueService", number: str, queue: str, *, since: float | None = None,
                       priority: int = 0, required_skills: Mapping[str, int] | None = None,
                       customer: CustomerInfo | None = None) -> str:
        """Put a virtual caller for `number` in `queue` (at its old place when `since` is given); returns its id."""
        if self.dial_customer is None:
            raise AcdError("agent-first callbacks need dial_customer (how to dial a customer number)")
        if queue not in self.distributor.queues:
            raise AcdError(f"unknown queue {queue!r}")
        now = self.clock()
        line = CallbackLine(commands.new_uuid(), number, customer.name if customer else "")
        call = QueuedCall(f"cb-{line.uuid}", line, queue, number, customer, "zh", now, callback=True)
        self.calls[call.call_id] = call
        self.by_caller_uuid[line.uuid] = call
        self.interactions.queue_event(call.call_id, now, caller=number, queue=queue, queue_entered_at=now)
        caller = WaitingCaller(call.call_id, queue, now if since is None else since, priority=priority,
                               required_skills=dict(required_skills or {}),
                               features=customer.features if customer else {})
        log.info("call %s: agent-first callback queued in %s", call.call_id, queue)
        gevent.spawn(self._work_callback, call)
        self.execute(self.distributor.enqueue(caller, now))
        return call.call_id

    def _work_callback(self: "QueueService", call: QueuedCall) -> None:
        try:
            call.decided.wait()
            if call.status == "connected":
                self._dial_back(call)
        finally:
            self.calls.pop(call.call_id, None)
            self.by_caller_uuid.pop(call.channel.uuid, None)

    def _dial_back(self: "QueueService", call: QueuedCall) -> None:
        customer_leg = call.channel.uuid
        endpoint = self.dial_customer(call.caller_number)  # type: ignore[misc]
        call.channel.dialled_at = self.clock()
        job = self.legs.ring_customer(customer_leg, endpoint, call_id=call.call_id, queue=call.queue,
                                      timeout=CUSTOMER_RING_SECONDS)
        try:
            result = parse_job_body(job.get(timeout=CUSTOMER_RING_SECONDS + 10))
        except Exception as exc:
            result = parse_job_body(f"-ERR {type(exc).__name__}")
        if not result.answered or call.finished.is_set():
            self._callback_failed(call, result.cause)
            return
        reply = self.legs.control.api(commands.uuid_bridge(call.agent_leg or "", customer_leg))
        if reply.startswith(commands.REPLY_ERR):
            self.legs.hang_up(customer_leg)
            self._callback_failed(call, reply.strip())
            return
        self.interactions.queue_event(call.call_id, self.clock(), bridged_at=self.clock())
        call.finished.wait()
        self.legs.hang_up(customer_leg)

    def _callback_failed(self: "QueueService", call: QueuedCall, cause: str) -> None:
        log.info("call %s: customer not reached for the callback (%s); leaving it to the dialer", call.call_id, cause)
        if call.agent_leg and not call.finished.is_set():
            self.legs.hang_up(call.agent_leg)
        self._request_callback(call, f"agent-first callback failed ({cause}) in {call.queue}", self.clock(),
                               "queue_callback")

    def _keep_place_with_callback(self: "QueueService", call: QueuedCall, waiting: Any) -> str | None:
        """Exit key: swap the real caller for a virtual one with the same place and priority."""
        if self.dial_customer is None or waiting is None or not call.caller_number.lstrip("+").isdigit():
            return None
        return self.queue_callback(call.caller_number, call.queue, since=waiting.enqueued_at,
                                   priority=waiting.priority, required_skills=dict(waiting.required_skills),
                                   customer=call.customer)
