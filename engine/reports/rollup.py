"""Daily pre-aggregates of call counts (report_daily_counts) and the plan that mixes them with raw rows.

How it works: `build` cuts whole local days that are over into report_daily_counts rows — one grouped SQL
scan per kind over the days' raw rows, grouped by UTC quarter hour and placed in local days and hours here —
rebuilds the agent-state rollup (engine.reports.timeline) and marks each day in report_rollup_days with
the zone and thresholds it was cut with. `plan` splits a report's period into marked days (read from the
rollup) and raw pieces (partial days, today, days never rolled up, or days cut with other thresholds),
so a report is always the sum of the two and never depends on the rollup being there.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from engine.reports import counting as k
from engine.reports import queries as q
from engine.reports.metrics import DEFAULT_FCR_WINDOW_DAYS as FCR_WINDOW_DAYS
from engine.reports.metrics import CampaignCounts, QueueCounts
from engine.reports.timeline import raw_seconds, R as STATE_DAYS
from engine.store.models import ReportDailyCountRow, RollupDayRow

log = logging.getLogger(__name__)
C = ReportDailyCountRow.__table__
M = RollupDayRow.__table__
N = [f"n{i}" for i in range(8)]
X = [f"x{i}" for i in range(4)]


@dataclass
class Plan:
    """Whole local days read from the rollup, and the raw [since, until) pieces around them."""

    days: list[dt.date] = field(default_factory=list)
    pieces: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)


def fcr_closed(day: dt.date, zone: Any) -> dt.datetime:
    """When the FCR window of a day's last call has passed: a rollup built after it has final FCR counts."""
    return _midnight(day + dt.timedelta(days=1), zone) + dt.timedelta(days=FCR_WINDOW_DAYS)


def _midnight(day: dt.date, zone: Any) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.timezone.utc)


def plan(conn: Connection, since: dt.datetime, until: dt.datetime, zone: Any, limits: q.Thresholds,
         use_rollup: bool = True) -> Plan:
    if not use_rollup:
        return Plan([], [(since, until)])
    first, last = since.astimezone(zone).date(), until.astimezone(zone).date()
    query = select(M.c.day).where(M.c.day >= first, M.c.day <= last, M.c.zone == str(zone),
                                  M.c.service_level_s == limits.service_level_s,
                                  M.c.short_abandon_s == limits.short_abandon_s)
    result, cursor = Plan(), since
    for (day,) in sorted(conn.execute(query)):
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
        start, end = _midnight(day, zone), _midnight(day + dt.timedelta(days=1), zone)
        if start < since or end > until:
            continue
        if start > cursor:
            result.pieces.append((cursor, start))
        result.days.append(day)
        cursor = end
    if cursor < until:
        result.pieces.append((cursor, until))
    return result


def fcr_plan(conn: Connection, period: Plan, zone: Any, window_days: float) -> Plan:
    """The part of `period` whose first-contact resolution the rollup knows for good: rolled-up days built
    after their FCR window closed, with the rollup's window; every other day of `period` goes raw."""
    if not period.days:
        return period
    built = dict(conn.execute(select(M.c.day, M.c.built_at).where(M.c.day >= min(period.days),
                                                                   M.c.day <= max(period.days))).all())
    result = Plan([], list(period.pieces))
    for day in period.days:
        at = built.get(day)
        at = None if at is None else (at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc))
        if window_days == FCR_WINDOW_DAYS and at is not None and at >= fcr_closed(day, zone):
            result.days.append(day)
        else:
            result.pieces.append((_midnight(day, zone), _midnight(day + dt.timedelta(days=1), zone)))
    return result


def read(conn: Connection, kind: str, days: list[dt.date], by_day: bool = False,
         keys: tuple[str, ...] = ("k1", "k2", "k3")) -> list[tuple]:
    """Summed rows of one kind over the days: (*keys[, day], n0..n7, x0..x3); keys left out are summed over."""
    if not days:
        return []
    keys = [C.c[key] for key in keys] + ([C.c.day] if by_day else [])
    query = (select(*keys, *[func.sum(C.c[n]) for n in N], *[func.sum(C.c[x]) for x in X])
             .where(C.c.kind == kind, C.c.day >= min(days), C.c.day <= max(days)).group_by(*keys))
    if len(days) != (max(days) - min(days)).days + 1:
        query = query.where(C.c.day.in_(days))
    return [tuple(r) for r in conn.execute(query)]


def queue_counts_of(row: tuple, offset: int = 3) -> QueueCounts:
    n, x = row[offset:offset + 8], row[offset + 8:offset + 12]
    return QueueCounts(offered=int(n[0]), answered=int(n[1]), abandoned=int(n[2]), short_abandoned=int(n[3]),
                       answered_within_t=int(n[4]), overflowed=int(n[5]), successes=int(n[6]),
                       wait_answered_s=float(x[0]), talk_s=float(x[1]), wrap_up_s=float(x[2]), hold_s=float(x[3]))


def campaign_counts_of(row: tuple, offset: int = 3) -> CampaignCounts:
    n, x = row[offset:offset + 8], row[offset + 8:offset + 12]
    return CampaignCounts(int(n[0]), int(n[1]), int(n[2]), int(n[3]), int(n[4]), int(n[5]), float(x[0]))


def _local(slot: Any, zone: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(slot) * k.SLOT_SECONDS, dt.timezone.utc).astimezone(zone)


def _counts_rows(conn: Connection, since: dt.datetime, until: dt.datetime, zone: Any,
                 limits: q.Thresholds) -> dict[tuple, list]:
    """{(day, kind, k1, k2, k3): [n0..n7, x0..x3]} for every kind, from the raw rows of [since, until)."""
    out: dict[tuple, list] = defaultdict(lambda: [0] * 8 + [0.0] * 4)
    dialect = conn.dialect.name
    islot, aslot = k.slot(dialect, k.I.c.arrived_at), k.slot(dialect, k.A.c.at)

    def put(key: tuple, counts: list, sums: list) -> None:
        row = out[key]
        for i, v in enumerate(counts):
            row[i] += int(v or 0)
        for i, v in enumerate(sums):
            row[8 + i] += float(v or 0)

    for s, (arrived, _) in q.traffic_slots(conn, since, until, limits).items():
        local = _local(s, zone)
        put((local.date(), "arrived", "", str(local.hour), ""), [arrived], [])
    for (queue, s), c in q.queue_counts(conn, since, until, limits, k.I.c.queue, islot).items():
        local = _local(s, zone)
        put((local.date(), "queue", queue or "", str(local.hour), ""),
            [c.offered, c.answered, c.abandoned, c.short_abandoned, c.answered_within_t, c.overflowed, c.successes],
            [c.wait_answered_s, c.talk_s, c.wrap_up_s, c.hold_s])
    for (agent, s), a in q.agent_calls(conn, since, until, islot).items():
        put((_local(s, zone).date(), "agent", agent, "", ""), [a.handled, a.inbound, a.conversions],
            [a.talk_s, a.wrap_up_s, a.hold_s])
    for kind, column in (("fcr_agent", k.I.c.agent_id), ("fcr_queue", k.I.c.queue)):
        for (name, s), (resolved, eligible) in q.fcr_counts(conn, since, until, FCR_WINDOW_DAYS * 86400.0,
                                                            column, islot).items():
            put((_local(s, zone).date(), kind, name or "", "", ""), [resolved, eligible], [])
    for p in q.ivr_paths(conn, since, until, islot):
        put((_local(p.slot, zone).date(), "ivr", p.flow, q.path_text(p.path), f"{p.exit_node}|{p.how}"), [p.calls], [])
    for by in ("queue", "agent"):
        for name, score, n, s in q.survey_score_rows(conn, since, until, by, by_slot=True):
            put((_local(s, zone).date(), f"csat_{by}", name, str(score), ""), [n], [])
    groups = {"campaign": (), "camp_disp": (k.I.c.disposition_code, k.D.c.is_success), "camp_agent": (k.I.c.agent_id,)}
    for kind, extra in groups.items():
        for key, c in q.campaign_counts(conn, since, until, k.A.c.campaign_id, aslot, *extra).items():
            campaign, s, rest = key[0], key[1], key[2:]
            k2 = "" if not rest or rest[0] is None else str(rest[0])
            k3 = "1" if (kind == "camp_disp" and rest[1]) else ""
            put((_local(s, zone).date(), kind, str(campaign), k2, k3),
                [c.attempts, c.live_answers, c.connected, c.abandoned, c.right_party, c.successes], [c.talk_s])
    return out


def build(conn: Connection, first: dt.date, last: dt.date, zone: Any, now: dt.datetime,
          limits: q.Thresholds) -> int:
    """(Re)build every pre-aggregate of local days first..last that are over by `now`; returns how many days."""
    end_day = min(last, now.astimezone(zone).date() - dt.timedelta(days=1))
    if end_day < first:
        return 0
    since, until = _midnight(first, zone), _midnight(end_day + dt.timedelta(days=1), zone)
    for table in (C, STATE_DAYS, M):
        conn.execute(delete(table).where(table.c.day >= first, table.c.day <= end_day))
    states = [{"day": d, "agent_id": a, "state": s, "reason": r, "seconds": v[0], "entries": v[1]}
              for (d, a, s, r), v in raw_seconds(conn, since, until, zone).items() if first <= d <= end_day]
    counts = [{"day": d, "kind": kind, "k1": k1, "k2": k2, "k3": k3, **dict(zip(N + X, v))}
              for (d, kind, k1, k2, k3), v in _counts_rows(conn, since, until, zone, limits).items()
              if first <= d <= end_day]
    for table, rows in ((STATE_DAYS, states), (C, counts)):
        for start in range(0, len(rows), 1000):  # multi-row VALUES: one round trip per 1000 rows on any driver
            conn.execute(insert(table).values(rows[start:start + 1000]))
    days = (end_day - first).days + 1
    built = now.astimezone(dt.timezone.utc).replace(tzinfo=None)
    conn.execute(insert(M), [{"day": first + dt.timedelta(days=i), "zone": str(zone), "built_at": built,
                              "service_level_s": limits.service_level_s, "short_abandon_s": limits.short_abandon_s}
                             for i in range(days)])
    log.info("report rollup: %s day(s) from %s: %s state row(s), %s count row(s)", days, first, len(states), len(counts))
    return days
