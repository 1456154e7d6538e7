"""Property-based tests of the routing invariants: no double booking, priority order, no starvation, scarce
agents spared."""
from __future__ import annotations

import dataclasses

from hypothesis import given, settings, strategies as st

from engine.acd.distributor import Distributor
from engine.acd.intents import Offer
from engine.acd.models import (Agent, AgentState, ExitAction, OverflowStep, QueueConfig, StickyPolicy, Strategy,
                               WaitingCaller)

AGENTS = [f"10{n:02d}" for n in range(4)]
QUEUES = ("sales", "support")

op = st.one_of(
    st.tuples(st.just("enqueue"), st.sampled_from(QUEUES), st.integers(0, 5), st.sampled_from([{}, {"fr": 2}]),
              st.sampled_from([None, *AGENTS])),
    st.tuples(st.just("answer"), st.integers(0, 50)),
    st.tuples(st.just("fail"), st.integers(0, 50)),
    st.tuples(st.just("hangup_caller"), st.integers(0, 50)),
    st.tuples(st.just("end_call"), st.sampled_from(AGENTS)),
    st.tuples(st.just("not_ready"), st.sampled_from(AGENTS)),
    st.tuples(st.just("not_ready"), st.sampled_from(AGENTS)),
    st.tuples(st.just("ready"), st.sampled_from(AGENTS)),
    st.tuples(st.just("logout"), st.sampled_from(AGENTS)),
    st.tuples(st.just("login"), st.sampled_from(AGENTS)),
    st.tuples(st.just("unregister"), st.sampled_from(AGENTS)),
    st.tuples(st.just("register"), st.sampled_from(AGENTS)),
    st.tuples(st.just("wait"), st.floats(0.1, 40)),
)


def _build(strategy: Strategy) -> Distributor:
    overflow = (OverflowStep(after=30, drop_skills=("fr",)), OverflowStep(after=60, add_queues=("support",)),
                OverflowStep(after=200, action=ExitAction.CALLBACK))
    queues = {"sales": QueueConfig("sales", strategy=strategy, wrap_up_seconds=5, offer_timeout=10, max_wait=300,
                                   sticky=StickyPolicy(max_wait=25), overflow=overflow),
              "support": QueueConfig("support", strategy=strategy, wrap_up_seconds=5, offer_timeout=10,
                                     max_wait=300)}
    agents = [Agent(a, skills={"fr": i % 4}, queues={q: {} for q in QUEUES[: 1 + i % 2]}) for i, a in enumerate(AGENTS)]
    d = Distributor(queues, agents)
    for a in AGENTS:
        d.login(a, 0)
    return d


def _check_no_double_booking(d: Distributor) -> None:
    holders: dict[str, list[str]] = {}
    for agent in d.agents.values():
        if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
            assert agent.current_call, agent
            holders.setdefault(agent.current_call, []).append(agent.agent_id)
        if agent.state is AgentState.RINGING:
            caller = d.waiting[agent.current_call]
            assert agent.agent_id in caller.offered_to
    for caller in d.waiting.values():
        for agent_id in caller.offered_to:
            agent = d.agents[agent_id]
            assert agent.state is AgentState.RINGING and agent.current_call == caller.call_id
    on_call = [a.current_call for a in d.agents.values() if a.state is AgentState.ON_CALL]
    assert len(on_call) == len(set(on_call)), "one call bridged to two agents"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(Strategy)), st.lists(op, max_size=60))
def test_no_agent_is_ever_offered_two_callers(strategy, ops):
    d = _build(strategy)
    now, n = 0.0, 0
    calls: list[str] = []
    for item in ops:
        kind = item[0]
        offerable = {a.agent_id for a in d.agents.values() if a.can_take_offer}
        intents = []
        if kind == "enqueue":
            n += 1
            calls.append(f"c{n}")
            intents = d.enqueue(WaitingCaller(f"c{n}", item[1], now, priority=item[2], required_skills=item[3],
                                              sticky_agent=item[4]), now)
        elif kind in ("answer", "fail", "hangup_caller") and calls:
            call = calls[item[1] % len(calls)]
            ringing = [a for a in d.agents.values() if a.state is AgentState.RINGING and a.current_call == call]
            if kind == "hangup_caller":
                intents = d.caller_left(call, now)
            elif ringing:
                fn = d.offer_answered if kind == "answer" else d.offer_failed
                intents = fn(call, ringing[0].agent_id, now)
        elif kind == "end_call":
            intents = d.call_ended(item[1], now)
        elif kind == "not_ready":
            intents = d.set_not_ready(item[1], "break", now)
        elif kind == "ready" and d.agents[item[1]].state is not AgentState.LOGGED_OUT:
            intents = d.set_ready(item[1], now)
        elif kind == "logout":
            intents = d.logout(item[1], now)
        elif kind == "login":
            intents = d.login(item[1], now)
        elif kind in ("register", "unregister"):
            intents = d.set_registered(item[1], kind == "register", now)
        elif kind == "wait":
            now += item[1]
            intents = d.tick(now)
        for offer in (i for i in intents if isinstance(i, Offer)):
            for agent_id in offer.agent_ids:
                agent = d.agents[agent_id]
                registered_now = kind == "register" and item[1] == agent_id
                assert agent_id in offerable or registered_now or _freed_in(intents, agent_id), (agent_id, kind)
                assert offer.queue in agent.queues or any(q in agent.queues for q in d.waiting[offer.call_id].extra_queues)
        _check_no_double_booking(d)
        _check_nobody_waits_beside_a_free_qualified_agent(d, now)


def _check_nobody_waits_beside_a_free_qualified_agent(d: Distributor, now: float) -> None:
    """Distribution never silently stops: a caller left waiting has no free agent it could be offered to."""
    for caller in d.waiting.values():
        if caller.offered_to:
            continue
        queue = d.queues[caller.queue]
        if d._in_sticky_window(caller, queue, now):
            continue
        for name in (caller.queue, *caller.extra_queues):
            need = d._requirement(caller, name)
            for agent in d.agents.values():
                if name in agent.queues and agent.can_take_offer and agent.agent_id not in caller.declined_by:
                    assert not agent.qualifies(name, need), f"{caller.call_id} waits while {agent.agent_id} is free"


def _freed_in(intents, agent_id) -> bool:
    """The agent became available during this same step (e.g. its previous caller hung up), then got an offer."""
    from engine.acd.intents import AgentStateChanged
    return any(isinstance(i, AgentStateChanged) and i.agent_id == agent_id and i.new is AgentState.AVAILABLE
               for i in intents)


def _serve_checking_order(arrivals, aging, service_seconds) -> list[str]:
    """One agent, one queue; arrivals (time, priority) sorted by time. At every offer, check the chosen
    caller against everyone else still waiting. Returns the order callers were served."""
    d = Distributor({"q": QueueConfig("q", aging_per_minute=aging, wrap_up_seconds=0)}, [Agent("1001", queues={"q": {}})])
    d.login("1001", 0)
    bound = 9 / (aging / 60.0)  # seconds after which a newcomer can never outrank an older caller
    served: list[str] = []
    pending = list(enumerate(arrivals))
    now = 0.0
    while pending or d.waiting:
        agent = d.agents["1001"]
        if agent.state is AgentState.RINGING:
            chosen = d.waiting[agent.current_call]
            for other in d.waiting.values():
                if other is chosen:
                    continue
                dominates = other.enqueued_at <= chosen.enqueued_at and other.priority >= chosen.priority and \
                    (other.enqueued_at, other.priority) != (chosen.enqueued_at, chosen.priority)
                assert not dominates, f"{other.call_id} is older with higher-or-equal priority than {chosen.call_id}"
                assert chosen.enqueued_at - other.enqueued_at <= bound, \
                    f"starvation: {chosen.call_id} overtook {other.call_id}, who arrived far earlier"
            served.append(chosen.call_id)
            d.offer_answered(chosen.call_id, "1001", now)
            now += service_seconds
            while pending and pending[0][1][0] <= now:  # everyone who arrived during the call queues up
                i, (at, priority) = pending.pop(0)
                d.enqueue(WaitingCaller(f"c{i}", "q", at, priority=priority), now)
            d.call_ended("1001", now)
            d.tick(now)
            continue
        if not pending:
            break
        i, (at, priority) = pending.pop(0)
        now = max(now, at)
        d.enqueue(WaitingCaller(f"c{i}", "q", at, priority=priority), now)
    return served


arrival_list = st.lists(st.tuples(st.floats(0, 600), st.integers(0, 9)), min_size=1, max_size=40).map(
    lambda xs: sorted(xs, key=lambda x: x[0]))


@settings(max_examples=150, deadline=None)
@given(arrival_list, st.sampled_from([0.5, 1.0, 6.0]), st.floats(5, 120))
def test_priority_order_is_respected_and_nobody_starves(arrivals, aging, service):
    served = _serve_checking_order(arrivals, aging, service)
    assert sorted(served) == sorted(f"c{i}" for i in range(len(arrivals)))  # everyone is served


# ----- scarce agents are spared ------------------------------------------------------------------------------
SKILLS = ("vip", "fr")
pool_agent = st.tuples(st.fixed_dictionaries({s: st.integers(0, 2) for s in SKILLS}),
                       st.sets(st.sampled_from(("general", "vip", "french")), min_size=1),
                       st.booleans(), st.integers(0, 100), st.integers(0, 20))
scarce_pool = st.tuples(st.lists(pool_agent, min_size=1, max_size=8), st.sampled_from(list(Strategy)),
                        st.sampled_from(["general", "vip", "french"]), st.sampled_from([{}, {"fr": 1}]),
                        st.booleans())


def _scarce_setup(agents, strategy, preserve):
    queues = {"general": QueueConfig("general", strategy=strategy, preserve_scarce_agents=preserve, random_seed=3),
              "vip": QueueConfig("vip", strategy=strategy, skills={"vip": 1}, preserve_scarce_agents=preserve),
              "french": QueueConfig("french", strategy=strategy, skills={"fr": 2}, preserve_scarce_agents=preserve)}
    people = [Agent(f"a{i}", skills=skills, queues={q: {} for q in member_of}, idle_since=idle, calls_handled=calls)
              for i, (skills, member_of, _ready, idle, calls) in enumerate(agents)]
    d = Distributor(queues, people)
    for i, (_skills, _member_of, ready, _idle, _calls) in enumerate(agents):
        d.login(f"a{i}", 0, ready=ready)
    for agent, (_s, _m, _r, idle, _c) in zip(people, agents):
        agent.idle_since = float(idle)  # login stamps the time; the pool's idle order is part of the example
    return d


def _wanted(d: Distributor, queue: str, need: dict) -> dict:
    return {s: max(d.queues[queue].skills.get(s, 0), need.get(s, 0)) for s in {*d.queues[queue].skills, *need}}


def _eligible(d: Distributor, queue: str, need: dict) -> list[Agent]:
    wanted = _wanted(d, queue, need)
    return [a for a in d.agents.values() if a.can_take_offer and queue in a.queues and a.qualifies(queue, wanted)]


def _sole_server_of(d: Distributor, agent: Agent, serving: str) -> list[str]:
    """Other queues this available agent is the only available, qualified member of."""
    sole = []
    for name in agent.queues:
        if name == serving or not agent.qualifies(name, d.queues[name].skills):
            continue
        if not any(o is not agent and o.can_take_offer and name in o.queues and o.qualifies(name, d.queues[name].skills)
                   for o in d.agents.values()):
            sole.append(name)
    return sole


def _offered(intents) -> list[str]:
    return [agent_id for i in intents if isinstance(i, Offer) for agent_id in i.agent_ids]


@settings(max_examples=400, deadline=None)
@given(scarce_pool)
def test_the_offered_agent_is_always_eligible(example):
    agents, strategy, queue, need, preserve = example
    d = _scarce_setup(agents, strategy, preserve)
    eligible = {a.agent_id for a in _eligible(d, queue, need)}
    offered = _offered(d.enqueue(WaitingCaller("c1", queue, 0.0, required_skills=need), 0.0))
    assert set(offered) <= eligible
    assert bool(offered) == bool(eligible)  # sparing never leaves a caller waiting beside a free agent


@settings(max_examples=400, deadline=None)
@given(scarce_pool)
def test_a_sole_server_of_another_queue_is_not_chosen_while_an_agent_without_other_duties_is_free(example):
    agents, strategy, queue, need, _ = example
    d = _scarce_setup(agents, strategy, True)
    eligible = _eligible(d, queue, need)
    free_of_duties = [a for a in eligible
                      if not any(n != queue and d.queues[n].skills and a.qualifies(n, d.queues[n].skills)
                                 or n != queue and not d.queues[n].skills for n in a.queues)]
    offered = _offered(d.enqueue(WaitingCaller("c1", queue, 0.0, required_skills=need), 0.0))
    if free_of_duties:
        for agent_id in offered:
            assert not _sole_server_of(d, d.agents[agent_id], queue), (agent_id, [a.agent_id for a in free_of_duties])


@settings(max_examples=300, deadline=None)
@given(scarce_pool)
def test_turning_sparing_off_restores_the_queue_strategy_order(example):
    import random

    from engine.acd.strategies import choose_agents

    agents, strategy, queue, need, _ = example
    d = _scarce_setup(agents, strategy, False)
    eligible = _eligible(d, queue, need)
    wanted = _wanted(d, queue, need)
    expected = [a.agent_id for a in choose_agents(strategy, eligible, queue=queue, requirement=wanted,
                                                  rng=random.Random(d.queues[queue].random_seed))]
    assert _offered(d.enqueue(WaitingCaller("c1", queue, 0.0, required_skills=need), 0.0)) == expected


def test_the_only_vip_agent_is_kept_for_the_vip_caller_who_calls_next():
    # Given the demo's pool: one agent with the vip skill, two general agents, everyone in both queues
    queues = {"general": QueueConfig("general"), "vip": QueueConfig("vip", skills={"vip": 1})}
    people = [Agent("1001", skills={"vip": 9}), Agent("1002"), Agent("1003")]
    d = Distributor(queues, people)
    for agent_id, idle in (("1001", 0.0), ("1002", 5.0), ("1003", 6.0)):
        d.login(agent_id, idle, {"general": {}, "vip": {}})  # 1001 has been idle the longest
    # When an unknown caller reaches the general queue, then a VIP caller the VIP queue
    general = _offered(d.enqueue(WaitingCaller("c1", "general", 10.0), 10.0))
    vip = _offered(d.enqueue(WaitingCaller("c2", "vip", 11.0), 11.0))
    # Then the general caller gets a general agent and the VIP caller the VIP agent at once
    assert general == ["1002"] and vip == ["1001"]
    # And with sparing off, longest-idle gives the VIP agent away and the VIP caller waits
    queues = {name: dataclasses.replace(q, preserve_scarce_agents=False) for name, q in queues.items()}
    d = Distributor(queues, [Agent("1001", skills={"vip": 9}), Agent("1002"), Agent("1003")])
    for agent_id, idle in (("1001", 0.0), ("1002", 5.0), ("1003", 6.0)):
        d.login(agent_id, idle, {"general": {}, "vip": {}})
    assert _offered(d.enqueue(WaitingCaller("c1", "general", 10.0), 10.0)) == ["1001"]
    assert _offered(d.enqueue(WaitingCaller("c2", "vip", 11.0), 11.0)) == []
