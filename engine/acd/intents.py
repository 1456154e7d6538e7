"""What the ACD domain asks the outside world to do (or tells it happened); the service executes them."""
from __future__ import annotations

from dataclasses import dataclass

from engine.acd.models import AgentState, ExitAction


@dataclass(frozen=True)
class Offer:
    """Ring these agents for this caller (one agent, or several for ring-all; the first to answer wins)."""

    call_id: str
    queue: str
    agent_ids: tuple[str, ...]
    timeout: float


@dataclass(frozen=True)
class CancelOffer:
    """Stop ringing (or drop) this agent's leg for this caller."""

    call_id: str
    agent_id: str
    reason: str


@dataclass(frozen=True)
class Connect:
    """The agent answered: stop the caller's music and bridge the two legs."""

    call_id: str
    agent_id: str
    queue: str
    waited: float


@dataclass(frozen=True)
class CallerExit:
    """The caller leaves the queue without an agent (queue full, max wait, overflow action)."""

    call_id: str
    queue: str
    reason: str
    action: ExitAction
    waited: float


@dataclass(frozen=True)
class Abandoned:
    """The caller hung up while waiting."""

    call_id: str
    queue: str
    waited: float


@dataclass(frozen=True)
class AgentStateChanged:
    """An agent moved between states; every one of these is recorded."""

    agent_id: str
    old: AgentState
    new: AgentState
    reason: str
    at: float
    call_id: str | None = None


Intent = Offer | CancelOffer | Connect | CallerExit | Abandoned | AgentStateChanged
