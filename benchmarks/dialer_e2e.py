"""Issue 9.8 at full size: a 20-agent predictive campaign of 2,000 contacts on the simulator's called-party
population, through real ESL, run to completion; the campaign report must equal the simulator's ground truth.

Prints the wall time and calls per second beside a baseline measured in the same run (the same campaign with
progressive 1:1 pacing on a tenth of the contacts, scaled), and exits 1 when the report and the truth differ.
Last line: `dialer_e2e: contacts=<n> seconds=<s> report_equals_truth=<bool> drops=<n> live_answers=<n>`.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from gevent import monkey

monkey.patch_all()

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.dialer.e2e import report_of, run_predictive  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--pacing", default="jinqiao")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-scale", type=float, default=0.05)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        base = run_predictive(Path(folder) / "base", max(20, args.contacts // 10), args.agents, args.seed + 1,
                              "progressive", time_scale=args.time_scale)
    with tempfile.TemporaryDirectory() as folder:
        run = run_predictive(Path(folder), args.contacts, args.agents, args.seed, args.pacing,
                             timeout=3600, time_scale=args.time_scale)
    report = report_of(run.figures)
    equal = report == run.truth
    print(f"report: {report}")
    print(f"truth:  {run.truth}")
    base_rate = base.figures.attempts / base.seconds
    rate = run.figures.attempts / run.seconds
    print(f"baseline progressive: {base.figures.attempts} attempts in {base.seconds:.1f}s ({base_rate:.1f}/s, "
          f"drops {base.figures.abandoned}/{base.figures.live_answers} live answers, report equals truth: "
          f"{report_of(base.figures) == base.truth}); "
          f"{args.pacing}: {run.figures.attempts} attempts in {run.seconds:.1f}s ({rate:.1f}/s, "
          f"x{rate / base_rate:.2f})")
    print(f"dialer_e2e: contacts={args.contacts} seconds={run.seconds:.1f} report_equals_truth={equal} "
          f"drops={run.figures.abandoned} live_answers={run.figures.live_answers}")
    return 0 if equal else 1


if __name__ == "__main__":
    raise SystemExit(main())
