"""Transfers of a connected call: blind (to a queue, an agent or a number) and attended (consult an agent,
then complete or cancel). The customer context, call id and interaction follow the call, and the
receiving agent gets the same screen-pop (with `transferred_from`)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

import gevent

from engine.acd.bus import TOPIC_SCREEN_POP, Bus
from engine.acd.distributor import AcdError, Distributor
from engine.acd.intents import Offer
from engine.acd.legs import SwitchLegs
from engine.acd.live_calls import LiveCalls
from engine.acd.ports import InteractionLog
from engine.acd.queued import AgentLeg, QueuedCall
from engine.esl import commands

if TYPE_CHECKING:  # pragma: no cover
    from engine.acd.executor import IntentExecutor

log = logging.getLogger(__name__)


class Consultations:
    """The switch side of a consulted agent's leg: bridge the two agents on its answer, back to the caller after."""

    def __init__(self, live: LiveCalls, legs: SwitchLegs, music: str) -> None:
        self.live = live
        self.legs = legs
        self.music = music

    def answered(self, leg: AgentLeg) -> None:
        """The consulted agent answered: the first agent talks to them, the caller hears music."""
        call = self.live.calls.get(leg.call_id)
        if call is None or call.consult_leg != leg.uuid or not call.agent_leg:
            self.legs.hang_up(leg.uuid)
            return
        gevent.spawn(self.rebridge, call, call.agent_leg, leg.uuid, hold_caller=True)

    def ended(self, leg: AgentLeg) -> None:
        """The consulted agent's leg failed or hung up before completion: caller and first agent talk again."""
        call = self.live.calls.get(leg.call_id)
        if call is None or call.consult_leg != leg.uuid:
            return
        call.consult_leg = None
        if leg.answered and call.agent_leg:
            gevent.spawn(self.rebridge, call, call.channel.uuid, call.agent_leg, hold_caller=False)

    def rebridge(self, call: QueuedCall, a: str, b: str, *, hold_caller: bool) -> None:
        control = self.legs.control
        try:
            reply = control.api(commands.uuid_bridge(a, b))
            if reply.startswith(commands.REPLY_ERR):
                log.warning("call %s: bridge %s-%s failed: %s", call.call_id, a, b, reply.strip())
            elif hold_caller:
                control.api(commands.uuid_broadcast(call.channel.uuid, self.music, "aleg"))
        except Exception:
            log.exception("call %s: bridging %s and %s failed", call.call_id, a, b)


class TransferDesk:
    """Blind and attended transfers of calls connected to an agent."""

    def __init__(self, distributor: Distributor, live: LiveCalls, *, legs: SwitchLegs, clock: Callable[[], float],
                 executor: "IntentExecutor", consults: Consultations, bus: Bus, interactions: InteractionLog) -> None:
        self.distributor = distributor
        self.live = live
        self.legs = legs
        self.clock = clock
        self.executor = executor
        self.consults = consults
        self.bus = bus
        self.interactions = interactions

    def transfer(self, call_id: str, kind: str, target: str) -> None:
        """Blind transfer of a connected call to a `queue`, an `agent` or a `number`.

        The agent's leg is released (the agent goes to wrap-up); the caller's greenlet then queues the
        call again (queue, agent) keeping its call id, customer and interaction, or the switch moves the
        caller to the number through the dialplan.
        """
        call = self.live.connected(call_id)
        if kind == "queue" and target not in self.distributor.queues:
            raise AcdError(f"unknown queue {target!r} (known: {', '.join(sorted(self.distributor.queues))})")
        if kind == "agent":
            self.distributor.agent(target)
        if kind not in ("queue", "agent", "number"):
            raise AcdError(f"a transfer goes to a queue, an agent or a number, not {kind!r}")
        log.info("call %s: blind transfer by agent %s to %s %s", call_id, call.agent_id, kind, target)
        self.interactions.queue_event(call_id, self.clock(), hangup_by=f"transfer:{kind}")
        call.transfer = (kind, target)
        if kind == "number":
            self.legs.transfer(call.channel.uuid, target)
        self.legs.hang_up(call.agent_leg)

    # ----- attended -----------------------------------------------------------------------------
    def consult(self, call_id: str, agent_id: str) -> str:
        """Ring `agent_id` for the connected agent to talk to, while the caller stays with its agent.

        When the consulted agent answers, the first agent is bridged to them and the caller hears music.
        Returns the consult leg's UUID.
        """
        call = self.live.connected(call_id)
        if call.consult_leg is not None:
            raise AcdError(f"call {call_id} already has a consultation in progress")
        now = self.clock()
        self.executor.execute(self.distributor.consult(agent_id, call_id, call.queue, now))
        leg = AgentLeg(commands.new_uuid(), agent_id, call_id, created_at=now, consult=True)
        self.live.agent_legs[leg.uuid] = leg
        call.consult_leg = leg.uuid
        offer = Offer(call_id, call.queue, (agent_id,), self.distributor.queues[call.queue].offer_timeout)
        pop = self.executor.screen_pop(call, offer, agent_id) | {"transferred_from": call.agent_id, "consult": True}
        self.bus.publish(TOPIC_SCREEN_POP, pop)
        agent = self.distributor.agents[agent_id]
        log.info("call %s: agent %s consults agent %s", call_id, call.agent_id, agent_id)
        future = self.legs.ring_agent(leg.uuid, agent.extension or agent_id, call_id=call_id, queue=call.queue,
                                      caller_number=call.caller_number, display_name=f"transfer-{call.agent_id}",
                                      timeout=offer.timeout, headers={})
        future.rawlink(lambda done: gevent.spawn(self.executor.ring_done, leg, done))
        return leg.uuid

    def complete_transfer(self, call_id: str) -> None:
        """Hand the caller to the consulted agent; the first agent's leg is released into wrap-up."""
        call = self.live.connected(call_id)
        leg = self.live.agent_legs.get(call.consult_leg or "")
        if leg is None or not leg.answered:
            raise AcdError(f"call {call_id} has no answered consultation to complete")
        old_leg, old_agent = call.agent_leg, call.agent_id
        call.agent_leg, call.agent_id, call.consult_leg, call.transferred_from = leg.uuid, leg.agent_id, None, old_agent
        self.interactions.queue_event(call_id, self.clock(), agent_id=leg.agent_id)
        log.info("call %s: attended transfer from agent %s to agent %s", call_id, old_agent, leg.agent_id)

        def hand_over() -> None:
            self.consults.rebridge(call, call.channel.uuid, leg.uuid, hold_caller=False)
            if old_leg:
                self.legs.hang_up(old_leg)
        gevent.spawn(hand_over)

    def cancel_consult(self, call_id: str) -> None:
        """Drop the consulted agent; the caller goes back to the first agent."""
        call = self.live.connected(call_id)
        if call.consult_leg is None:
            raise AcdError(f"call {call_id} has no consultation to cancel")
        self.legs.hang_up(call.consult_leg)
