"""The counts a report needs over its period: rolled-up whole days plus raw pieces, merged (see rollup.plan)."""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

from sqlalchemy.engine import Connection

from engine.reports import counting as k
from engine.reports import queries as q
from engine.reports.metrics import CampaignCounts, QueueCounts
from engine.reports.rollup import Plan, campaign_counts_of, fcr_plan, queue_counts_of, read


def _local(slot: Any, zone: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(slot) * k.SLOT_SECONDS, dt.timezone.utc).astimezone(zone)


def queues(conn: Connection, plan: Plan, limits: q.Thresholds) -> dict[str, QueueCounts]:
    out: dict[str, QueueCounts] = defaultdict(QueueCounts)
    for since, until in plan.pieces:
        for (queue,), c in q.queue_counts(conn, since, until, limits, k.I.c.queue).items():
            out[queue or ""].add(c)
    for row in read(conn, "queue", plan.days):
        out[row[0]].add(queue_counts_of(row))
    return dict(out)


def hourly(conn: Connection, plan: Plan, zone: Any, limits: q.Thresholds) -> dict[tuple[dt.date, int], list]:
    """{(local day, hour): [inbound arrived, QueueCounts]}."""
    cells: dict[tuple[dt.date, int], list] = defaultdict(lambda: [0, QueueCounts()])
    for since, until in plan.pieces:
        for s, (arrived, counts) in q.traffic_slots(conn, since, until, limits).items():
            local = _local(s, zone)
            cell = cells[(local.date(), local.hour)]
            cell[0] += arrived
            cell[1].add(counts)
    for row in read(conn, "arrived", plan.days, by_day=True, keys=("k2",)):
        cells[(_day(row[1]), int(row[0]))][0] += int(row[2])
    for row in read(conn, "queue", plan.days, by_day=True, keys=("k2",)):  # summed over queues
        cells[(_day(row[1]), int(row[0]))][1].add(queue_counts_of(row, offset=2))
    return dict(cells)


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def agent_calls(conn: Connection, plan: Plan) -> dict[str, q.AgentCalls]:
    out: dict[str, q.AgentCalls] = defaultdict(q.AgentCalls)
    for since, until in plan.pieces:
        for agent, a in q.agent_calls(conn, since, until).items():
            _add_agent(out[agent], a.handled, a.inbound, a.conversions, a.talk_s, a.wrap_up_s, a.hold_s)
    for row in read(conn, "agent", plan.days):
        n, x = row[3:11], row[11:15]
        _add_agent(out[row[0]], int(n[0]), int(n[1]), int(n[2]), float(x[0]), float(x[1]), float(x[2]))
    return dict(out)


def _add_agent(a: q.AgentCalls, handled: int, inbound: int, conversions: int, talk: float, wrap: float,
               hold: float) -> None:
    a.handled += handled
    a.inbound += inbound
    a.outbound += handled - inbound
    a.conversions += conversions
    a.talk_s += talk
    a.wrap_up_s += wrap
    a.hold_s += hold


def fcr(conn: Connection, plan: Plan, zone: Any, window_days: float, by: str) -> dict[Any, tuple[int, int]]:
    """{agent or queue: (resolved on first contact, eligible)}: final rolled-up days, the rest from raw rows."""
    part = fcr_plan(conn, plan, zone, window_days)
    column = k.I.c.agent_id if by == "agent" else k.I.c.queue
    out: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    for since, until in part.pieces:
        for (name,), (resolved, eligible) in q.fcr_counts(conn, since, until, window_days * 86400.0, column).items():
            out[name or None][0] += resolved
            out[name or None][1] += eligible
    for row in read(conn, f"fcr_{by}", part.days):
        out[row[0] or None][0] += int(row[3])
        out[row[0] or None][1] += int(row[4])
    return {name: (v[0], v[1]) for name, v in out.items()}


def ivr_paths(conn: Connection, plan: Plan) -> list[q.PathCount]:
    merged: dict[tuple, int] = defaultdict(int)
    for since, until in plan.pieces:
        for p in q.ivr_paths(conn, since, until):
            merged[(p.flow, q.path_text(p.path), p.exit_node, p.how)] += p.calls
    for row in read(conn, "ivr", plan.days):
        exit_node, _, how = row[2].rpartition("|")
        merged[(row[0], row[1], exit_node, how)] += int(row[3])
    return [q.PathCount(flow, json.loads(path), exit_node, how, n) for (flow, path, exit_node, how), n in merged.items()]


CAMPAIGN_GROUPS = {"campaign": (), "camp_disp": (k.I.c.disposition_code, k.D.c.is_success),
                   "camp_agent": (k.I.c.agent_id,)}


def campaigns(conn: Connection, plan: Plan, kind: str, zone: Any = None,
              by_day: bool = False) -> dict[tuple, CampaignCounts]:
    """{(campaign id, [disposition, success | agent], [local day]): CampaignCounts}."""
    out: dict[tuple, CampaignCounts] = defaultdict(CampaignCounts)
    extra = CAMPAIGN_GROUPS[kind]
    slot = (k.slot(conn.dialect.name, k.A.c.at),) if by_day else ()
    for since, until in plan.pieces:
        for key, c in q.campaign_counts(conn, since, until, k.A.c.campaign_id, *extra, *slot).items():
            rest = tuple(key[1:1 + len(extra)])
            day = (_local(key[-1], zone).date(),) if by_day else ()
            out[(int(key[0]), *_normal(kind, rest), *day)].add(c)
    for row in read(conn, kind, plan.days, by_day=by_day):
        rest = {"campaign": (), "camp_disp": (row[1] or None, row[2] == "1"), "camp_agent": (row[1] or None,)}[kind]
        day = (_day(row[3]),) if by_day else ()
        out[(int(row[0]), *rest, *day)].add(campaign_counts_of(row, offset=4 if by_day else 3))
    return dict(out)


def _normal(kind: str, rest: tuple) -> tuple:
    if kind == "camp_disp":
        return (rest[0] or None, bool(rest[1]))
    if kind == "camp_agent":
        return (rest[0] or None,)
    return ()


def survey_scores(conn: Connection, plan: Plan, by: str) -> dict[str, dict[int, int]]:
    """{queue or agent: {score: answers}}."""
    out: dict[str, dict[int, int]] = defaultdict(dict)
    for since, until in plan.pieces:
        for name, score, n, _ in q.survey_score_rows(conn, since, until, by):
            out[name][score] = out[name].get(score, 0) + n
    for row in read(conn, f"csat_{by}", plan.days):
        name, score = row[0], int(row[1])
        out[name][score] = out[name].get(score, 0) + int(row[3])
    return dict(out)
