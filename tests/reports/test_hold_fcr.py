"""Hold time in AHT and first-contact resolution, per agent and per queue, from written interactions whose
figures this test knows (SQLite and PostgreSQL), the same from the daily rollup as from raw rows."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from engine.reports import builders
from engine.reports.queries import Thresholds
from engine.reports.rollup import build
from engine.store.repos.agents import AgentRepository, DispositionRepository
from engine.store.repos.interactions import InteractionRepository

ZONE = ZoneInfo("Asia/Shanghai")
UTC = dt.timezone.utc
DAY = dt.datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 local


def _calls(store) -> None:
    """Agent 1001 on queue support: four answered calls (talk 100 s, hold as given, wrap-up 20 s)."""
    AgentRepository(store).add("1001")
    dispositions = DispositionRepository(store)
    dispositions.add("fixed", "Fixed", "service", False)
    dispositions.add("open", "Still open", "unresolved", False)
    interactions = InteractionRepository(store)
    script = [  # (caller, minutes after DAY, hold s, disposition)
        ("13900000001", 0, 30.0, "fixed"),  # resolved: no repeat
        ("13900000002", 10, 0.0, "fixed"),  # not resolved: calls again 2 days later
        ("13900000003", 20, 50.0, "open"),  # not resolved: an "unresolved" disposition
        ("13900000004", 30, 0.0, None),  # no disposition: not judged
    ]
    for caller, minutes, hold, code in script:
        at = DAY + dt.timedelta(minutes=minutes)
        i = interactions.start("inbound", at, caller=caller, call_id=f"call-{caller}")
        interactions.update(i, queue="support", queue_entered_at=at, offered_at=at, agent_id="1001",
                            answered_at=at + dt.timedelta(seconds=5), bridged_at=at + dt.timedelta(seconds=5),
                            talk_seconds=100.0, wait_seconds=5.0, disposition_code=code,
                            wrap_up_until=at + dt.timedelta(seconds=125))
        if hold:
            assert interactions.add_hold([f"no-such-leg-{caller}", f"call-{caller}"], hold) == i
        interactions.finish(i, at + dt.timedelta(seconds=105))
    repeat = interactions.start("inbound", DAY + dt.timedelta(days=2), caller="13900000002", call_id="call-repeat")
    interactions.finish(repeat, DAY + dt.timedelta(days=2, seconds=30))  # hung up in the IVR: not eligible


def test_hold_is_in_aht_and_fcr_counts_resolved_first_contacts(store) -> None:
    _calls(store)
    since = dt.datetime(2026, 11, 24, tzinfo=ZONE)
    until = since + dt.timedelta(days=1)
    now = until + dt.timedelta(days=10)
    with store.connection() as conn:
        agents = builders.agents(conn, since, until, ZONE, now)
        queues = builders.queues(conn, since, until, ZONE, now)
        short = builders.queues(conn, since, until, ZONE, now, builders.Settings(fcr_window_days=1))
    agent = agents.table("agents").rows[0]
    # Talk is the conversation without the hold in it: each second is counted once in AHT.
    assert agent["hold_s"] == 80.0 and agent["talk_s"] == 400.0 - 80.0 and agent["wrap_up_s"] == 80.0
    assert agent["aht_s"] == (320.0 + 80.0 + 80.0) / 4
    assert agent["fcr_pct"] == round(100 / 3, 1)  # 1 of the 3 calls with a disposition
    support = next(r for r in queues.table("queues").rows if r["queue"] == "support")
    assert support["hold_s"] == 80.0 and support["aht_s"] == agent["aht_s"] and support["fcr_pct"] == agent["fcr_pct"]
    assert "1 of 3 answered inbound calls" in queues.footer[-1] and "within 7 days" in queues.footer[-1]
    # With a one-day window the repeat call two days later no longer counts against the first one.
    assert next(r for r in short.table("queues").rows if r["queue"] == "support")["fcr_pct"] == round(200 / 3, 1)


def test_hold_reads_the_same_from_the_rollup(store) -> None:
    _calls(store)
    since = dt.datetime(2026, 11, 24, tzinfo=ZONE)
    until = since + dt.timedelta(days=1)
    with store.engine.begin() as conn:
        assert build(conn, since.date(), since.date(), ZONE, until + dt.timedelta(days=3), Thresholds(20.0, 5.0)) == 1
    with store.connection() as conn:
        for name in ("agents", "queues"):
            rolled = builders.REPORTS[name](conn, since, until, ZONE, until)
            raw = builders.REPORTS[name](conn, since, until, ZONE, until, builders.Settings(use_rollup=False))
            assert rolled.tables[0].rows == raw.tables[0].rows, name
            assert rolled.tables[0].rows[0]["hold_s"] == 80.0


def test_fcr_reads_from_the_rollup_only_once_its_window_has_closed(store) -> None:
    from engine.reports.rollup import fcr_plan, plan

    _calls(store)
    since = dt.datetime(2026, 11, 24, tzinfo=ZONE)
    until = since + dt.timedelta(days=1)
    limits = Thresholds(20.0, 5.0)
    for built_at, final in ((until + dt.timedelta(hours=1), False), (until + dt.timedelta(days=8), True)):
        with store.engine.begin() as conn:
            build(conn, since.date(), since.date(), ZONE, built_at, limits)
        with store.connection() as conn:
            part = fcr_plan(conn, plan(conn, since, until, ZONE, limits), ZONE, 7.0)
            assert part.days == ([since.date()] if final else [])
            for name in ("agents", "queues"):
                rolled = builders.REPORTS[name](conn, since, until, ZONE, until + dt.timedelta(days=9))
                raw = builders.REPORTS[name](conn, since, until, ZONE, until + dt.timedelta(days=9),
                                             builders.Settings(use_rollup=False))
                assert rolled.tables[0].rows == raw.tables[0].rows and rolled.footer == raw.footer, (name, final)
                assert rolled.tables[0].rows[0]["fcr_pct"] == round(100 / 3, 1)
        # Another window than the rollup's is always counted from raw rows.
        with store.connection() as conn:
            assert fcr_plan(conn, plan(conn, since, until, ZONE, limits), ZONE, 1.0).days == []
