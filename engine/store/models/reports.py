"""Pre-aggregates for reports: each agent's seconds per state and reason per local day (rebuilt from raw rows)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models.base import Base, UtcDateTime


class AgentStateDayRow(Base):
    """Seconds one agent spent in one state (and not-ready reason) during one day of the center's zone.

    Derived data: `jinqiao report rollup` recomputes it from agent_state_changes; a day is either fully
    rolled up (a row in report_rollup_days) or read from the raw timeline."""

    __tablename__ = "report_agent_state_days"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    entries: Mapped[int] = mapped_column(Integer, default=0)


class RollupDayRow(Base):
    """A local day whose agent-state rollup is complete, the zone it was cut in, and when it was built."""

    __tablename__ = "report_rollup_days"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    zone: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
