"""Benchmark: server-sent events from one engine process to many browsers while the simulator runs calls.

The engine (simulated FreeSWITCH, SQLite, ACD, web console) runs in this process; a client process opens
the streams (one console stream per agent, the rest wallboard streams) with real HTTP over TCP and
stamps each message when it arrives. Latency = arrival time - the time the engine's bus carried the
event (screen-pop, call or agent-state message) that caused the push, on the same host clock. A pop
counts as "before answer" when the agent's console stream received it before the agent's phone
answered (the ACD connected the call). A baseline run with 10 clients is measured first, in the same run.
Last line: `web_push: clients=<n> event_to_browser_p99_ms=<x> pop_before_answer_pct=<y> rss_mb=<z>`.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DID = "7000"
STAMP = re.compile(rb'"event_at":([0-9.]+)')
STAMP_AT = re.compile(rb'"at":([0-9.]+)')
FLOW = "name: bench\nlanguage: zh\nstart: q\nnodes:\n  q:\n    type: queue\n    queue: support\n    on_failure: bye\n" \
       "  bye:\n    type: hangup\n    outcome: completed\n"


# ----- the client process -------------------------------------------------------------------------------
def run_clients(host: str, port: int, cookies: dict[str, str], clients: int, seconds: float) -> None:
    """Open `clients` SSE streams (agents first, one each; the rest as the supervisor), read for `seconds`."""
    from gevent import monkey

    monkey.patch_all()
    import gevent
    import socket

    lat: list[float] = []
    pops: list[tuple[str, str, float]] = []
    opened = [0]
    agents = [k for k in cookies if k != "supervisor"]

    def one(user: str) -> None:
        sock = socket.create_connection((host, port))
        sock.sendall(f"GET /events HTTP/1.1\r\nHost: {host}\r\nCookie: jq_session={cookies[user]}\r\n"
                     "Accept: text/event-stream\r\n\r\n".encode())
        buffer = b""
        opened[0] += 1
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            now = time.time()
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                name, data = "", None
                for line in block.split(b"\n"):
                    if line.startswith(b"event: "):
                        name = line[7:].decode()
                    elif line.startswith(b"data: "):
                        data = line[6:]
                if data is None or name == "hello":
                    continue
                # Only the stamps are read (a browser parses on its own CPU, not on this one's).
                found = STAMP.search(data, 0, 64) if name == "floor" else STAMP_AT.search(data, 0, 64)
                if found and opened[0] >= clients:  # measure once every stream is open
                    lat.append((now - float(found.group(1))) * 1000)
                if name == "pop":
                    pops.append((user, json.loads(data)["card"]["call_id"], now))

    users = (agents + ["supervisor"] * clients)[:clients]
    greenlets = [gevent.spawn(one, user) for user in users]
    gevent.sleep(seconds)
    gevent.killall(greenlets, block=False)
    print(json.dumps({"opened": opened[0], "latencies_ms": lat, "pops": pops}))


# ----- the engine process -------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--calls-per-second", type=float, default=2.0)
    parser.add_argument("--client", nargs=4, metavar=("HOST", "PORT", "CLIENTS", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        host, port, clients, seconds = args.client
        run_clients(host, int(port), json.loads(sys.stdin.read()), int(clients), float(seconds))
        return 0

    from gevent import monkey

    monkey.patch_all()
    import dataclasses
    import logging
    import gevent
    import urllib.parse
    import urllib.request
    import http.cookiejar

    from engine.config import load_config
    from engine.daemon import build_engine
    from engine.esl import commands
    from engine.sim import FreeSwitchSim
    from engine.store.database import open_store
    from engine.store.migrate import upgrade
    from engine.store.repos.agents import AgentRepository
    from engine.store.repos.users import UserRepository
    from engine.web.server import start_web

    logging.basicConfig(level=logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="jq-web-bench-"))
    (tmp / "flows").mkdir()
    (tmp / "flows" / "bench.yaml").write_text(FLOW)
    sim = FreeSwitchSim(password="bench", time_scale=1.0, sounds_dir=str(tmp))
    sim.start()
    sim.set_sound(commands.MUSIC_ON_HOLD, 3600)
    base = load_config(None)
    config = dataclasses.replace(
        base, engine=dataclasses.replace(base.engine, data_dir=str(tmp / "data"), log_level="error"),
        database=dataclasses.replace(base.database, url=""),
        freeswitch=dataclasses.replace(base.freeswitch, host=sim.address[0], port=sim.address[1], password="bench"),
        outbound=dataclasses.replace(base.outbound, host="127.0.0.1", port=0, linger_seconds=1),
        ivr=dataclasses.replace(base.ivr, flows_dir=str(tmp / "flows"), dids={DID: "bench"}, default_flow=""),
        tts=dataclasses.replace(base.tts, cache_dir=str(tmp / "tts")),
        web=dataclasses.replace(base.web, port=0, cookie_secure=False, disposition_queues="",
                                max_push_clients=args.clients + 100),
        acd={"queues": {"support": {"strategy": "longest-idle", "wrap_up_seconds": 1}}})
    (tmp / "data").mkdir()
    store = open_store(config.database_url)
    upgrade(store.engine)
    agent_ids = [f"{1000 + i}" for i in range(args.agents)]
    for agent_id in agent_ids:
        AgentRepository(store).add(agent_id, extension=agent_id)
        UserRepository(store).add(agent_id, "bench-password", role="agent")
        sim.add_endpoint(agent_id, answer_after=1.0, hangup_after=3.0)
    UserRepository(store).add("supervisor", "bench-password", role="supervisor")
    store.dispose()
    engine = build_engine(config).start()
    assert engine.inbound.wait_connected(10)
    host, port = engine.outbound.address
    sim.route(DID, socket=f"{host}:{port} async full")
    web = start_web(engine, port=0)
    for agent_id in agent_ids:
        engine.acd.service.login(agent_id)

    def session_cookie(user: str) -> str:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(web.url + "/login").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        opener.open(web.url + "/login", urllib.parse.urlencode(
            {"user_id": user, "password": "bench-password", "csrf_token": token}).encode())
        return next(c.value for c in jar if c.name == "jq_session")

    cookies = {user: session_cookie(user) for user in agent_ids + ["supervisor"]}
    running = [True]

    def traffic() -> None:
        n = 0
        while running[0]:
            sim.place_call(DID, f"1390000{n % 10000:04d}", script=[])
            n += 1
            gevent.sleep(1.0 / args.calls_per_second)

    def measure(clients: int, seconds: float) -> dict:
        import resource

        cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        child = subprocess.Popen([sys.executable, __file__, "--client", web.address[0], str(web.address[1]),
                                  str(clients), str(seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out, _ = child.communicate(json.dumps(cookies).encode())  # cooperative: gevent's subprocess
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        engine_cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / (time.monotonic() - wall0)
        result = json.loads(out.decode().strip().splitlines()[-1])
        served = web.console.served
        before = total = 0
        for agent_id, call_id, arrived in result["pops"]:
            view = served.get(agent_id, {}).get(call_id)
            if view is None or view.connected_at is None:
                continue  # not answered (yet): no race to judge
            total += 1
            before += arrived < view.connected_at
        result["pop_pct"] = 100.0 * before / total if total else float("nan")
        result["pops_judged"] = total
        result["engine_cpu_pct"] = 100 * engine_cpu
        result["load"] = os.getloadavg()[0]
        return result

    traffic_greenlet = gevent.spawn(traffic)
    baseline = measure(10, min(10.0, args.seconds))
    full = measure(args.clients, args.seconds)
    running[0] = False
    traffic_greenlet.kill()
    rss = rss_mb()
    base_p99, full_p99 = percentile(baseline["latencies_ms"], 0.99), percentile(full["latencies_ms"], 0.99)
    print(f"baseline: clients=10 messages={len(baseline['latencies_ms'])} p99_ms={base_p99:.1f}")
    print(f"full: clients={full['opened']} messages={len(full['latencies_ms'])} p50_ms="
          f"{percentile(full['latencies_ms'], 0.5):.1f} p99_ms={full_p99:.1f} pops_judged={full['pops_judged']} "
          f"p99_ratio_vs_baseline={full_p99 / base_p99 if base_p99 else float('nan'):.2f} "
          f"engine_cpu={full['engine_cpu_pct']:.0f}% host_load={full['load']:.1f} on {os.cpu_count()} cores")
    web.stop()
    engine.stop()
    sim.stop()
    print(f"web_push: clients={full['opened']} event_to_browser_p99_ms={full_p99:.1f} "
          f"pop_before_answer_pct={full['pop_pct']:.1f} rss_mb={rss:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
