"""Tables for calling out: campaigns, contacts (with leases), attempts, dial decisions, number claims, DNC, import runs."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models.base import Base, UtcDateTime


class CampaignRow(Base):
    """An outbound campaign."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    mode: Mapped[str] = mapped_column(String(16), default="progressive")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    queue: Mapped[str | None] = mapped_column(String(64))
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    retry_delay_s: Mapped[int] = mapped_column(Integer, default=3600)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # Live figures the running dialer publishes (dial level, ringing, agents by state) and when.
    live: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    live_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class CampaignContactRow(Base):
    """A number to call in a campaign; `lease_holder` until `lease_until` is the one dialer working it."""

    __tablename__ = "campaign_contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number"),
        Index("ix_campaign_contacts_due", "campaign_id", "status", "next_attempt_at"),
        Index("ix_campaign_contacts_number", "number"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_outcome: Mapped[str | None] = mapped_column(String(32))
    lease_holder: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    timezone: Mapped[str | None] = mapped_column(String(64))  # the callee's zone (customer's, else the number's)
    attempt_id: Mapped[int | None] = mapped_column(Integer)  # the attempt in flight, written before the dial


# The hopper's lease query walks this index in its ORDER BY and stops after n due contacts (no sort of a
# million rows); contacts get a first next_attempt_at when enrolled, so due ones come first in both databases.
Index("ix_campaign_contacts_lease", CampaignContactRow.campaign_id, CampaignContactRow.status,
      CampaignContactRow.priority.desc(), CampaignContactRow.next_attempt_at, CampaignContactRow.id)


class ContactAttemptRow(Base):
    """One attempt to reach a number (any campaign, callback or manual dial): frequency caps, reports, audit.

    A dialer writes the row (state "dialing") before it originates, so a crash never loses an attempt;
    `live`/`connected_at`/`abandoned` carry the abandon accounting.
    """

    __tablename__ = "contact_attempts"
    __table_args__ = (
        Index("ix_contact_attempts_number_at", "number", "at"),
        Index("ix_contact_attempts_campaign_at", "campaign_id", "at"),
        Index("ix_contact_attempts_state", "state"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    outcome: Mapped[str] = mapped_column(String(32))
    contact_id: Mapped[int | None] = mapped_column(Integer)
    holder: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(16))  # marketing | service | callback | manual
    state: Mapped[str] = mapped_column(String(12), default="done")  # dialing | done
    answered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    live: Mapped[bool] = mapped_column(Boolean, default=False)  # a person (not a machine) answered
    connected_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)  # bridged to an agent or IVR
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)  # live answer that no agent took
    agent_id: Mapped[str | None] = mapped_column(String(32))


class DialDecisionRow(Base):
    """A compliance decision: may this number be dialed now, and by which rule (for `campaign why`)."""

    __tablename__ = "dial_decisions"
    __table_args__ = (Index("ix_dial_decisions_number_at", "number", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    allowed: Mapped[bool] = mapped_column(Boolean)
    rule: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(200), default="")
    stage: Mapped[str] = mapped_column(String(12))  # lease | dial | manual | callback
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(Integer)
    attempt_id: Mapped[int | None] = mapped_column(Integer)


class NumberClaimRow(Base):
    """Which campaign works a number right now (one active campaign per number), until when."""

    __tablename__ = "number_claims"
    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(64))
    until: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class DncEntryRow(Base):
    """A number on the do-not-call black list (never) or grey list (restricted), optionally expiring."""

    __tablename__ = "dnc_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    list_kind: Mapped[str] = mapped_column(String(8), default="black")
    reason: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ImportRunRow(Base):
    """Progress of one customer CSV import, committed with each batch so an interrupted import resumes."""

    __tablename__ = "import_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(500))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    options_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")
    last_line: Mapped[int] = mapped_column(Integer, default=1)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
