"""Benchmark: an hour of mixed traffic (IVR, a queue, a predictive campaign) in simulated time, compressed into
minutes; the engine's memory, greenlets, file descriptors and database connections must stay flat.

The engine runs in this process exactly as `jinqiao serve` wires it (`build_engine`, SQLite store); the FreeSWITCH
simulator runs in a child process (this file with `--sim`) so the figures are the engine's own. The simulator's
clock runs `60 / --minutes` times faster than real time (an hour in `--minutes`, 5 by default): inbound callers
arrive steadily (`--calls-per-min` simulated), go through an IVR menu (queue, self-service, or hang up in the
menu), some abandon the queue; agents answer after 2 s and talk 90 s (simulated); a predictive campaign
(`--contacts` numbers on the simulator's called-party population) shares the agents (inbound first).

Samples (after `gc.collect()`): RSS (/proc/self/status), greenlets (gc objects of type greenlet), open fds
(/proc/self/fd), open database connections (the SQLAlchemy pool: checked in + checked out), first after a warm-up
of 10 simulated minutes, then at the end of the hour while traffic still runs (the same load), then once every
call has ended (idle). A call is *lost* when it has no finished interaction in the store, or is still up after
the drain; campaign attempts must equal the simulator's dials with no number dialled twice; a stuck agent is one
the engine holds ringing or on a call after the drain. Last line:
`soak: calls=<n> lost=0 rss_growth_pct=<x> greenlets_growth=<y> stuck_agents=0` (goal: rss growth < 5 %,
greenlets flat).
"""
from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import random
import sys
import tempfile
import time

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(HERE))

PASSWORD = "soak-bench"
DID = "7100"
AGENTS = 12
TALK_S = 90.0          # simulated seconds an agent talks
WARM_UP_MIN = 10.0     # simulated minutes before the first sample
FLOW = """\
name: soak_line
start: menu
nodes:
  menu:
    type: menu
    prompt: 查询请按1，自助服务请按2。
    options: {1: to_queue, 2: info}
    timeout_ms: 5000
    retries: 1
    on_failure: bye
  info: {type: play, tts: 您的账户余额充足。, next: bye}
  to_queue: {type: queue, queue: support, timeout_s: 1800, on_failure: bye}
  bye: {type: hangup}
"""
CAMPAIGN = """name: soak_campaign
mode: predictive
queue: support
ring_timeout: 25s
caller_id: '4008001000'
answering_machine: {detect: true, action: hangup}
retry:
  busy: {delay: 10m, max_attempts: 0}
  no_answer: {delay: 10m, max_attempts: 0}
  machine: {delay: 10m, max_attempts: 0}
  failed: {delay: 10m, max_attempts: 0}
  dropped: {delay: 10m, max_attempts: 0}
"""


# ----------------------------------------------------------------------------------------------------------------
# The simulator's process
# ----------------------------------------------------------------------------------------------------------------
def serve_sim(password: str, time_scale: float) -> None:
    from gevent import monkey

    monkey.patch_all()
    import gevent
    from gevent.fileobject import FileObjectThread

    from engine.esl import commands
    from engine.sim import FreeSwitchSim, Hangup, Press

    sim = FreeSwitchSim(password=password, time_scale=time_scale)
    sim.start()
    out = sys.stdout
    out.write(json.dumps({"port": sim.address[1]}) + "\n")
    out.flush()
    calls: list = []
    traffic: list = []

    def place(rate_per_min: float, minutes: float, seed: int) -> None:
        rng = random.Random(seed)
        gap = 60.0 / rate_per_min
        for i in range(int(minutes * rate_per_min)):
            kind = rng.random()
            if kind < 0.60:    # to the queue; some give up waiting after 40-120 s
                script = [Press("1", during="play_and_get_digits")]
                if rng.random() < 0.15:
                    script.append(Hangup(at=rng.uniform(40, 120)))
            elif kind < 0.85:  # self-service
                script = [Press("2", during="play_and_get_digits")]
            else:              # hangs up in the menu
                script = [Hangup(at=rng.uniform(1, 4))]
            calls.append(sim.place_call(DID, str(13900000000 + len(calls)), script=script))
            sim.switch.sleep(gap)

    for line in FileObjectThread(sys.stdin, "r"):
        command = json.loads(line)
        reply: dict = {"ok": True}
        cmd = command["cmd"]
        if cmd == "setup":
            for ext in command["agents"]:
                sim.add_endpoint(ext, answer_after=2.0, hangup_after=TALK_S)
            sim.route(DID, socket=command["socket"], after=[("park", "")])
            sim.set_sound(commands.MUSIC_ON_HOLD, 3600)
            sim.set_population(command["population"])
        elif cmd == "traffic":
            traffic.append(gevent.spawn(place, command["rate"], command["minutes"], command.get("seed", 7)))
        elif cmd == "status":
            up = sum(1 for c in calls if not c.hung_up)
            log = sim.population_log
            reply.update(placed=len(calls), up=up, channels=len(sim.channels),
                         traffic_done=all(g.dead for g in traffic),
                         logins=sum(1 for x in sim.command_log[:50] if x.startswith("auth")),
                         dials=len(log), dials_done=sum(1 for a in log if a.done))
            if command.get("details"):
                reply["numbers"] = dict(collections.Counter(a.number for a in log))
                # the engine's call id: jq_call_id once the ACD has the call, else the channel uuid (IVR only)
                reply["call_ids"] = [c.variables.get(commands.VAR_CALL_ID) or c.uuid for c in calls]
                reply["never_reached"] = sum(1 for c in calls if not c.variables.get(commands.VAR_CALL_ID))
        elif cmd == "quit":
            out.write(json.dumps(reply) + "\n")
            out.flush()
            break
        out.write(json.dumps(reply) + "\n")
        out.flush()
    sim.stop()


# ----------------------------------------------------------------------------------------------------------------
# The engine's process (this one)
# ----------------------------------------------------------------------------------------------------------------
def sample(engine) -> dict:
    import greenlet

    gc.collect()
    rss_kb = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    pool = engine.store.engine.pool
    checked_in = getattr(pool, "checkedin", lambda: 0)()
    checked_out = getattr(pool, "checkedout", lambda: 0)()
    objects = gc.get_objects()
    return {"rss_mb": round(rss_kb / 1024.0, 1), "py_objects": len(objects),
            "greenlets": sum(1 for o in objects if isinstance(o, greenlet.greenlet)),
            "fds": len(os.listdir("/proc/self/fd")), "db_conns": checked_in + checked_out}


def write_config(directory: str, sim_port: int, outbound_port: int) -> str:
    os.makedirs(os.path.join(directory, "flows"), exist_ok=True)
    with open(os.path.join(directory, "flows", "soak_line.yaml"), "w", encoding="utf-8") as f:
        f.write(FLOW)
    path = os.path.join(directory, "jinqiao.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"""
engine: {{data_dir: {directory}/data, log_format: json, log_level: warning}}
database: {{url: "sqlite:///{directory}/jq.db"}}
freeswitch: {{host: 127.0.0.1, port: {sim_port}}}
outbound: {{host: 127.0.0.1, port: {outbound_port}, linger_seconds: 1}}
ivr: {{flows_dir: {directory}/flows, dids: {{"{DID}": soak_line}}}}
tts: {{cache_dir: {directory}/tts}}
acd:
  reconcile_every: 5
  queues:
    support: {{strategy: longest-idle, wrap_up_seconds: 0, offer_timeout: 20, record: always}}
dialer:
  gateway: sim
  tick_s: 0.2
  poll_s: 0.5
  compliance: {{calling_hours: {{daily: "00:00-24:00"}}, max_attempts_per_24h: 50, max_marketing_contacts_per_7d: 50}}
""")
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(minutes: float, rate: float, contacts: int, workdir: str) -> dict:
    import logging

    import gevent

    from engine.acd.models import AgentState
    from engine.config import load_config
    from engine.daemon import build_engine
    from engine.dialer.campaigns import parse_campaign
    from engine.store import migrate
    from engine.store.database import open_store
    from engine.store.repos.agents import AgentRepository
    from engine.store.repos.campaigns import CampaignRepository
    from engine.store.repos.dial_attempts import DialAttemptRepository
    from engine.store.repos.interactions import InteractionRepository
    from engine.yamlsrc import load_text
    from remote_sim import JsonLineProcess

    logging.basicConfig(level=logging.WARNING)
    scale = minutes / 60.0
    sim = JsonLineProcess([sys.executable, HERE, "--sim", PASSWORD, str(scale)], cwd=ROOT)
    engine = None

    ask = sim.ask  # a gevent subprocess: its pipes yield to the engine's greenlets

    try:
        port = free_port()
        config = write_config(workdir, sim.port, port)
        store = open_store(f"sqlite:///{workdir}/jq.db")
        migrate.upgrade(store.engine)
        people = [str(3000 + i) for i in range(AGENTS)]
        agents = AgentRepository(store)
        for person in people:
            agents.add(person, extension=person)
            agents.record_state_change(person, "available", "login", time.time() - 60)
        campaign = parse_campaign(load_text(CAMPAIGN, "campaign.yaml"))
        repo = CampaignRepository(store)
        record = repo.save(campaign.name, campaign.mode, campaign.queue, campaign.max_attempts, 600,
                           {"config": campaign.raw})
        numbers = [f"+8613707{i:06d}" for i in range(contacts)]
        repo.enroll(record.id, [(n, None, None) for n in numbers])
        store.dispose()
        ask(cmd="setup", agents=people, socket=f"127.0.0.1:{port} async full",
            population="answer=0.35,machine=0.1,busy=0.05,unallocated=0.02,seed=11")
        engine = build_engine(load_config(config, environ={"JINQIAO_FREESWITCH_PASSWORD": PASSWORD})).start()
        assert engine.inbound.wait_connected(30), "the engine never connected to the simulator"
        started = time.monotonic()
        ask(cmd="traffic", rate=rate, minutes=60.0)
        CampaignRepository(engine.store).change_status(record.id, "running")

        def at_sim_minute(m: float) -> None:
            gevent.sleep(max(0.0, started + m * 60.0 * scale - time.monotonic()))

        at_sim_minute(WARM_UP_MIN)
        first = sample(engine)
        print(f"warm-up ({WARM_UP_MIN:g} simulated min): {first}", flush=True)
        at_sim_minute(59.0)
        last = sample(engine)
        print(f"end of the hour: {last}", flush=True)
        deadline = time.monotonic() + 120 + 300 * scale
        while True:
            status = ask(cmd="status")
            drained = status["traffic_done"] and status["up"] == 0 and status["dials"] == status["dials_done"] \
                and not engine.dialer.calls
            if drained or time.monotonic() > deadline:
                break
            gevent.sleep(0.5)
        gevent.sleep(2.0)
        engine.acd.writes.flush(60)
        idle = sample(engine)
        print(f"drained: {idle}", flush=True)
        status = ask(cmd="status", details=True)
        interactions = InteractionRepository(engine.store)
        unfinished = 0
        for call_id in status["call_ids"]:
            row = interactions.by_call_id(call_id) if call_id else None
            if row is None or row.hangup_at is None:
                unfinished += 1
        service = engine.acd.service
        stuck = [a for a, agent in service.distributor.agents.items()
                 if agent.state in (AgentState.RINGING, AgentState.ON_CALL)]
        figures = DialAttemptRepository(engine.store).figures(record.id, 0)
        twice = sum(1 for n in status["numbers"].values() if n > 1)
        print(f"inbound: placed={status['placed']} unfinished={unfinished} still_up={status['up']}; campaign: "
              f"attempts={figures.attempts} dials={status['dials']} dialled_twice={twice} "
              f"in_flight={figures.in_flight} outcomes={figures.outcomes}; write-behind retries="
              f"{engine.acd.writes.retries} failed={engine.acd.writes.failed}")
        lost = unfinished + status["up"] + abs(figures.attempts - status["dials"]) + twice + figures.in_flight
        return {"calls": status["placed"] + status["dials"], "lost": lost, "first": first, "last": last,
                "idle": idle, "stuck": len(stuck), "wall_s": time.monotonic() - started}
    finally:
        if engine is not None:
            engine.stop()
        try:
            sim.ask(cmd="quit")
            sim.proc.wait(10)
        except Exception:
            sim.proc.kill()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--sim":
        serve_sim(sys.argv[2], float(sys.argv[3]))
        return
    from gevent import monkey

    monkey.patch_all()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="wall minutes for the simulated hour")
    parser.add_argument("--calls-per-min", type=float, default=12.0, help="inbound calls per simulated minute")
    parser.add_argument("--contacts", type=int, default=400, help="numbers in the predictive campaign")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = parser.parse_args()
    if args.minutes <= 0 or args.calls_per_min <= 0 or args.contacts < 0:
        parser.error("--minutes and --calls-per-min must be positive, --contacts not negative")
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        result = run(args.minutes, args.calls_per_min, args.contacts, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="jq-soak-") as workdir:
            result = run(args.minutes, args.calls_per_min, args.contacts, workdir)
    first, last = result["first"], result["last"]
    growth = 100.0 * (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"]
    print(f"fds {first['fds']} -> {last['fds']} (idle {result['idle']['fds']}), db connections "
          f"{first['db_conns']} -> {last['db_conns']}, wall {result['wall_s']:.0f}s; goal: rss growth < 5 %, "
          f"greenlets flat")
    # Python objects the collector tracks: a leak in engine code grows them with the calls; a bounded cache
    # stops at its bound; RSS also moves with what lives below Python (SQLite's page cache, the allocator).
    print(f"python objects {first['py_objects']} -> {last['py_objects']} "
          f"({100.0 * (last['py_objects'] - first['py_objects']) / first['py_objects']:+.1f} %), "
          f"idle {result['idle']['py_objects']}")
    print(f"soak: calls={result['calls']} lost={result['lost']} rss_growth_pct={growth:.1f} "
          f"greenlets_growth={last['greenlets'] - first['greenlets']} stuck_agents={result['stuck']}")


if __name__ == "__main__":
    main()
