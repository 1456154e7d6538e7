"""Agent time from the daily rollup equals agent time recomputed from the raw state timeline, and a report
over partial days, rolled-up days and days never rolled up adds them up right (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from engine.reports import builders
from engine.reports.queries import Thresholds
from engine.reports.rollup import build
from engine.reports.timeline import agent_seconds
from engine.store.repos.agents import AgentRepository

ZONE = ZoneInfo("Asia/Shanghai")  # UTC+8: local midnight is 16:00 UTC
UTC = dt.timezone.utc
LIMITS = Thresholds(20.0, 5.0)


def _timeline(store) -> None:
    agents = AgentRepository(store)
    agents.add("1001")
    agents.add("1002")
    steps = [  # (agent, state, reason, UTC time)
        ("1001", "available", None, dt.datetime(2026, 11, 23, 15, 0, tzinfo=UTC)),  # 23:00 local, Nov 23
        ("1001", "on-call", None, dt.datetime(2026, 11, 23, 15, 30, tzinfo=UTC)),
        ("1001", "wrap-up", None, dt.datetime(2026, 11, 23, 16, 30, tzinfo=UTC)),  # crosses local midnight
        ("1001", "not-ready", "lunch", dt.datetime(2026, 11, 24, 4, 0, tzinfo=UTC)),
        ("1001", "available", None, dt.datetime(2026, 11, 24, 5, 0, tzinfo=UTC)),
        ("1001", "logged-out", None, dt.datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("1002", "not-ready", "training", dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)),
        ("1002", "available", None, dt.datetime(2026, 11, 25, 2, 0, tzinfo=UTC)),
        ("1002", "logged-out", None, dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC)),
    ]
    for agent, state, reason, at in steps:
        agents.record_state_change(agent, state, reason, at)


def _as_dict(times):
    return {a: ({s: round(v, 3) for s, v in t.seconds.items()}, {r: round(v, 3) for r, v in t.not_ready.items()})
            for a, t in times.items()}


def test_rollup_and_raw_give_the_same_agent_time_for_any_period(store) -> None:
    _timeline(store)
    now = dt.datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    with store.engine.begin() as conn:
        assert build(conn, dt.date(2026, 11, 23), dt.date(2026, 11, 25), ZONE, now, LIMITS) == 3
    periods = [
        (dt.datetime(2026, 11, 23, 0, 0, tzinfo=UTC), dt.datetime(2026, 11, 26, 16, 0, tzinfo=UTC)),
        (dt.datetime(2026, 11, 23, 15, 45, tzinfo=UTC), dt.datetime(2026, 11, 25, 3, 0, tzinfo=UTC)),  # partial ends
        (dt.datetime(2026, 11, 24, 16, 0, tzinfo=UTC), dt.datetime(2026, 11, 25, 16, 0, tzinfo=UTC)),  # one whole day
    ]
    with store.connection() as conn:
        for since, until in periods:
            assert _as_dict(agent_seconds(conn, since, until, ZONE)) == \
                _as_dict(agent_seconds(conn, since, until, ZONE, use_rollup=False)), (since, until)
        whole = agent_seconds(conn, *periods[0], ZONE)
    # 1001: available 30 min, on call 60 min, wrap-up 11.5 h, lunch 1 h, then available until logout.
    assert whole["1001"].seconds["on-call"] == 3600.0
    assert whole["1001"].seconds["wrap-up"] == 11.5 * 3600
    assert whole["1001"].not_ready == {"lunch": 3600.0}
    assert whole["1002"].not_ready == {"training": 25 * 3600.0}


def test_a_day_not_over_is_not_rolled_up_and_a_rebuild_replaces_the_old_figures(store) -> None:
    _timeline(store)
    with store.engine.begin() as conn:
        assert build(conn, dt.date(2026, 11, 24), dt.date(2026, 11, 30), ZONE,
                      dt.datetime(2026, 11, 25, 10, 0, tzinfo=UTC), LIMITS) == 1  # Nov 25 local is not over yet
    # A late write for a rolled-up day: a rebuild of that day picks it up.
    AgentRepository(store).record_state_change("1002", "available", None, dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    with store.engine.begin() as conn:
        assert build(conn, dt.date(2026, 11, 24), dt.date(2026, 11, 24), ZONE,
                      dt.datetime(2026, 11, 26, tzinfo=UTC), LIMITS) == 1
    since, until = dt.datetime(2026, 11, 23, 16, 0, tzinfo=UTC), dt.datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    with store.connection() as conn:
        assert _as_dict(agent_seconds(conn, since, until, ZONE)) == \
            _as_dict(agent_seconds(conn, since, until, ZONE, use_rollup=False))
        report = builders.agents(conn, since, until, ZONE, until)
    assert next(r for r in report.table("agents").rows if r["agent"] == "1002")["not_ready:training_s"] == 3600.0
