"""Benchmark: 2,000 concurrent simulated callers through the logistics hotline IVR.

The FreeSWITCH simulator runs in its own process (multiprocessing, spawn) and places every call at once;
the engine (OutboundServer + FlowRunner + espeak-ng TTS with its cache) runs in this process. Callers
know the menus and press their keys as soon as each prompt starts (barge-in): 70% track a waybill
(read out by TTS), 30% ask for a price; all then press two invalid keys, so the flow says goodbye and
hangs up. Static prompts are pre-rendered first, as `jinqiao tts render` does at deploy time; the
waybill readouts are rendered on demand during the run.

completed = calls that walked the flow to its goodbye and were hung up by the engine; failed = the rest.
node gap = time from one node's completion to the next command sent on that call (template rendering,
TTS cache lookup, table lookup), p99 over all transitions.
Last line: `ivr_load: concurrent=<N> completed=<n> failed=<n> p99_node_gap_ms=<x>`.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all(thread=False, subprocess=False)

import argparse  # noqa: E402
import logging  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DID = "4008001234"
WAYBILLS = ["880012345678", "880087654321", "880055550001", "880099990002"]
PASSWORD = "bench"


def caller_keys(i: int) -> list[str]:
    """What caller i presses at each successive menu/collect prompt."""
    language = "1" if i % 2 == 0 else "2"
    if i % 10 < 7:
        return [language, "1", WAYBILLS[i % len(WAYBILLS)], "7", "7"]
    return [language, "2", "021#", f"{1 + i % 20}#", "7", "7"]


def run_sim(engine_port: int, calls: int, time_scale: float, results: "multiprocessing.connection.Connection") -> None:
    """The simulator process: place every call at once; each caller answers the prompts it hears."""
    from gevent import monkey as child_monkey

    child_monkey.patch_all(thread=False, subprocess=False)
    import gevent as child_gevent

    from engine.sim import FreeSwitchSim, Hangup
    from engine.sim import apps as sim_apps

    logging.basicConfig(level=logging.WARNING)
    sim = FreeSwitchSim(PASSWORD, time_scale=time_scale)
    sim.route(DID, socket=f"127.0.0.1:{engine_port} async full")
    sim.start()
    pending: dict[str, list[str]] = {}
    collect = sim_apps.APPS["play_and_get_digits"]

    def caller_hears_a_prompt(ch, arg):  # the caller presses the next key as soon as a prompt starts
        keys = pending.get(ch.uuid)
        if keys:
            ch.queue_dtmf(keys.pop(0))
        return collect(ch, arg)

    sim_apps.APPS["play_and_get_digits"] = caller_hears_a_prompt
    causes: dict[str, int] = {}
    peak = [0]

    def one(i: int) -> None:
        call = sim.place_call(DID, f"139{i:08d}", script=[Hangup(at=900.0)])
        pending[call.uuid] = caller_keys(i)
        call.wait_hangup(timeout=900 * time_scale + 120)
        cause = call.hangup_cause or "NOT_HUNG_UP"
        causes[cause] = causes.get(cause, 0) + 1

    def watch() -> None:
        while True:
            peak[0] = max(peak[0], len(sim.channels))
            child_gevent.sleep(0.01)

    watcher = child_gevent.spawn(watch)
    started = time.monotonic()
    child_gevent.joinall([child_gevent.spawn(one, i) for i in range(calls)])
    watcher.kill()
    results.send({"causes": causes, "peak_channels": peak[0], "elapsed_s": time.monotonic() - started})
    sim.stop()


def prerender(tts, flow_file: Path) -> tuple[int, float]:
    from tts.flowtext import prompts_in_file

    started = time.monotonic()
    summary = tts.prerender((p.text, p.language) for p in prompts_in_file(str(flow_file)))
    return summary.total, time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--time-scale", type=float, default=0.25, help="simulated-time factor of the switch")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")

    from engine.esl.connection import OutboundServer
    from engine.ivr.ports import MemoryInteractionLog
    from engine.ivr.registry import FlowRegistry
    from engine.ivr.runner import FlowRunner
    from tts import TtsService

    work = Path(tempfile.mkdtemp(prefix="jq-ivr-load-"))
    tts = TtsService(str(work / "tts-cache"), timeout=10.0)
    count, seconds = prerender(tts, REPO / "ivr_flows" / "logistics_hotline.yaml")
    print(f"pre-rendered {count} static prompts in {seconds:.1f} s", file=sys.stderr)

    registry = FlowRegistry(REPO / "ivr_flows", dids={DID: "logistics_hotline"})
    report = registry.reload()
    if not report.ok:
        print("\n".join(map(str, report.errors)), file=sys.stderr)
        return 1
    gaps: list[float] = []
    log = MemoryInteractionLog()
    runner = FlowRunner(registry, tts, interactions=log, recordings_dir=work / "recordings",
                        node_gap_observer=gaps.append)
    server = OutboundServer("127.0.0.1", 0, runner.run, linger=1, max_calls=args.calls + 100).start()
    peak_active = [0]

    def watch() -> None:
        while True:
            peak_active[0] = max(peak_active[0], server.active_calls)
            gevent.sleep(0.01)

    watcher = gevent.spawn(watch)
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=run_sim, args=(server.address[1], args.calls, args.time_scale, send), daemon=True)
    started = time.monotonic()
    child.start()
    sim_result: dict = {}
    deadline = started + args.timeout
    while time.monotonic() < deadline:
        if receive.poll():
            sim_result = receive.recv()
            break
        if not child.is_alive():
            break
        gevent.sleep(0.05)
    while len(log.records) < args.calls and time.monotonic() < min(deadline, time.monotonic() + 10):
        gevent.sleep(0.05)
    elapsed = time.monotonic() - started
    watcher.kill()
    server.stop(timeout=2.0)
    child.join(timeout=10)

    completed = sum(1 for r in log.records
                    if r.outcome == "completed" and r.path and r.path[-1] == "goodbye" and not r.ended_by_caller)
    failed = args.calls - completed
    readouts = sum(1 for r in log.records if "read_waybill" in r.path)
    prices = sum(1 for r in log.records if "say_price" in r.path)
    print(f"sim: {sim_result or 'no result (timeout or crash)'}", file=sys.stderr)
    print(f"engine: {len(log.records)} IVR records, {readouts} waybill readouts, {prices} price readouts, "
          f"peak active calls {peak_active[0]}, {len(gaps)} node transitions, "
          f"p50 gap {percentile(gaps, 0.5) * 1000:.3f} ms, max gap {max(gaps, default=0) * 1000:.1f} ms, "
          f"wall {elapsed:.1f} s, tts renders {tts.stats()}", file=sys.stderr)
    print(f"ivr_load: concurrent={args.calls} completed={completed} failed={failed} "
          f"p99_node_gap_ms={percentile(gaps, 0.99) * 1000:.2f}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
