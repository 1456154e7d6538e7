"""`jinqiao demo`: the whole engine against the simulated FreeSWITCH, with scripted callers, on SQLite.

It creates a throw-away data dir, migrates a SQLite store, imports the demo customers through the real
CSV import, starts the simulator and the engine (inbound ESL connection + outbound socket server + IVR
over the shipped flows), places scripted calls, and prints what happened to each from the store.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click

from engine.config import Config

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIDS = {"4000": "demo_welcome", "4008001234": "logistics_hotline", "10086": "telecom_service"}


@dataclass(frozen=True)
class ScriptedCaller:
    """One demo caller: who calls which number, the keys they press at each digit prompt, when they leave."""

    label: str
    caller: str
    did: str
    keys: tuple[str, ...] = ()
    hang_up_after_prompts: int | None = None  # leave when this many digit prompts have started


CALLERS = (
    ScriptedCaller("telecom: VIP customer goes to the VIP queue, talks to an agent, rates the call 5",
                   "13600000001", "10086", ("1", "5")),
    ScriptedCaller("welcome, presses 7", "13800138000", "4000", ("7",)),
    ScriptedCaller("logistics: tracks waybill 880012345678", "13911112222", "4008001234",
                   ("1", "1", "880012345678", "9"), hang_up_after_prompts=5),
    ScriptedCaller("telecom: unknown caller asks for an agent", "13300000000", "10086", ("1", "0", "4")),
    ScriptedCaller("logistics: hangs up in the language menu", "02161234567", "4008001234", (),
                   hang_up_after_prompts=1),
)

DEMO_CUSTOMERS = """name,phone,segment,value_tier,tags,language,account_no,marketing_consent,balance
王芳,13911112222,loyal,3,frequent_shipper,zh,A10001,yes,
李雷 (VIP),+86 136 0000 0001,vip,5,offer_5g,zh,A10002,yes,88.50
Mary Chen,13800138000,new,1,,en,A10003,no,12.00
"""

# Agents (id, name, skills) and their simulated softphones: each answers after 1 s and the agent ends the
# conversation after 4 s.
DEMO_AGENTS = (("1001", "赵敏", {"vip": 9, "mandarin": 8}), ("1002", "钱进", {"mandarin": 6}),
               ("1003", "Alice", {"english": 7, "mandarin": 3}))
DEMO_QUEUES = {
    "vip_service": {"strategy": "skills-by-proficiency", "skills": {"vip": 1}, "wrap_up_seconds": 2,
                    "record": {"policy": "always"}, "abandon_callback": True},
    "general_service": {"strategy": "longest-idle", "wrap_up_seconds": 2, "record": {"policy": "always"}},
    "sales": {"strategy": "longest-idle", "wrap_up_seconds": 2},
    "complaints": {"strategy": "longest-idle", "wrap_up_seconds": 2, "record": {"policy": "always"}},
    "consultation": {"strategy": "longest-idle", "wrap_up_seconds": 2},
}


def _demo_config(config: Config, data_dir: Path, password: str, sim_address: tuple[str, int]) -> Config:
    flows_dir = Path(config.ivr.flows_dir)
    if not flows_dir.is_absolute() and not flows_dir.is_dir():
        flows_dir = ROOT / config.ivr.flows_dir
    return dataclasses.replace(
        config,
        engine=dataclasses.replace(config.engine, data_dir=str(data_dir)),
        database=dataclasses.replace(config.database, url=""),
        freeswitch=dataclasses.replace(config.freeswitch, host=sim_address[0], port=sim_address[1],
                                       password=password),
        outbound=dataclasses.replace(config.outbound, host="127.0.0.1", port=0, linger_seconds=2),
        ivr=dataclasses.replace(config.ivr, flows_dir=str(flows_dir), dids=dict(DEMO_DIDS)),
        tts=dataclasses.replace(config.tts, cache_dir=str(data_dir / "tts-cache")),
        acd={**(config.acd or {}), "queues": DEMO_QUEUES},
    )


def _drive(call, caller: ScriptedCaller) -> None:
    """Press keys as each digit prompt starts; hang up after the configured number of prompts."""
    import gevent

    prompts = 0
    seen = 0
    keys = list(caller.keys)
    while not call.hung_up:
        apps = call.apps
        while seen < len(apps):
            app, _arg = apps[seen]
            seen += 1
            if app in ("play_and_get_digits", "read"):
                prompts += 1
                if caller.hang_up_after_prompts is not None and prompts > caller.hang_up_after_prompts:
                    call.hangup()
                    return
                if keys:
                    call.press(keys.pop(0))
        gevent.sleep(0.01)


def run_demo(config: Config, *, calls: int = 4, time_scale: float = 0.05, data_dir: str | None = None,
             serve: bool = False, web_port: int | None = None) -> int:
    """Run the demo; returns 0 when every call went through the engine and was stored.

    With `serve`, the web console and wallboard are started with demo logins (printed) and simulated
    callers keep coming until Ctrl-C, instead of the scripted batch."""
    from gevent import monkey

    monkey.patch_all()
    import gevent

    from engine.daemon import build_engine
    from engine.logs import setup_logging
    from engine.sim import FreeSwitchSim
    from engine.store.database import open_store
    from engine.store.importer import CustomerImport, ImportOptions
    from engine.store.migrate import upgrade
    from engine.esl import commands
    from engine.store.repos.agents import AgentRepository
    from engine.store.repos.interactions import InteractionRepository, RecordingRepository, SurveyRepository

    setup_logging(os.environ.get("JINQIAO_DEMO_LOG", "warning"))
    workdir = Path(data_dir or tempfile.mkdtemp(prefix="jinqiao-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    click.echo(f"Jinqiao demo — data in {workdir} (SQLite), simulated FreeSWITCH, time x{time_scale}")

    password = secrets.token_urlsafe(12)
    sim = FreeSwitchSim(password=password, time_scale=time_scale)
    sim.start()
    demo_config = _demo_config(config, workdir, password, sim.address)
    if serve:
        demo_config = dataclasses.replace(demo_config, web=dataclasses.replace(
            demo_config.web, cookie_secure=False, disposition_queues="",
            port=demo_config.web.port if web_port is None else web_port))

    store = open_store(demo_config.database_url, region=demo_config.database.phone_region)
    upgrade(store.engine)
    customers_csv = workdir / "demo_customers.csv"
    customers_csv.write_text(DEMO_CUSTOMERS, encoding="utf-8")
    summary = CustomerImport(store, ImportOptions(extra_columns="attributes")).run(customers_csv)
    click.echo(f"customers imported: {summary.inserted} new, {summary.updated} updated, {summary.rejected} rejected")
    agents = AgentRepository(store)
    for agent_id, name, skills in DEMO_AGENTS:
        agents.add(agent_id, name=name, extension=agent_id)
        for skill, level in skills.items():
            agents.set_skill(agent_id, skill, level)
        sim.add_endpoint(agent_id, answer_after=1.0, hangup_after=4.0)
    store.dispose()

    engine = build_engine(demo_config).start()
    if not engine.inbound.wait_connected(10):
        click.echo("could not connect to the simulated FreeSWITCH", err=True)
        return 1
    host, port = engine.outbound.address
    for did in DEMO_DIDS:
        sim.route(did, socket=f"{host}:{port} async full")
    for agent_id, name, _skills in DEMO_AGENTS:  # what `jinqiao agent login` sends
        engine.inbound.sendevent(commands.EV_CUSTOM, {commands.H_SUBCLASS: commands.SUBCLASS_AGENT_CONTROL,
                                                      commands.H_AGENT_ID: agent_id, commands.H_AGENT_ACTION: "login"})
    def ready_agents() -> int:
        states = engine.acd.service.snapshot()["agents"].values()
        return sum(1 for agent in states if agent["state"] == "available" and agent["registered"])

    logged_in = sim.wait_until(lambda: ready_agents() >= len(DEMO_AGENTS), 10)
    click.echo(f"agents logged in: {', '.join(a for a, _n, _s in DEMO_AGENTS)}" + ("" if logged_in else " (not all ready)"))
    if serve:
        from engine.demo_web import serve_until_interrupted

        return serve_until_interrupted(engine, sim, [a for a, _n, _s in DEMO_AGENTS], CALLERS, _drive)

    started = time.monotonic()
    chosen = [CALLERS[i % len(CALLERS)] for i in range(calls)]
    placed = []
    for caller in chosen:
        call = sim.place_call(caller.did, caller.caller, script=[])
        placed.append((caller, call, gevent.spawn(_drive, call, caller)))
    ok = all(call.wait_hangup(120) for _, call, _ in placed)
    gevent.sleep(0.5)  # let the last flows store their records
    elapsed = time.monotonic() - started

    interactions = InteractionRepository(engine.store)
    recordings, surveys = RecordingRepository(engine.store), SurveyRepository(engine.store)
    failures = 0
    click.echo("")
    for number, (caller, call, _) in enumerate(placed, 1):
        stored = interactions.by_call_id(call.uuid)
        click.echo(f"call {number}: {caller.label}")
        click.echo(f"  caller {caller.caller} -> {caller.did}; hangup cause {call.hangup_cause}")
        if stored is None:
            click.echo("  NOT STORED: the engine did not record this call")
            failures += 1
            continue
        click.echo(f"  flow {stored.ivr_flow}: {' > '.join(stored.ivr_path)}")
        if stored.ivr_digits:
            click.echo(f"  keys: {' '.join(stored.ivr_digits)}")
        click.echo(f"  outcome: {stored.ivr_outcome}")
        if stored.queue:
            # The store holds wall-clock seconds; shown in the callers' (simulated) time, like the recording.
            waited = f", waited {stored.wait_seconds / time_scale:.1f}s" if stored.wait_seconds is not None else ""
            talked = f", talked {stored.talk_seconds / time_scale:.1f}s" if stored.talk_seconds is not None else ""
            click.echo(f"  queue {stored.queue}: agent {stored.agent_id or '-'}{waited}{talked}")
        for recording in recordings.for_interaction(stored.id):
            click.echo(f"  recording: {recording.path} ({recording.duration:.1f}s, sha256 {recording.sha256[:12]})")
        for answer in surveys.for_interaction(stored.id):
            click.echo(f"  survey {answer.question}: {answer.score}")
        played = [p for p in call.played if not p.startswith("silence_stream")]
        click.echo(f"  prompts played: {len(played)}")
    click.echo("")
    click.echo(f"{len(placed)} calls in {elapsed:.1f}s: {len(placed) - failures} stored, {failures} not stored"
               + ("" if ok else " (some calls did not end in time)"))
    engine.stop()
    sim.stop()
    return 0 if ok and failures == 0 else 1
