"""`jinqiao demo`: the whole engine against the simulated FreeSWITCH, with scripted callers and two campaigns, on SQLite.

It creates a throw-away data dir (removed at the end; a `--data-dir` is kept), migrates a SQLite store,
imports the demo customers through the real CSV import, starts the simulator and the engine (inbound ESL
connection + outbound socket server + IVR over the shipped flows), places scripted calls, and prints what
happened to each from the store: the customer matched, the path, the queue and agent, the recording, the
survey, and the callback task of a caller who gave up waiting.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    calls_when_talking: int | None = None  # placed once that caller (index in CALLERS) talks to an agent
    hang_up_on_hold_after: float | None = None  # leave after this many (simulated) seconds of hold music


VIP, UNKNOWN, SECOND_VIP = 0, 1, 2  # the callers the summary talks about
CALLERS = (
    ScriptedCaller("telecom: VIP customer goes to the VIP queue, talks to an agent, rates the call 5",
                   "13600000001", "10086", ("1", "5")),
    ScriptedCaller("telecom: unknown caller asks for an agent", "13300000000", "10086", ("1", "0", "4")),
    ScriptedCaller("telecom: a second VIP calls while the VIP agent is busy, gives up after 2 s on hold",
                   "13600000002", "10086", ("1",), calls_when_talking=VIP, hang_up_on_hold_after=2.0),
    ScriptedCaller("welcome, presses 7", "13800138000", "4000", ("7",)),
    ScriptedCaller("logistics: tracks waybill 880012345678", "13911112222", "4008001234",
                   ("1", "1", "880012345678", "9"), hang_up_after_prompts=5),
    ScriptedCaller("logistics: hangs up in the language menu", "02161234567", "4008001234", (),
                   hang_up_after_prompts=1),
)

DEMO_CUSTOMERS = """name,phone,segment,value_tier,tags,language,account_no,marketing_consent,balance
王芳,13911112222,loyal,3,frequent_shipper,zh,A10001,yes,
李雷 (VIP),+86 136 0000 0001,vip,5,offer_5g,zh,A10002,yes,88.50
Mary Chen,13800138000,new,1,,en,A10003,no,12.00
周杰 (VIP),13600000002,vip,4,,zh,A10004,yes,20.00
"""

# Agents (id, name, skills, seconds talked) and their simulated softphones: each answers after 1 s and the
# agent ends the conversation after the seconds given. 1001 is the only agent with the vip skill.
DEMO_AGENTS = (("1001", "赵敏", {"vip": 9, "mandarin": 8}, 40.0), ("1002", "钱进", {"mandarin": 6}, 4.0),
               ("1003", "Alice", {"english": 7, "mandarin": 3}, 4.0))
HOLD_MUSIC_PREFIX = "local_stream://"
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
        dialer=dict(DIALER),
    )


def _drive(call, caller: ScriptedCaller, scaled) -> None:
    """Press keys as each digit prompt starts; hang up after the configured number of prompts, or after
    the configured time on hold."""
    import gevent

    prompts = 0
    seen = 0
    keys = list(caller.keys)
    while not call.hung_up:
        apps = call.apps
        while seen < len(apps):
            app, arg = apps[seen]
            seen += 1
            if app in ("play_and_get_digits", "read"):
                prompts += 1
                if caller.hang_up_after_prompts is not None and prompts > caller.hang_up_after_prompts:
                    call.hangup()
                    return
                if keys:
                    call.press(keys.pop(0))
            if app == "playback" and arg.startswith(HOLD_MUSIC_PREFIX) and caller.hang_up_on_hold_after is not None:
                if not call.channel.hungup.wait(scaled(caller.hang_up_on_hold_after)):
                    call.hangup()
                return
        gevent.sleep(0.01)


def _place(sim, caller: ScriptedCaller, index: int, placed: dict) -> None:
    """Place one scripted call (once the call it waits for is talking to an agent) and drive it."""
    first = caller.calls_when_talking
    if first is not None:
        sim.wait_until(lambda: first in placed and (placed[first].channel.bridged_to is not None
                                                    or placed[first].hung_up), 120)
    call = sim.place_call(caller.did, caller.caller, script=[])
    placed[index] = call
    _drive(call, caller, sim.switch.scaled)


def run_demo(config: Config, *, calls: int = 4, time_scale: float = 0.05, data_dir: str | None = None,
             serve: bool = False, web_port: int | None = None) -> int:
    """Run the demo; returns 0 when every call went through the engine and was stored.

    With `serve`, after the scripted batch the simulator switches to real time, the web console and
    wallboard are started with demo logins (printed) and simulated callers keep coming until Ctrl-C."""
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
    from engine.store.repos.callbacks import CallbackRepository
    from engine.store.repos.customers import CustomerRepository
    from engine.store.repos.interactions import InteractionRepository, RecordingRepository, SurveyRepository

    setup_logging(os.environ.get("JINQIAO_DEMO_LOG", "warning"))
    temporary = data_dir is None
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
    for agent_id, name, skills, talk in DEMO_AGENTS:
        agents.add(agent_id, name=name, extension=agent_id)
        for skill, level in skills.items():
            agents.set_skill(agent_id, skill, level)
        sim.add_endpoint(agent_id, answer_after=1.0, hangup_after=talk)
    store.dispose()

    engine = build_engine(demo_config).start()
    if not engine.inbound.wait_connected(10):
        click.echo("could not connect to the simulated FreeSWITCH", err=True)
        return 1
    host, port = engine.outbound.address
    for did in DEMO_DIDS:
        sim.route(did, socket=f"{host}:{port} async full")
    from engine.acd.agent_control import control_key, signed_request

    key = control_key(password)
    for agent_id, _name, _skills, _talk in DEMO_AGENTS:  # what `jinqiao agent login` sends (signed)
        engine.inbound.sendevent(commands.EV_CUSTOM, signed_request(
            key, {commands.H_AGENT_ID: agent_id, commands.H_AGENT_ACTION: "login"}, time.time()))
    def ready_agents() -> int:
        states = engine.acd.service.snapshot()["agents"].values()
        return sum(1 for agent in states if agent["state"] == "available" and agent["registered"])

    logged_in = sim.wait_until(lambda: ready_agents() >= len(DEMO_AGENTS), 10)
    click.echo(f"agents logged in: {', '.join(a[0] for a in DEMO_AGENTS)}" + ("" if logged_in else " (not all ready)"))

    started = time.monotonic()
    chosen = [CALLERS[i % len(CALLERS)] for i in range(calls)]
    by_index: dict[int, object] = {}
    scripts = [caller if i < len(CALLERS) else dataclasses.replace(caller, calls_when_talking=None)  # repeats
               for i, caller in enumerate(chosen)]                                                # wait for nobody
    drivers = [gevent.spawn(_place, sim, caller, i, by_index) for i, caller in enumerate(scripts)]
    ok = sim.wait_until(lambda: len(by_index) == len(chosen), 120)
    placed = [(chosen[i], by_index[i]) for i in sorted(by_index)]
    ok = all(call.wait_hangup(120) for _, call in placed) and ok
    gevent.joinall(drivers, timeout=5)
    gevent.sleep(0.5)  # let the last flows store their records
    elapsed = time.monotonic() - started

    interactions = InteractionRepository(engine.store)
    recordings, surveys = RecordingRepository(engine.store), SurveyRepository(engine.store)
    customers, callbacks = CustomerRepository(engine.store), CallbackRepository(engine.store)
    agent_names = {agent_id: name for agent_id, name, _s, _t in DEMO_AGENTS}
    failures = 0
    facts: dict[int, tuple] = {}  # caller index -> (customer name, stored interaction)
    click.echo("")
    for number, (caller, call) in enumerate(placed, 1):
        stored = interactions.by_call_id(call.uuid)
        click.echo(f"call {number}: {caller.label}")
        click.echo(f"  caller {caller.caller} -> {caller.did}; call id {call.uuid}; hangup cause {call.hangup_cause}")
        if stored is None:
            click.echo("  NOT STORED: the engine did not record this call")
            failures += 1
            continue
        customer = customers.get(stored.customer_id) if stored.customer_id is not None else None
        segment = getattr(customer.segment, "value", customer.segment) if customer is not None else None
        click.echo(f"  customer: {customer.name} (segment {segment or '-'})" if customer is not None
                   else "  customer: no customer matched this number")
        facts[CALLERS.index(caller)] = (customer.name if customer is not None else None, stored)
        click.echo(f"  flow {stored.ivr_flow}: {' > '.join(stored.ivr_path)}")
        if stored.ivr_digits:
            click.echo(f"  keys: {' '.join(stored.ivr_digits)}")
        click.echo(f"  outcome: {stored.ivr_outcome}")
        if stored.queue:
            # The store holds wall-clock seconds; shown in the callers' (simulated) time, like the recording.
            waited = f", waited {stored.wait_seconds / time_scale:.1f}s" if stored.wait_seconds is not None else ""
            talked = f", talked {stored.talk_seconds / time_scale:.1f}s" if stored.talk_seconds is not None else ""
            agent = f"{stored.agent_id} {agent_names.get(stored.agent_id, '')}".strip() if stored.agent_id else "-"
            gave_up = ", gave up waiting" if stored.abandoned else ""
            click.echo(f"  queue {stored.queue}: agent {agent}{waited}{talked}{gave_up}")
        for recording in recordings.for_interaction(stored.id):
            click.echo(f"  recording: {recording.path} ({recording.duration:.1f}s, sha256 {recording.sha256[:12]})")
        for answer in surveys.for_interaction(stored.id):
            click.echo(f"  survey {answer.question}: {answer.score}")
        if stored.abandoned and stored.customer_id is not None:
            for task in callbacks.open_for(customer_id=stored.customer_id):
                click.echo(f"  callback task #{task.id}: {task.status.value}, booked because the caller {task.source}")
        played = [p for p in call.played if not p.startswith("silence_stream")]
        click.echo(f"  prompts played: {len(played)}")
    click.echo("")
    for line in _summary(facts, agent_names, time_scale):
        click.echo(line)
    click.echo(f"{len(placed)} calls in {elapsed:.1f}s: {len(placed) - failures} stored, {failures} not stored"
               + ("" if ok else " (some calls did not end in time)"))
    ok = run_campaigns(engine, sim, time_scale) and ok
    if serve:
        from engine.demo_web import serve_until_interrupted

        sim.switch.time_scale = 1.0  # a person watches the console now: callers talk in real time
        serve_until_interrupted(engine, sim, [a[0] for a in DEMO_AGENTS], CALLERS,
                                lambda call, caller: _drive(call, caller, sim.switch.scaled))
    engine.stop()
    sim.stop()
    if temporary:
        shutil.rmtree(workdir, ignore_errors=True)
        click.echo(f"temporary data removed ({workdir}); keep it with --data-dir")
    else:
        click.echo(f"data left in {workdir}")
    return 0 if ok and failures == 0 else 1


def _summary(facts: dict[int, tuple], agent_names: dict[str, str], time_scale: float) -> list[str]:
    """What the demo shows, in words, from the stored interactions."""
    lines = []
    vip = facts.get(VIP, (None, None))[1]
    other = facts.get(UNKNOWN, (None, None))[1]
    if vip is not None and vip.agent_id:
        waited = f" after {vip.wait_seconds / time_scale:.1f}s in the queue" if vip.wait_seconds is not None else ""
        lines.append(f"VIP {facts[VIP][0]} was answered by {vip.agent_id} {agent_names.get(vip.agent_id, '')}, "
                     f"the only agent with the vip skill,{waited}")
    if other is not None and other.agent_id:
        said = (f"the unknown caller was answered in {other.queue} by {other.agent_id} "
                f"{agent_names.get(other.agent_id, '')}")
        if (vip is not None and vip.agent_id and other.agent_id != vip.agent_id and other.queue_entered_at
                and vip.queue_entered_at and other.queue_entered_at < vip.queue_entered_at):
            ahead = (vip.queue_entered_at - other.queue_entered_at).total_seconds() / time_scale
            said += (f"; it queued {ahead:.1f}s before the VIP, while {vip.agent_id} was free, and "
                     f"{vip.agent_id} was kept for the VIP")
        lines.append(said)
    if SECOND_VIP in facts and facts[SECOND_VIP][1].abandoned:
        name, second = facts[SECOND_VIP]
        lines.append(f"{name} gave up waiting in {second.queue} while the VIP agent was busy, and was given a "
                     "callback task")
    return lines


# ----- outbound: a short predictive campaign and an agentless reminder campaign ------------------------------
PREDICTIVE = """name: demo_predictive
mode: predictive
purpose: marketing
queue: sales
ring_timeout: 20s
caller_id: '4008001234'
answering_machine: {detect: true, action: hangup}
retry:
  busy: {delay: 10m, max_attempts: 0}
  no_answer: {delay: 10m, max_attempts: 0}
  machine: {delay: 10m, max_attempts: 0}
  failed: {delay: 10m, max_attempts: 0}
  dropped: {delay: 10m, max_attempts: 0}
  interrupted: {delay: 10m, max_attempts: 0}
"""
REMINDER = """name: demo_reminder
mode: agentless
purpose: collections
ivr_flow: overdue_reminder
ring_timeout: 20s
caller_id: '4008001234'
retry:
  busy: {delay: 10m, max_attempts: 0}
  no_answer: {delay: 10m, max_attempts: 0}
  machine: {delay: 10m, max_attempts: 0}
  interrupted: {delay: 10m, max_attempts: 0}
"""
# The dialer's settings for the demo: the simulator's gateway, calls allowed at any hour (the demo runs whenever).
DIALER = {"gateway": "sim", "tick_s": 0.2, "poll_s": 0.3,
          "compliance": {"calling_hours": {"daily": "00:00-24:00"}, "max_attempts_per_24h": 50,
                         "max_marketing_contacts_per_7d": 50}}
PREDICTIVE_CONTACTS = 40
REMINDERS = (("+8613500000001", "王芳", "1280"), ("+8613500000002", "周杰", "560"), ("+8613500000003", "Mary", "99"))


def run_campaigns(engine: Any, sim: Any, time_scale: float = 1.0, timeout: float = 90.0) -> bool:
    """Create, launch and run both campaigns to their end; print their reports. True when both finished."""
    import gevent

    from engine.dialer.campaign_cli import report_lines
    from engine.dialer.campaigns import parse_campaign
    from engine.dialer.hopper import load_handle
    from engine.sim.listening import KeyPress, press_keys
    from engine.sim.population import Population
    from engine.store.repos.campaigns import CampaignRepository
    from engine.store.repos.dial_attempts import DialAttemptRepository
    from engine.yamlsrc import load_text

    store, repo = engine.store, CampaignRepository(engine.store)
    sim.set_population(Population(answer=0.35, machine=0.1, busy=0.05, unallocated=0.03, seed=9, talk_median=20.0))
    for number, _name, _amount in REMINDERS:
        sim.set_destination(number, outcome="answer", after=4.0)
    ids = []
    for text, contacts in ((PREDICTIVE, [(f"+86137{i:08d}", None, None) for i in range(PREDICTIVE_CONTACTS)]),
                           (REMINDER, [(n, None, None) for n, _, _ in REMINDERS])):
        config = parse_campaign(load_text(text, "demo.yaml"))
        record = repo.save(config.name, config.mode, config.queue, config.max_attempts, 600, {"config": config.raw})
        repo.enroll(record.id, contacts)
        ids.append(record.id)
    with store.session() as s:  # the reminder's amounts, as a CSV import's extra columns would give them
        from engine.store.models import CampaignContactRow
        for row in s.query(CampaignContactRow).filter(CampaignContactRow.campaign_id == ids[1]):
            name, amount = next((n, a) for num, n, a in REMINDERS if num == row.number)
            row.data = {"name": name, "amount_due": amount}
    seen: set[str] = set()

    def callees_press_keys() -> None:  # each reminder callee presses 2, then the 20th
        while True:
            for ch in list(sim.channels.values()):
                if ch.answered and ch.uuid not in seen and ch.variables.get("jq_campaign_id") == str(ids[1]):
                    seen.add(ch.uuid)
                    gevent.spawn(press_keys, ch, [KeyPress("2"), KeyPress("20#")])
            gevent.sleep(0.05)
    keys = gevent.spawn(callees_press_keys)
    click.echo("")
    click.echo(f"outbound: a predictive campaign of {PREDICTIVE_CONTACTS} prospects (3 agents, answering-machine "
               f"detection) and an agentless overdue reminder to {len(REMINDERS)} customers")
    started = time.monotonic()
    for campaign_id in ids:
        repo.change_status(campaign_id, "running")

    def finished() -> bool:
        return all(repo.counts(c).get("pending", 0) == 0 for c in ids) and not engine.dialer.calls
    deadline = time.monotonic() + timeout
    while not finished() and time.monotonic() < deadline:
        gevent.sleep(0.2)
    done = finished()
    keys.kill()
    for campaign_id in ids:
        handle = load_handle(store, campaign_id)
        figures = DialAttemptRepository(store).figures(campaign_id, handle.record.created_at)
        click.echo("")
        for line in report_lines(handle, figures):
            click.echo(line)
    click.echo(f"campaigns {'finished' if done else 'NOT finished'} in {time.monotonic() - started:.1f}s "
               f"(`jinqiao campaign report NAME` prints the same; talk times are wall-clock, the simulator runs "
               f"x{time_scale})")
    return done
