"""Routing strategies pick the right agent among qualified, available candidates."""
from __future__ import annotations

import random

from engine.acd.models import Agent, Strategy
from engine.acd.strategies import choose_agents


def _agents():
    return [
        Agent("a", idle_since=30, calls_handled=5, talk_seconds=100, skills={"x": 2}),
        Agent("b", idle_since=10, calls_handled=7, talk_seconds=50, skills={"x": 9}),
        Agent("c", idle_since=20, calls_handled=1, talk_seconds=400, skills={"x": 5}),
    ]


def _pick(strategy, **kw):
    kw.setdefault("requirement", {"x": 1})
    return [a.agent_id for a in choose_agents(strategy, _agents(), queue="q", **kw)]


def test_each_strategy_picks_its_agent():
    assert _pick(Strategy.LONGEST_IDLE) == ["b"]
    assert _pick(Strategy.LEAST_CALLS) == ["c"]
    assert _pick(Strategy.LEAST_TALK_TIME) == ["b"]
    assert _pick(Strategy.SKILLS_BY_PROFICIENCY) == ["b"]
    assert _pick(Strategy.RING_ALL) == ["a", "b", "c"]


def test_round_robin_continues_after_last_offered_and_wraps():
    assert _pick(Strategy.ROUND_ROBIN, last_agent="a") == ["b"]
    assert _pick(Strategy.ROUND_ROBIN, last_agent="c") == ["a"]
    assert _pick(Strategy.ROUND_ROBIN) == ["a"]


def test_random_is_reproducible_with_a_seed_and_covers_everyone():
    first = [_pick(Strategy.RANDOM, rng=rng)[0] for rng in [random.Random(7)] for _ in range(30)]
    second = [_pick(Strategy.RANDOM, rng=rng)[0] for rng in [random.Random(7)] for _ in range(30)]
    assert first == second and set(first) == {"a", "b", "c"}


def test_no_candidates_means_no_offer():
    for strategy in Strategy:
        assert choose_agents(strategy, [], queue="q", requirement={}) == []
