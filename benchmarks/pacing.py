"""Benchmark: outbound pacing policies at the reference point, in simulated time with the production pacing code.

Reference point: 50 agents, live-answer probability 0.25, lognormal talk of mean 180 s, 15 s wrap-up, no
AMD, an 8 h day, 10 seeds (see engine/dialer/simulate.py for the call model). VICIdial's best is the
highest talk of its methods (RATIO levels and the ADAPT modes over their maximum level and dropped
percentage) among the settings whose every day keeps abandons <= 3 % of live answers.
Goal: ours > vicidial_best, (limit - ours) <= 0.5 x (limit - vicidial_best), worst day <= 3.0 %.
Last line: `pacing: ours=<talk-min/agent-h> vicidial_best=<x> progressive=<y> limit=<z> ours_worst_day_abandon_pct=<w>`.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.dialer.pacing_grid import REFERENCE, run_cells, tune_vicidial  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    seeds = list(range(1, args.seeds + 1))
    started = time.monotonic()
    ours, progressive = run_cells([REFERENCE], ["jinqiao", "progressive"], seeds, jobs=args.jobs)
    best, finals = tune_vicidial(REFERENCE, seeds, jobs=args.jobs)
    for s in [ours, progressive, *finals]:
        print(f"{s.policy:<44} talk={s.talk:6.2f} occ={s.occupancy:.3f} abandon={s.abandon_pct:5.2f}% "
              f"worst_day={s.worst_day_abandon_pct:5.2f}% worst_hour={s.worst_hour_abandon_pct:5.2f}% "
              f"idle={s.idle_mean:5.1f}s p95={s.idle_p95:5.1f}s calls/h={s.calls_per_hour:5.0f}")
    limit = REFERENCE.limit
    vb = best.talk if best else 0.0
    print(f"vicidial_best setting: {best.policy if best else 'none'}; "
          f"goal ours>{vb:.2f} and ours>={limit - 0.5 * (limit - vb):.2f}, worst day <= 3.0 %; "
          f"wall {time.monotonic() - started:.0f} s")
    print(f"pacing: ours={ours.talk:.2f} vicidial_best={vb:.2f} progressive={progressive.talk:.2f} "
          f"limit={limit:.2f} ours_worst_day_abandon_pct={ours.worst_day_abandon_pct:.2f}")


if __name__ == "__main__":
    main()
