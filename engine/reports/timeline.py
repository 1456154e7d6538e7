"""Agent time per state and not-ready reason, from the raw state timeline or from the daily rollup.

How it works: a state lasts from its change until the agent's next change (the last one until the end of
the period, or now). `raw_seconds` walks the timeline once, in order, cutting every stretch at the
center's local midnights, so it yields seconds per (local day, agent, state, reason). The rollup
(engine.reports.rollup.build) stores those figures for whole past days (report_agent_state_days, marked done
in report_rollup_days); `agent_seconds` reads marked days from the rollup and everything else (partial days, today, days
never rolled up) from the raw rows, so a report never depends on the rollup being there.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from engine.reports.metrics import AgentTime
from engine.store.models import AgentRow, AgentStateChangeRow, AgentStateDayRow, RollupDayRow

log = logging.getLogger(__name__)
T = AgentStateChangeRow.__table__
R = AgentStateDayRow.__table__
M = RollupDayRow.__table__
Key = tuple[dt.date, str, str, str]  # local day, agent, state, reason


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def local_midnights(since: dt.datetime, until: dt.datetime, zone: Any) -> list[dt.datetime]:
    """UTC instants of the local midnights strictly inside (since, until)."""
    day = since.astimezone(zone).date() + dt.timedelta(days=1)
    out = []
    while True:
        at = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.timezone.utc)
        if at >= until:
            return out
        out.append(at)
        day += dt.timedelta(days=1)


def _agents(conn: Connection) -> list[str]:
    return [a for (a,) in conn.execute(select(AgentRow.__table__.c.id))]


class _Days:
    """Local day of an instant and the next local midnight, cached for the day in hand (most look-ups)."""

    def __init__(self, zone: Any) -> None:
        self.zone = zone
        self.start = self.end = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        self.day = dt.date.min

    def of(self, at: dt.datetime) -> tuple[dt.date, dt.datetime]:
        if not self.start <= at < self.end:
            self.day = at.astimezone(self.zone).date()
            self.start = dt.datetime.combine(self.day, dt.time(), self.zone).astimezone(dt.timezone.utc)
            self.end = dt.datetime.combine(self.day + dt.timedelta(days=1), dt.time(), self.zone).astimezone(dt.timezone.utc)
        return self.day, self.end


def raw_seconds(conn: Connection, since: dt.datetime, until: dt.datetime, zone: Any) -> dict[Key, list]:
    """{(local day, agent, state, reason): [seconds, entries]} over [since, until) from the raw timeline."""
    out: dict[Key, list] = defaultdict(lambda: [0.0, 0])
    current: dict[str, tuple[str, str, dt.datetime]] = {}
    days = _Days(zone)
    for agent in _agents(conn):  # the state each agent was in at `since` (one indexed look-up each)
        row = conn.execute(select(T.c.state, T.c.reason).where(T.c.agent_id == agent, T.c.at < _naive(since))
                           .order_by(T.c.at.desc(), T.c.id.desc()).limit(1)).first()
        if row is not None:
            current[agent] = (row[0], row[1] or "", since)
    query = (select(T.c.agent_id, T.c.state, T.c.reason, T.c.at)
             .where(T.c.at >= _naive(since), T.c.at < _naive(until)).order_by(T.c.agent_id, T.c.at, T.c.id)
             .execution_options(stream_results=True, yield_per=20_000))
    for agent, state, reason, at in conn.execute(query):
        at = _aware(at)
        before = current.get(agent)
        if before is not None:
            _add(out, agent, before, at, days)
        current[agent] = (state, reason or "", at)
        out[(days.of(at)[0], agent, state, reason or "")][1] += 1
    for agent, before in current.items():
        _add(out, agent, before, until, days)
    return out


def _add(out: dict[Key, list], agent: str, before: tuple[str, str, dt.datetime], end: dt.datetime, days: _Days) -> None:
    state, reason, start = before
    while start < end:
        day, midnight = days.of(start)
        cut = min(end, midnight)
        out[(day, agent, state, reason)][0] += (cut - start).total_seconds()
        start = cut


def rolled_up_days(conn: Connection, first: dt.date, last: dt.date, zone: Any) -> set[dt.date]:
    query = select(M.c.day).where(M.c.day >= first, M.c.day <= last, M.c.zone == str(zone))
    return {d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for (d,) in conn.execute(query)}


def agent_seconds(conn: Connection, since: dt.datetime, until: dt.datetime, zone: Any,
                  use_rollup: bool = True) -> dict[str, AgentTime]:
    """AgentTime per agent over [since, until): whole rolled-up local days from the rollup, the rest raw."""
    pieces: list[tuple[dt.datetime, dt.datetime]] = []
    rolled: list[dt.date] = []
    if use_rollup:
        first, last = since.astimezone(zone).date(), until.astimezone(zone).date()
        done = rolled_up_days(conn, first, last, zone)
        cursor = since
        for day in sorted(done):
            start = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.timezone.utc)
            end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.timezone.utc)
            if start < since or end > until:
                continue  # a partial day: raw
            if start > cursor:
                pieces.append((cursor, start))
            rolled.append(day)
            cursor = end
        if cursor < until:
            pieces.append((cursor, until))
    else:
        pieces.append((since, until))
    out: dict[str, AgentTime] = defaultdict(AgentTime)
    for start, end in pieces:
        for (_, agent, state, reason), (seconds, _n) in raw_seconds(conn, start, end, zone).items():
            _credit(out[agent], state, reason, seconds)
    if rolled:
        query = (select(R.c.agent_id, R.c.state, R.c.reason, func.sum(R.c.seconds))
                 .where(and_(R.c.day >= min(rolled), R.c.day <= max(rolled)))
                 .group_by(R.c.agent_id, R.c.state, R.c.reason))
        if len(rolled) != (max(rolled) - min(rolled)).days + 1:
            query = query.where(R.c.day.in_(rolled))
        for agent, state, reason, seconds in conn.execute(query):
            _credit(out[agent], state, reason or "", float(seconds or 0))
    return dict(out)


def _credit(t: AgentTime, state: str, reason: str, seconds: float) -> None:
    t.seconds[state] = t.seconds.get(state, 0.0) + seconds
    if state == "not-ready":
        t.not_ready[reason] = t.not_ready.get(reason, 0.0) + seconds
