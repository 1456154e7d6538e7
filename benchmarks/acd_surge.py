"""Benchmark: a surge of 500 callers within one second at a 50-agent queue, on the simulator over real sockets.

Every call goes simulator -> `socket` app -> the engine's OutboundServer -> QueueService.enqueue, and the
agents' phones are rung with originate over the inbound connection. A call is *lost* when it ends without
an outcome (answered by an agent, or given overflow treatment: callback/timeout), or stays stuck.
`p99_enqueue_ms` is the time from the simulator placing the call to the caller being in the queue.
Last line: `acd_surge: calls=500 lost=0 p99_enqueue_ms=<x>`.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from gevent import monkey

monkey.patch_all()

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gevent  # noqa: E402

from engine.acd.bus import TOPIC_CALL  # noqa: E402
from engine.acd.legs import SwitchLegs  # noqa: E402
from engine.acd.models import Agent, AgentState, ExitAction, QueueConfig  # noqa: E402
from engine.acd.ports import MemoryRecords  # noqa: E402
from engine.acd.service import QueueService  # noqa: E402
from engine.esl import commands  # noqa: E402
from engine.esl.connection import CallHungUp, InboundConnection, OutboundServer  # noqa: E402
from engine.ivr.ports import QueueRequest  # noqa: E402
from engine.sim import FreeSwitchSim  # noqa: E402

PASSWORD = "surge"


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")


def run(calls: int, agents: int, time_scale: float, max_wait: float) -> tuple[int, int, float, dict]:
    sim = FreeSwitchSim(password=PASSWORD, time_scale=time_scale)
    sim.start()
    host, port = sim.address
    control = InboundConnection(host, port, PASSWORD, heartbeat_timeout=30).start()
    assert control.wait_connected(5), "cannot connect to the simulator"
    records = MemoryRecords()
    queue = QueueConfig("support", wrap_up_seconds=0.2, offer_timeout=10, max_wait=max_wait,
                        max_wait_action=ExitAction.CALLBACK)
    people = [Agent(str(2000 + i), extension=str(2000 + i)) for i in range(agents)]
    service = QueueService({"support": queue}, people, legs=SwitchLegs(control), clock=time.time,
                           agent_log=records, interactions=records, callbacks=records, recordings=records)
    reconciler = service.attach(control, reconcile_every=3600)
    service.start()
    placed: dict[str, float] = {}
    queued: dict[str, float] = {}
    outcomes: dict[str, str] = {}

    def on_call_event(topic, payload) -> None:
        if payload.get("event") == "queued":
            queued[payload["caller_number"]] = time.perf_counter()

    service.bus.subscribe(on_call_event, TOPIC_CALL)

    def flow(channel) -> None:
        try:
            result = service.enqueue(channel, QueueRequest(queue="support", call_uuid=channel.uuid))
            outcomes[channel.caller_number] = result.outcome.value
        except CallHungUp:
            outcomes[channel.caller_number] = "hung up"
            raise
        channel.hangup()

    server = OutboundServer("127.0.0.1", 0, flow, max_calls=calls * 2).start()
    sim.route("5000", socket="%s:%d async full" % server.address)
    sim.set_sound(commands.MUSIC_ON_HOLD, 10 ** 6)
    for person in people:
        sim.add_endpoint(person.extension, answer_after=1.0, hangup_after=20.0)
        service.login(person.agent_id, ["support"])
    started = time.perf_counter()
    for n in range(calls):
        number = f"1380000{n:04d}"
        placed[number] = time.perf_counter()
        sim.place_call("5000", number)
        if n % 50 == 49:
            gevent.sleep(0.09)  # 500 calls spread over about one second
    arrival = time.perf_counter() - started
    deadline = time.monotonic() + max_wait + 120
    while len(outcomes) < calls and time.monotonic() < deadline:
        gevent.sleep(0.05)
    stuck = [a.agent_id for a in service.distributor.agents.values()
             if a.state in (AgentState.RINGING, AgentState.ON_CALL)]
    lost = calls - sum(1 for o in outcomes.values() if o in ("answered", "timeout", "closed"))
    latencies = [(queued[n] - placed[n]) * 1000 for n in queued if n in placed]
    summary = {"arrival_s": round(arrival, 2), "answered": sum(1 for o in outcomes.values() if o == "answered"),
               "overflow": sum(1 for o in outcomes.values() if o in ("timeout", "closed")),
               "no_outcome": calls - len(outcomes), "stuck_agents": len(stuck),
               "still_waiting": len(service.distributor.waiting)}
    service.stop()
    reconciler.stop()
    server.stop()
    control.close()
    sim.stop()
    return calls, lost, p99(latencies), summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--time-scale", type=float, default=0.05, help="simulated seconds per real second factor")
    parser.add_argument("--max-wait", type=float, default=15.0, help="real seconds before overflow to callback")
    opts = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    calls, lost, p99_ms, summary = run(opts.calls, opts.agents, opts.time_scale, opts.max_wait)
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    print(f"acd_surge: calls={calls} lost={lost} p99_enqueue_ms={p99_ms:.1f}")


if __name__ == "__main__":
    main()
