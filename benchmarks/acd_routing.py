"""Benchmark: cost of ACD routing decisions (in process, simulated time) at 1/10 and full size.

Full size: 5,000 agents, 500 queues, 50 skills, 100 enqueues/s and 500 agent state changes/s; the tenth
size divides agents, queues and both rates by 10 (agents per queue and skills stay the same). Every call
into the distributor (enqueue, answer, no-answer, hang-up, call end, ready/not-ready, timer tick) is one
event, and so is each timer run when it falls due; its wall time is measured. The cost ratio compares the mean cost per event of the full size with
the tenth size: near 1 means the cost does not grow with queues x members. The full size runs again with
`preserve_scarce_agents` off in every queue, and `sparing_cost_ratio` compares the mean cost per event with
sparing on (the default) to that baseline.
Last line: `acd_routing: p99_decision_ms=<x> events_per_s=<y> cost_ratio_full_vs_tenth=<z> sparing_cost_ratio=<s>`.
"""
from __future__ import annotations

import argparse
import gc
import heapq
import itertools
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.acd.distributor import Distributor  # noqa: E402
from engine.acd.intents import Offer  # noqa: E402
from engine.acd.models import Agent, AgentState, QueueConfig, Strategy, WaitingCaller  # noqa: E402

SKILLS = [f"skill{n:02d}" for n in range(50)]


def build(agents: int, queues: int, rng: random.Random, sparing: bool = True) -> Distributor:
    strategies = list(Strategy)
    configs = {}
    queue_skills = {}
    for q in range(queues):
        name = f"q{q:03d}"
        skills = rng.sample(SKILLS, 2)
        queue_skills[name] = skills
        configs[name] = QueueConfig(name, strategy=strategies[q % len(strategies)],
                                    skills={skills[0]: rng.randint(1, 3)}, wrap_up_seconds=5, offer_timeout=15,
                                    max_wait=300, random_seed=q, preserve_scarce_agents=sparing)
    names = list(configs)
    people = []
    for a in range(agents):
        member_of = rng.sample(names, 3)
        skills = {s: rng.randint(1, 10) for s in rng.sample(SKILLS, 4)}
        for name in member_of:
            for s in queue_skills[name]:
                skills[s] = max(skills.get(s, 0), rng.randint(2, 10))
        people.append(Agent(f"{1000 + a}", skills=skills, queues={n: {} for n in member_of}))
    d = Distributor(configs, people)
    d.queue_skills = queue_skills  # type: ignore[attr-defined]
    return d


def run(agents: int, queues: int, enqueue_rate: float, change_rate: float, seconds: float, seed: int = 1,
        sparing: bool = True):
    """Simulate `seconds` of traffic; return the per-event wall times in seconds."""
    rng = random.Random(seed)
    d = build(agents, queues, rng, sparing)
    timings: list[float] = []
    schedule: list[tuple[float, int, str, tuple]] = []
    seq = itertools.count()

    def at(t: float, kind: str, *args) -> None:
        heapq.heappush(schedule, (t, next(seq), kind, args))

    def timed(fn, *args):
        started = time.perf_counter()
        intents = fn(*args)
        timings.append(time.perf_counter() - started)
        return intents

    def react(intents, now: float) -> None:
        for intent in intents:
            if isinstance(intent, Offer):
                for agent_id in intent.agent_ids:
                    if rng.random() < 0.9:
                        at(now + rng.uniform(1, 6), "answer", intent.call_id, agent_id)
                    else:
                        at(now + intent.timeout, "no_answer", intent.call_id, agent_id)

    for agent_id in d.agents:
        react(timed(d.login, agent_id, 0.0), 0.0)
    timings.clear()
    gc.collect()
    gc.freeze()  # the long-lived setup (agents, queues) is not rescanned by every collection, as in a daemon
    names = list(d.queues)
    t, n = 0.0, 0
    while t < seconds:
        t += rng.expovariate(enqueue_rate)
        at(t, "arrive")
    t = 0.0
    while t < seconds:
        t += rng.expovariate(change_rate)
        at(t, "toggle", rng.choice(list(d.agents)))
    while schedule:
        now, _, kind, args = heapq.heappop(schedule)
        due = d.next_timer()
        while due is not None and due <= now:  # timers run when due, as the service's timer greenlet does
            react(timed(d.tick, due), due)
            due = d.next_timer()
        if kind == "arrive":
            n += 1
            name = rng.choice(names)
            extra = {d.queue_skills[name][1]: 2} if rng.random() < 0.3 else {}  # type: ignore[attr-defined]
            caller = WaitingCaller(f"c{n}", name, now, priority=rng.randint(0, 9), required_skills=extra)
            react(timed(d.enqueue, caller, now), now)
            at(now + rng.uniform(30, 240), "give_up", caller.call_id)
        elif kind == "answer":
            call_id, agent_id = args
            intents = timed(d.offer_answered, call_id, agent_id, now)
            react(intents, now)
            if d.agents[agent_id].state is AgentState.ON_CALL and d.agents[agent_id].current_call == call_id:
                at(now + rng.expovariate(1 / 30), "hang_up", agent_id, call_id)
        elif kind == "no_answer":
            react(timed(d.offer_failed, args[0], args[1], now), now)
        elif kind == "give_up":
            react(timed(d.caller_left, args[0], now), now)
        elif kind == "hang_up":
            agent = d.agents[args[0]]
            if agent.state is AgentState.ON_CALL and agent.current_call == args[1]:
                react(timed(d.call_ended, args[0], now), now)
        elif kind == "toggle":
            agent = d.agents[args[0]]
            if agent.state is AgentState.NOT_READY:
                react(timed(d.set_ready, args[0], now), now)
            else:
                react(timed(d.set_not_ready, args[0], "break", now), now)
    gc.unfreeze()
    return timings


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="simulated seconds at each size")
    opts = parser.parse_args()
    results = {}
    for label, scale in (("tenth", 10), ("full", 1)):
        timings = run(5000 // scale, 500 // scale, 100 / scale, 500 / scale, opts.seconds)
        total = sum(timings)
        results[label] = (timings, total / len(timings))
        print(f"{label}: agents={5000 // scale} queues={500 // scale} events={len(timings)} "
              f"mean_us={total / len(timings) * 1e6:.1f} p99_ms={p99(timings) * 1e3:.3f} "
              f"events_per_s={len(timings) / total:.0f}")
    plain = run(5000, 500, 100, 500, opts.seconds, sparing=False)
    print(f"full without sparing: events={len(plain)} mean_us={sum(plain) / len(plain) * 1e6:.1f} "
          f"p99_ms={p99(plain) * 1e3:.3f} events_per_s={len(plain) / sum(plain):.0f}")
    full, mean_full = results["full"]
    ratio = mean_full / results["tenth"][1]
    print(f"acd_routing: p99_decision_ms={p99(full) * 1e3:.3f} events_per_s={len(full) / sum(full):.0f} "
          f"cost_ratio_full_vs_tenth={ratio:.2f} sparing_cost_ratio={mean_full / (sum(plain) / len(plain)):.2f}")


if __name__ == "__main__":
    main()
