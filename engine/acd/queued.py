"""The service's view of one queued call and of each agent leg it originated."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gevent.event import Event as Flag

from engine.acd.ports import CustomerInfo
from engine.esl.hangup import HangupFacts
from engine.ivr.ports import QueueResult


def mask(number: str) -> str:
    return number if len(number) <= 4 else number[:3] + "*" * (len(number) - 5) + number[-2:]


@dataclass
class QueuedCall:
    """A caller the service is handling, from enqueue to the end of its agent conversation."""

    call_id: str
    channel: Any
    queue: str
    caller_number: str
    customer: CustomerInfo | None
    language: str
    enqueued_at: float
    status: str = "waiting"  # waiting | connected | left
    agent_id: str | None = None
    agent_leg: str | None = None
    result: QueueResult | None = None
    recording: str | None = None
    answered_at: float = 0.0
    transfer: tuple[str, str] | None = None  # (kind, target) requested while connected
    transferred_from: str | None = None  # the agent who transferred this call here
    consult_leg: str | None = None  # the leg of an agent being consulted for an attended transfer
    callback: bool = False  # a virtual caller: the customer is dialled once an agent has answered
    callback_id: str | None = None  # its entry in the callback book (agent-first callbacks)
    bridged: bool = False  # the caller has met an agent (uuid_bridge succeeded)
    decided: Flag = field(default_factory=Flag)  # the wait is over (connected or left)
    finished: Flag = field(default_factory=Flag)  # the agent conversation is over
    announce_due: bool = False
    holding: bool = False  # the caller's greenlet is in the hold loop (waiting for a music playback to end)
    hangup: HangupFacts | None = None  # how the caller's channel ended, as FreeSWITCH reported it
    ivr_path: tuple[str, ...] = ()  # from the IVR, shown on the screen-pop
    ivr_digits: tuple[str, ...] = ()


@dataclass
class AgentLeg:
    """One originated agent leg; `settled` once its answer or failure was handled."""

    uuid: str
    agent_id: str
    call_id: str
    created_at: float = 0.0
    consult: bool = False  # rung for an attended transfer, not from the queue
    answered: bool = False
    settled: bool = False
    gone: bool = False
    recovering: bool = False  # its originate result was lost; being reconciled by uuid (executor._recover_leg)
    bridges_on_answer: bool = False  # FreeSWITCH bridges the caller to it when it answers (api_on_answer)
    played: Flag = field(default_factory=Flag)  # a playback on the leg (the whisper) ended, or the leg is gone


@dataclass
class CallbackLine:
    """Stands in for the caller's channel of an agent-first callback; `uuid` is the customer leg to be dialled."""

    uuid: str
    caller_number: str
    caller_name: str = ""
    hung_up: bool = False
    dialled_at: float | None = None  # when the customer leg was originated (None: not dialled yet)
