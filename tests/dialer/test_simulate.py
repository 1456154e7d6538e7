"""The dialer simulator drives the production pacing code: abandon targets hold in simulated days, and the CLI works."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.dialer.pacing_grid import REFERENCE, markdown_table, run_cells
from engine.dialer.sim_cli import GRID_BEGIN, GRID_END, _write_table
from engine.dialer.simulate import SimParams, simulate_day

SHORT = replace(REFERENCE, agents=25, hours=4.0)


def test_progressive_never_abandons_and_figures_stay_physical() -> None:
    day = simulate_day(SHORT, "progressive", seed=1)
    assert day.abandoned == 0 and day.live_answers > 500
    assert 0.0 < day.occupancy <= 1.0
    assert 0.0 < day.talk_min_per_agent_hour < SHORT.limit
    assert day.idle_p95 >= day.idle_mean > 0.0


@pytest.mark.parametrize("seed", [1, 2])
def test_jinqiao_keeps_the_day_under_target_and_beats_progressive(seed: int) -> None:
    ours = simulate_day(SHORT, "jinqiao", seed=seed)
    progressive = simulate_day(SHORT, "progressive", seed=seed)
    assert ours.abandon_pct <= 3.0
    assert ours.talk_min_per_agent_hour > progressive.talk_min_per_agent_hour + 3.0


def test_jinqiao_follows_a_drifting_answer_rate_under_target() -> None:
    day = simulate_day(replace(SHORT, drift=True), "jinqiao", seed=3)
    assert day.abandon_pct <= 3.0


def test_small_team_is_near_progressive_and_under_target() -> None:
    small = replace(REFERENCE, agents=5, hours=8.0)
    for seed in (1, 2):
        day = simulate_day(small, "jinqiao", seed=seed)
        assert day.abandon_pct <= 3.0


def test_over_dialling_shows_up_as_abandons() -> None:
    day = simulate_day(SHORT, "fixed:2.0", seed=1)
    assert day.abandon_pct > 10.0


def test_amd_false_positives_are_reported_apart() -> None:
    day = simulate_day(replace(SHORT, amd_accuracy=0.85), "progressive", seed=1)
    assert day.abandoned == 0
    assert 10.0 < day.amd_false_positive_pct < 20.0


def test_same_seed_same_day() -> None:
    assert simulate_day(SHORT, "jinqiao", seed=5) == simulate_day(SHORT, "jinqiao", seed=5)


def test_cli_simulates_and_refuses_an_unknown_policy() -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["dialer", "simulate", "--agents", "5", "--seeds", "1", "--policy", "progressive",
                              "--policy", "vicidial:RATIO:1.2"])
    assert ok.exit_code == 0, ok.output
    assert "progressive" in ok.output and "vicidial:RATIO:1.2" in ok.output and "talk=" in ok.output
    bad = runner.invoke(main, ["dialer", "simulate", "--policy", "turbo"])
    assert bad.exit_code == 2 and "turbo" in bad.output
    bad_live = runner.invoke(main, ["dialer", "simulate", "--live", "often"])
    assert bad_live.exit_code == 2 and "--live" in bad_live.output


def test_grid_table_replaces_only_the_marked_section(tmp_path: Path) -> None:
    doc = tmp_path / "pacing.md"
    doc.write_text(f"# Pacing\nprose\n{GRID_BEGIN}\nold table\n{GRID_END}\nmore prose\n", encoding="utf-8")
    table = markdown_table(run_cells([replace(SimParams(), agents=5, hours=1.0)], ["progressive"], [1]))
    _write_table(doc, table)
    text = doc.read_text(encoding="utf-8")
    assert "old table" not in text and text.startswith("# Pacing\nprose\n") and text.endswith("more prose\n")
    assert "| 5 | 0.25 | 180 | 15 | none | progressive |" in text
