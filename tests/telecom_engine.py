"""The shipped `telecom_service` flow (DID 10086) on an engine built as `jinqiao serve` builds it, against a
simulator, with agent 2001 (mandarin) in the store: the set-up shared by the end-to-end, webhook and /metrics tests."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from engine.config import Config, load_config
from engine.store.database import open_store
from engine.store.migrate import upgrade
from engine.store.repos.agents import AgentRepository

ROOT = Path(__file__).resolve().parents[1]
QUEUES = {"general_service": {"wrap_up_seconds": 1}, "vip_service": {}, "sales": {}}


def telecom_config(tmp_path: Path, sim: Any, password: str, *, freeswitch: dict[str, Any] | None = None,
                   web: dict[str, Any] | None = None, webhooks: dict[str, Any] | None = None) -> Config:
    """The engine's config: the simulator's ESL, an outbound socket on a free port, the shipped flows; `freeswitch`
    and `web` override fields of those sections, `webhooks` is the whole section."""
    base = load_config(None, environ={})
    extra: dict[str, Any] = {}
    if web is not None:
        extra["web"] = dataclasses.replace(base.web, **web)
    if webhooks is not None:
        extra["webhooks"] = webhooks
    return dataclasses.replace(
        base,
        engine=dataclasses.replace(base.engine, data_dir=str(tmp_path)),
        freeswitch=dataclasses.replace(base.freeswitch, host=sim.address[0], port=sim.address[1], password=password,
                                       **(freeswitch or {})),
        outbound=dataclasses.replace(base.outbound, port=0, linger_seconds=1),
        ivr=dataclasses.replace(base.ivr, flows_dir=str(ROOT / "ivr_flows"), dids={"10086": "telecom_service"}),
        tts=dataclasses.replace(base.tts, cache_dir=str(tmp_path / "tts")),
        acd={"queues": QUEUES},
        **extra,
    )


def seed_agent(config: Config, agent: str = "2001") -> None:
    """A migrated store with the agent (mandarin, proficiency 5) that the flow's queues route to."""
    store = open_store(config.database_url)
    upgrade(store.engine)
    AgentRepository(store).add(agent, name=f"Agent {agent}", extension=agent)
    AgentRepository(store).set_skill(agent, "mandarin", 5)
    store.dispose()
