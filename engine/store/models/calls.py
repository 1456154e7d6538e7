"""Tables for what happened on calls: interactions, dispositions, recordings, surveys, callbacks."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models.base import Base, JsonList, UtcDateTime


class DispositionRow(Base):
    """An entry of the disposition catalogue agents pick from after a call."""

    __tablename__ = "dispositions"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(32))
    is_success: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class InteractionRow(Base):
    """One call from arrival to hang-up, with its IVR path, queue, agent and outcome."""

    __tablename__ = "interactions"
    __table_args__ = (Index("ix_interactions_customer_arrived", "customer_id", "arrived_at"),
                      Index("ix_interactions_caller_arrived", "caller", "arrived_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    caller: Mapped[str | None] = mapped_column(String(64))
    callee: Mapped[str | None] = mapped_column(String(64))
    did: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    queue: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    ivr_flow: Mapped[str | None] = mapped_column(String(64))
    ivr_path: Mapped[list] = mapped_column(JsonList, default=list)
    ivr_digits: Mapped[list] = mapped_column(JsonList, default=list)
    ivr_outcome: Mapped[str | None] = mapped_column(String(64))
    arrived_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    queue_entered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    offered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    bridged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    hangup_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    wrap_up_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hold_seconds: Mapped[float | None] = mapped_column(Float)  # on hold during the talk (CHANNEL_HOLD..UNHOLD)
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    sip_status: Mapped[int | None] = mapped_column(Integer)
    ivr_exit_node: Mapped[str | None] = mapped_column(String(64))
    hangup_by: Mapped[str | None] = mapped_column(String(16))
    disposition_code: Mapped[str | None] = mapped_column(ForeignKey("dispositions.code", ondelete="SET NULL"))
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    transferred_from_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id", ondelete="SET NULL"))
    notes: Mapped[str | None] = mapped_column(Text)


class RecordingRow(Base):
    """A recording file of an interaction, with its checksum."""

    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id", ondelete="SET NULL"), index=True)
    path: Mapped[str] = mapped_column(String(500))
    duration: Mapped[float] = mapped_column(Float)
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class SurveyResultRow(Base):
    """One answer (score 1..5) to a post-call survey question."""

    __tablename__ = "survey_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id", ondelete="SET NULL"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class CallbackRow(Base):
    """A promise to call a number back; one per number and (local) day."""

    __tablename__ = "callbacks"
    __table_args__ = (
        UniqueConstraint("number", "day"),
        Index("ix_callbacks_status_due", "status", "due_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    day: Mapped[dt.date] = mapped_column(Date)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(32), default="")
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")
    requests: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
