"""Plain, frozen values the repositories return: no SQLAlchemy object ever leaves engine.store."""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any


class Segment(str, enum.Enum):
    """Where a customer stands with us."""

    PROSPECT = "prospect"
    NEW = "new"
    LOYAL = "loyal"
    VIP = "vip"


class DncList(str, enum.Enum):
    """Black: never call. Grey: call only under restrictions the dialer applies (e.g. no marketing)."""

    BLACK = "black"
    GREY = "grey"


class CallbackStatus(str, enum.Enum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class ContactStatus(str, enum.Enum):
    """A campaign contact's life: pending (maybe leased) until done, failed, exhausted or blocked."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    EXHAUSTED = "exhausted"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Customer:
    id: int
    name: str
    phones: tuple[str, ...]  # E.164, primary first
    segment: Segment
    value_tier: int | None = None
    arpu: float | None = None
    tags: tuple[str, ...] = ()
    language: str | None = None
    timezone: str | None = None
    account_no: str | None = None
    owner_agent_id: str | None = None
    last_agent_id: str | None = None
    last_contact_at: dt.datetime | None = None
    marketing_consent: bool | None = None
    do_not_disturb: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def primary_phone(self) -> str | None:
        return self.phones[0] if self.phones else None


@dataclass(frozen=True)
class Interaction:
    id: int
    direction: str  # "inbound" | "outbound"
    arrived_at: dt.datetime
    call_id: str | None = None
    caller: str | None = None
    callee: str | None = None
    did: str | None = None
    customer_id: int | None = None
    campaign_id: int | None = None
    queue: str | None = None
    agent_id: str | None = None
    ivr_flow: str | None = None
    ivr_path: tuple[str, ...] = ()
    ivr_digits: tuple[str, ...] = ()
    ivr_outcome: str | None = None
    queue_entered_at: dt.datetime | None = None
    offered_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    bridged_at: dt.datetime | None = None
    hangup_at: dt.datetime | None = None
    wrap_up_until: dt.datetime | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    hold_seconds: float | None = None
    hangup_cause: str | None = None
    sip_status: int | None = None
    ivr_exit_node: str | None = None
    hangup_by: str | None = None
    disposition_code: str | None = None
    abandoned: bool = False
    transferred_from_id: int | None = None
    notes: str | None = None


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    extension: str | None = None
    team: str | None = None
    active: bool = True
    skills: dict[str, int] = field(default_factory=dict)  # skill name -> proficiency 1..10


@dataclass(frozen=True)
class AgentStateChange:
    agent_id: str
    state: str
    reason: str | None
    at: dt.datetime


@dataclass(frozen=True)
class DncEntry:
    number: str
    list_kind: DncList
    reason: str
    source: str
    created_at: dt.datetime
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class Callback:
    id: int
    number: str
    day: dt.date  # the local day (in the number's time zone) the callback is due: one per number and day
    due_at: dt.datetime
    status: CallbackStatus
    reason: str
    source: str
    requests: int  # how many requests were merged into this one
    attempts: int = 0
    customer_id: int | None = None
    interaction_id: int | None = None
    agent_id: str | None = None
    created_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None


@dataclass(frozen=True)
class Recording:
    id: int
    path: str
    duration: float
    size_bytes: int
    sha256: str
    interaction_id: int | None
    created_at: dt.datetime


@dataclass(frozen=True)
class SurveyResult:
    id: int
    question: str
    score: int
    at: dt.datetime
    interaction_id: int | None = None
    customer_id: int | None = None
    agent_id: str | None = None


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    mode: str
    status: str
    queue: str | None
    max_attempts: int
    retry_delay_s: int
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    live: dict[str, Any] | None = None
    live_at: dt.datetime | None = None


@dataclass(frozen=True)
class CampaignContact:
    id: int
    campaign_id: int
    number: str
    status: ContactStatus
    attempts: int
    priority: int = 0
    customer_id: int | None = None
    next_attempt_at: dt.datetime | None = None
    last_outcome: str | None = None
    lease_holder: str | None = None
    lease_until: dt.datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)
    timezone: str | None = None
    attempt_id: int | None = None


@dataclass(frozen=True)
class ContactAttempt:
    id: int
    number: str
    at: dt.datetime
    outcome: str
    campaign_id: int | None = None
    interaction_id: int | None = None
    contact_id: int | None = None
    holder: str | None = None
    purpose: str | None = None
    state: str = "done"
    answered_at: dt.datetime | None = None
    live: bool = False
    connected_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    talk_seconds: float | None = None
    abandoned: bool = False
    agent_id: str | None = None


@dataclass(frozen=True)
class Disposition:
    code: str
    label: str
    category: str | None = None
    is_success: bool = False
    active: bool = True


@dataclass(frozen=True)
class CustomerContext:
    """Everything a screen-pop shows about a caller, fetched in one call."""

    customer: Customer
    matched_number: str
    recent_interactions: tuple[Interaction, ...]
    open_callbacks: tuple[Callback, ...]
    owner_agent: Agent | None
    last_agent: Agent | None

    @property
    def tags(self) -> tuple[str, ...]:
        return self.customer.tags
