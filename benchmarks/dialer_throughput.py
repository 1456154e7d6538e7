"""Benchmark: dial attempts per second through the hopper (lease + compliance + crash-safe attempt) and the real
ESL originate against the FreeSWITCH simulator, with N campaign contacts (default 1,000,000) and M DNC numbers
(default 1,000,000) in the SQLite store.

Each attempt: the hopper leases a batch of due contacts (compliance for the batch: DNC, caps, claims, calling
hours), then per contact re-checks compliance and writes the attempt in one transaction, originates it with the
production command (`DialerService.originate_command`: origination_uuid, jq_* variables) as a `bgapi` job on
one inbound ESL connection, and records the outcome from the job's result (`-ERR USER_BUSY` -> busy ...) when
it comes back. Originates are pipelined as the dialing service does (up to `--window` jobs in flight), not one
synchronous api per attempt. The simulator runs in its own process (as FreeSWITCH would), its called-party
population refusing fast (busy / unallocated), so the figure is the dialer's path, not ring time.
`--local` decides outcomes locally instead (no switch). Baseline in the same run: the bare lease + outcome
path of the campaign repository (no compliance, no attempt rows) on another campaign.

Last line: `dialer_throughput: attempts_per_s=<x> compliance_p99_ms=<y> double_dials=<n> dnc_dialed=<n>`
(goal: >= 200 attempts/s from one engine, compliance p99 < 2 ms, 0 double dials, 0 DNC numbers dialed).
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # the engine runs under gevent; so does this benchmark (ESL client, pipelined jobs)

import argparse
import datetime as dt
import gc
import json
import logging
import random
import shutil
import sys
import tempfile
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, Union

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import text  # noqa: E402

from engine.dialer.campaigns import parse_campaign  # noqa: E402
from engine.dialer.compliance import CompliancePolicy  # noqa: E402
from engine.dialer.hopper import CampaignHandle, Hopper, load_handle  # noqa: E402
from engine.store.database import Store, open_store  # noqa: E402
from engine.store.migrate import upgrade  # noqa: E402
from engine.store.repos.campaigns import CampaignRepository  # noqa: E402
from engine.store.repos.dial_attempts import Begun  # noqa: E402
from engine.yamlsrc import load_text  # noqa: E402

T0 = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.timezone.utc)  # Monday 11:00 in Shanghai
GOAL_PER_S = 200.0
CAMPAIGN = """name: {name}
mode: predictive
queue: sales
calling_windows: {{mon-fri: "09:00-20:00"}}
retry:
  no_answer: {{delay: 2h, max_attempts: 3}}
  busy: {{delay: 10m, max_attempts: 3}}
"""


class PendingOutcome(Protocol):
    """An originate in flight: `get()` waits for its outcome ("answered", "busy", "invalid", ...)."""

    def get(self, timeout: float) -> str: ...


# An originate hook: given the begun attempt, place the call and return its outcome ("answered", "no_answer",
# "busy", ...), or a PendingOutcome when the call was started and its result comes later.
Originate = Callable[[Hopper, CampaignHandle, Begun, dt.datetime], Union[str, PendingOutcome]]


def local_outcome(hopper: Hopper, handle: CampaignHandle, begun: Begun, now: dt.datetime) -> str:
    """No switch: one call in three is answered by a person and connected at once, the rest ring out."""
    assert begun.attempt is not None
    if begun.attempt.id % 3 == 0:
        hopper.answered(begun.attempt.id, now)
        hopper.connected(begun.attempt.id, now, "1001")
        return "answered"
    return "no_answer"


def numbers(n: int, start: int) -> list[str]:
    """n distinct valid mobile numbers +86 1[3-9]x xxxx xxxx, deterministic."""
    return [f"+861{3 + (i // 10**9) % 7}{i % 10**9:09d}" for i in range(start, start + n)]


def load(store: Store, contacts: int, dnc: int, dnc_share: float, rng: random.Random) -> tuple[int, int]:
    """Create two campaigns (measured + baseline) and bulk-insert contacts and DNC entries with sqlite3."""
    repo = CampaignRepository(store)
    ids = []
    for name in ("bench", "baseline"):
        config = parse_campaign(load_text(CAMPAIGN.format(name=name), f"{name}.yaml"))
        record = repo.save(config.name, config.mode, config.queue, config.max_attempts, 600, {"config": config.raw})
        repo.change_status(record.id, "running")
        ids.append(record.id)
    bench, baseline = ids
    contact_numbers = numbers(contacts, 0)
    listed = set(rng.sample(range(contacts), int(contacts * dnc_share)))
    dnc_numbers = [contact_numbers[i] for i in sorted(listed)] + numbers(dnc - len(listed), contacts + 10)
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA cache_size=-262144")
        chunk = 100_000
        for start in range(0, contacts, chunk):
            cur.executemany(
                "INSERT INTO campaign_contacts (campaign_id, number, status, priority, attempts, data, timezone, "
                "next_attempt_at) VALUES (?, ?, 'pending', 0, 0, '{}', 'Asia/Shanghai', '2000-01-01 00:00:00.000000')",
                [(bench, n) for n in contact_numbers[start:start + chunk]])
        cur.executemany("INSERT INTO campaign_contacts (campaign_id, number, status, priority, attempts, data) "
                        "VALUES (?, ?, 'pending', 0, 0, '{}')", [(baseline, n) for n in contact_numbers[:20000]])
        stamp = "2026-01-01 00:00:00.000000"
        for start in range(0, len(dnc_numbers), chunk):
            cur.executemany("INSERT INTO dnc_entries (number, list_kind, reason, source, created_at) "
                            "VALUES (?, 'black', 'bench', 'bench', ?)",
                            [(n, stamp) for n in dnc_numbers[start:start + chunk]])
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return bench, baseline


def run_hopper(store: Store, handle: CampaignHandle, attempts: int, batch: int, originate: Originate,
               window: int = 1) -> tuple[float, list[float], int]:
    """(seconds, compliance check seconds per dial, refusals) for `attempts` dials, at most `window` of them
    in flight at once (their outcomes recorded as they are needed back, oldest first)."""
    hopper = Hopper(store, CompliancePolicy(), "bench-engine")
    hopper.recover(T0)
    now, done, refused = T0, 0, 0
    checks: list[float] = []
    pending: deque[tuple[int, Any, dt.datetime]] = deque()

    def settle() -> None:
        attempt_id, result, placed = pending.popleft()
        outcome = result if isinstance(result, str) else result.get(timeout=60)
        hopper.finish(handle, attempt_id, outcome, placed + dt.timedelta(seconds=20),
                      talk_seconds=60.0 if outcome == "answered" else None)

    started = time.perf_counter()
    while done < attempts:
        ready = hopper.fill(handle, batch, now)
        if not ready:
            now += dt.timedelta(seconds=1)
            continue
        for contact in ready:
            begun = hopper.begin(handle, contact, now)
            checks.append(begun.check_seconds)
            if begun.attempt is None:
                refused += 1
                continue
            pending.append((begun.attempt.id, originate(hopper, handle, begun, now), now))
            done += 1
            while len(pending) >= window:
                settle()
        now += dt.timedelta(milliseconds=250)
    while pending:
        settle()
    return time.perf_counter() - started, checks, refused


def run_baseline(store: Store, campaign_id: int, attempts: int, batch: int) -> float:
    """Seconds for the bare lease + outcome path (no compliance, no attempt rows)."""
    repo = CampaignRepository(store)
    started, done = time.perf_counter(), 0
    while done < attempts:
        for contact in repo.lease_due(campaign_id, "baseline", batch, T0):
            repo.record_outcome(contact.id, "baseline", "no_answer", T0)
            done += 1
    return time.perf_counter() - started


def audit(store: Store, campaign_id: int, guard_s: float) -> tuple[int, int]:
    """(double dials: attempts on a contact closer than the retry delay, attempts on a DNC number)."""
    with store.engine.connect() as conn:
        times: dict[int, list[str]] = {}
        for contact_id, at in conn.execute(text("SELECT contact_id, at FROM contact_attempts WHERE campaign_id = :c"),
                                           {"c": campaign_id}):
            times.setdefault(contact_id, []).append(str(at))
        double = 0
        for values in times.values():
            stamps = sorted(dt.datetime.fromisoformat(v) for v in values)
            double += sum(1 for a, b in zip(stamps, stamps[1:]) if (b - a).total_seconds() < guard_s)
        dnc = conn.execute(text("SELECT count(*) FROM contact_attempts a JOIN dnc_entries d ON d.number = a.number "
                                "WHERE d.list_kind = 'black' AND a.campaign_id = :c"), {"c": campaign_id}).scalar()
        blocked = conn.execute(text("SELECT count(*) FROM dial_decisions WHERE campaign_id = :c AND stage = 'lease' "
                                    "AND rule = 'dnc_black'"), {"c": campaign_id}).scalar()
    print(f"contacts blocked at lease by the DNC list: {blocked}")
    return double, int(dnc or 0)


def recheck_alone(store: Store, campaign_id: int, contacts: int, samples: int = 3000) -> dict[str, float]:
    """The per-dial re-check (facts in one statement + decision) alone, wall and CPU time: on a loaded
    machine the wall-clock tail is the scheduler's, the CPU-time tail is ours."""
    from engine.dialer.compliance import DialRequest, decide
    from engine.store.repos.compliance import facts_for_one

    policy, rng, pool = CompliancePolicy(), random.Random(5), numbers(contacts, 0)
    wall, cpu = [], []
    with store.engine.connect() as conn:
        for _ in range(samples):
            number = rng.choice(pool)
            w, c = time.perf_counter(), time.thread_time()
            facts, _status = facts_for_one(conn, number, T0, campaign_id)
            decide(DialRequest(number, campaign_id=campaign_id), facts, policy, T0)
            wall.append(time.perf_counter() - w)
            cpu.append(time.thread_time() - c)
    return {"recheck_wall_p50_ms": round(percentile(wall, 0.5) * 1000, 3),
            "recheck_wall_p99_ms": round(percentile(wall, 0.99) * 1000, 3),
            "recheck_cpu_p99_ms": round(percentile(cpu, 0.99) * 1000, 3)}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


class EslJob:
    """A `bgapi originate` in flight; its outcome is read from the BACKGROUND_JOB body."""

    def __init__(self, future: Any) -> None:
        self.future = future

    def get(self, timeout: float) -> str:
        from engine.dialer.outcomes import job_cause, outcome_for_cause

        cause = job_cause(str(self.future.get(timeout=timeout)))
        return "answered" if cause is None else outcome_for_cause(cause)


def esl_originate(time_scale: float = 0.001) -> tuple[Originate, Callable[[], None]]:
    """The real ESL originate against the simulator in its own process: the production builder
    (`DialerService.originate_command`: origination_uuid, jq_* variables), `bgapi` on one inbound connection,
    not waited for (EslJob). Returns (hook, close)."""
    from remote_sim import JsonLineProcess

    from engine.dialer.service import DialerService, DialerSettings, OutboundCall
    from engine.esl import commands
    from engine.esl.connection import InboundConnection

    sim = JsonLineProcess([sys.executable, os.path.abspath(__file__), "--serve-sim", str(time_scale)])
    control = InboundConnection("127.0.0.1", sim.port, "bench", events=(commands.EV_BACKGROUND_JOB,)).start()
    assert control.wait_connected(10)
    services: dict[int, DialerService] = {}

    def hook(hopper: Hopper, handle: CampaignHandle, begun: Begun, now: dt.datetime) -> EslJob:
        assert begun.attempt is not None and begun.contact is not None
        dialer = services.get(id(hopper))
        if dialer is None:
            dialer = services[id(hopper)] = DialerService(hopper.store, control, hopper, socket_address=("127.0.0.1", 9),
                                                          settings=DialerSettings(gateway="sim"))
        call = OutboundCall(commands.new_uuid(), handle, begun.contact, begun.attempt.id, time.time())
        return EslJob(control.bgapi(dialer.originate_command(call)))

    def close() -> None:
        control.close()
        try:
            sim.ask(cmd="quit")
            sim.proc.wait(10)
        except Exception:
            sim.proc.kill()
    return hook, close


def serve_sim(time_scale: float) -> None:
    """The simulator for `esl_originate`, in its own process: prints {"port": n}, ends on {"cmd": "quit"}."""
    from gevent.fileobject import FileObjectThread

    from engine.sim import FreeSwitchSim
    from engine.sim.population import Population

    sim = FreeSwitchSim(password="bench", time_scale=time_scale)
    sim.start()
    sim.set_population(Population(answer=0.0, machine=0.0, busy=0.6, unallocated=0.4, seed=1))
    sys.stdout.write(json.dumps({"port": sim.address[1]}) + "\n")
    sys.stdout.flush()
    for _line in FileObjectThread(sys.stdin, "r"):
        sys.stdout.write(json.dumps({"ok": True}) + "\n")
        sys.stdout.flush()
        break
    sim.stop()


def main(argv: list[str] | None = None, originate: Originate = local_outcome) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--dnc", type=int, default=1_000_000)
    parser.add_argument("--dnc-share", type=float, default=0.02, help="Share of contacts also on the DNC list.")
    parser.add_argument("--attempts", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=50, help="Contacts leased per fill.")
    parser.add_argument("--db", default=None, help="SQLite file (default: a temp dir).")
    parser.add_argument("--local", action="store_true",
                        help="Decide outcomes locally instead of originating through ESL against the simulator.")
    parser.add_argument("--window", type=int, default=100, help="Originates in flight at most (ESL path).")
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                        help="Skip gc.freeze() once loaded (`jinqiao serve` freezes after start-up, so the default "
                             "measures what the engine does; a plain run's compliance tail is full collections).")
    args = parser.parse_args(argv)
    close = None
    if not args.local and originate is local_outcome:
        originate, close = esl_originate()
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(9)
    folder = None if args.db else Path(tempfile.mkdtemp(prefix="jq-dialer-bench-"))
    try:
        return measure(args, Path(args.db) if args.db else folder / "bench.db", rng, originate)  # type: ignore[operator]
    finally:
        if close is not None:
            close()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def measure(args: argparse.Namespace, db: Path, rng: random.Random, originate: Originate) -> int:
    store = open_store(f"sqlite:///{db}")
    upgrade(store.engine)
    t = time.perf_counter()
    bench, baseline = load(store, args.contacts, args.dnc, args.dnc_share, rng)
    print(f"loaded {args.contacts} contacts and {args.dnc} DNC numbers in {time.perf_counter() - t:.1f} s")
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    handle = load_handle(store, bench)
    assert handle is not None
    base_s = run_baseline(store, baseline, min(args.attempts, 20000), args.batch)
    seconds, checks, refused = run_hopper(store, handle, args.attempts, args.batch, originate,
                                          window=1 if args.local else args.window)
    rate = args.attempts / seconds
    base_rate = min(args.attempts, 20000) / base_s
    double, dnc_dialed = audit(store, bench, handle.config.shortest_retry.total_seconds())
    p50, p99 = percentile(checks, 0.5) * 1000, percentile(checks, 0.99) * 1000
    print(json.dumps({"path": ("local outcomes" if args.local else f"ESL bgapi, window {args.window}")
                      + (", gc frozen after load" if args.gc_freeze else ""),
                      "attempts": args.attempts, "seconds": round(seconds, 2), "refused_at_dial": refused,
                      "compliance_p50_ms": round(p50, 3), "compliance_p95_ms": round(percentile(checks, 0.95) * 1000, 3),
                      "baseline_lease_outcome_per_s": round(base_rate, 1),
                      **recheck_alone(store, bench, args.contacts)}))
    print(f"vs baseline (bare lease + outcome, no compliance, no attempt rows): {rate / base_rate:.2f}x; "
          f"vs goal {GOAL_PER_S:.0f}/s: {rate / GOAL_PER_S:.2f}x")
    print(f"dialer_throughput: attempts_per_s={rate:.1f} compliance_p99_ms={p99:.2f} double_dials={double} "
          f"dnc_dialed={dnc_dialed}")
    store.dispose()
    return 0 if double == 0 and dnc_dialed == 0 else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-sim"]:
        serve_sim(float(sys.argv[2]))
    else:
        sys.exit(main())
