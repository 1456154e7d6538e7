"""A whole engine (simulated FreeSWITCH, SQLite store, ACD, IVR) with the web console on an ephemeral port."""
from __future__ import annotations

import dataclasses
import secrets
import time
from pathlib import Path

from engine.config import load_config
from engine.demo import ScriptedCaller, _drive

DID = "6000"
PASSWORD = "web-test"
FLOW = """
name: web_test
language: zh
start: menu
nodes:
  menu:
    type: collect
    prompt: 请按1。
    min_digits: 1
    max_digits: 1
    terminator: none
    into: choice
    retries: 0
    timeout_ms: 5000
    next: to_agent
    on_failure: to_agent
  to_agent:
    type: queue
    queue: support
    on_failure: bye
  bye:
    type: hangup
    outcome: completed
"""
QUEUES = {"support": {"strategy": "longest-idle", "wrap_up_seconds": 1, "offer_timeout": 30},
          "billing": {"strategy": "longest-idle", "wrap_up_seconds": 1, "offer_timeout": 30}}
KNOWN_CALLER = "13911112222"
AGENT_PASSWORD = "agent-pass-1"
SUPERVISOR_PASSWORD = "super-pass-1"
SUPERVISOR_PHONE = "2001"


DIALER = {"gateway": "sim", "tick_s": 0.2, "poll_s": 0.2, "publish_s": 0.3,
          "compliance": {"calling_hours": {"daily": "00:00-24:00"}, "max_attempts_per_24h": 50,
                         "max_marketing_contacts_per_7d": 50}}


class WebRig:
    """Simulator + engine + web console; agents' phones answer `answer_after` seconds after they ring."""

    def __init__(self, tmp: Path, agents: tuple[str, ...] = ("1001", "1002"), answer_after: float = 2.0, *,
                 dialer: bool = False, record: bool = False) -> None:
        from engine.daemon import build_engine
        from engine.esl import commands
        from engine.sim import FreeSwitchSim
        from engine.store.database import open_store
        from engine.store.migrate import upgrade
        from engine.store.repos.agents import AgentRepository, DispositionRepository
        from engine.store.repos.customers import CustomerRepository
        from engine.store.repos.users import UserRepository
        from engine.web.server import start_web

        flows = tmp / "flows"
        flows.mkdir(parents=True, exist_ok=True)
        (flows / "web_test.yaml").write_text(FLOW, encoding="utf-8")
        self.sim = FreeSwitchSim(password=PASSWORD, time_scale=1.0, sounds_dir=str(tmp))
        self.sim.start()
        self.sim.set_sound(commands.MUSIC_ON_HOLD, 3600)
        base = load_config(None)
        self.config = dataclasses.replace(
            base, engine=dataclasses.replace(base.engine, data_dir=str(tmp / "data")),
            database=dataclasses.replace(base.database, url=""),
            freeswitch=dataclasses.replace(base.freeswitch, host=self.sim.address[0], port=self.sim.address[1],
                                           password=PASSWORD),
            outbound=dataclasses.replace(base.outbound, host="127.0.0.1", port=0, linger_seconds=1),
            ivr=dataclasses.replace(base.ivr, flows_dir=str(flows), dids={DID: "web_test"}, default_flow=""),
            tts=dataclasses.replace(base.tts, cache_dir=str(tmp / "tts")),
            web=dataclasses.replace(base.web, port=0, cookie_secure=False, disposition_queues="support"),
            acd={"queues": {name: {**q, "record": "always"} if record else q for name, q in QUEUES.items()}},
            dialer=DIALER if dialer else {})
        Path(self.config.engine.data_dir).mkdir(parents=True, exist_ok=True)
        store = open_store(self.config.database_url)
        upgrade(store.engine)
        CustomerRepository(store).upsert([KNOWN_CALLER], name="王芳", segment="vip", value_tier=4,
                                         tags=["frequent_shipper"])
        dispositions = DispositionRepository(store)
        dispositions.add("resolved", "已解决 Resolved", is_success=True)
        dispositions.add("follow_up", "需跟进 Follow-up")
        repo = AgentRepository(store)
        users = UserRepository(store)
        for agent_id in agents:
            repo.add(agent_id, name=f"Agent {agent_id}", extension=agent_id)
            users.add(agent_id, AGENT_PASSWORD, role="agent", language="zh")
            self.sim.add_endpoint(agent_id, answer_after=answer_after, hangup_after=None)
        users.add("sup1", SUPERVISOR_PASSWORD, role="supervisor", language="en")
        self.sim.add_endpoint(SUPERVISOR_PHONE, answer_after=0.5, hangup_after=None)
        store.dispose()
        self.engine = build_engine(self.config).start()
        assert self.engine.inbound.wait_connected(10)
        host, port = self.engine.outbound.address
        self.sim.route(DID, socket=f"{host}:{port} async full")
        self.web = start_web(self.engine, port=0)
        self.url = self.web.url
        self.acd = self.engine.acd.service
        self.calls: list = []

    def call(self, number: str = KNOWN_CALLER, keys: tuple[str, ...] = ("1",)):
        import gevent

        call = self.sim.place_call(DID, number, script=[])
        gevent.spawn(_drive, call, ScriptedCaller("web test", number, DID, keys), self.sim.switch.scaled)
        self.calls.append(call)
        return call

    def campaign(self, yaml_text: str, numbers: list[str], status: str = "running") -> int:
        """A campaign (YAML as `jinqiao campaign create` reads it) with these E.164 numbers, launched."""
        from engine.dialer.campaigns import parse_campaign
        from engine.store.repos.campaigns import CampaignRepository
        from engine.yamlsrc import load_text

        config = parse_campaign(load_text(yaml_text, "campaign.yaml"))
        repo = CampaignRepository(self.engine.store)
        record = repo.save(config.name, config.mode, config.queue, config.max_attempts, 600, {"config": config.raw})
        repo.enroll(record.id, [(n, None, None) for n in numbers])
        if status != "draft":
            repo.change_status(record.id, status)
        return record.id

    def wait(self, predicate, timeout: float = 20.0) -> bool:
        return self.sim.wait_until(predicate, timeout)

    def state(self, agent_id: str) -> str:
        return self.acd.agent_status(agent_id)["state"]

    def connected_at(self, call_id: str, agent_id: str) -> float | None:
        """When the ACD connected this call to this agent (the agent's phone answered), from the bus."""
        view = self.web.console.served.get(agent_id, {}).get(call_id)
        return view.connected_at if view is not None else None

    def monitor_legs(self) -> list:
        """Channels to the supervisor's phone (what the wallboard's listen / whisper / barge rang)."""
        return [ch for ch in self.sim.switch.channels.values() if ch.direction == "outbound"
                and f"/{SUPERVISOR_PHONE}" in ch.name]

    def close(self) -> None:
        for call in self.calls:
            if not call.hung_up:
                call.hangup()
        self.web.stop()
        self.engine.stop()
        self.sim.stop()


def new_secret() -> str:
    return secrets.token_hex(8)


def now() -> float:
    return time.time()
