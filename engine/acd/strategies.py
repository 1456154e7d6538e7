"""Routing strategies as pure functions: given the qualified, available agents, choose whom to offer to.

Every function takes the candidate agents (already filtered: available, registered, qualified) and
returns them in offer order; the distributor offers to the first (or to all, for ring-all). Ties are
broken by agent id so results are deterministic. `choose_sparing` puts scarce agents last: among the
candidates it keeps those whose absence hurts other queues least (a cost the caller passes in), and
the queue's strategy chooses among them.
"""
from __future__ import annotations

import random
from typing import Callable, Mapping, Sequence

from engine.acd.models import Agent, Strategy


def longest_idle(agents: Sequence[Agent], **_: object) -> list[Agent]:
    """The agent idle the longest first."""
    return [min(agents, key=lambda a: (a.idle_since, a.agent_id))] if agents else []


def least_calls(agents: Sequence[Agent], **_: object) -> list[Agent]:
    """The agent who handled the fewest calls first (then longest idle)."""
    return [min(agents, key=lambda a: (a.calls_handled, a.idle_since, a.agent_id))] if agents else []


def least_talk_time(agents: Sequence[Agent], **_: object) -> list[Agent]:
    """The agent with the least accumulated talk time first (then longest idle)."""
    return [min(agents, key=lambda a: (a.talk_seconds, a.idle_since, a.agent_id))] if agents else []


def round_robin(agents: Sequence[Agent], *, last_agent: str | None = None, **_: object) -> list[Agent]:
    """The next agent (by id) after the one who got the previous offer in this queue, wrapping around."""
    if not agents:
        return []
    if last_agent is not None:
        after = [a for a in agents if a.agent_id > last_agent]
        if after:
            return [min(after, key=lambda a: a.agent_id)]
    return [min(agents, key=lambda a: a.agent_id)]


def ring_all(agents: Sequence[Agent], **_: object) -> list[Agent]:
    """Every candidate at once; the first to answer wins."""
    return sorted(agents, key=lambda a: a.agent_id)


def random_agent(agents: Sequence[Agent], *, rng: random.Random | None = None, **_: object) -> list[Agent]:
    """A uniformly random candidate, from an injected (seeded) generator."""
    if not agents:
        return []
    ordered = sorted(agents, key=lambda a: a.agent_id)
    return [(rng or random.Random(0)).choice(ordered)]


def skills_by_proficiency(agents: Sequence[Agent], *, queue: str = "", requirement: Mapping[str, int] | None = None,
                          **_: object) -> list[Agent]:
    """The most proficient agent on the required skills first (then longest idle)."""
    requirement = requirement or {}
    if not agents:
        return []
    return [min(agents, key=lambda a: (-a.proficiency(queue, requirement), a.idle_since, a.agent_id))]


STRATEGIES: dict[Strategy, Callable[..., list[Agent]]] = {
    Strategy.LONGEST_IDLE: longest_idle,
    Strategy.LEAST_CALLS: least_calls,
    Strategy.LEAST_TALK_TIME: least_talk_time,
    Strategy.ROUND_ROBIN: round_robin,
    Strategy.RING_ALL: ring_all,
    Strategy.RANDOM: random_agent,
    Strategy.SKILLS_BY_PROFICIENCY: skills_by_proficiency,
}


def choose_agents(strategy: Strategy, agents: Sequence[Agent], *, queue: str, requirement: Mapping[str, int],
                  last_agent: str | None = None, rng: random.Random | None = None) -> list[Agent]:
    """Apply the queue's strategy to the candidates."""
    return STRATEGIES[strategy](agents, queue=queue, requirement=requirement, last_agent=last_agent, rng=rng)


def choose_sparing(strategy: Strategy, agents: Sequence[Agent], cost: Callable[[Agent], float], *, queue: str,
                   requirement: Mapping[str, int], last_agent: str | None = None,
                   rng: random.Random | None = None) -> list[Agent]:
    """The queue's strategy applied to the candidates whose `cost` (how much other work needs them) is least.

    Costs are never negative, so when the strategy's own choice costs nothing it is kept without pricing
    the others (the common case in a large pool, where no queue depends on a few agents).
    """
    kw = {"queue": queue, "requirement": requirement, "last_agent": last_agent}
    if len(agents) < 2:
        return choose_agents(strategy, agents, rng=rng, **kw)
    if strategy is not Strategy.RING_ALL and strategy is not Strategy.RANDOM:
        first = choose_agents(strategy, agents, **kw)
        if cost(first[0]) <= 0.0:
            return first
    costs = [(cost(a), a) for a in agents]
    least = min(c for c, _ in costs)
    spared = [a for c, a in costs if c <= least + 1e-9]
    return choose_agents(strategy, spared, rng=rng, **kw)
