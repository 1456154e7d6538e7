"""Concurrent outbound-socket calls: how many one engine process carries, how fast, at what memory cost.

The simulated FreeSWITCH runs in its own process and offers new calls at --cps per second (a switch's
sessions-per-second cap; 2,000 calls arrive over 5 s at the default 400, and each lasts ~7 s, so all are
up at once) (`jinqiao sim run --calls N --concurrency N`) and sends
every call to this process's OutboundServer, whose flow answers, collects one digit (with a prompt), plays a
closing prompt and hangs up. The engine process measures:
- concurrent: the most calls its flows held at once;
- p99_execute_ms: round trip of the instantaneous applications (answer, set, hangup) from sendmsg to
  CHANNEL_EXECUTE_COMPLETE, i.e. the engine's and the socket's own latency, without media time;
- rss_kb_per_call: (peak RSS - RSS before the first call) / peak concurrent calls.
Last line: `outbound_calls: concurrent=<n> completed=<n> failed=<n> p99_execute_ms=<x> rss_kb_per_call=<y>`.
Goal: 2,000 concurrent in one process, 0 failed, p99 execute < 20 ms, < 200 KB per call.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.esl.connection import CallChannel, OutboundServer  # noqa: E402

PROMPT_SECONDS = 6.0  # unscaled length of the closing prompt, so that calls overlap


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--cps", type=float, default=400, help="new calls per second offered by the switch")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.calls + 256)), hard))

    latencies: list[float] = []
    active = [0]
    peak = {"calls": 0, "rss": 0}
    flows = {"completed": 0, "failed": 0}

    by_step: dict[str, list[float]] = {}

    def timed(channel: CallChannel, fn, *fn_args) -> None:
        started = time.perf_counter()
        fn(*fn_args)
        elapsed = (time.perf_counter() - started) * 1000
        latencies.append(elapsed)
        by_step.setdefault(fn.__name__, []).append(elapsed)

    def flow(channel: CallChannel) -> None:
        active[0] += 1
        if active[0] > peak["calls"]:
            peak["calls"] = active[0]
        try:
            timed(channel, channel.answer)
            timed(channel, channel.set_variable, "jq_call_id", channel.uuid)
            # The caller presses 1 one second after answer: during the collection's wait.
            digits = channel.collect(prompt="silence_stream://250", min_digits=1, max_digits=1, timeout_ms=8000)
            channel.play(f"silence_stream://{int(PROMPT_SECONDS * 1000)}")
            if peak["calls"] == active[0]:
                peak["rss"] = max(peak["rss"], rss_kb())
            timed(channel, channel.hangup)
            flows["completed" if digits == "1" else "failed"] += 1
        except Exception:
            flows["failed"] += 1
            raise
        finally:
            active[0] -= 1

    server = OutboundServer("127.0.0.1", 0, flow, linger=0, max_calls=args.calls + 100).start()
    gevent.sleep(0.2)
    baseline = rss_kb()
    host, port = server.address
    sim = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "sim", "run", "--port", "0", "--password", "bench-only",
         "--time-scale", str(args.time_scale), "--route", f"5000={host}:{port}", "--calls", str(args.calls),
         "--did", "5000", "--digits", "1", "--concurrency", str(args.calls), "--hangup-after", "60",
         "--cps", str(args.cps)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    sampler_running = True

    def sample_rss() -> None:
        while sampler_running:
            if active[0] >= peak["calls"] and active[0]:
                peak["rss"] = max(peak["rss"], rss_kb())
            gevent.sleep(0.05)

    sampler = gevent.spawn(sample_rss)
    summary = ""
    while sim.poll() is None:
        gevent.sleep(0.1)
    summary = (sim.stdout.read() or "").strip()
    sampler_running = False
    sampler.join()
    server.stop()
    print(f"# simulator: {summary}")
    print(f"# engine: flows completed={flows['completed']} failed={flows['failed']} "
          f"server completed={server.completed_calls} failed={server.failed_calls}; rss baseline={baseline} KB "
          f"peak={peak['rss']} KB")
    print("# execute round trip by step: " + ", ".join(
        f"{name} p50={percentile(values, 50):.1f}ms p99={percentile(values, 99):.1f}ms"
        for name, values in by_step.items()))
    times = os.times()
    print(f"# engine process CPU: user={times.user:.1f}s system={times.system:.1f}s")
    failed = flows["failed"] + server.failed_calls + max(0, args.calls - flows["completed"] - flows["failed"])
    per_call = (peak["rss"] - baseline) / peak["calls"] if peak["calls"] else 0.0
    print(f"outbound_calls: concurrent={peak['calls']} completed={flows['completed']} failed={failed} "
          f"p99_execute_ms={percentile(latencies, 99):.2f} rss_kb_per_call={per_call:.1f}")


if __name__ == "__main__":
    main()
