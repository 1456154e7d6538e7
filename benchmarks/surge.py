"""Benchmark: a surge of 1,000 calls within 2 seconds into the IVR and a queue, through the whole engine.

`jinqiao serve` runs in its own process on a SQLite store; the FreeSWITCH simulator in another
(benchmarks/remote_sim.py). Every call is answered by the IVR, hears a welcome prompt, and goes to the
`support` queue (50 agents, at most 300 waiting); a caller beyond that is told the line is busy and hung up.
A call is *lost* when, once everything has ended, it has no interaction in the store with an IVR outcome
(served by an agent, queued and ended, or told busy), or it is still up. `p99_answer_to_first_prompt_ms` is
the time from the engine's answer to the first prompt starting on the caller's channel (the caller hears
something); goal p99 < 300 ms. The engine's `outbound.connect_timeout` is set to 25 s, the time FreeSWITCH
itself gives a socket client (the 5 s default drops calls whose socket set-up waits behind the surge). Last line:
`surge: calls=1000 window_s=2 lost=0 p99_answer_to_first_prompt_ms=<x>`.
"""
from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from remote_sim import RemoteSim  # noqa: E402

PASSWORD = "surge-bench"
DID = "7000"
GOAL_MS = 300.0
FLOW = """\
name: surge_line
start: welcome
nodes:
  welcome: {type: play, tts: 您好，欢迎致电金桥客服。, next: to_queue}
  to_queue:
    type: queue
    queue: support
    timeout_s: 600
    on_failure: busy
  busy: {type: hangup, prompt: 线路繁忙，请稍后再拨。, outcome: line_busy}
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(directory: str, sim_port: int, outbound_port: int, calls: int) -> str:
    os.makedirs(os.path.join(directory, "flows"), exist_ok=True)
    with open(os.path.join(directory, "flows", "surge_line.yaml"), "w", encoding="utf-8") as f:
        f.write(FLOW)
    path = os.path.join(directory, "jinqiao.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"""
engine: {{data_dir: {directory}/data, log_format: json, log_level: warning}}
freeswitch: {{host: 127.0.0.1, port: {sim_port}}}
outbound: {{host: 127.0.0.1, port: {outbound_port}, linger_seconds: 1, max_calls: {calls + 500}, connect_timeout: 25}}
ivr: {{flows_dir: {directory}/flows, dids: {{"{DID}": surge_line}}}}
tts: {{cache_dir: {directory}/tts}}
acd:
  reconcile_every: 3600
  queues:
    support: {{strategy: longest-idle, wrap_up_seconds: 0, offer_timeout: 20, max_length: 300}}
""")
    return path


def cli(config: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "JINQIAO_FREESWITCH_PASSWORD": PASSWORD}
    log = open(os.path.join(os.path.dirname(config), "engine.log"), "ab")
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "--config", config, *args], cwd=ROOT, env=env,
                            stdout=log, stderr=log)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def run(calls: int, window: float, agents: int, workdir: str) -> dict:
    # Real time: the simulator's waits (e.g. 25 s for the engine to take a socket) are not compressed.
    sim = RemoteSim(PASSWORD, time_scale=1.0)
    engine = None
    try:
        config = write_config(workdir, sim.port, free_port(), calls)
        assert cli(config, "db", "upgrade").wait(120) == 0, "db upgrade failed"
        people = [str(3000 + i) for i in range(agents)]
        _seed_agents(os.path.join(workdir, "data", "jinqiao.db"), config, people)
        port = int(open(config).read().split("outbound: {host: 127.0.0.1, port: ")[1].split(",")[0])
        # agents answer after 1 s and talk 2 s
        sim.ask(cmd="setup", did=DID, agents=people, socket=f"127.0.0.1:{port} async full", answer_after=1,
                hangup_after=2)
        engine = cli(config, "serve")
        sim.wait(lambda s: s["logins"] >= 1, 60) or _fail("the engine never connected")
        _wait_prerendered(os.path.join(workdir, "tts"), prompts=2)
        placed = sim.ask(cmd="place", did=DID, n=calls, window=window)
        ended = sim.wait(lambda s: s["up"] == 0, 600, interval=0.5)
        status = sim.ask(cmd="status", first_prompts=True, causes=True)
        print("hang-ups (cause:first apps): " + ", ".join(f"{k}={v}" for k, v in sorted(status["causes"].items())))
        uuids = sim.ask(cmd="uuids")["uuids"]
        engine.terminate()
        engine.wait(60)
        engine = None
        outcomes = _outcomes(config, uuids)
        recorded = sum(1 for o in outcomes.values() if o)
        lost = calls - recorded + (status["up"] if ended is None else 0)
        return {"calls": calls, "window_s": placed["window_s"], "lost": lost,
                "p99": percentile(status["first_prompts"], 0.99), "p50": percentile(status["first_prompts"], 0.5),
                "outcomes": collections.Counter(o or "none" for o in outcomes.values())}
    finally:
        if engine is not None and engine.poll() is None:
            engine.kill()
        sim.close()


def _store(config: str):
    from engine.config import load_config
    from engine.store.database import open_store

    return open_store(load_config(config, environ={"JINQIAO_FREESWITCH_PASSWORD": PASSWORD}).database_url)


def _seed_agents(_db: str, config: str, agents: list[str]) -> None:
    from engine.store.repos.agents import AgentRepository

    store = _store(config)
    repo = AgentRepository(store)
    for agent in agents:
        repo.add(agent, extension=agent)
        repo.record_state_change(agent, "available", "login", time.time() - 60)
    store.dispose()


def _outcomes(config: str, uuids: list[str]) -> dict[str, str]:
    from engine.store.repos.interactions import InteractionRepository

    store = _store(config)
    repo = InteractionRepository(store)
    out = {}
    for uuid in uuids:
        row = repo.by_call_id(uuid)
        outcome = row.ivr_outcome if row is not None else ""
        if row is not None and row.agent_id and getattr(row, "bridged_at", None):
            outcome = f"served ({outcome})"
        out[uuid] = outcome or ""
    store.dispose()
    return out


def _wait_prerendered(cache_dir: str, prompts: int, timeout: float = 60.0) -> None:
    """The engine renders the flow's static prompts at start, in the background: let it finish first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sum(1 for _, _, files in os.walk(cache_dir) for f in files if f.endswith(".wav"))
        if found >= prompts:
            return
        time.sleep(0.1)
    print(f"note: prompts not pre-rendered within {timeout:g}s; the first calls render them")


def _fail(why: str) -> None:
    raise SystemExit(f"surge: {why}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--window", type=float, default=2.0, help="seconds over which the calls arrive")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (the engine's log, the store)")
    args = parser.parse_args()
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        result = run(args.calls, args.window, args.agents, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="jq-surge-") as workdir:
            result = run(args.calls, args.window, args.agents, workdir)
    print("outcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(result["outcomes"].items())))
    print(f"goal: p99_answer_to_first_prompt_ms < {GOAL_MS:g} with lost=0; "
          f"p50_answer_to_first_prompt_ms={result['p50']:.0f}")
    print(f"surge: calls={result['calls']} window_s={round(result['window_s'])} lost={result['lost']} "
          f"p99_answer_to_first_prompt_ms={result['p99']:.0f}")


if __name__ == "__main__":
    main()
