"""Benchmark: import N customers (default 1,000,000) into SQLite through the CSV import path, then time
100k screen-pop lookups of random known callers in mixed caller-ID formats.

Last line: `screenpop: customers=<n> import_rows_per_s=<x> p50_ms=<y> p99_ms=<z>`
(goal: import >= 20,000 rows/s, p99 < 2 ms).
"""
from __future__ import annotations

import argparse
import csv
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.store.database import open_store  # noqa: E402
from engine.store.importer import CustomerImport  # noqa: E402
from engine.store.migrate import upgrade  # noqa: E402
from engine.store.screenpop import ScreenPop  # noqa: E402

MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159",
                   "176", "177", "180", "186", "187", "188", "189", "199")
SEGMENTS = ("prospect", "new", "loyal", "vip")
TAGS = ("", "", "broadband", "5g", "family", "complaint", "broadband;5g")


def national_numbers(n: int, rng: random.Random) -> list[str]:
    """n distinct valid Chinese mobile numbers (national form, 11 digits)."""
    out: set[str] = set()
    while len(out) < n:
        out.add(rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}")
    return sorted(out, key=lambda _: rng.random())


def write_csv(path: Path, numbers: list[str], rng: random.Random) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "phone", "segment", "value_tier", "arpu", "tags"])
        for i, number in enumerate(numbers):
            writer.writerow([f"客户{i}", number, rng.choice(SEGMENTS), rng.randrange(10),
                             f"{rng.uniform(10, 500):.2f}", rng.choice(TAGS)])


def caller_id_formats(national: str, rng: random.Random) -> str:
    """The same number as a caller ID may arrive."""
    return rng.choice((
        f"+86{national}", f"0086{national}", f"86{national}", national, f"0{national}",
        f"+86 {national[:3]} {national[3:7]} {national[7:]}", f"{national[:3]}-{national[3:7]}-{national[7:]}",
        f"sip:+86{national}@10.0.0.1",
    ))


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", default=None, help="work directory (default: a temporary one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        csv_path, db_path = Path(work) / "customers.csv", Path(work) / "jinqiao.db"
        numbers = national_numbers(args.customers, rng)
        write_csv(csv_path, numbers, rng)
        store = open_store(f"sqlite:///{db_path}")
        upgrade(store.engine)

        started = time.perf_counter()
        summary = CustomerImport(store).run(csv_path)
        import_s = time.perf_counter() - started
        assert summary.inserted == args.customers and summary.rejected == 0, summary
        rate = args.customers / import_s
        print(f"import: {args.customers} rows in {import_s:.1f} s ({rate:,.0f} rows/s)")

        pop = ScreenPop(store)
        probes = [caller_id_formats(rng.choice(numbers), rng) for _ in range(args.lookups)]
        for probe in probes[:1000]:  # warm caches (statement cache, SQLite page cache)
            pop.lookup(probe)
        timings: list[float] = []
        misses = 0
        clock = time.perf_counter
        for probe in probes:
            t0 = clock()
            context = pop.lookup(probe)
            timings.append((clock() - t0) * 1000)
            misses += context is None
        assert misses == 0, f"{misses} known callers not found"
        timings.sort()
        p50, p99 = percentile(timings, 0.50), percentile(timings, 0.99)
        print(f"lookups: {args.lookups} in mixed formats, max {timings[-1]:.2f} ms")
        store.dispose()
        print(f"screenpop: customers={args.customers} import_rows_per_s={rate:.0f} p50_ms={p50:.3f} p99_ms={p99:.3f}")


if __name__ == "__main__":
    main()
