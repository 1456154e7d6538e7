"""The pacing simulation grid: cells of parameters, per-policy figures over seeds, and the markdown table."""
from __future__ import annotations

import itertools
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from engine.dialer.simulate import DayResult, SimParams, simulate_day

AGENTS = (5, 10, 25, 50, 100)
LIVE = ("0.15", "0.25", "0.35", "drift")
TALK = (90.0, 180.0, 300.0)
WRAP = (0.0, 15.0, 30.0)
AMD = (None, 0.85)
REFERENCE = SimParams(agents=50, live_p=0.25, talk_mean=180.0, wrap_up=15.0, hours=8.0)


def cell(agents: int, live: str, talk: float, wrap: float, amd: float | None) -> SimParams:
    """One grid cell; `live` is a probability or "drift"."""
    if live == "drift":
        return replace(REFERENCE, agents=agents, drift=True, talk_mean=talk, wrap_up=wrap, amd_accuracy=amd)
    return replace(REFERENCE, agents=agents, live_p=float(live), talk_mean=talk, wrap_up=wrap, amd_accuracy=amd)


def full_grid() -> list[SimParams]:
    return [cell(*c) for c in itertools.product(AGENTS, LIVE, TALK, WRAP, AMD)]


def subset_grid() -> list[SimParams]:
    """Agents x live-answer probability at the reference handling times, then one factor at a time."""
    cells = [cell(a, p, 180.0, 15.0, None) for a in AGENTS for p in LIVE]
    cells += [cell(50, "0.25", t, 15.0, None) for t in TALK if t != 180.0]
    cells += [cell(50, "0.25", 180.0, w, None) for w in WRAP if w != 15.0]
    cells += [cell(a, "0.25", 180.0, 15.0, 0.85) for a in (10, 50)]
    cells += [cell(25, p, t, w, None) for p, t, w in (("0.15", 90.0, 0.0), ("0.35", 300.0, 30.0))]
    return cells


@dataclass(frozen=True)
class Summary:
    """One policy on one cell, over its seeds."""

    params: SimParams
    policy: str
    days: int
    talk: float
    occupancy: float
    abandon_pct: float
    worst_day_abandon_pct: float
    worst_hour_abandon_pct: float
    idle_mean: float
    idle_p95: float
    calls_per_hour: float
    amd_false_positive_pct: float


def summarise(params: SimParams, policy: str, days: Sequence[DayResult]) -> Summary:
    n = len(days)
    return Summary(params=params, policy=policy, days=n,
                   talk=sum(d.talk_min_per_agent_hour for d in days) / n,
                   occupancy=sum(d.occupancy for d in days) / n,
                   abandon_pct=sum(d.abandon_pct for d in days) / n,
                   worst_day_abandon_pct=max(d.abandon_pct for d in days),
                   worst_hour_abandon_pct=max(d.worst_hour_abandon_pct for d in days),
                   idle_mean=sum(d.idle_mean for d in days) / n,
                   idle_p95=sum(d.idle_p95 for d in days) / n,
                   calls_per_hour=sum(d.calls_per_hour for d in days) / n,
                   amd_false_positive_pct=sum(d.amd_false_positive_pct for d in days) / n)


def _run(job: tuple[SimParams, str, int]) -> DayResult:
    params, policy, seed = job
    return simulate_day(params, policy, seed)


def run_cells(cells: Iterable[SimParams], policies: Sequence[str], seeds: Sequence[int],
              jobs: int = 1) -> list[Summary]:
    """Every policy on every cell over `seeds`, in `jobs` processes; summaries in cell, policy order."""
    keys = [(c, p) for c in cells for p in policies]
    work = [(c, p, s) for c, p in keys for s in seeds]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(_run, work, chunksize=1))
    else:
        results = [_run(w) for w in work]
    n = len(seeds)
    return [summarise(c, p, results[i * n:(i + 1) * n]) for i, (c, p) in enumerate(keys)]


def live_label(params: SimParams) -> str:
    return "drift" if params.drift else f"{params.live_p:g}"


def markdown_table(summaries: Sequence[Summary]) -> str:
    """The grid as one markdown table, a row per cell and policy."""
    head = ("| agents | p live | talk s | wrap s | AMD | policy | talk min/agent-h | limit | occupancy "
            "| abandon % day (mean / worst) | worst hour % | idle mean s | idle p95 s | calls/h | AMD FP % |")
    rows = [head, "|" + "---|" * 15]
    for s in summaries:
        p = s.params
        amd = "none" if p.amd_accuracy is None else f"{p.amd_accuracy:.0%}"
        rows.append(f"| {p.agents} | {live_label(p)} | {p.talk_mean:g} | {p.wrap_up:g} | {amd} | {s.policy} "
                    f"| {s.talk:.2f} | {p.limit:.2f} | {s.occupancy:.3f} "
                    f"| {s.abandon_pct:.2f} / {s.worst_day_abandon_pct:.2f} | {s.worst_hour_abandon_pct:.2f} "
                    f"| {s.idle_mean:.1f} | {s.idle_p95:.1f} | {s.calls_per_hour:.0f} "
                    f"| {s.amd_false_positive_pct:.1f} |")
    return "\n".join(rows) + "\n"


ADAPT_METHODS = ("ADAPT_HARD_LIMIT", "ADAPT_AVERAGE", "ADAPT_TAPERED")


def vicidial_candidates() -> list[str]:
    """VICIdial settings tried for its best: RATIO levels of its drop-down (1.0-2.0 by 0.1), and each ADAPT
    mode with adaptive_maximum_level (a free number field) 1.1-1.5 by 0.05, 1.6-2.0 by 0.1, or 3.0 (the
    default), at dropped-percentage limits 3 % and 2 %."""
    ratio = [f"vicidial:RATIO:{level / 10:.1f}" for level in range(10, 21)]
    maxima = [f"{m / 100:.2f}" for m in range(110, 151, 5)] + [f"{m / 10:.1f}" for m in range(16, 21)] + ["3.0"]
    adapt = [f"vicidial:{method}:max={top},drop={drop}" for method in ADAPT_METHODS for top in maxima
             for drop in ("3", "2")]
    return ratio + adapt


def tune_vicidial(params: SimParams, seeds: Sequence[int], screen_seeds: int = 3, finalists: int = 8,
                  cap_pct: float = 3.0, jobs: int = 1) -> tuple[Summary | None, list[Summary]]:
    """VICIdial's best setting on `params`: highest talk with every day's abandon <= cap_pct.

    All candidates are screened on the first `screen_seeds` seeds; the best feasible `finalists` (at least
    the best of each method) are run on all `seeds`. Returns (best, finalists' summaries)."""
    screened = run_cells([params], vicidial_candidates(), list(seeds)[:screen_seeds], jobs=jobs)
    feasible = sorted((s for s in screened if s.worst_day_abandon_pct <= cap_pct), key=lambda s: -s.talk)
    chosen: list[str] = []
    for method in ("RATIO",) + ADAPT_METHODS:
        best = next((s.policy for s in feasible if s.policy.startswith(f"vicidial:{method}:")), None)
        if best and best not in chosen:
            chosen.append(best)
    for s in feasible:
        if len(chosen) >= max(finalists, len(chosen)) and s.policy not in chosen:
            break
        if s.policy not in chosen:
            chosen.append(s.policy)
    final = run_cells([params], chosen, seeds, jobs=jobs)
    ok = [s for s in final if s.worst_day_abandon_pct <= cap_pct]
    return (max(ok, key=lambda s: s.talk) if ok else None), final
