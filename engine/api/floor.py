"""API resources: agents with their live state, and queues with their live figures (from the running ACD)."""
from __future__ import annotations

from typing import Any

from engine.api import schemas as s
from engine.api.errors import not_found
from engine.api.operation import Call, Operation, Param
from engine.store.repos.agents import AgentRepository

_OFFLINE = {"state": "logged-out", "reason": None, "registered": None, "call_id": None, "queues": [],
            "seconds_in_state": None}


def _agents(call: Call) -> list[dict[str, Any]]:
    live = {a["id"]: a for a in call.services.console.floor(history=False)["agents"]}
    out = []
    for agent in AgentRepository(call.store).list():
        state = live.get(agent.id, _OFFLINE)
        out.append({**s.plain(agent), **{k: state.get(k) for k in _OFFLINE}, "queues": list(state.get("queues") or [])})
    return out


def agents(call: Call) -> Any:
    return {"items": _agents(call)}


def agent(call: Call) -> Any:
    for item in _agents(call):
        if item["id"] == call.path["agent_id"]:
            return item
    raise not_found(f"agent {call.path['agent_id']!r}")


def queues(call: Call) -> Any:
    return {"items": call.services.console.floor(history=False)["queues"]}


def queue(call: Call) -> Any:
    for item in call.services.console.floor(history=False)["queues"]:
        if item["name"] == call.path["queue"]:
            return item
    raise not_found(f"queue {call.path['queue']!r}")


OPERATIONS = (
    Operation("GET", "/agents", "listAgents", "agents:read", "Every agent with their live state.", agents,
              s.obj({"items": {"type": "array", "items": s.AGENT}}, ("items",), closed=False), tag="agents"),
    Operation("GET", "/agents/{agent_id}", "getAgent", "agents:read", "One agent with their live state.", agent,
              s.AGENT, params=(Param("agent_id", "path", s.text(32, minLength=1)),), tag="agents"),
    Operation("GET", "/queues", "listQueues", "queues:read",
              "Every queue: callers waiting, longest wait, today's service level and abandon rate, agents by state.",
              queues, s.obj({"items": {"type": "array", "items": s.QUEUE}}, ("items",), closed=False), tag="queues"),
    Operation("GET", "/queues/{queue}", "getQueue", "queues:read", "One queue's live figures.", queue, s.QUEUE,
              params=(Param("queue", "path", s.text(64, minLength=1)),), tag="queues"),
)
