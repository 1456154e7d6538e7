"""Tables for who is on the line: customers with their phone numbers, agents with skills and state timeline."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.store.models.base import Base, JsonList, UtcDateTime


class AgentRow(Base):
    """A person who answers calls; `id` is the login id agents type ("1001")."""

    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    extension: Mapped[str | None] = mapped_column(String(200))  # dial string / SIP user of the agent's phone
    team: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    skills: Mapped[list[AgentSkillRow]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class SkillRow(Base):
    """A skill name from the catalogue ("billing", "mandarin", ...)."""

    __tablename__ = "skills"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class AgentSkillRow(Base):
    """An agent's proficiency (1..10) in one skill."""

    __tablename__ = "agent_skills"
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True)
    proficiency: Mapped[int] = mapped_column(Integer)
    skill: Mapped[SkillRow] = relationship(lazy="joined")


class AgentStateChangeRow(Base):
    """One step of an agent's state timeline (for reports)."""

    __tablename__ = "agent_state_changes"
    __table_args__ = (Index("ix_agent_state_changes_agent_at", "agent_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class CustomerRow(Base):
    """A customer: who they are, what they are worth, how to treat them."""

    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    segment: Mapped[str] = mapped_column(String(16), default="prospect")
    value_tier: Mapped[int | None] = mapped_column(Integer)
    arpu: Mapped[float | None] = mapped_column(Float)
    tags: Mapped[list] = mapped_column(JsonList, default=list)
    language: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    account_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    owner_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    last_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    last_contact_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    marketing_consent: Mapped[bool | None] = mapped_column(Boolean)
    do_not_disturb: Mapped[bool] = mapped_column(Boolean, default=False)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    phones: Mapped[list[CustomerPhoneRow]] = relationship(
        cascade="all, delete-orphan", order_by="CustomerPhoneRow.position", lazy="selectin"
    )


class CustomerPhoneRow(Base):
    """One of a customer's numbers, in E.164; a number belongs to at most one customer."""

    __tablename__ = "customer_phones"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
