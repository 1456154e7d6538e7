"""The ACD's live call table: queued calls by call id and caller uuid, agent legs by uuid, recordings closing."""
from __future__ import annotations

from gevent.event import Event as Flag

from engine.acd.distributor import AcdError
from engine.acd.queued import AgentLeg, QueuedCall


class LiveCalls:
    """What the ACD's services share about calls in progress (the agent pool is the `Distributor`)."""

    def __init__(self) -> None:
        self.calls: dict[str, QueuedCall] = {}  # by call id
        self.by_caller_uuid: dict[str, QueuedCall] = {}
        self.agent_legs: dict[str, AgentLeg] = {}  # by leg uuid
        self.recordings_closing: dict[str, Flag] = {}  # path -> set on its RECORD_STOP (file closed)

    def add(self, call: QueuedCall, caller_uuid: str) -> None:
        self.calls[call.call_id] = call
        self.by_caller_uuid[caller_uuid] = call

    def remove(self, call: QueuedCall, caller_uuid: str) -> None:
        self.by_caller_uuid.pop(caller_uuid, None)
        self.calls.pop(call.call_id, None)

    def connected(self, call_id: str) -> QueuedCall:
        """The call, connected to an agent (AcdError otherwise)."""
        call = self.calls.get(call_id)
        if call is None or call.status != "connected" or not call.agent_leg:
            raise AcdError(f"call {call_id} is not connected to an agent")
        return call

    def leg_for(self, call_id: str, agent_id: str) -> AgentLeg | None:
        """The live leg ringing or connecting `agent_id` for `call_id`."""
        for leg in self.agent_legs.values():
            if leg.call_id == call_id and leg.agent_id == agent_id and not leg.gone:
                return leg
        return None

    def bridging_on_answer(self, call: QueuedCall) -> bool:
        """An agent leg FreeSWITCH will bridge to this caller on its answer is still ringing or up."""
        return any(leg.call_id == call.call_id and leg.bridges_on_answer and not leg.gone
                   for leg in self.agent_legs.values())
