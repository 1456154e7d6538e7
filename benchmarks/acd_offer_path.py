"""Benchmark: the agent's 200 OK -> CHANNEL_BRIDGE of the caller, on the simulator with a real switch's latencies.

The simulator's latency model is set from figures measured on a real FreeSWITCH (issue 14.2): 5 ms from the
agent's 200 OK until sofia marks the leg answered, 12 ms until an event is on the ESL socket (17 ms in all
until the engine has CHANNEL_ANSWER), the originate returning 20 ms after the answer (capture 04f), and 28 ms
for a caller to leave its hold music after uuid_break / uuid_bridge. The ACD runs over real sockets with a
real SQLite store, in three configurations measured in the same run:

- `sync-store`   the engine before this change: store writes (agent state, interaction) inside the event
                 handler, then `uuid_break` and `uuid_bridge` as two blocking round trips;
- `write-behind` store writes queued behind the call path (journaled), one-step `uuid_bridge`;
- `on-answer`    the production setting: as write-behind, and FreeSWITCH bridges on the answer itself
                 (`api_on_answer`) for offers to one agent without whisper.

Each runs sequential calls (one at a time) and a burst (every caller at once, half as many agents). The
simulator runs in its own process, as FreeSWITCH does, so the engine's CPU work (SQLite writes included)
cannot slow the switch down; the engine subscribes to the events the ACD uses (`--all-events`: ALL).
`store_writes_on_path` is the most store writes any call saw between its answer event reaching the engine
and its bridge command leaving it (0 when FreeSWITCH bridges by itself). `lost_legs` counts callers whose
conversation the engine never saw end (issue 14.1). mod_callcenter's figures on the same real switch
(p50 44 ms, p95 57 ms) are printed as the reference. Last line: the production setting, the worse of its
sequential and burst figures:
`acd_offer_path: calls=<n> p50_answer_to_bridge_ms=<x> p95_answer_to_bridge_ms=<y> store_writes_on_path=<k> lost_legs=0`.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time

from gevent import monkey

monkey.patch_all()

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gevent  # noqa: E402

from engine.acd.assembly import ACD_EVENTS  # noqa: E402
from engine.acd.legs import SwitchLegs  # noqa: E402
from engine.acd.models import Agent, QueueConfig  # noqa: E402
from engine.acd.ports import MemoryRecords  # noqa: E402
from engine.acd.service import QueueService  # noqa: E402
from engine.acd.store_adapters import StoreAgentLog, StoreInteractions  # noqa: E402
from engine.acd.write_behind import WriteBehind, WriteBehindAgentLog, WriteBehindInteractions  # noqa: E402
from engine.esl import commands  # noqa: E402
from engine.esl.connection import CallHungUp, InboundConnection, OutboundServer  # noqa: E402
from engine.ivr.ports import QueueOutcome, QueueRequest  # noqa: E402
from engine.sim import FreeSwitchSim  # noqa: E402
from engine.store.database import open_store  # noqa: E402
from engine.store.repos.agents import AgentRepository  # noqa: E402
from engine.store.repos.interactions import InteractionRepository  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from remote_sim import JsonLineProcess  # noqa: E402

PASSWORD = "offer-path"
DID = "5000"
MOD_CALLCENTER = (44.0, 57.0)  # p50, p95 ms on the same real switch (issue 14.2)
# The engine's control connection subscribes to the events the ACD acts on (engine.acd.assembly.ACD_EVENTS);
# `--all-events` subscribes to ALL, as the daemon does today (the Python simulator then spends its CPU on events).
EVENTS = list(ACD_EVENTS)
REAL = {"answer_signal": 0.005, "event_delivery": 0.012, "originate_return": 0.020, "media_break": 0.028}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class TwoStepLegs(SwitchLegs):
    """The engine before this change: stop the music, then bridge (two blocking round trips)."""

    def bridge_now(self, caller_uuid: str, agent_leg: str) -> str:
        self.control.api(commands.uuid_break(caller_uuid))
        return self.control.api(commands.uuid_bridge(caller_uuid, agent_leg))


class Probe:
    """Timestamps of store writes, of answer events reaching the engine and of bridge commands leaving it."""

    def __init__(self) -> None:
        self.writes: list[float] = []
        self.answered: dict[str, float] = {}
        self.bridge_sent: dict[str, float] = {}

    def count_writes(self, repository: object, *names: str) -> None:
        for name in names:
            method = getattr(repository, name)

            def counted(*args, _method=method, **kwargs):
                self.writes.append(time.monotonic())
                return _method(*args, **kwargs)
            setattr(repository, name, counted)

    def writes_on_path(self) -> int:
        worst = 0
        for leg, start in self.answered.items():
            end = self.bridge_sent.get(leg)
            if end is not None:
                worst = max(worst, sum(1 for t in self.writes if start <= t <= end))
        return worst


class RemoteSwitch(JsonLineProcess):
    """The simulator in its own process, as FreeSWITCH is: the engine's CPU work must not slow the switch."""

    def __init__(self, time_scale: float) -> None:
        super().__init__([sys.executable, os.path.abspath(__file__), "--switch", str(time_scale)])

    def close(self) -> None:
        self.ask(cmd="quit")
        self.proc.wait(10)


def serve_switch(time_scale: float) -> None:
    """The child process: a simulator driven by JSON lines on stdin (setup, place, wait, quit)."""
    from gevent.fileobject import FileObjectThread
    sim = FreeSwitchSim(password=PASSWORD, time_scale=time_scale)
    for name, value in REAL.items():
        setattr(sim.switch.latency, name, value)
    sim.start()
    samples: list[float] = []

    def collect(channel) -> None:  # every agent leg, when it is destroyed
        if channel.direction == "outbound" and channel.ok_at and channel.bridged_at:
            samples.append((channel.bridged_at - channel.ok_at) * 1000.0)
    sim.switch.on_channel_destroy.append(collect)
    out = sys.stdout
    out.write(json.dumps({"port": sim.address[1]}) + "\n")
    out.flush()
    calls: dict[str, object] = {}
    for line in FileObjectThread(sys.stdin, "r"):
        command = json.loads(line)
        reply: dict = {"ok": True}
        if command["cmd"] == "setup":
            pace = random.Random(7)  # people answer after 1.5-3.5 s (simulated), the same draws every time
            for person in command["agents"]:
                sim.add_endpoint(person, answer_after=pace.uniform(1.5, 3.5), hangup_after=4)
            sim.route(DID, socket="%s async full" % command["route"])
            sim.set_sound(commands.MUSIC_ON_HOLD, 3600)
        elif command["cmd"] == "place":
            call = sim.place_call(DID, command["number"])
            calls[call.uuid] = call
            reply["uuid"] = call.uuid
        elif command["cmd"] == "wait_ended":
            reply["ended"] = sim.wait_until(lambda: command["uuid"] not in sim.channels, command["timeout"])
        elif command["cmd"] == "wait_idle":
            reply["idle"] = sim.wait_until(lambda: not sim.channels, command["timeout"])
            reply["samples"], samples[:] = list(samples), []
        elif command["cmd"] == "quit":
            out.write(json.dumps(reply) + "\n")
            out.flush()
            break
        out.write(json.dumps(reply) + "\n")
        out.flush()
    sim.stop()


def run(mode: str, calls: int, agents: int, burst: bool, time_scale: float, workdir: str) -> dict:
    switch = RemoteSwitch(time_scale)
    control = InboundConnection("127.0.0.1", switch.port, PASSWORD, heartbeat_timeout=30, events=EVENTS).start()
    assert control.wait_connected(5), "cannot connect to the simulator"
    store = open_store(f"sqlite:///{os.path.join(workdir, f'{mode}-{int(burst)}.db')}")
    store.create_all()
    people = [str(3000 + i) for i in range(agents)]
    agent_repo, interaction_repo = AgentRepository(store), InteractionRepository(store)
    for person in people:
        agent_repo.add(person, extension=person)
    probe = Probe()
    probe.count_writes(agent_repo, "record_state_change")
    probe.count_writes(interaction_repo, "start", "update")
    agent_log, interactions = StoreAgentLog(agent_repo), StoreInteractions(interaction_repo)
    writes = None
    if mode != "sync-store":
        writes = WriteBehind(os.path.join(workdir, f"{mode}-{int(burst)}.journal")).start()
        agent_log, interactions = WriteBehindAgentLog(writes, agent_log), WriteBehindInteractions(writes, interactions)
    legs = (TwoStepLegs if mode == "sync-store" else SwitchLegs)(control)
    records = MemoryRecords()
    service = QueueService({"support": QueueConfig("support", wrap_up_seconds=0, offer_timeout=20)},
                           [Agent(p, extension=p) for p in people], legs=legs, clock=time.time,
                           agent_log=agent_log, interactions=interactions, callbacks=records, recordings=records,
                           bridge_on_answer=(mode == "on-answer"))
    answered, bridge_now = service.leg_answered, legs.bridge_now

    def leg_answered(leg_uuid: str) -> None:
        probe.answered.setdefault(leg_uuid, time.monotonic())
        answered(leg_uuid)

    def timed_bridge(caller_uuid: str, agent_leg: str) -> str:
        probe.bridge_sent.setdefault(agent_leg, time.monotonic())
        return bridge_now(caller_uuid, agent_leg)
    service.leg_answered, legs.bridge_now = leg_answered, timed_bridge
    reconciler = service.attach(control, reconcile_every=3600)
    service.start()
    outcomes: dict[str, object] = {}

    def flow(channel) -> None:
        try:
            outcomes[channel.uuid] = service.enqueue(channel, QueueRequest(queue="support", call_uuid=channel.uuid))
        except CallHungUp:
            outcomes[channel.uuid] = "hung up"
            raise
        channel.hangup()
    server = OutboundServer("127.0.0.1", 0, flow).start()
    switch.ask(cmd="setup", agents=people, route="%s:%d" % server.address)
    for person in people:
        service.login(person, ["support"])
    if writes is not None:
        writes.flush(10)
    placed = []
    for i in range(calls):
        placed.append(switch.ask(cmd="place", number="1380013%04d" % i)["uuid"])
        if not burst:
            switch.ask(cmd="wait_ended", uuid=placed[-1], timeout=30)
    samples = switch.ask(cmd="wait_idle", timeout=120)["samples"]
    deadline = time.monotonic() + 10
    while not all(u in outcomes for u in placed) and time.monotonic() < deadline:
        gevent.sleep(0.01)
    lost = sum(1 for u in placed if getattr(outcomes.get(u), "outcome", None) is not QueueOutcome.ANSWERED)
    result = {"calls": calls, "p50": percentile(samples, 0.5), "p95": percentile(samples, 0.95),
              "max": max(samples, default=float("nan")), "writes_on_path": probe.writes_on_path(), "lost": lost,
              "samples": len(samples)}
    service.stop()
    reconciler.stop()
    if writes is not None:
        writes.stop()
    server.stop(timeout=1)
    control.close()
    switch.close()
    store.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20, help="calls per traffic pattern and configuration")
    parser.add_argument("--agents", type=int, default=4, help="agents for sequential calls (burst: calls/2)")
    parser.add_argument("--time-scale", type=float, default=0.05, help="simulated human time per real second")
    parser.add_argument("--all-events", action="store_true", help="subscribe to ALL events (the daemon's default)")
    parser.add_argument("--switch", type=float, default=None, help=argparse.SUPPRESS)  # the simulator process
    args = parser.parse_args()
    if args.switch is not None:
        logging.basicConfig(level=logging.ERROR)
        serve_switch(args.switch)
        return
    logging.basicConfig(level=logging.ERROR)
    if args.all_events:
        EVENTS[:] = [commands.EV_ALL]
    print(f"reference mod_callcenter (real switch): p50_answer_to_bridge_ms={MOD_CALLCENTER[0]:.0f} "
          f"p95_answer_to_bridge_ms={MOD_CALLCENTER[1]:.0f}")
    final = None
    with tempfile.TemporaryDirectory() as workdir:
        for mode in ("sync-store", "write-behind", "on-answer"):
            worst = {"calls": 0, "p50": 0.0, "p95": 0.0, "writes_on_path": 0, "lost": 0}
            for burst in (False, True):
                agents = max(1, args.calls // 2) if burst else args.agents
                r = run(mode, args.calls, agents, burst, args.time_scale, workdir)
                print(f"{mode:12s} {'burst' if burst else 'sequential':10s} calls={r['calls']} agents={agents} "
                      f"p50_ms={r['p50']:.1f} p95_ms={r['p95']:.1f} max_ms={r['max']:.1f} "
                      f"store_writes_on_path={r['writes_on_path']} lost_legs={r['lost']} bridged={r['samples']}")
                worst = {"calls": worst["calls"] + r["calls"], "p50": max(worst["p50"], r["p50"]),
                         "p95": max(worst["p95"], r["p95"]),
                         "writes_on_path": max(worst["writes_on_path"], r["writes_on_path"]),
                         "lost": worst["lost"] + r["lost"]}
            final = worst
    assert final is not None
    print(f"acd_offer_path: calls={final['calls']} p50_answer_to_bridge_ms={final['p50']:.1f} "
          f"p95_answer_to_bridge_ms={final['p95']:.1f} store_writes_on_path={final['writes_on_path']} "
          f"lost_legs={final['lost']}")


if __name__ == "__main__":
    main()
