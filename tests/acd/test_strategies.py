"""Routing strategies pick the right agent among qualified, available candidates."""
from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st

from engine.acd.models import Agent, Strategy
from engine.acd.strategies import choose_agents, choose_sparing


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


def test_sparing_keeps_the_cheapest_candidates_and_lets_the_strategy_choose_among_them():
    costs = {"a": 0.0, "b": 1.0, "c": 0.0}  # b is needed elsewhere

    def sparing(strategy, **kw):
        kw.setdefault("requirement", {"x": 1})
        return [a.agent_id for a in choose_sparing(strategy, _agents(), lambda a: costs[a.agent_id], queue="q", **kw)]

    assert sparing(Strategy.LONGEST_IDLE) == ["c"]  # b is idle longest, c next
    assert sparing(Strategy.SKILLS_BY_PROFICIENCY) == ["c"]
    assert sparing(Strategy.RING_ALL) == ["a", "c"]
    assert sparing(Strategy.ROUND_ROBIN, last_agent="a") == ["c"]
    assert sparing(Strategy.RANDOM, rng=random.Random(1)) in (["a"], ["c"])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(Strategy)), st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0]), min_size=3, max_size=3),
       st.sampled_from([None, "a", "b", "c"]))
def test_sparing_chooses_only_least_cost_agents_and_is_the_strategy_when_costs_are_equal(strategy, cost_list, last):
    costs = dict(zip("abc", cost_list))
    agents = _agents()
    kw = {"queue": "q", "requirement": {"x": 1}, "last_agent": last}
    chosen = choose_sparing(strategy, agents, lambda a: costs[a.agent_id], rng=random.Random(5), **kw)
    assert chosen and all(costs[a.agent_id] == min(cost_list) for a in chosen)
    spared = [a for a in agents if costs[a.agent_id] == min(cost_list)]
    assert chosen == choose_agents(strategy, spared, rng=random.Random(5), **kw)
    flat = choose_sparing(strategy, agents, lambda a: 0.0, rng=random.Random(5), **kw)
    plain = choose_agents(strategy, agents, rng=random.Random(5), **kw)
    assert [a.agent_id for a in flat] == [a.agent_id for a in plain]
