"""The daily rollup on a schedule: yesterday (center time) shortly after midnight, and missing days at start-up.

How it works: `days_to_roll_up` (pure, time passed in) names the local days that are over — at least
ROLLUP_DELAY past their end, so calls that straddle midnight have ended — within the catch-up horizon and
not yet marked in report_rollup_days for this zone and these thresholds, or whose first-contact
resolution was not final when they were (their 7-day repeat-call window had not closed: those days are
rolled up again once it has); `next_check` is when to look again (the next local midnight + the delay). `RollupScheduler` is the greenlet that does both, calling the
same `engine.reports.rollup.build` as `jinqiao report rollup`, one day at a time.
A day rolled up by hand with other thresholds is not the daily rollup and is rolled up again with these.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable

from sqlalchemy import select

from engine.reports import queries as q
from engine.reports.metrics import DEFAULT_SERVICE_LEVEL_S, DEFAULT_SHORT_ABANDON_S
from engine.reports.rollup import M, build, fcr_closed

log = logging.getLogger(__name__)
ROLLUP_DELAY = dt.timedelta(minutes=15)  # after local midnight: the day's last calls have ended
CATCH_UP_DAYS = 35  # start-up fills missing days this far back (the 30-day abandon window and some);
#                     older days: `jinqiao report rollup --from --to`
DEFAULT_THRESHOLDS = q.Thresholds(DEFAULT_SERVICE_LEVEL_S, DEFAULT_SHORT_ABANDON_S)


def days_to_roll_up(now: dt.datetime, zone: Any, done: dict[dt.date, dt.datetime],
                    horizon_days: int = CATCH_UP_DAYS, delay: dt.timedelta = ROLLUP_DELAY) -> list[dt.date]:
    """Local days within `horizon_days` before `now` whose end is at least `delay` ago and that are not
    rolled up (`done`: day -> built at), or were rolled up before their FCR window closed when it now has
    (by `delay`): their first-contact resolution counts become final. Oldest first."""
    last = (now - delay).astimezone(zone).date() - dt.timedelta(days=1)
    first = now.astimezone(zone).date() - dt.timedelta(days=horizon_days)

    def due(day: dt.date) -> bool:
        built = done.get(day)
        return built is None or (built < fcr_closed(day, zone) <= now - delay)

    return [d for d in (first + dt.timedelta(days=i) for i in range((last - first).days + 1)) if due(d)]


def next_check(now: dt.datetime, zone: Any, delay: dt.timedelta = ROLLUP_DELAY) -> dt.datetime:
    """The next local midnight + `delay` after `now` (UTC), computed on the wall clock of the zone."""
    local = (now - delay).astimezone(zone)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), zone)
    return (midnight.astimezone(dt.timezone.utc) + delay)


def rolled_up_days(conn: Any, first: dt.date, last: dt.date, zone: Any,
                   limits: q.Thresholds) -> dict[dt.date, dt.datetime]:
    """{day: built at (UTC)} of days first..last rolled up for this zone and these thresholds."""
    query = select(M.c.day, M.c.built_at).where(M.c.day >= first, M.c.day <= last, M.c.zone == str(zone),
                                                M.c.service_level_s == limits.service_level_s,
                                                M.c.short_abandon_s == limits.short_abandon_s)
    return {(d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))):
            (at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)) for d, at in conn.execute(query)}


def catch_up(store: Any, zone: Any, now: dt.datetime, limits: q.Thresholds = DEFAULT_THRESHOLDS,
             horizon_days: int = CATCH_UP_DAYS, delay: dt.timedelta = ROLLUP_DELAY,
             pause: Callable[[], None] = lambda: None) -> list[dt.date]:
    """Roll up every day `days_to_roll_up` names, one day per transaction; returns them. `pause` runs after
    each day (the scheduler yields to the engine's other greenlets there: a busy day takes about a second)."""
    first = now.astimezone(zone).date() - dt.timedelta(days=horizon_days)
    with store.connection() as conn:
        done = rolled_up_days(conn, first, now.astimezone(zone).date(), zone, limits)
    wanted = days_to_roll_up(now, zone, done, horizon_days, delay)
    for day in wanted:
        with store.engine.begin() as conn:
            build(conn, day, day, zone, now, limits)
        pause()
    if wanted:
        log.info("report rollup: %d day(s) rolled up, %s to %s (%s)", len(wanted), wanted[0], wanted[-1], zone)
    return wanted


class RollupScheduler:
    """A greenlet: catch up at start, then once a day after midnight; a failed run is logged and retried
    at the next check (or in `retry` seconds)."""

    def __init__(self, store: Any, zone: Any, *, clock: Callable[[], dt.datetime],
                 sleep: Callable[[float], None], retry: float = 600.0) -> None:
        self.store, self.zone, self.clock, self.sleep, self.retry = store, zone, clock, sleep, retry
        self._greenlet: Any = None

    def run_once(self) -> float:
        """One check; returns the seconds to sleep until the next."""
        now = self.clock()
        try:
            catch_up(self.store, self.zone, now, pause=lambda: self.sleep(0))
        except Exception:  # the store is down or a day failed: the engine keeps running
            log.warning("report rollup failed; retrying in %.0f s", self.retry, exc_info=True)
            return self.retry
        return max(1.0, (next_check(now, self.zone) - now).total_seconds())

    def _loop(self) -> None:
        while True:
            self.sleep(self.run_once())

    def start(self) -> "RollupScheduler":
        import gevent

        self._greenlet = gevent.spawn(self._loop)
        return self

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=2)
            self._greenlet = None
