"""A dialing rig on the FreeSWITCH simulator over real ESL: store (SQLite), ACD with agent phones, the engine's
outbound server with the dialer's per-call handler, the dialing service, and an independent event listener
that records what the switch reports about every customer leg (the ground truth the reports must equal)."""
from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from typing import Any

from engine.acd.legs import SwitchLegs
from engine.acd.models import Agent, QueueConfig
from engine.acd.ports import MemoryRecords
from engine.acd.service import QueueService
from engine.dialer.answered import CampaignCalls
from engine.dialer.campaigns import parse_campaign
from engine.dialer.compliance import CompliancePolicy
from engine.dialer.hopper import Hopper, load_handle
from engine.dialer.service import DialerService, DialerSettings
from engine.esl import commands
from engine.esl.connection import InboundConnection, OutboundServer
from engine.ivr.hours import parse_weekly
from engine.sim import FreeSwitchSim
from engine.store.database import open_store
from engine.store.repos.campaigns import CampaignRepository
from engine.yamlsrc import load_text

PASSWORD = "dialer-test"
OPEN_ALL_DAY = CompliancePolicy(calling_hours=parse_weekly({"daily": "00:00-24:00"})[0], max_attempts_per_24h=50,
                                max_marketing_contacts_per_7d=50)


class SwitchTruth:
    """Per customer leg (by uuid), what the switch itself reported: answer, bridge, end, cause."""

    def __init__(self) -> None:
        self.legs: dict[str, dict[str, Any]] = defaultdict(dict)

    def on_event(self, event: Any) -> None:
        h = event.headers
        campaign = h.get("variable_" + commands.VAR_CAMPAIGN_ID)
        uuid = h.get(commands.H_UNIQUE_ID, "")
        if not campaign or not uuid:
            return
        leg = self.legs[uuid]
        at = int(h.get(commands.H_EVENT_DATE_TIMESTAMP, "0")) / 1e6
        name = event.name
        if name == commands.EV_CHANNEL_ANSWER:
            leg.setdefault("answered", at)
        elif name == commands.EV_CHANNEL_BRIDGE:
            leg.setdefault("bridged", at)
        elif name in (commands.EV_CHANNEL_UNBRIDGE, commands.EV_CHANNEL_HANGUP):
            if "bridged" in leg:
                leg.setdefault("talk_end", at)
            if name == commands.EV_CHANNEL_HANGUP:
                leg.setdefault("ended", at)
                leg.setdefault("cause", h.get(commands.H_HANGUP_CAUSE, ""))
                leg.setdefault("number", h.get(commands.H_DESTINATION_NUMBER, ""))

    def talk_seconds(self) -> float:
        return sum(round(leg["talk_end"] - leg["bridged"], 3) for leg in self.legs.values()
                   if "bridged" in leg and "talk_end" in leg)


class DialerRig:
    def __init__(self, tmp_path, *, agents: int, queue: str = "sales", wrap_up: float = 0.0,
                 agent_answer_after: float = 0.05, settings: DialerSettings | None = None,
                 time_scale: float = 0.01, runner: Any = None, announcer: Any = None) -> None:
        self.sim = FreeSwitchSim(password=PASSWORD, time_scale=time_scale, sounds_dir=str(tmp_path))
        self.sim.start()
        self.sim.set_sound(commands.MUSIC_ON_HOLD, 3600)
        host, port = self.sim.address
        self.store = open_store(f"sqlite:///{tmp_path / 'dialer.db'}")
        self.store.create_all()
        self.control = InboundConnection(host, port, PASSWORD, heartbeat_timeout=5, reconnect_min_delay=0.05).start()
        self.watch = InboundConnection(host, port, PASSWORD, heartbeat_timeout=5).start()
        assert self.control.wait_connected(5) and self.watch.wait_connected(5)
        self.truth = SwitchTruth()
        self.watch.add_handler(self.truth.on_event)
        self.records = MemoryRecords()
        names = [str(1001 + i) for i in range(agents)]
        from engine.store.repos.agents import AgentRepository
        for name in names:  # the agents table, as `jinqiao agents add` fills it (interactions name their agent)
            AgentRepository(self.store).add(name, extension=name)
        for name in names:
            self.sim.add_endpoint(name, answer_after=agent_answer_after)
        self.acd = QueueService({queue: QueueConfig(queue, wrap_up_seconds=wrap_up)},
                                [Agent(a, extension=a) for a in names], legs=SwitchLegs(self.control),
                                clock=time.time, agent_log=self.records, interactions=self.records,
                                callbacks=self.records, recordings=self.records, bridge_on_answer=True)
        self.reconciler = self.acd.attach(self.control, reconcile_every=3600)
        self.acd.start()
        self.hopper = Hopper(self.store, OPEN_ALL_DAY, "rig")
        self.calls_handler: CampaignCalls | None = None
        self.server = OutboundServer("127.0.0.1", 0, lambda ch: self.calls_handler.handle(ch)).start()
        self.dialer = DialerService(self.store, self.control, self.hopper, socket_address=self.server.address,
                                    queues=self.acd,
                                    settings=settings or DialerSettings(gateway="sim", tick_s=0.05, poll_s=0.1,
                                                                        publish_s=0.5))
        self.dialer.attach(self.control)
        self.calls_handler = CampaignCalls(self.dialer, runner=runner, announcer=announcer)
        self.agent_names = names
        for name in names:
            self.acd.login(name, [queue])

    def campaign(self, yaml_text: str, numbers: list[str]) -> int:
        config = parse_campaign(load_text(yaml_text, "campaign.yaml"))
        repo = CampaignRepository(self.store)
        record = repo.save(config.name, config.mode, config.queue, config.max_attempts, 600, {"config": config.raw})
        repo.enroll(record.id, [(n, None, None) for n in numbers])
        return record.id

    def launch(self, campaign_id: int) -> None:
        CampaignRepository(self.store).change_status(campaign_id, "running")

    def handle(self, campaign_id: int):
        return load_handle(self.store, campaign_id)

    def wait_done(self, campaign_id: int, contacts: int, timeout: float = 60.0) -> None:
        repo = CampaignRepository(self.store)

        def done() -> bool:
            counts = repo.counts(campaign_id)
            return counts.get("pending", 0) == 0 and not self.dialer.calls and sum(counts.values()) == contacts
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, (repo.counts(campaign_id), len(self.dialer.calls))
            time.sleep(0.05)

    def close(self) -> None:
        self.dialer.stop()
        for channel in list(self.sim.channels.values()):
            channel.hangup("NORMAL_CLEARING")
        self.acd.stop()
        self.reconciler.stop()
        self.server.stop(timeout=1)
        self.control.close()
        self.watch.close()
        self.sim.stop()
        self.store.dispose()


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)
