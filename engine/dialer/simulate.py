"""Discrete-event outbound dialer simulation in simulated time, driving the production pacing policies.

How it works. One campaign day: `agents` agents logged in for `hours`; every `tick` seconds the policy is
asked `calls_to_place(state, now)` with a `PacingState` snapshot, and that many calls are placed. Each
placed call draws its fate from its own random stream (so policies meet the same leads): busy (after 3 s),
a human answer (p, possibly drifting), an answering machine, or no answer (ends at the no-answer timeout).
Humans answer after 6-10 s (75 %) or 18-22 s (25 %); machines after 18-22 s. Without AMD every answer goes
to the agent queue; with AMD the verdict comes `amd_seconds` after the answer, and a machine taken for a
human goes to the queue too (it counts as a live answer), while a human taken for a machine is hung up
(reported as AMD false positives, which Ofcom counts as abandoned calls). A routed call waits at most the
safe harbour (2 s) for an agent, else it is abandoned. Humans talk a lognormal time; a machine costs its
agent `machine_seconds` and no wrap-up; a human call is followed by `wrap_up` seconds.
"""
from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass

from engine.dialer.pacing import PacingHistory, PacingPolicy, PacingState, make_policy

BUSY_SECONDS = 3.0
DAY_START = 9 * 3600.0  # simulated time is seconds since local midnight; the day starts at 09:00

# event kinds, in the order they are handled when due at the same instant
_RESOLVE, _ROUTE, _TALK_END, _WRAP_END, _ABANDON, _TICK = range(6)


@dataclass(frozen=True)
class SimParams:
    """One grid cell: the campaign's agents, leads and handling times."""

    agents: int = 50
    live_p: float = 0.25
    drift: bool = False          # live-answer probability 0.25 +/- 0.10, a sine over 4 h
    machine_p: float = 0.15
    busy_p: float = 0.05
    no_answer_seconds: float = 25.0
    talk_mean: float = 180.0
    talk_sigma: float = 0.8      # of the underlying normal; coefficient of variation about 0.94
    wrap_up: float = 15.0
    amd_accuracy: float | None = None
    amd_seconds: float = 2.5
    machine_seconds: float = 8.0
    safe_harbour: float = 2.0
    hours: float = 8.0
    tick: float = 1.0

    def live_probability(self, now: float) -> float:
        if not self.drift:
            return self.live_p
        return 0.25 + 0.10 * math.sin(2 * math.pi * (now - DAY_START) / (4 * 3600.0))

    @property
    def limit(self) -> float:
        """Physical limit: talk minutes per agent-hour with zero idle."""
        return self.talk_mean / (self.talk_mean + self.wrap_up) * 60.0


@dataclass(frozen=True)
class DayResult:
    """What one simulated day gave for one policy."""

    policy: str
    seed: int
    talk_min_per_agent_hour: float
    occupancy: float
    abandon_pct: float
    worst_hour_abandon_pct: float
    idle_mean: float
    idle_p95: float
    calls_per_hour: float
    live_answers: int
    abandoned: int
    amd_false_positive_pct: float


class _Call:
    __slots__ = ("placed", "human", "answered", "waiting")

    def __init__(self, placed: float) -> None:
        self.placed = placed
        self.human = False
        self.answered = False  # with AMD: answered, verdict pending
        self.waiting = False


def simulate_day(params: SimParams, policy: PacingPolicy | str, seed: int) -> DayResult:
    """Run one day of `params` under `policy` with `seed`; return its figures."""
    if isinstance(policy, str):
        policy = make_policy(policy)
    leads = random.Random(seed * 7919 + 1)   # call fates, in placement order
    talks = random.Random(seed * 7919 + 2)   # talk times, in connection order
    amd = random.Random(seed * 7919 + 3)
    mu = math.log(params.talk_mean) - params.talk_sigma ** 2 / 2
    start, end = DAY_START, DAY_START + params.hours * 3600.0
    history = PacingHistory()
    events: list = []
    seq = 0

    def push(at: float, kind: int, item: object) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, kind, seq, item))

    ready: deque = deque((agent, start) for agent in range(params.agents))  # (agent, ready since)
    talking: dict[int, float] = {}
    wrapping: dict[int, float] = {}
    ringing: dict[_Call, float] = {}
    waiting: deque = deque()
    idle: list[float] = []
    hour_live = [0] * (int(params.hours) + 1)
    hour_abandoned = [0] * (int(params.hours) + 1)
    placed = 0
    talk_seconds = busy_seconds = 0.0
    humans_answered = amd_hangups = 0

    def connect(call: _Call, agent: int, since: float, now: float) -> None:
        nonlocal talk_seconds, busy_seconds
        idle.append(now - since)
        history.call_connected(now, machine=not call.human)
        hour_live[int((now - start) // 3600)] += 1
        if call.human:
            talk = talks.lognormvariate(mu, params.talk_sigma)
            wrap = params.wrap_up
            talk_seconds += min(talk, end - now)
        else:
            talk, wrap = params.machine_seconds, 0.0
        busy_seconds += min(talk + wrap, end - now)
        talking[agent] = now
        push(now + talk, _TALK_END, (agent, talk, wrap))

    def agent_free(agent: int, now: float) -> None:
        while waiting:
            call = waiting.popleft()
            if call.waiting:
                call.waiting = False
                connect(call, agent, now, now)
                return
        ready.append((agent, now))

    def route(call: _Call, now: float) -> None:
        del ringing[call]
        history.call_resolved(now, now - call.placed, True)
        if ready:
            agent, since = ready.popleft()
            connect(call, agent, since, now)
        else:
            call.waiting = True
            waiting.append(call)
            push(now + params.safe_harbour, _ABANDON, call)

    push(start, _TICK, None)
    while events:
        now, kind, _, item = heapq.heappop(events)
        if now >= end:
            break
        if kind == _TICK:
            state = PacingState(agents_logged_in=params.agents, agents_ready=len(ready),
                                talk_started=tuple(talking.values()), wrap_up_ends=tuple(wrapping.values()),
                                ringing_started=tuple(ringing.values()),
                                calls_waiting=sum(1 for c in waiting if c.waiting), history=history)
            for _ in range(policy.calls_to_place(state, now)):
                placed += 1
                history.call_placed(now)
                call = _Call(now)
                ringing[call] = now
                u, p = leads.random(), params.live_probability(now)
                answer = leads.uniform(6.0, 10.0) if leads.random() < 0.75 else leads.uniform(18.0, 22.0)
                late = leads.uniform(18.0, 22.0)
                if u < params.busy_p:
                    push(now + BUSY_SECONDS, _RESOLVE, call)
                elif u < params.busy_p + p:
                    call.human = True
                    humans_answered += 1
                    push(now + answer, _ROUTE, call)
                elif u < params.busy_p + p + params.machine_p:
                    push(now + late, _ROUTE, call)
                else:
                    push(now + params.no_answer_seconds, _RESOLVE, call)
            push(now + params.tick, _TICK, None)
        elif kind == _RESOLVE:
            del ringing[item]
            history.call_resolved(now, now - item.placed, False)
        elif kind == _ROUTE:
            call = item
            if params.amd_accuracy is None:
                route(call, now)
            elif not call.answered:
                call.answered = True
                push(now + params.amd_seconds, _ROUTE, call)
            else:
                right = amd.random() < params.amd_accuracy
                if call.human == right:  # a human seen as human, or a machine seen as human
                    route(call, now)
                else:
                    amd_hangups += call.human
                    del ringing[call]
                    history.call_resolved(now, now - call.placed, False)
        elif kind == _TALK_END:
            agent, talk, wrap = item
            del talking[agent]
            if wrap > 0:
                wrapping[agent] = now + wrap
                push(now + wrap, _WRAP_END, (agent, talk, wrap))
            else:
                history.call_handled(talk, wrap)
                agent_free(agent, now)
        elif kind == _WRAP_END:
            agent, talk, wrap = item
            del wrapping[agent]
            history.call_handled(talk, wrap)
            agent_free(agent, now)
        elif kind == _ABANDON:
            if item.waiting:
                item.waiting = False
                history.call_abandoned(now, machine=not item.human)
                hour = int((now - start) // 3600)
                hour_live[hour] += 1
                hour_abandoned[hour] += 1

    live = history.live_answers
    worst = max((100.0 * a / n for a, n in zip(hour_abandoned, hour_live) if n >= 20), default=0.0)
    idle.sort()
    agent_hours = params.agents * params.hours
    return DayResult(
        policy=policy.name, seed=seed,
        talk_min_per_agent_hour=talk_seconds / 60.0 / agent_hours,
        occupancy=busy_seconds / (agent_hours * 3600.0),
        abandon_pct=100.0 * history.abandoned / live if live else 0.0,
        worst_hour_abandon_pct=worst,
        idle_mean=sum(idle) / len(idle) if idle else 0.0,
        idle_p95=idle[min(len(idle) - 1, int(0.95 * len(idle)))] if idle else 0.0,
        calls_per_hour=placed / params.hours,
        live_answers=live, abandoned=history.abandoned,
        amd_false_positive_pct=100.0 * amd_hangups / humans_answered if humans_answered else 0.0)

