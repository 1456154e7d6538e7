"""Benchmark: every report over a year of a 50-seat center (≈ 1M interactions, 5M agent state changes).

The year is generated with a fixed seed straight into a migrated store (SQLite file, or PostgreSQL at --url /
$JINQIAO_TEST_PG_URL, loaded with COPY): inbound calls through an IVR flow into four queues (answered,
abandoned, overflowed, self-service, IVR hang-ups), outbound campaign calls with their dial attempts,
surveys, callbacks, and each agent's state timeline. Then the daily agent-state rollup is built (timed),
and each report runs over the whole year and over its last month (timed). The baseline, measured in the
same run, is the agents report recomputed from the raw timeline (`--raw`), the cost the rollup avoids.
Last line: `reports: interactions=<n> slowest_report_s=<x> db=<sqlite|postgresql>`.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import random
import sys
import tempfile
import time
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import text  # noqa: E402

from engine.reports import builders  # noqa: E402
from engine.reports.queries import Thresholds  # noqa: E402
from engine.reports.rollup import build as rollup  # noqa: E402
from engine.store.database import open_store  # noqa: E402
from engine.store.migrate import upgrade  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
QUEUES = ("general", "billing", "vip", "sales")
REASONS = ("lunch", "break", "training", "meeting")
DISPOSITIONS = (("sale", "Sale", "sale", True), ("info", "Information", "service", False),
                ("later", "Call later", "service", False), ("wrong", "Wrong person", "wrong-party", False))
HOURLY = [0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1, 3, 6, 8, 8, 6, 7, 8, 8, 7, 6, 4, 3, 2, 1, 0.6, 0.3]
INTERACTION_COLUMNS = ("id", "call_id", "direction", "caller", "callee", "campaign_id", "queue", "agent_id",
                       "ivr_flow", "ivr_path", "ivr_digits", "ivr_outcome", "ivr_exit_node", "arrived_at",
                       "queue_entered_at", "answered_at", "bridged_at", "hangup_at", "wrap_up_until", "wait_seconds",
                       "talk_seconds", "hangup_by", "disposition_code", "abandoned")


def ts(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


class Year:
    """Generates the rows of one year, in order, into per-table buffers flushed by a writer."""

    def __init__(self, start: dt.date, days: int, per_day: int, agents: int, seed: int) -> None:
        self.start, self.days, self.per_day, self.rng = start, days, per_day, random.Random(seed)
        self.agents = [f"{1000 + n}" for n in range(agents)]
        self.weights = HOURLY

    def interactions(self):  # type: ignore[no-untyped-def]
        """Yields ("interactions" | "contact_attempts" | "survey_results" | "callbacks", row) in time order."""
        rng, ident, attempt_id, survey_id, callback_id = self.rng, 0, 0, 0, 0
        path_self, path_hang, path_queue = (json.dumps(["welcome", "menu", "info", "bye"]),
                                            json.dumps(["welcome", "menu"]), json.dumps(["welcome", "menu", "queue"]))
        for d in range(self.days):
            day = self.start + dt.timedelta(days=d)
            midnight = dt.datetime.combine(day, dt.time(), ZONE).astimezone(dt.timezone.utc).replace(tzinfo=None)
            hours = rng.choices(range(24), self.weights, k=self.per_day)
            for hour in sorted(hours):
                ident += 1
                at = midnight + dt.timedelta(seconds=hour * 3600 + rng.random() * 3600)
                caller = f"+86138{ident:08d}"
                if rng.random() < 0.15:  # outbound campaign call that reached a person
                    attempt_id += 1
                    campaign = rng.randint(1, 5)
                    agent = rng.choice(self.agents)
                    talk = rng.uniform(30, 400)
                    answered = at + dt.timedelta(seconds=rng.uniform(5, 25))
                    dropped = rng.random() < 0.02
                    code = None if dropped else rng.choices(["sale", "info", "later", "wrong"], [2, 4, 3, 1])[0]
                    yield "interactions", (ident, f"o{ident}", "outbound", None, caller, campaign, "sales",
                                           None if dropped else agent, None, "[]", "[]", None, None, ts(at), None,
                                           ts(answered), None if dropped else ts(answered),
                                           ts(answered + dt.timedelta(seconds=2 if dropped else talk)),
                                           None if dropped else ts(answered + dt.timedelta(seconds=talk + 20)),
                                           None, 0.0 if dropped else round(talk, 3), "callee", code, dropped)
                    yield "contact_attempts", (attempt_id, caller, campaign, ident, ts(at),
                                               "dropped" if dropped else "answered")
                    for _ in range(2):  # attempts that reached nobody
                        attempt_id += 1
                        yield "contact_attempts", (attempt_id, f"+86139{attempt_id:08d}", campaign, None,
                                                   ts(at - dt.timedelta(seconds=rng.uniform(1, 600))),
                                                   rng.choice(("busy", "no_answer", "machine", "failed")))
                    continue
                kind = rng.random()
                if kind < 0.22:  # self-service
                    end = at + dt.timedelta(seconds=rng.uniform(20, 120))
                    yield "interactions", (ident, f"i{ident}", "inbound", caller, None, None, None, None, "main",
                                           path_self, "[]", "completed", "bye", ts(at), None, ts(at), None, ts(end),
                                           None, None, 0.0, "ivr", None, False)
                    continue
                if kind < 0.27:  # hung up in the IVR
                    end = at + dt.timedelta(seconds=rng.uniform(2, 30))
                    yield "interactions", (ident, f"i{ident}", "inbound", caller, None, None, None, None, "main",
                                           path_hang, "[]", "hangup", "menu", ts(at), None, ts(at), None, ts(end),
                                           None, None, 0.0, "caller", None, False)
                    continue
                queue = rng.choice(QUEUES)
                entered = at + dt.timedelta(seconds=rng.uniform(10, 40))
                fate = rng.random()
                wait = rng.expovariate(1 / 25)
                if fate < 0.85:
                    agent = rng.choice(self.agents)
                    bridged = entered + dt.timedelta(seconds=wait)
                    talk = rng.uniform(60, 600)
                    end = bridged + dt.timedelta(seconds=talk)
                    yield "interactions", (ident, f"i{ident}", "inbound", caller, None, None, queue, agent, "main",
                                           path_queue, "[]", "queue", "queue", ts(at), ts(entered), ts(at),
                                           ts(bridged), ts(end), ts(end + dt.timedelta(seconds=30)),
                                           round(wait, 3), round(talk, 3), "caller",
                                           rng.choice(("info", "later", "sale")), False)
                    if rng.random() < 0.2:
                        survey_id += 1
                        yield "survey_results", (survey_id, ident, agent, "csat",
                                                 rng.choices((1, 2, 3, 4, 5), (1, 1, 2, 4, 5))[0],
                                                 ts(end + dt.timedelta(seconds=10)))
                    continue
                abandoned = fate < 0.95
                end = entered + dt.timedelta(seconds=wait)
                yield "interactions", (ident, f"i{ident}", "inbound", caller, None, None, queue, None, "main",
                                       path_queue, "[]", "queue", "queue", ts(at), ts(entered), ts(at), None, ts(end),
                                       None, round(wait, 3), 0.0, "caller" if abandoned else "ivr", None, True)
                callback_id += 1
                due = end + dt.timedelta(minutes=30)
                done = rng.random() < 0.7
                yield "callbacks", (callback_id, caller, day.isoformat(), ident, "abandoned", "abandoned", ts(due),
                                    "done" if done else "open", 1, 1 if done else 0, ts(end),
                                    ts(due + dt.timedelta(minutes=10)) if done else None)

    def states(self):  # type: ignore[no-untyped-def]
        """Each agent's day: log in, about 65 call cycles, a few not-ready pauses, log out."""
        rng, ident = self.rng, 0
        for d in range(self.days):
            day = self.start + dt.timedelta(days=d)
            midnight = dt.datetime.combine(day, dt.time(), ZONE).astimezone(dt.timezone.utc).replace(tzinfo=None)
            for agent in self.agents:
                at = midnight + dt.timedelta(hours=8, seconds=rng.uniform(0, 1800))
                steps = [("available", None)]
                for cycle in range(67):
                    steps += [("ringing", None), ("on-call", None), ("wrap-up", None), ("available", None)]
                    if cycle % 17 == 16:
                        steps += [("not-ready", rng.choice(REASONS)), ("available", None)]
                steps.append(("logged-out", None))
                for state, reason in steps:
                    ident += 1
                    yield (ident, agent, state, reason, ts(at))
                    at += dt.timedelta(seconds=rng.uniform(3, 10) if state == "ringing" else
                                       rng.uniform(60, 300) if state == "on-call" else rng.uniform(5, 60))


TABLE_COLUMNS = {
    "interactions": INTERACTION_COLUMNS,
    "contact_attempts": ("id", "number", "campaign_id", "interaction_id", "at", "outcome"),
    "survey_results": ("id", "interaction_id", "agent_id", "question", "score", "at"),
    "callbacks": ("id", "number", "day", "interaction_id", "reason", "source", "due_at", "status", "requests",
                  "attempts", "created_at", "closed_at"),
    "agent_state_changes": ("id", "agent_id", "state", "reason", "at"),
}


class Loader:
    """Bulk insert: sqlite3 executemany, or PostgreSQL COPY through pg8000."""

    def __init__(self, store) -> None:  # type: ignore[no-untyped-def]
        self.store = store
        self.raw = store.engine.raw_connection()
        self.buffers: dict[str, list] = {name: [] for name in TABLE_COLUMNS}
        self.counts: dict[str, int] = {name: 0 for name in TABLE_COLUMNS}

    def add(self, table: str, row: tuple) -> None:
        buffer = self.buffers[table]
        buffer.append(row)
        if len(buffer) >= 50_000:
            self.flush(table)

    def flush(self, table: str) -> None:
        rows, columns = self.buffers[table], TABLE_COLUMNS[table]
        if not rows:
            return
        if table != "interactions":
            self.flush("interactions")  # rows that refer to interactions go in after them
        cursor = self.raw.cursor()
        if self.store.is_sqlite:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        else:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            for row in rows:
                writer.writerow(["\\N" if v is None else ("t" if v is True else "f" if v is False else v) for v in row])
            out.seek(0)
            cursor.execute(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                           stream=out)
        self.counts[table] += len(rows)
        rows.clear()
        self.raw.commit()

    def close(self) -> None:
        for table in self.buffers:
            self.flush(table)
        if not self.store.is_sqlite:
            cursor = self.raw.cursor()
            for table in TABLE_COLUMNS:
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"COALESCE((SELECT MAX(id) FROM {table}), 1))")
            cursor.execute("ANALYZE")
        else:
            self.raw.cursor().execute("ANALYZE")
        self.raw.commit()
        self.raw.close()


def seed_reference(store, agents: list[str]) -> None:  # type: ignore[no-untyped-def]
    with store.engine.begin() as conn:
        now = ts(dt.datetime(2020, 1, 1))
        for agent in agents:
            conn.execute(text("INSERT INTO agents (id, name, active, created_at) VALUES (:id, :n, :a, :c)"),
                         {"id": agent, "n": f"Agent {agent}", "a": True, "c": now})
        for code, label, category, ok in DISPOSITIONS:
            conn.execute(text("INSERT INTO dispositions (code, label, category, is_success, active) "
                              "VALUES (:c, :l, :g, :s, :a)"), {"c": code, "l": label, "g": category, "s": ok, "a": True})
        for n in range(1, 6):
            conn.execute(text("INSERT INTO campaigns (id, name, mode, status, max_attempts, retry_delay_s, settings, "
                              "created_at) VALUES (:i, :n, 'progressive', 'running', 3, 3600, '{}', :c)"),
                         {"i": n, "n": f"campaign{n}", "c": now})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", help="PostgreSQL URL (default: $JINQIAO_TEST_PG_URL); its tables are replaced")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=2740, help="interactions per day (2740 x 365 = 1M)")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file (its path is printed)")
    parser.add_argument("--reuse", action="store_true",
                        help="PostgreSQL: keep the year a previous run left in the database (the rollup is rebuilt)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="jinqiao-reports-bench-")
    if args.db == "sqlite":
        url = f"sqlite:///{folder}/year.db"
    else:
        url = args.url or os.environ.get("JINQIAO_TEST_PG_URL") or sys.exit("reports: --url or JINQIAO_TEST_PG_URL needed")
        if not args.reuse:
            from tests.store.conftest import reset_postgres

            reset_postgres(url)
    store = open_store(url)
    upgrade(store.engine)
    start = dt.date(2025, 1, 1)
    year = Year(start, args.days, args.per_day, args.agents, args.seed)
    with store.connection() as conn:
        interactions = int(conn.execute(text("SELECT count(*) FROM interactions")).scalar() or 0)
    if not (args.reuse and interactions):
        seed_reference(store, year.agents)
        began = time.perf_counter()
        loader = Loader(store)
        for table, row in year.interactions():
            loader.add(table, row)
        for row in year.states():
            loader.add("agent_state_changes", row)
        loader.close()
        interactions = loader.counts["interactions"]
        print(f"loaded {loader.counts} in {time.perf_counter() - began:.1f} s", flush=True)
    now = dt.datetime.combine(start + dt.timedelta(days=args.days + 1), dt.time(), ZONE)
    began = time.perf_counter()
    with store.engine.begin() as conn:
        days = rollup(conn, start, start + dt.timedelta(days=args.days - 1), ZONE, now, Thresholds(20.0, 5.0))
    print(f"rollup: {days} days in {time.perf_counter() - began:.1f} s (once; then nightly per day)", flush=True)
    since = dt.datetime.combine(start, dt.time(), ZONE)
    until = dt.datetime.combine(start + dt.timedelta(days=args.days), dt.time(), ZONE)
    month = until - dt.timedelta(days=30)
    slowest = 0.0
    for label, lo in (("year", since), ("month", month)):
        for name, build in builders.REPORTS.items():
            began = time.perf_counter()
            with store.connection() as conn:
                report = build(conn, lo, until, ZONE, now)
            took = time.perf_counter() - began
            slowest = max(slowest, took)
            print(f"  {label:<5} {name:<10} {took:6.2f} s  ({sum(len(t.rows) for t in report.tables)} rows; "
                  f"{report.footer[0][:70]})", flush=True)
    began = time.perf_counter()
    with store.connection() as conn:
        builders.agents(conn, month, until, ZONE, now, builders.Settings(use_rollup=False))
    print(f"baseline: month agents report from the raw timeline (no rollup) {time.perf_counter() - began:.2f} s",
          flush=True)
    store.dispose()
    if args.db == "sqlite" and args.keep:
        print(f"kept {url}")
    elif args.db == "sqlite":
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    print(f"reports: interactions={interactions} slowest_report_s={slowest:.2f} db={args.db}")


if __name__ == "__main__":
    main()
