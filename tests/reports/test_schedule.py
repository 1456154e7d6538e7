"""The scheduled rollup: which days need one (pure, time passed in, across DST), when to look again, and the
greenlet's catch-up on a real store (SQLite and PostgreSQL) giving the same reports as raw rows."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from engine.reports import builders
from engine.reports.queries import Thresholds
from engine.reports.rollup import build, plan
from engine.reports.schedule import (DEFAULT_THRESHOLDS, ROLLUP_DELAY, RollupScheduler, catch_up, days_to_roll_up,
                                     next_check, rolled_up_days)
from engine.store.repos.agents import AgentRepository

ZONE = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.timezone.utc
D = dt.date


def _local(*args: int, zone=ZONE) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone).astimezone(UTC)


def test_yesterday_is_due_only_after_the_delay_past_local_midnight() -> None:
    before = _local(2026, 12, 6, 0, 10)  # 10 minutes after midnight: Dec 5's last calls may still be on
    after = _local(2026, 12, 6, 0, 20)
    assert D(2026, 12, 5) not in days_to_roll_up(before, ZONE, {}, horizon_days=3)
    assert days_to_roll_up(before, ZONE, {}, horizon_days=3) == [D(2026, 12, 3), D(2026, 12, 4)]
    assert days_to_roll_up(after, ZONE, {}, horizon_days=3) == [D(2026, 12, 3), D(2026, 12, 4), D(2026, 12, 5)]
    # Days already rolled up are left alone; today never is a candidate.
    final = _local(2027, 1, 1, 0, 0)  # built long after: FCR final
    assert days_to_roll_up(after, ZONE, {D(2026, 12, 3): final, D(2026, 12, 5): final}, horizon_days=3) == \
        [D(2026, 12, 4)]
    assert D(2026, 12, 6) not in days_to_roll_up(_local(2026, 12, 6, 23, 59), ZONE, {})


def test_a_day_rolled_up_before_its_fcr_window_closed_is_rolled_up_again_once_it_has() -> None:
    nightly = _local(2026, 12, 4, 0, 15)  # Dec 3 rolled up the night after: its 7-day window runs to Dec 11
    done = {D(2026, 12, 3): nightly}
    assert D(2026, 12, 3) not in days_to_roll_up(_local(2026, 12, 11, 0, 10), ZONE, done, horizon_days=9)
    assert D(2026, 12, 3) in days_to_roll_up(_local(2026, 12, 11, 0, 20), ZONE, done, horizon_days=9)
    done[D(2026, 12, 3)] = _local(2026, 12, 11, 0, 20)
    assert D(2026, 12, 3) not in days_to_roll_up(_local(2026, 12, 12, 0, 20), ZONE, done, horizon_days=9)


def test_next_check_is_the_next_local_midnight_plus_the_delay_even_across_dst() -> None:
    assert next_check(_local(2026, 12, 6, 14, 0), ZONE) == _local(2026, 12, 7, 0, 0) + ROLLUP_DELAY
    # Just before the check time it is that same check; just after, the next day's.
    assert next_check(_local(2026, 12, 7, 0, 10), ZONE) == _local(2026, 12, 7, 0, 15)
    assert next_check(_local(2026, 12, 7, 0, 16), ZONE) == _local(2026, 12, 8, 0, 15)
    # New York springs forward on 2026-03-08 (a 23-hour day): the check is still 00:15 local.
    at = next_check(dt.datetime(2026, 3, 8, 12, 0, tzinfo=NEW_YORK).astimezone(UTC), NEW_YORK)
    assert at.astimezone(NEW_YORK).replace(tzinfo=None) == dt.datetime(2026, 3, 9, 0, 15)
    assert days_to_roll_up(at, NEW_YORK, {}, horizon_days=1) == [D(2026, 3, 8)]


def _day_of_work(store) -> None:
    agents = AgentRepository(store)
    agents.add("1001")
    for state, reason, hour in (("available", None, 9), ("not-ready", "lunch", 12), ("available", None, 13),
                                ("logged-out", None, 18)):
        agents.record_state_change("1001", state, reason, _local(2026, 12, 3, hour, 0))


def test_catch_up_rolls_up_missing_days_once_and_reports_read_the_same(store) -> None:
    _day_of_work(store)
    now = _local(2026, 12, 6, 0, 20)
    # A day rolled up by hand with other thresholds is not the daily rollup.
    with store.engine.begin() as conn:
        build(conn, D(2026, 12, 4), D(2026, 12, 4), ZONE, now, Thresholds(30.0, 5.0))
    assert catch_up(store, ZONE, now, horizon_days=4) == [D(2026, 12, 2), D(2026, 12, 3), D(2026, 12, 4),
                                                          D(2026, 12, 5)]
    assert catch_up(store, ZONE, now, horizon_days=4) == []  # nothing left to do
    with store.connection() as conn:
        assert set(rolled_up_days(conn, D(2026, 12, 1), D(2026, 12, 6), ZONE, DEFAULT_THRESHOLDS)) == \
            {D(2026, 12, 2), D(2026, 12, 3), D(2026, 12, 4), D(2026, 12, 5)}
        since, until = _local(2026, 12, 3, 0, 0), _local(2026, 12, 4, 0, 0)
        assert plan(conn, since, until, ZONE, DEFAULT_THRESHOLDS).days == [D(2026, 12, 3)]  # the rollup is used
        rolled = builders.agents(conn, since, until, ZONE, now)
        raw = builders.agents(conn, since, until, ZONE, now, builders.Settings(use_rollup=False))
    assert rolled.tables[0].rows == raw.tables[0].rows
    assert rolled.tables[0].rows[0]["not_ready:lunch_s"] == 3600.0


def test_the_scheduler_sleeps_until_the_next_check_and_retries_after_a_failure(store) -> None:
    now = _local(2026, 12, 6, 14, 0)
    slept: list[float] = []
    scheduler = RollupScheduler(store, ZONE, clock=lambda: now, sleep=slept.append, retry=600.0)
    wait = scheduler.run_once()
    assert wait == (_local(2026, 12, 7, 0, 15) - now).total_seconds()
    with store.connection() as conn:
        assert D(2026, 12, 5) in rolled_up_days(conn, D(2026, 12, 5), D(2026, 12, 5), ZONE, DEFAULT_THRESHOLDS)

    class Broken:
        def connection(self):
            raise OSError("database is down")

    assert RollupScheduler(Broken(), ZONE, clock=lambda: now, sleep=slept.append).run_once() == 600.0


def test_the_daemon_starts_the_schedule_which_catches_up_at_once(store) -> None:
    import types

    import gevent

    from engine.config import load_config
    from engine.daemon import start_rollup_schedule

    engine = types.SimpleNamespace(config=load_config(None, environ={}), store=store)
    zone = ZoneInfo(engine.config.engine.timezone)
    yesterday = dt.datetime.now(zone).date() - dt.timedelta(days=1)
    scheduler = start_rollup_schedule(engine)
    try:
        for _ in range(400):  # yields to the scheduler's greenlet until the catch-up is stored
            with store.connection() as conn:
                if rolled_up_days(conn, yesterday, yesterday, zone, DEFAULT_THRESHOLDS):
                    break
            gevent.sleep(0.05)
        with store.connection() as conn:
            assert set(rolled_up_days(conn, yesterday - dt.timedelta(days=2), yesterday, zone,
                                      DEFAULT_THRESHOLDS)) == {yesterday - dt.timedelta(days=2), yesterday - dt.timedelta(days=1), yesterday} or \
                dt.datetime.now(zone).time() < (dt.datetime.min + ROLLUP_DELAY).time()
    finally:
        scheduler.stop()
