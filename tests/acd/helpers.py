"""Builders shared by the ACD tests: queues, agents and callers with sensible defaults."""
from __future__ import annotations

from engine.acd.distributor import Distributor
from engine.acd.intents import AgentStateChanged, Connect, Offer
from engine.acd.models import Agent, AgentState, QueueConfig, Strategy, WaitingCaller


def queue(name: str = "support", **kw) -> QueueConfig:
    kw.setdefault("wrap_up_seconds", 0.0)
    return QueueConfig(name=name, **kw)


def agent(agent_id: str, queues=("support",), skills=None, idle_since: float = 0.0, **kw) -> Agent:
    return Agent(agent_id=agent_id, extension=agent_id, skills=dict(skills or {}),
                 queues={q: {} for q in queues}, idle_since=idle_since, **kw)


def caller(call_id: str, queue_name: str = "support", at: float = 0.0, **kw) -> WaitingCaller:
    return WaitingCaller(call_id=call_id, queue=queue_name, enqueued_at=at, **kw)


def distributor(queues, agents, now: float = 0.0, ready: bool = True) -> Distributor:
    d = Distributor({q.name: q for q in queues}, agents)
    for a in agents:
        d.login(a.agent_id, now, ready=ready)
    return d


def offers(intents) -> list[Offer]:
    return [i for i in intents if isinstance(i, Offer)]


def offered_agent(intents) -> str | None:
    found = offers(intents)
    assert len(found) <= 1, found
    return found[0].agent_ids[0] if found else None


def offered_call(intents) -> str | None:
    found = offers(intents)
    return found[0].call_id if found else None


def connects(intents) -> list[Connect]:
    return [i for i in intents if isinstance(i, Connect)]


def transitions(intents, agent_id: str) -> list[AgentState]:
    return [i.new for i in intents if isinstance(i, AgentStateChanged) and i.agent_id == agent_id]


__all__ = ["AgentState", "Strategy", "queue", "agent", "caller", "distributor", "offers", "offered_agent",
           "offered_call", "connects", "transitions"]
