"""Adapters from the IVR's ports to the SQL store's repositories (customers, interactions, surveys, callbacks)."""
from __future__ import annotations

import dataclasses
import enum
import logging
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from engine.ivr.ports import CallbackRequest, IvrRecord

log = logging.getLogger(__name__)


def _utc(value: datetime) -> datetime:
    """Naive datetimes are UTC (as the store keeps them)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def customer_fields(customer: Any) -> dict[str, Any]:
    """A store Customer as the flat mapping templates see (`customer.segment`, `customer.tags`, attributes)."""
    data = dataclasses.asdict(customer) if dataclasses.is_dataclass(customer) else dict(customer)
    attributes = data.pop("attributes", None) or {}
    out: dict[str, Any] = {k: v for k, v in attributes.items() if isinstance(k, str)}
    for key, value in data.items():
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


class StoreDirectory:
    """CustomerDirectory over engine.store's CustomerRepository (accounts only; orders/waybills: use a table)."""

    def __init__(self, customers: Any) -> None:
        self.customers = customers

    def find_by_phone(self, number: str) -> Mapping[str, Any] | None:
        found = self.customers.find_by_phone(number)
        return customer_fields(found) if found else None

    def find_by_reference(self, kind: str, value: str) -> Mapping[str, Any] | None:
        if kind != "account":
            return None
        found = self.customers.find_by_account(value)
        return customer_fields(found) if found else None


class StoreInteractionLog:
    """InteractionLog over InteractionRepository + SurveyRepository: path, digits and outcome per call.

    A survey answered before the call has an interaction (a self-service flow: the IVR opens it when
    the call leaves the IVR) is kept until `ivr_finished` and then stored on that interaction.
    """

    def __init__(self, interactions: Any, surveys: Any, now: Callable[[], datetime]) -> None:
        self.interactions = interactions
        self.surveys = surveys
        self.now = now
        self._pending_surveys: dict[str, list[tuple[str, int, datetime]]] = {}

    def ivr_finished(self, record: IvrRecord) -> None:
        existing = self.interactions.by_call_id(record.call_uuid) if record.call_uuid else None
        customer_id = int(record.customer_id) if record.customer_id and record.customer_id.isdigit() else None
        if existing is None:
            interaction_id = self.interactions.start(
                "inbound", record.started_at, caller=record.caller_number or None,
                did=record.destination_number or None, call_id=record.call_uuid or None,
                customer_id=customer_id, ivr_flow=record.flow or None)
        else:
            interaction_id = existing.id
        fields: dict[str, Any] = {
            "ivr_flow": record.flow or None,
            "ivr_path": list(record.path),
            "ivr_digits": [f"{node}:{digits}" for node, digits in record.digits],
            "ivr_outcome": record.outcome[:64],
            "ivr_exit_node": record.exit_node[:64] or None,
        }
        if customer_id is not None:
            fields["customer_id"] = customer_id
        if existing is None:
            if record.answered_at is not None:
                fields["answered_at"] = record.answered_at
        else:
            if not existing.did and record.destination_number:
                fields["did"] = record.destination_number[:64]
            # The call reached the engine here, before any queue: arrival is the IVR's start.
            if existing.arrived_at is None or _utc(record.started_at) < _utc(existing.arrived_at):
                fields["arrived_at"] = record.started_at
            if existing.answered_at is None and record.answered_at is not None:
                fields["answered_at"] = record.answered_at
            # Whoever closed the interaction first may not have known how the call ended: fill the blanks.
            if existing.hangup_at is not None and not existing.hangup_cause and record.hangup_cause:
                fields["hangup_cause"] = record.hangup_cause[:64]
            if existing.hangup_at is not None and existing.sip_status is None and record.sip_status is not None:
                fields["sip_status"] = record.sip_status
        self.interactions.update(interaction_id, **fields)
        for question, score, at in self._pending_surveys.pop(record.call_uuid, []):
            self.surveys.record(question, score, at, interaction_id=interaction_id,
                                customer_id=customer_id if existing is None else existing.customer_id)
        if record.outcome == "transferred" or (existing is not None and existing.hangup_at is not None):
            return  # the call goes on in the dialplan, or whoever ended it already closed the interaction
        # The flow is over, so is the call (the runner hangs up at the end): close the interaction here,
        # also when the ACD opened it (the caller came back from the agent, e.g. for a survey).
        self.interactions.finish(interaction_id, record.ended_at or self.now(),
                                 hangup_by=None if existing is not None and existing.hangup_by
                                 else "caller" if record.ended_by_caller else "ivr",  # the ACD's word stands
                                 abandoned=False if existing is None else None,
                                 hangup_cause=record.hangup_cause[:64] or None, sip_status=record.sip_status,
                                 ivr_exit_node=record.exit_node[:64] or None)

    def survey_answered(self, call_uuid: str, question: str, score: int) -> None:
        existing = self.interactions.by_call_id(call_uuid) if call_uuid else None
        if existing is None and call_uuid:
            self._pending_surveys.setdefault(call_uuid, []).append((question, score, self.now()))
            return
        self.surveys.record(question, score, self.now(), interaction_id=existing.id if existing else None,
                            customer_id=existing.customer_id if existing else None,
                            agent_id=getattr(existing, "agent_id", None) if existing else None)


class QueuedInteractionLog:
    """InteractionLog whose `ivr_finished` goes through the engine's ordered, journaled write queue (the ACD's
    write-behind, target `ivr`): a store that is locked or unreachable when a call ends delays the IVR record
    instead of losing it, and it is applied after the ACD's writes for the same call."""

    def __init__(self, queue: Any, inner: StoreInteractionLog) -> None:
        self.queue = queue
        self.inner = inner
        queue.register("ivr", self)

    def ivr_finished(self, record: IvrRecord) -> None:
        self.queue.submit("ivr", "apply_record", dataclasses.asdict(record))

    def survey_answered(self, call_uuid: str, question: str, score: int) -> None:
        self.inner.survey_answered(call_uuid, question, score)

    def apply_record(self, data: dict[str, Any]) -> None:
        """Store a record given as a dict (from the queue, or from the journal after a crash: times as text)."""
        fields = dict(data)
        for key in ("started_at", "ended_at", "answered_at"):
            if isinstance(fields.get(key), str):
                fields[key] = datetime.fromisoformat(fields[key])
        fields["digits"] = [tuple(pair) for pair in fields.get("digits", [])]
        fields["surveys"] = [tuple(pair) for pair in fields.get("surveys", [])]
        self.inner.ivr_finished(IvrRecord(**fields))


class StoreCallbacks:
    """CallbackStore over CallbackRepository: due at once, source `ivr`."""

    def __init__(self, callbacks: Any) -> None:
        self.callbacks = callbacks

    def request_callback(self, request: CallbackRequest) -> str:
        customer_id = int(request.customer_id) if request.customer_id and request.customer_id.isdigit() else None
        reason = request.note or f"IVR {request.flow}" + (f" ({request.queue})" if request.queue else "")
        callback = self.callbacks.request(request.number, reason, request.requested_at, "ivr",
                                          customer_id=customer_id, now=request.requested_at)
        return str(callback.id)
