"""The interfaces the IVR runner is given (directory, queues, callbacks, interaction log) and their values.

The daemon injects real implementations (store repositories, the ACD service); tests inject in-memory
ones. `Null*` classes are the "not configured" variants: they make the matching nodes take their
failure branch instead of crashing the call.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Protocol


class CustomerDirectory(Protocol):
    """Finds a customer record (a flat mapping of fields) for the IVR."""

    def find_by_phone(self, number: str) -> Mapping[str, Any] | None: ...

    def find_by_reference(self, kind: str, value: str) -> Mapping[str, Any] | None:
        """kind is one of `account`, `order`, `waybill`."""


@dataclass(frozen=True)
class QueueRequest:
    """Ask the ACD to queue this call."""

    queue: str
    priority: int = 0
    skills: tuple[str, ...] = ()
    call_uuid: str = ""
    flow: str = ""
    customer_id: str | None = None
    language: str = "zh"
    timeout_s: float | None = None
    ivr_path: tuple[str, ...] = ()  # nodes visited so far, for the agent's screen-pop
    ivr_digits: tuple[str, ...] = ()  # "node:digits", masked where the flow masks them


class QueueOutcome(enum.Enum):
    """How a queued call left the queue (a caller hang-up raises CallHungUp instead)."""

    ANSWERED = "answered"  # an agent took the call
    TIMEOUT = "timeout"  # nobody answered in time
    CLOSED = "closed"  # queue closed, full or unknown
    FAILED = "failed"  # the ACD could not take the call


@dataclass(frozen=True)
class QueueResult:
    """The answer of `QueueGateway.enqueue`."""

    outcome: QueueOutcome
    detail: str = ""

    @property
    def answered(self) -> bool:
        return self.outcome is QueueOutcome.ANSWERED


class QueueGateway(Protocol):
    """Puts a call into an ACD queue and blocks (cooperatively) until it leaves the queue."""

    def enqueue(self, channel: Any, request: QueueRequest) -> QueueResult: ...


@dataclass(frozen=True)
class CallbackRequest:
    """A caller asked to be called back."""

    number: str
    queue: str | None
    call_uuid: str
    flow: str
    requested_at: datetime
    customer_id: str | None = None
    note: str = ""


class CallbackStore(Protocol):
    """Stores callback requests; returns an id."""

    def request_callback(self, request: CallbackRequest) -> str: ...


@dataclass
class IvrRecord:
    """What happened in the IVR on one call: the funnel data stored on the interaction."""

    call_uuid: str
    flow: str
    caller_number: str
    destination_number: str
    started_at: datetime
    ended_at: datetime | None = None
    path: list[str] = field(default_factory=list)  # node ids visited, `flow:node` inside subflows
    digits: list[tuple[str, str]] = field(default_factory=list)  # (node id, digits or masked digits)
    outcome: str = "completed"
    ended_by_caller: bool = False
    customer_id: str | None = None
    recordings: list[str] = field(default_factory=list)
    surveys: list[tuple[str, int]] = field(default_factory=list)  # (question, score 1-5)
    answered_at: datetime | None = None  # when the IVR answered the call
    exit_node: str = ""  # the node the call left the IVR from (`flow:node` inside a subflow); "" before the first
    hangup_cause: str = ""  # as FreeSWITCH reported it (Hangup-Cause); "" when the call did not end here
    sip_status: int | None = None  # the SIP status FreeSWITCH reported (200 after the caller's BYE), if any


class InteractionLog(Protocol):
    """Where IVR results go (the store's interaction repository, through an adapter)."""

    def ivr_finished(self, record: IvrRecord) -> None: ...

    def survey_answered(self, call_uuid: str, question: str, score: int) -> None: ...


class NullDirectory:
    """No customer directory configured: every lookup finds nothing."""

    def find_by_phone(self, number: str) -> Mapping[str, Any] | None:
        return None

    def find_by_reference(self, kind: str, value: str) -> Mapping[str, Any] | None:
        return None


class NullCallbacks:
    """No callback store configured: requests fail, so the node takes `on_failure`."""

    def request_callback(self, request: CallbackRequest) -> str:
        raise RuntimeError("no callback store configured")


class NullInteractionLog:
    """No interaction store configured: results are dropped (they are still logged)."""

    def ivr_finished(self, record: IvrRecord) -> None:
        return None

    def survey_answered(self, call_uuid: str, question: str, score: int) -> None:
        return None


@dataclass
class MemoryInteractionLog:
    """In-memory interaction log for tests, the simulator demo and benchmarks."""

    records: list[IvrRecord] = field(default_factory=list)
    surveys: list[tuple[str, str, int]] = field(default_factory=list)

    def ivr_finished(self, record: IvrRecord) -> None:
        self.records.append(record)

    def survey_answered(self, call_uuid: str, question: str, score: int) -> None:
        self.surveys.append((call_uuid, question, score))


@dataclass
class MemoryCallbacks:
    """In-memory callback store for tests and the demo."""

    requests: list[CallbackRequest] = field(default_factory=list)

    def request_callback(self, request: CallbackRequest) -> str:
        self.requests.append(request)
        return str(len(self.requests))


@dataclass
class MemoryDirectory:
    """In-memory customer directory: customers by phone and by (kind, value) references."""

    by_phone: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_reference: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def find_by_phone(self, number: str) -> Mapping[str, Any] | None:
        return self.by_phone.get(number)

    def find_by_reference(self, kind: str, value: str) -> Mapping[str, Any] | None:
        return self.by_reference.get((kind, value))
