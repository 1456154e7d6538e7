"""Grouped counts for reports, computed in SQL from the raw interaction, attempt and survey rows."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, and_, cast, func, select
from sqlalchemy.engine import Connection

from engine.reports import counting as k
from engine.reports.metrics import CampaignCounts, IvrCounts, QueueCounts
from engine.store.models import CallbackRow, CampaignRow, SurveyResultRow

I, A, D = k.I, k.A, k.D
S = SurveyResultRow.__table__
C = CallbackRow.__table__


@dataclass(frozen=True)
class Thresholds:
    """The report's settings: service-level threshold T and short-abandon threshold, in seconds."""

    service_level_s: float
    short_abandon_s: float


def _naive(value: dt.datetime) -> dt.datetime:
    """Stored timestamps are naive UTC."""
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def queue_counts(conn: Connection, since: dt.datetime, until: dt.datetime, limits: Thresholds,
                 *group: Any) -> dict[tuple, QueueCounts]:
    """QueueCounts per group key (columns or expressions over interactions), for calls arrived in [since, until)."""
    dialect = conn.dialect.name
    answered = k.answered(given_offered=True)
    success = and_(answered, D.c.is_success.is_(True))
    columns = [
        func.count(), k.count_if(answered), k.count_if(k.abandoned(True)),
        k.count_if(k.short_abandoned(limits.short_abandon_s, True)),
        k.count_if(k.answered_within(limits.service_level_s, True)), k.count_if(k.overflowed(True)),
        k.sum_if(answered, func.coalesce(I.c.wait_seconds, 0.0)), k.sum_if(answered, k.talk_without_hold()),
        k.sum_if(answered, k.wrap_up_seconds(dialect)), k.count_if(success),
        k.sum_if(answered, func.coalesce(I.c.hold_seconds, 0.0)),
    ]
    query = (select(*group, *columns).select_from(I.outerjoin(D, D.c.code == I.c.disposition_code))
             .where(k.in_range(_naive(since), _naive(until)), k.offered()))
    if group:
        query = query.group_by(*group)
    result: dict[tuple, QueueCounts] = {}
    width = len(group)
    for row in conn.execute(query):
        key, v = tuple(row[:width]), row[width:]
        result[key] = QueueCounts(offered=int(v[0] or 0), answered=int(v[1] or 0), abandoned=int(v[2] or 0),
                                  short_abandoned=int(v[3] or 0), answered_within_t=int(v[4] or 0),
                                  overflowed=int(v[5] or 0), wait_answered_s=float(v[6] or 0),
                                  talk_s=float(v[7] or 0), wrap_up_s=float(v[8] or 0), successes=int(v[9] or 0),
                                  hold_s=float(v[10] or 0))
    return result


def fcr_counts(conn: Connection, since: dt.datetime, until: dt.datetime, window_s: float,
               *group: Any) -> dict[tuple, tuple[int, int]]:
    """{group key: (resolved on first contact, eligible)} for calls arrived in [since, until), from raw rows
    (a repeat call may come up to `window_s` after `until`)."""
    query = (select(*group, k.count_if(k.fcr_resolved(conn.dialect.name, window_s)), func.count())
             .select_from(I.outerjoin(D, D.c.code == I.c.disposition_code))
             .where(k.in_range(_naive(since), _naive(until)), k.fcr_eligible()).group_by(*group))
    width = len(group)
    return {tuple(row[:width]): (int(row[width] or 0), int(row[width + 1] or 0)) for row in conn.execute(query)}


@dataclass
class AgentCalls:
    """Calls an agent handled (bridged to them, any direction) and their times."""

    handled: int = 0
    talk_s: float = 0.0
    wrap_up_s: float = 0.0
    conversions: int = 0
    inbound: int = 0
    outbound: int = 0
    hold_s: float = 0.0


def agent_calls(conn: Connection, since: dt.datetime, until: dt.datetime, *extra: Any) -> dict[Any, AgentCalls]:
    """AgentCalls per agent (per (agent, *extra) when extra group expressions are given)."""
    dialect = conn.dialect.name
    query = (select(I.c.agent_id, *extra, func.count(), func.sum(k.talk_without_hold()),
                    func.sum(k.wrap_up_seconds(dialect)), k.count_if(D.c.is_success.is_(True)),
                    k.count_if(I.c.direction == "inbound"), func.sum(func.coalesce(I.c.hold_seconds, 0.0)))
             .select_from(I.outerjoin(D, D.c.code == I.c.disposition_code))
             .where(k.in_range(_naive(since), _naive(until)), k.handled()).group_by(I.c.agent_id, *extra))
    out = {}
    for row in conn.execute(query):
        key = row[0] if not extra else tuple(row[:1 + len(extra)])
        n, talk, wrap, conversions, inbound, hold = row[1 + len(extra):]
        out[key] = AgentCalls(int(n), float(talk or 0), float(wrap or 0), int(conversions or 0), int(inbound or 0),
                              int(n) - int(inbound or 0), float(hold or 0))
    return out


def traffic_slots(conn: Connection, since: dt.datetime, until: dt.datetime,
                  limits: Thresholds) -> dict[int, tuple[int, QueueCounts]]:
    """Per UTC quarter hour: (inbound calls arrived, QueueCounts of the offered ones)."""
    slot = k.slot(conn.dialect.name, I.c.arrived_at).label("slot")
    arrived = (select(slot, func.count()).where(k.in_range(_naive(since), _naive(until)), I.c.direction == "inbound",
                                                  ~k.is_callback_call()).group_by(slot))
    counts = queue_counts(conn, since, until, limits, slot)
    out: dict[int, tuple[int, QueueCounts]] = {}
    for s, n in conn.execute(arrived):
        out[int(s)] = (int(n), counts.get((s,), QueueCounts()))
    return out


@dataclass
class PathCount:
    """Calls of one flow that took one path and left in one way."""

    flow: str
    path: list[str]
    exit_node: str
    how: str  # contained | hung_up | queued | transferred
    calls: int
    slot: Any = None  # the UTC quarter hour, when grouped by it


def path_text(path: list[str]) -> str:
    import json

    return json.dumps(list(path), ensure_ascii=False)


def ivr_paths(conn: Connection, since: dt.datetime, until: dt.datetime, *extra: Any) -> list[PathCount]:
    """Inbound calls that ran a flow, grouped by flow, path (as stored JSON text), exit node and how they left."""
    import json

    path = cast(I.c.ivr_path, String)
    queued = I.c.queue_entered_at.is_not(None)
    transferred = func.coalesce(I.c.ivr_outcome, k.const("")) == k.const("transferred")
    hung_up = func.coalesce(I.c.hangup_by, k.const("")) == k.const("caller")
    query = (select(I.c.ivr_flow, path, I.c.ivr_exit_node, queued, transferred, hung_up, func.count(), *extra)
             .where(k.in_range(_naive(since), _naive(until)), I.c.direction == "inbound", I.c.ivr_flow.is_not(None))
             .group_by(I.c.ivr_flow, path, I.c.ivr_exit_node, queued, transferred, hung_up, *extra))
    out = []
    for flow, text, exit_node, is_queued, is_transferred, is_hung_up, n, *slot in conn.execute(query):
        kind = "queued" if is_queued else "transferred" if is_transferred else "hung_up" if is_hung_up else "contained"
        out.append(PathCount(flow, json.loads(text) if text else [], exit_node or "", kind, int(n),
                             slot[0] if slot else None))
    return out


def ivr_counts(paths: list[PathCount]) -> dict[str, IvrCounts]:
    out: dict[str, IvrCounts] = defaultdict(IvrCounts)
    for p in paths:
        c = out[p.flow]
        c.entered += p.calls
        if p.how == "contained":
            c.contained += p.calls
        elif p.how == "hung_up":
            c.hung_up_in_ivr += p.calls
        elif p.how == "queued":
            c.to_queue += p.calls
        else:
            c.transferred += p.calls
    return dict(out)


def survey_scores(conn: Connection, since: dt.datetime, until: dt.datetime, by: str) -> dict[str, dict[int, int]]:
    """{queue or agent: {score: answers}} for survey answers given in [since, until)."""
    out: dict[str, dict[int, int]] = defaultdict(dict)
    for name, score, n, _ in survey_score_rows(conn, since, until, by):
        out[name][score] = out[name].get(score, 0) + n
    return dict(out)


def survey_score_rows(conn: Connection, since: dt.datetime, until: dt.datetime, by: str,
                      by_slot: bool = False) -> list[tuple[str, int, int, Any]]:
    """(queue or agent ("-" when unknown), score, answers, UTC quarter hour or None) of answers in [since, until)."""
    key = func.coalesce(S.c.agent_id, I.c.agent_id) if by == "agent" else I.c.queue
    slot = [k.slot(conn.dialect.name, S.c.at)] if by_slot else []
    query = (select(key, S.c.score, func.count(), *slot).select_from(S.outerjoin(I, I.c.id == S.c.interaction_id))
             .where(S.c.at >= _naive(since), S.c.at < _naive(until)).group_by(key, S.c.score, *slot))
    return [(name or "-", int(score), int(n), rest[0] if rest else None) for name, score, n, *rest in conn.execute(query)]


def callbacks_made_kept(conn: Connection, since: dt.datetime, until: dt.datetime,
                        grace_s: float) -> tuple[int, int, int]:
    """(callbacks requested in [since, until), of them closed done, of them done within grace of due)."""
    dialect = conn.dialect.name
    on_time = and_(C.c.status == "done", C.c.closed_at.is_not(None),
                   k.epoch(dialect, C.c.closed_at) - k.epoch(dialect, C.c.due_at) <= grace_s)
    query = select(func.count(), k.count_if(C.c.status == "done"), k.count_if(on_time)).where(
        C.c.created_at >= _naive(since), C.c.created_at < _naive(until))
    made, kept, kept_on_time = conn.execute(query).one()
    return int(made or 0), int(kept or 0), int(kept_on_time or 0)


def campaign_counts(conn: Connection, since: dt.datetime, until: dt.datetime, *group: Any) -> dict[tuple, CampaignCounts]:
    """CampaignCounts per group key over finished attempts made in [since, until)."""
    columns = [func.count(), k.count_if(k.attempt_live()), k.count_if(k.attempt_connected()),
               k.count_if(and_(k.attempt_live(), k.attempt_abandoned())), k.count_if(k.right_party()),
               k.count_if(and_(k.attempt_connected(), k.success())),
               k.sum_if(k.attempt_connected(), func.coalesce(I.c.talk_seconds, 0.0))]
    query = (select(*group, *columns)
             .select_from(A.outerjoin(I, I.c.id == A.c.interaction_id).outerjoin(D, D.c.code == I.c.disposition_code))
             .where(A.c.at >= _naive(since), A.c.at < _naive(until), A.c.campaign_id.is_not(None),
                    k.attempt_finished()))
    if group:
        query = query.group_by(*group)
    out = {}
    width = len(group)
    for row in conn.execute(query):
        v = row[width:]
        out[tuple(row[:width])] = CampaignCounts(int(v[0] or 0), int(v[1] or 0), int(v[2] or 0), int(v[3] or 0),
                                                 int(v[4] or 0), int(v[5] or 0), float(v[6] or 0))
    return out


def campaign_names(conn: Connection) -> dict[int, str]:
    t = CampaignRow.__table__
    return {int(i): n for i, n in conn.execute(select(t.c.id, t.c.name))}


def disposition_labels(conn: Connection) -> dict[str, tuple[str, bool]]:
    return {code: (label, bool(ok)) for code, label, ok in conn.execute(select(D.c.code, D.c.label, D.c.is_success))}
