"""Pre-aggregates for reports, per local day: agent seconds per state and reason, and call counts (rebuilt from raw rows)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Float, Index, Integer, String, Text
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
    service_level_s: Mapped[float] = mapped_column(Float)  # thresholds the day's call counts were cut with
    short_abandon_s: Mapped[float] = mapped_column(Float)
    built_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ReportDailyCountRow(Base):
    """Counts and sums of one kind of report figure for one local day and key (e.g. kind "queue", k1 = queue,
    k2 = local hour); n0..n9 are counts and x0..x3 sums of seconds, their meaning fixed per kind in
    engine.reports.rollup."""

    __tablename__ = "report_daily_counts"
    __table_args__ = (Index("ix_report_daily_counts_kind_day", "kind", "day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    k1: Mapped[str] = mapped_column(String(200), default="")
    k2: Mapped[str] = mapped_column(Text, default="")
    k3: Mapped[str] = mapped_column(String(200), default="")
    n0: Mapped[int] = mapped_column(Integer, default=0)
    n1: Mapped[int] = mapped_column(Integer, default=0)
    n2: Mapped[int] = mapped_column(Integer, default=0)
    n3: Mapped[int] = mapped_column(Integer, default=0)
    n4: Mapped[int] = mapped_column(Integer, default=0)
    n5: Mapped[int] = mapped_column(Integer, default=0)
    n6: Mapped[int] = mapped_column(Integer, default=0)
    n7: Mapped[int] = mapped_column(Integer, default=0)
    x0: Mapped[float] = mapped_column(Float, default=0.0)
    x1: Mapped[float] = mapped_column(Float, default=0.0)
    x2: Mapped[float] = mapped_column(Float, default=0.0)
    x3: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
