"""What an engine finds on the switch after it (re)starts: queued callers to take back, agent conversations
still up, agent legs left ringing. Pure: channel dumps in, a plan out.

How it works: the engine tags every leg it controls with `jq_*` channel variables (the call id on all of them,
the queue and the entry time on a queued caller, the agent on an agent leg). After an engine restart the
switch still has those channels: `uuid_dump` of each live channel gives the variables back, and this module
decides, per call the running engine does not know, what to do with it:
- a caller in a queue with no agent conversation: re-adopt it (send it back to the engine's socket, where it
  re-enters its queue with its original entry time, so it keeps its place in line);
- a caller bridged to an answered agent leg: leave the conversation up and put the agent back on that call;
- an agent leg that is not in a conversation (ringing, or answered but never bridged): hang it up (the agent
  is freed; its caller, if still there, is re-adopted and offered again).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from engine.esl import commands

VAR = "variable_"


@dataclass(frozen=True)
class LiveLeg:
    """One live channel as the engine tagged it."""

    uuid: str
    call_id: str
    queue: str = ""
    agent_id: str = ""
    queued_at: float | None = None
    answered: bool = False
    answered_at: float | None = None  # epoch seconds
    bridged_to: str = ""
    destination: str = ""
    context: str = ""
    caller_number: str = ""
    readopt: bool = False  # already sent back to the engine's socket by an earlier rebuild

    @property
    def is_agent_leg(self) -> bool:
        return bool(self.agent_id)

    @property
    def is_queued_caller(self) -> bool:
        return not self.agent_id and bool(self.queue) and self.queued_at is not None


def _epoch(micros: str) -> float | None:
    return int(micros) / 1e6 if micros.isdigit() and int(micros) > 0 else None


def live_leg(dump: Mapping[str, str]) -> LiveLeg | None:
    """A LiveLeg from `uuid_dump <uuid> json`; None for a channel the engine never tagged."""
    call_id = dump.get(VAR + commands.VAR_CALL_ID, "")
    uuid = dump.get(commands.H_UNIQUE_ID, "")
    if not call_id or not uuid:
        return None
    try:
        queued_at = float(dump.get(VAR + commands.VAR_QUEUED_AT, "") or "nan")
        queued_at = None if queued_at != queued_at else queued_at
    except ValueError:
        queued_at = None
    return LiveLeg(
        uuid=uuid, call_id=call_id, queue=dump.get(VAR + commands.VAR_QUEUE, ""),
        agent_id=dump.get(VAR + commands.VAR_AGENT_ID, ""), queued_at=queued_at,
        answered=dump.get(commands.H_ANSWER_STATE, "") == "answered",
        answered_at=_epoch(dump.get("Caller-Channel-Answered-Time", "")),
        bridged_to=dump.get(VAR + commands.VAR_BRIDGE_UUID, "") or dump.get(commands.H_OTHER_LEG_UUID, ""),
        destination=dump.get(commands.H_DESTINATION_NUMBER, ""), context=dump.get(commands.H_CALLER_CONTEXT, ""),
        caller_number=dump.get(commands.H_CALLER_NUMBER, ""),
        readopt=dump.get(VAR + commands.VAR_READOPT, "") == "true")


@dataclass(frozen=True)
class Conversation:
    """A caller and the agent leg it is bridged to, both still up."""

    caller: LiveLeg
    agent_leg: LiveLeg


@dataclass
class RebuildPlan:
    readopt: list[LiveLeg] = field(default_factory=list)  # oldest first (their place in line)
    conversations: list[Conversation] = field(default_factory=list)
    hang_up: list[LiveLeg] = field(default_factory=list)  # agent legs in no conversation

    @property
    def empty(self) -> bool:
        return not (self.readopt or self.conversations or self.hang_up)


def plan_rebuild(legs: Iterable[LiveLeg], known_calls: set[str], known_legs: set[str]) -> RebuildPlan:
    """Decide for every tagged leg of a call the engine does not track (`known_calls`, `known_legs`)."""
    legs = [leg for leg in legs if leg.call_id not in known_calls and leg.uuid not in known_legs]
    by_uuid = {leg.uuid: leg for leg in legs}
    plan = RebuildPlan()
    in_conversation: set[str] = set()
    for leg in legs:
        if not leg.is_agent_leg or not leg.answered:
            continue
        caller = by_uuid.get(leg.bridged_to)
        if caller is None or caller.is_agent_leg or caller.call_id != leg.call_id:
            continue
        if caller.bridged_to and caller.bridged_to != leg.uuid:
            continue
        plan.conversations.append(Conversation(caller, leg))
        in_conversation |= {caller.uuid, leg.uuid}
    for leg in legs:
        if leg.uuid in in_conversation:
            continue
        if leg.is_agent_leg:
            plan.hang_up.append(leg)
        elif leg.is_queued_caller:
            plan.readopt.append(leg)
    plan.readopt.sort(key=lambda leg: leg.queued_at or 0.0)
    return plan
