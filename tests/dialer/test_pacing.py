"""Pacing policies: their counting rules, VICIdial's dial-level arithmetic, and that pacing stays pure."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dialer.pacing import FixedRatio, PacingError, PacingHistory, PacingState, Progressive, make_policy
from engine.dialer.pacing_vicidial import VicidialPolicy, hhmm_of_day
from tests.importscan import imported_modules

ALL_POLICIES = ("progressive", "fixed:1.0", "fixed:2.5", "vicidial:RATIO:2.0", "vicidial:ADAPT_HARD_LIMIT",
                "vicidial:ADAPT_AVERAGE", "vicidial:ADAPT_TAPERED:max=2,drop=2", "jinqiao",
                "jinqiao:target=2,margin=0.5")

states = st.builds(
    lambda ready, talking, wrapping, ringing, waiting: PacingState(
        agents_logged_in=ready + talking + wrapping, agents_ready=ready,
        talk_started=tuple(float(t) for t in talking_times(talking)),
        wrap_up_ends=tuple(1000.0 + i for i in range(wrapping)),
        ringing_started=tuple(990.0 + (i % 9) for i in range(ringing)), calls_waiting=waiting),
    st.integers(0, 30), st.integers(0, 30), st.integers(0, 10), st.integers(0, 60), st.integers(0, 5))


def talking_times(n: int) -> list[float]:
    return [900.0 - 7 * i for i in range(n)]


def trained_history() -> PacingHistory:
    """A history as after an hour of calls: enough for the predictive model to leave its warm-up."""
    history = PacingHistory()
    for i in range(400):
        history.call_resolved(100.0 + i, 8.0 + (i % 15), routed=i % 3 == 0)
    for i in range(200):
        history.call_handled(60.0 + (i * 37) % 300, 15.0)
        history.call_connected(100.0 + i)
    return history


@settings(max_examples=60, deadline=None)
@given(state=states)
def test_progressive_places_free_agents_minus_calls_in_flight(state: PacingState) -> None:
    expected = max(0, state.agents_ready - len(state.ringing_started) - state.calls_waiting)
    assert Progressive().calls_to_place(state, 1000.0) == expected
    # VICIdial's RATIO arithmetic at level 1.0 is the same thing: agents in wrap-up are not counted
    assert FixedRatio(1.0).calls_to_place(state, 1000.0) == expected


@pytest.mark.parametrize("name", ALL_POLICIES)
def test_no_policy_places_calls_with_no_agent_logged_in(name: str) -> None:
    policy = make_policy(name)
    history = trained_history()
    for second in range(120):
        state = PacingState(agents_logged_in=0, agents_ready=0, ringing_started=(), history=history)
        assert policy.calls_to_place(state, 1000.0 + second) == 0


@pytest.mark.parametrize("name", ALL_POLICIES)
def test_every_policy_places_a_whole_number_never_negative(name: str) -> None:
    policy = make_policy(name)
    history = trained_history()
    for second in range(60):
        state = PacingState(agents_logged_in=20, agents_ready=second % 5, talk_started=tuple(
            1000.0 + second - 30 * i for i in range(15)), wrap_up_ends=(1000.0 + second + 5,),
            ringing_started=tuple(1000.0 + second - i for i in range(second % 12)), history=history)
        n = policy.calls_to_place(state, 1000.0 + second)
        assert isinstance(n, int) and n >= 0


def test_ratio_rounds_half_to_even_like_perl_sprintf() -> None:
    # 5 agents x 1.5 = 7.5 -> 8 (teleforge's example); 3 agents x 1.5 = 4.5 -> 4
    assert FixedRatio(1.5).calls_to_place(PacingState(agents_logged_in=5, agents_ready=5), 0.0) == 8
    assert FixedRatio(1.5).calls_to_place(PacingState(agents_logged_in=3, agents_ready=3), 0.0) == 4


def adapt_once(policy: VicidialPolicy, ready: int, waiting: int, logged_in: int, start: float = 0.0,
               history: PacingHistory | None = None) -> None:
    """Feed VDadapt 15 one-second samples, which triggers one dial-level calculation."""
    history = history or PacingHistory()
    for second in range(15):
        policy.calls_to_place(PacingState(agents_logged_in=logged_in, agents_ready=ready, calls_waiting=waiting,
                                          history=history), start + second)


@pytest.mark.parametrize("ready, waiting, intensity, expected", [
    (2, 0, 0, 1.8),      # D=+2 of 10 agents: x1.2
    (0, 1, 0, 1.35),     # D=-1: x0.9
    (2, 0, 40, 1.92),    # raising is 1.4 times faster at +40
    (0, 1, 40, 1.41),    # lowering 0.6 times as fast at +40
    (0, 1, -40, 1.29),   # and 1.4 times faster at -40
])
def test_adapt_step_is_multiplicative_on_the_differential(ready: int, waiting: int, intensity: int,
                                                          expected: float) -> None:
    policy = VicidialPolicy("ADAPT_AVERAGE", level=1.5, intensity=intensity)
    adapt_once(policy, ready, waiting, 10)
    assert policy.level == pytest.approx(expected)


def test_adapt_level_is_clamped_to_one_and_the_maximum() -> None:
    up = VicidialPolicy("ADAPT_HARD_LIMIT", level=2.9, max_level=3.0)
    adapt_once(up, 10, 0, 10)
    assert up.level == 3.0
    down = VicidialPolicy("ADAPT_HARD_LIMIT", level=1.05)
    adapt_once(down, 0, 5, 10)
    assert down.level == 1.0


def over_limit_history() -> PacingHistory:
    """Today: 100 calls, 10 human answers of which 2 dropped (20 % of answers, over any limit)."""
    history = PacingHistory()
    for i in range(100):
        history.call_resolved(float(i), 9.0, routed=i < 10)
    for i in range(8):
        history.call_connected(float(i))
    history.call_abandoned(8.0)
    history.call_abandoned(9.0)
    return history


@pytest.mark.parametrize("method, expected", [("ADAPT_HARD_LIMIT", 1.0), ("ADAPT_AVERAGE", 1.0),
                                              ("ADAPT_TAPERED", 2.0 * 0.67)])
def test_daily_drop_rule_by_method(method: str, expected: float) -> None:
    # Given a level of 2.0, no differential, and today's drops over the limit at 14:30 (TAPERED: 2100-1430
    # = 670 "HHMM units" left, so x0.67)
    policy = VicidialPolicy(method, level=2.0, latest_hhmm=2100)
    start = 14 * 3600 + 30 * 60.0
    adapt_once(policy, 0, 0, 10, start=start, history=over_limit_history())
    assert policy.level == pytest.approx(expected)


def test_average_halves_each_cycle_while_over_the_limit() -> None:
    policy = VicidialPolicy("ADAPT_AVERAGE", level=3.0)
    adapt_once(policy, 0, 0, 10, start=1000.0, history=over_limit_history())
    assert policy.level == pytest.approx(1.5)


def test_tapered_ignores_drops_with_more_than_ten_hhmm_hundreds_left() -> None:
    policy = VicidialPolicy("ADAPT_TAPERED", level=2.0, latest_hhmm=2100)
    adapt_once(policy, 0, 0, 10, start=9 * 3600.0, history=over_limit_history())
    assert policy.level == 2.0
    assert hhmm_of_day(9 * 3600.0 + 59 * 60) == 959


def test_auto_dial_places_calls_only_on_its_loop() -> None:
    policy = VicidialPolicy("RATIO", level=2.0)
    state = PacingState(agents_logged_in=4, agents_ready=4)
    placed = [policy.calls_to_place(state, t / 2) for t in range(10)]  # every 0.5 s for 5 s
    assert placed == [8, 0, 0, 0, 0, 8, 0, 0, 0, 0]


@pytest.mark.parametrize("name, words", [("bogus", "unknown"), ("fixed:x", "ratio"), ("fixed:0.5", "between"),
                                         ("vicidial:MANUAL", "unknown method"),
                                         ("vicidial:ADAPT_AVERAGE:speed=2", "unknown option"),
                                         ("vicidial:ADAPT_AVERAGE:intensity=90", "between -40 and 40"),
                                         ("jinqiao:target=x", "bad value")])
def test_bad_policy_names_are_refused_with_the_name(name: str, words: str) -> None:
    with pytest.raises(PacingError, match=words) as err:
        make_policy(name)
    assert name.split(":")[0] in str(err.value)


def test_pacing_modules_are_pure() -> None:
    dialer = Path(__file__).resolve().parents[2] / "engine" / "dialer"
    for name in ("pacing.py", "pacing_vicidial.py", "pacing_predictive.py", "simulate.py", "pacing_grid.py"):
        modules = imported_modules(dialer / name)
        bad = {m for m in modules if m.split(".")[0] in {"gevent", "socket", "time", "sqlalchemy"}
               or m.startswith(("engine.store", "engine.esl", "engine.sim"))}
        assert not bad, f"{name} imports {bad}"


def test_the_engine_loop_reads_vicidials_hhmm_from_unix_time_the_simulator_from_seconds_of_day() -> None:
    import time as clock
    from types import SimpleNamespace

    from engine.dialer.service import CampaignLoop, DialerSettings, hhmm_of_epoch

    # Unix time of 14:30 local (the engine's clock) and 14:30 as seconds since midnight (the simulator's)
    epoch = clock.mktime((2026, 3, 2, 14, 30, 5, 0, 0, -1))
    assert hhmm_of_epoch(epoch) == 1430 and hhmm_of_day(14 * 3600 + 30 * 60 + 5) == 1430
    # The engine's campaign loop builds the same policy the simulator runs, told how its clock reads
    dialer = SimpleNamespace(settings=DialerSettings(pacing="vicidial:ADAPT_TAPERED:max=1.25"))
    handle = SimpleNamespace(config=SimpleNamespace(mode="predictive"))
    loop = CampaignLoop(dialer, handle)  # type: ignore[arg-type]
    assert isinstance(loop.policy, VicidialPolicy) and loop.policy.hhmm(epoch) == 1430
    assert type(CampaignLoop(SimpleNamespace(settings=DialerSettings()), handle).policy).__name__ == "JinqiaoPolicy"  # type: ignore[arg-type]
