"""Carry out a rebuild plan (rebuild.py) on the switch and the ACD after a (re)connect.

Run on every connection to FreeSWITCH (the first one after an engine start included); never from the event
dispatcher (it blocks on `show channels` and `uuid_dump`). Conversations found up stay up: the agent is put
back on the call and the interaction is finished when either side hangs up (`on_event`). Queued callers are
sent back to the engine's socket by `uuid_transfer` to the number they dialled, marked `jq_readopt`, and
re-enter their queue with their original entry time (readopt.py). A queued caller whose number is unknown
or whose queue this engine does not have is hung up, with the reason on its interaction.
"""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from engine.acd.queued import AgentLeg
from engine.acd.restore import resume_call
from engine.esl import commands
from engine.esl.hangup import hangup_facts
from engine.ha.rebuild import Conversation, LiveLeg, RebuildPlan, live_leg, plan_rebuild

if TYPE_CHECKING:  # pragma: no cover
    from engine.acd.service import QueueService

log = logging.getLogger(__name__)
DEFAULT_CONTEXT = "public"


class SwitchRebuild:
    """Rebuilds the ACD's calls from the switch; also an event handler for the conversations it adopted."""

    def __init__(self, service: "QueueService", control: Any) -> None:
        self.service = service
        self.control = control
        self.conversations: dict[str, Conversation] = {}  # by caller uuid and by agent-leg uuid
        self.rounds = 0
        self.last_plan: RebuildPlan | None = None

    # ----- one round ----------------------------------------------------------------------------
    def live_legs(self) -> list[LiveLeg]:
        legs = []
        for uuid in sorted(self.service.legs.live_channels()):
            try:
                text = self.control.api(commands.uuid_dump(uuid))
                dump = json.loads(text)
            except ValueError:  # "-ERR No such channel!": it ended between the two commands
                continue
            leg = live_leg(dump) if isinstance(dump, dict) else None
            if leg is not None:
                legs.append(leg)
        return legs

    def run(self) -> RebuildPlan | None:
        """One rebuild round; logs and returns None when the switch cannot be asked now."""
        try:
            return self.rebuild()
        except Exception as exc:
            log.warning("rebuild from the switch failed (%s); the reconciler keeps repairing", exc)
            return None

    def rebuild(self) -> RebuildPlan:
        service = self.service
        known_legs = set(service.agent_legs) | set(service.by_caller_uuid) | set(self.conversations)
        plan = plan_rebuild(self.live_legs(), set(service.calls), known_legs)
        self.rounds += 1
        self.last_plan = plan
        if plan.empty:
            return plan
        log.info("rebuild from the switch: %d conversations kept, %d queued callers re-adopted, %d agent legs "
                 "hung up", len(plan.conversations), len(plan.readopt), len(plan.hang_up))
        for conversation in plan.conversations:
            self._keep(conversation)
        for leg in plan.hang_up:
            log.info("call %s: agent %s leg %s in no conversation after a restart; hanging up", leg.call_id,
                     leg.agent_id, leg.uuid)
            service.legs.hang_up(leg.uuid)
        for leg in plan.readopt:
            self._readopt(leg)
        service.wake_timers()
        return plan

    def _keep(self, conversation: Conversation) -> None:
        service = self.service
        caller, agent_leg = conversation.caller, conversation.agent_leg
        now = service.clock()
        log.info("call %s: conversation with agent %s still up after a restart; kept", caller.call_id,
                 agent_leg.agent_id)
        service.agent_legs[agent_leg.uuid] = AgentLeg(agent_leg.uuid, agent_leg.agent_id, agent_leg.call_id,
                                                      created_at=now, answered=True, settled=True)
        self.conversations[caller.uuid] = conversation
        self.conversations[agent_leg.uuid] = conversation
        service.execute(resume_call(service.distributor, agent_leg.agent_id, caller.call_id,
                                    caller.queue or agent_leg.queue, agent_leg.answered_at or now, now))
        # When the agent hangs up the caller would be parked (park_after_bridge) with no flow: end it instead.
        service.legs.control.bgapi(commands.uuid_setvar(caller.uuid, commands.VAR_PARK_AFTER_BRIDGE, "false"))
        service.legs.control.bgapi(commands.uuid_setvar(caller.uuid, commands.VAR_HANGUP_AFTER_BRIDGE, "true"))

    def _readopt(self, leg: LiveLeg) -> None:
        service = self.service
        if leg.queue not in service.distributor.queues or not leg.destination:
            why = f"queue {leg.queue} unknown" if leg.destination else "dialled number unknown"
            log.warning("call %s: cannot re-adopt a queued caller after a restart (%s); hanging up", leg.call_id,
                        why)
            service.interactions.queue_event(leg.call_id, service.clock(), ivr_outcome="closed_after_restart",
                                             hangup_at=service.clock())
            service.legs.hang_up(leg.uuid)
            return
        log.info("call %s: queued caller re-adopted after a restart (in %s since %.0f)", leg.call_id, leg.queue,
                 leg.queued_at or 0)
        control = service.legs.control
        control.bgapi(commands.uuid_setvar(leg.uuid, commands.VAR_READOPT, "true"))
        control.bgapi(commands.uuid_transfer(leg.uuid, leg.destination, context=leg.context or DEFAULT_CONTEXT))

    # ----- the adopted conversations' end -------------------------------------------------------
    def __call__(self, event: Any) -> None:
        """Event handler (control connection): finish an adopted conversation's interaction once it ends."""
        if event.name != commands.EV_CHANNEL_HANGUP:
            return
        uuid = event.get(commands.H_UNIQUE_ID) or ""
        conversation = self.conversations.pop(uuid, None)
        if conversation is None:
            return
        caller, agent_leg = conversation.caller, conversation.agent_leg
        other = agent_leg.uuid if uuid == caller.uuid else caller.uuid
        self.conversations.pop(other, None)
        service = self.service
        now = service.clock()
        facts = hangup_facts(event)
        fields: dict[str, Any] = {"hangup_by": "caller" if uuid == caller.uuid else "agent"}
        if agent_leg.answered_at:
            fields["talk_seconds"] = round(max(0.0, now - agent_leg.answered_at), 3)
        if facts.cause:
            fields["hangup_cause"] = facts.cause
        if uuid == caller.uuid:
            fields["hangup_at"] = now
        service.interactions.queue_event(caller.call_id, now, **fields)
        log.info("call %s: adopted conversation ended by the %s", caller.call_id, fields["hangup_by"])
        service.legs.hang_up(other)


def attach_rebuild(service: "QueueService", control: Any) -> SwitchRebuild:
    """Rebuild from the switch on every (re)connect of `control`, and follow the adopted conversations."""
    rebuild = SwitchRebuild(service, control)
    control.add_handler(rebuild)
    control.on_reconnect(rebuild.run)
    return rebuild
