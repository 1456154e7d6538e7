"""Agents' state across an engine restart: each agent is put back where the store last saw it.

How it works: the agent timeline (`agent_state_changes`) holds every state the engine recorded. At start the
newest step of each agent decides: logged out stays out; available, ringing or on a call comes back logged
in and ready (the call itself is not restored: it ended with the engine, or the reconciler and the switch's
events sort it out); not ready comes back not ready with its reason; wrap-up comes back in wrap-up for what
is left of it (the longest wrap-up of the agent's queues, counted from the stored step), else ready.
Registration is reconciled with the switch as it reports it: `sofia::register`/`unregister` events, and an
offer to an unregistered phone (USER_NOT_REGISTERED) marks the agent unregistered without counting a miss.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from engine.acd.distributor import AcdError, Distributor
from engine.acd.intents import Intent
from engine.acd.models import AgentState

log = logging.getLogger(__name__)
RESTORED = "restored"


@dataclass(frozen=True)
class LastState:
    """An agent's newest stored timeline step."""

    state: str
    reason: str
    at: float  # epoch seconds


def last_states(changes: Mapping[str, Any]) -> dict[str, LastState]:
    """`AgentRepository.latest_states()` rows as LastState values."""
    out = {}
    for agent_id, change in changes.items():
        at = change.at.timestamp() if hasattr(change.at, "timestamp") else float(change.at)
        out[agent_id] = LastState(str(change.state), change.reason or "", at)
    return out


def restore_agents(distributor: Distributor, last: Mapping[str, LastState], now: float,
                   queues_of: Any = None) -> list[Intent]:
    """The intents that put every known agent back in its stored state (agents not in the store are skipped).

    `queues_of(agent_id)`: the queues to log the agent into (None: the distributor's default, every queue)."""
    intents: list[Intent] = []
    for agent_id, step in last.items():
        agent = distributor.agents.get(agent_id)
        if agent is None or agent.state is not AgentState.LOGGED_OUT:
            continue
        try:
            intents += _restore_one(distributor, agent_id, step, now, queues_of)
        except AcdError as exc:  # e.g. a queue that no longer exists: that agent stays logged out
            log.warning("agent %s: not restored (%s)", agent_id, exc)
    return intents


def _restore_one(d: Distributor, agent_id: str, step: LastState, now: float, queues_of: Any) -> list[Intent]:
    try:
        state = AgentState(step.state)
    except ValueError:
        log.warning("agent %s: unknown stored state %r; left logged out", agent_id, step.state)
        return []
    if state is AgentState.LOGGED_OUT:
        return []
    queues = queues_of(agent_id) if queues_of is not None else None
    if queues is None and not d.agents[agent_id].queues:
        queues = {name: {} for name in d.queues}
    if state is AgentState.NOT_READY:
        return d.login(agent_id, now, queues, ready=False, reason=step.reason or "not ready")
    if state is AgentState.WRAP_UP:
        until = step.at + _longest_wrap_up(d, d.agents[agent_id].queues if queues is None else queues)
        if until > now:
            return d.resume_wrap_up(agent_id, until, now, queues, RESTORED)
    return d.login(agent_id, now, queues, ready=True, reason=RESTORED)


def _longest_wrap_up(d: Distributor, queues: Iterable[str]) -> float:
    return max((d.queues[q].wrap_up_seconds for q in queues if q in d.queues), default=0.0)

