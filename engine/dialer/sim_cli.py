"""`jinqiao dialer simulate`: run pacing policies on the discrete-event dialer simulator and print the figures."""
from __future__ import annotations

import subprocess
from pathlib import Path

import click

from engine.dialer.pacing import PacingError, make_policy
from engine.dialer.pacing_grid import (REFERENCE, Summary, cell, full_grid, markdown_table, run_cells,
                                       subset_grid, tune_vicidial)

DEFAULT_POLICIES = ("progressive", "jinqiao")


@click.group("dialer")
def dialer() -> None:
    """Outbound dialer tools."""


def _check(policies: tuple[str, ...]) -> None:
    for name in policies:
        try:
            make_policy(name)
        except PacingError as exc:
            raise click.BadParameter(str(exc), param_hint="--policy") from None


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=Path(__file__).resolve().parent, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip() or "unknown"
    return commit + ("+uncommitted" if dirty.stdout.strip() else "")


GRID_BEGIN, GRID_END = "<!-- grid:begin -->", "<!-- grid:end -->"


def _write_table(path: Path, text: str) -> None:
    """Replace the text between the grid markers of `path`, or write the file if it has none."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if GRID_BEGIN in old and GRID_END in old:
        head, _, rest = old.partition(GRID_BEGIN)
        _, _, tail = rest.partition(GRID_END)
        path.write_text(f"{head}{GRID_BEGIN}\n{text}{GRID_END}{tail}", encoding="utf-8")
    else:
        path.write_text(text, encoding="utf-8")


def _print(summaries: list[Summary]) -> None:
    for s in summaries:
        click.echo(f"{s.policy:<50} talk={s.talk:6.2f} limit={s.params.limit:5.2f} occ={s.occupancy:.3f} "
                   f"abandon={s.abandon_pct:5.2f}% worst_day={s.worst_day_abandon_pct:5.2f}% "
                   f"worst_hour={s.worst_hour_abandon_pct:5.2f}% idle={s.idle_mean:5.1f}s p95={s.idle_p95:5.1f}s "
                   f"calls/h={s.calls_per_hour:6.0f}")


@dialer.command("simulate")
@click.option("--agents", type=click.IntRange(1, 1000), default=REFERENCE.agents, show_default=True)
@click.option("--live", default="0.25", show_default=True, help="live-answer probability, or 'drift'")
@click.option("--talk", type=click.FloatRange(1, 3600), default=REFERENCE.talk_mean, show_default=True,
              help="mean talk seconds (lognormal)")
@click.option("--wrap", type=click.FloatRange(0, 600), default=REFERENCE.wrap_up, show_default=True,
              help="wrap-up seconds")
@click.option("--amd", type=click.Choice(["none", "0.85"]), default="none", show_default=True)
@click.option("--seeds", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--policy", "policies", multiple=True, help="policy name (repeat); default progressive, jinqiao")
@click.option("--grid", type=click.Choice(["subset", "full"]), default=None,
              help="run the grid and write the markdown table; without --policy: progressive, VICIdial's best "
                   "RATIO and ADAPT settings tuned at the reference point, and jinqiao")
@click.option("--out", type=click.Path(dir_okay=False), default="docs/pacing.md", show_default=True,
              help="where --grid writes its table (between the grid markers if the file has them)")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="processes")
def simulate(agents: int, live: str, talk: float, wrap: float, amd: str, seeds: int, policies: tuple[str, ...],
             grid: str | None, out: str, jobs: int) -> None:
    """Simulate dialer days in simulated time with the production pacing code."""
    if live != "drift":
        try:
            if not 0.0 < float(live) < 0.8:
                raise ValueError
        except ValueError:
            raise click.BadParameter(f"{live!r}: a probability between 0 and 0.8, or 'drift'",
                                     param_hint="--live") from None
    _check(policies)
    commit = _commit()  # the code the run measures, before anything can change the tree
    seed_list = list(range(1, seeds + 1))
    if grid is None:
        params = cell(agents, live, talk, wrap, None if amd == "none" else 0.85)
        _print(run_cells([params], list(policies or DEFAULT_POLICIES), seed_list, jobs=jobs))
        return
    if policies:
        names, note = list(policies), "Policies as given."
    else:
        best, finals = tune_vicidial(REFERENCE, seed_list, jobs=jobs)
        feasible = [s for s in finals if s.worst_day_abandon_pct <= 3.0]
        ratio = [s for s in feasible if s.policy.startswith("vicidial:RATIO:")]
        adapt = [s for s in feasible if not s.policy.startswith("vicidial:RATIO:")]
        by_method = [max(group, key=lambda s: s.talk).policy for group in (ratio, adapt) if group]
        names = ["progressive", *by_method, "jinqiao"]
        note = (f"VICIdial settings tuned at the reference point (best feasible there: "
                f"{best.policy if best else 'none'}).")
    cells = full_grid() if grid == "full" else subset_grid()
    summaries = run_cells(cells, names, seed_list, jobs=jobs)
    text = (f"Measured on commit {commit} with `jinqiao dialer simulate --grid {grid} --seeds {seeds}`; "
            f"{len(cells)} cells x {len(names)} policies x {seeds} seeds. {note}\n\n"
            + markdown_table(summaries))
    _write_table(Path(out), text)
    _print(summaries)
    click.echo(f"grid table written to {out}")
