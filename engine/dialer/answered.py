"""Answered campaign calls: the outbound server's handler for calls the dialer placed (they carry jq_campaign_id).

How it works, in the call's own greenlet: agentless campaigns run their IVR flow with the customer record
(a callee who hangs up before the flow is done: outcome interrupted, retried per the campaign's rules).
Agent campaigns queue the call at high priority in the campaign's queue (the shared agent pool) at once,
so a person is never delayed, while two things may take it out of line first: the safe-harbour deadline
(no agent within `safe_harbour_within_s` of the answer: the message is played, the call hung up and the
attempt recorded as dropped/abandoned; a callee who hangs up first: interrupted, still abandoned) and, when
the campaign detects machines, mod_avmd's beep (`avmd::beep`, started on answer): the campaign's message is
left or the call hung up, outcome machine.
Talk time runs from the bridge to the agent to its end, as the switch timestamps them.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import gevent
from gevent.event import Event as Flag

from engine.dialer.outcomes import ANSWERED, DROPPED, INTERRUPTED, MACHINE
from engine.dialer.service import CampaignLoop, DialerService, OutboundCall
from engine.esl import commands
from engine.ivr.ports import QueueRequest
from engine.store.repos.interactions import InteractionRepository

log = logging.getLogger(__name__)
SAFE_HARBOUR = "safe harbour"
MACHINE_REASON = "answering machine"


def event_time(event: Any, default: float) -> float:
    """The switch's own time of an event (Event-Date-Timestamp, microseconds), else `default`."""
    raw = str(getattr(event, "headers", {}).get(commands.H_EVENT_DATE_TIMESTAMP, ""))
    return int(raw) / 1e6 if raw.isdigit() else default


def answer_time(channel: Any, default: float) -> float:
    """When the switch answered the leg (Caller-Channel-Answered-Time, microseconds), else `default`."""
    data = getattr(channel, "data", None)
    raw = str(data.get(commands.H_CALLER_ANSWERED_TIME, "")) if isinstance(data, dict) else ""
    return int(raw) / 1e6 if raw.isdigit() and int(raw) > 0 else default


class CallFacts:
    """What the customer leg's own events say: bridged when, unbridged/hung up when, beep heard."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.bridged_at: float | None = None
        self.ended_at: float | None = None
        self.hangup_at: float | None = None  # the switch's time of the leg's hang-up
        self.beep = Flag()
        self.on_beep: Any = None
        self.on_bridge: Any = None
        self.agent_id: str | None = None
        self.queued: Any = None  # the ACD's QueuedCall, once bridged
        self.beep_after_bridge = False

    def on_event(self, event: Any) -> None:  # the channel's reader greenlet: must not block
        name = getattr(event, "name", "")
        if name == commands.EV_CHANNEL_BRIDGE and self.bridged_at is None:
            self.bridged_at = event_time(event, self.clock())
            if self.on_bridge is not None:
                self.on_bridge()
        elif name in (commands.EV_CHANNEL_UNBRIDGE, commands.EV_CHANNEL_HANGUP):
            if self.bridged_at is not None and self.ended_at is None:
                self.ended_at = event_time(event, self.clock())
            if name == commands.EV_CHANNEL_HANGUP and self.hangup_at is None:
                self.hangup_at = event_time(event, self.clock())
        elif name == commands.EV_CUSTOM and event.headers.get(commands.H_SUBCLASS) == commands.SUBCLASS_AVMD_BEEP:
            self.beeped()

    def beeped(self) -> None:
        """mod_avmd heard a beep (from this channel's socket or the control connection, whichever is first)."""
        if not self.beep.is_set():
            self.beep_after_bridge = self.bridged_at is not None
            self.beep.set()
            if self.on_beep is not None:
                self.on_beep()

    @property
    def talk_seconds(self) -> float | None:
        if self.bridged_at is None:
            return None
        end = self.ended_at if self.ended_at is not None else self.clock()
        return round(max(0.0, end - self.bridged_at), 3)


class CampaignCalls:
    """The per-call handler for answered campaign calls; give `handle` to `FlowRunner.campaign_calls`."""

    def __init__(self, dialer: DialerService, *, runner: Any = None, announcer: Any = None,
                 customers: Any = None) -> None:
        self.dialer = dialer
        self.runner = runner  # engine.ivr.runner.FlowRunner: agentless flows
        self.announcer = announcer  # plays the safe-harbour and machine messages (acd.announcer.TtsAnnouncer)
        self.customers = customers  # engine.ivr.ports.CustomerDirectory: the record an agentless flow reads
        self.interactions = InteractionRepository(dialer.store)

    def handle(self, channel: Any) -> None:
        tracked = self.dialer.tracked(channel.uuid)
        if tracked is None:  # e.g. placed before a restart: recover() concludes its attempt
            log.warning("call %s: campaign call not placed by this dialer; hanging up", channel.uuid)
            channel.hangup()
            return
        loop, call = tracked
        if call.done:  # concluded meanwhile (it never reached us in time)
            channel.hangup()
            return
        call.handled = True
        loop.answered(call)
        call.interaction_id = self._open_interaction(channel, call)
        try:
            if call.campaign.config.mode == "agentless":
                self._agentless(channel, loop, call)
            else:
                self._to_agent(channel, loop, call)
        except Exception:
            log.exception("call %s: campaign call failed", channel.uuid)
            loop.conclude(call, "failed")
            channel.hangup()
        finally:
            self._close_interaction(call)

    # ----- the call's interaction -----------------------------------------------------------------
    def _open_interaction(self, channel: Any, call: OutboundCall) -> int | None:
        """Open the answered call's interaction as outbound (callee = the contact, linked to the campaign and
        customer) before the ACD or the agentless flow see it: they find it by the call's uuid and add to it,
        so reports count the call once, as outbound, with its campaign."""
        d = self.dialer
        try:
            existing = self.interactions.by_call_id(call.uuid)
            if existing is not None:
                return existing.id
            answered = answer_time(channel, d.clock())
            interaction = self.interactions.start("outbound", answered, callee=call.contact.number,
                                                  call_id=call.uuid, customer_id=call.contact.customer_id,
                                                  campaign_id=call.campaign.id)
            self.interactions.update(interaction, answered_at=answered)
            return interaction
        except Exception:
            log.exception("call %s: the outbound interaction was not opened", call.uuid)
            return None

    def _close_interaction(self, call: OutboundCall) -> None:
        """Close the interaction when nobody else did (a machine, a safe-harbour drop, a failure); the ACD and
        the IVR close it themselves when the call was theirs."""
        if call.interaction_id is None:
            return
        try:
            current = self.interactions.get(call.interaction_id)
            if current is not None and current.hangup_at is None:
                self.interactions.finish(call.interaction_id, self.dialer.now(), hangup_by="engine",
                                         abandoned=call.outcome == DROPPED)
        except Exception:
            log.exception("call %s: the outbound interaction was not closed", call.uuid)

    # ----- agentless ------------------------------------------------------------------------------
    def _agentless(self, channel: Any, loop: CampaignLoop, call: OutboundCall) -> None:
        d = self.dialer
        loop.history.call_resolved(d.clock(), d.clock() - call.placed_at, True)
        d.hopper.answered(call.attempt_id, d.now(), live=True)
        d.hopper.connected(call.attempt_id, d.now())  # the agentless IVR took it: not an abandon
        record = None
        if self.runner is not None:
            record = self.runner.run_flow(channel, call.campaign.config.ivr_flow, self._customer(call))
        else:
            channel.hangup()
        talk = None
        if record is not None and record.answered_at is not None and record.ended_at is not None:
            talk = round((record.ended_at - record.answered_at).total_seconds(), 3)
        # the line dropped before the flow was done: retried per the campaign's `interrupted` rule
        outcome = INTERRUPTED if record is not None and record.outcome == "caller_hangup" else ANSWERED
        loop.conclude(call, outcome, talk_seconds=talk, abandoned=False)

    def _customer(self, call: OutboundCall) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.customers is not None:
            try:
                found = dict(self.customers.find_by_phone(call.contact.number) or {})
            except Exception:
                log.exception("call %s: customer lookup failed", call.uuid)
        data = {k: v for k, v in (call.contact.data or {}).items() if k != "outcomes"}
        return {**data, **found, "phone": call.contact.number}

    # ----- agent modes ----------------------------------------------------------------------------
    def _to_agent(self, channel: Any, loop: CampaignLoop, call: OutboundCall) -> None:
        d, config = self.dialer, call.campaign.config
        answered_at = d.now()
        facts = CallFacts(d.clock)
        stop_watching = channel.add_handler(facts.on_event)

        def beep() -> None:  # waiting: leave the line; already with an agent: free the agent from the machine
            if not d.queues.give_up_waiting(call.uuid, MACHINE_REASON) and facts.bridged_at is not None:
                d.control.bgapi(commands.uuid_kill(call.uuid))
        facts.on_beep = beep

        def bridged() -> None:
            queued = d.queues.calls.get(call.uuid)
            facts.queued = queued  # with bridge on answer the switch may report the bridge before the ACD names the agent
            facts.agent_id = getattr(queued, "agent_id", None)
            call.agent_id = facts.agent_id
            call.waiting = False  # with an agent now (pacing counts the agent as talking)
            loop.history.call_connected(d.clock())
        facts.on_bridge = bridged
        call.on_beep = facts.beeped
        if config.machine_detect:
            try:
                channel.execute_async(commands.APP_AVMD_START)  # results come as avmd::beep; humans go on at once
            except Exception as exc:  # usually the callee already hung up
                log.info("call %s: answering-machine detection not started (%s)", call.uuid, exc)
        call.waiting = True
        loop.history.call_resolved(d.clock(), d.clock() - call.placed_at, True)
        # The safe-harbour clock starts at the answer as the switch stamped it, not when the call reached us.
        answered_on_switch = answer_time(channel, d.clock())
        left = config.safe_harbour_within_s - max(0.0, d.clock() - answered_on_switch)
        deadline = gevent.spawn_later(max(0.0, left), d.queues.give_up_waiting, call.uuid, SAFE_HARBOUR)
        result = None
        try:
            result = d.queues.enqueue(channel, QueueRequest(
                queue=config.queue or "", priority=d.settings.priority, call_uuid=call.uuid,
                flow=f"campaign:{config.name}", customer_id=call.contact.customer_id))
        except Exception as exc:  # the customer hung up (CallHungUp), waiting or talking
            log.debug("call %s: the customer hung up (%s)", call.uuid, type(exc).__name__)
        finally:
            deadline.kill(block=False)
            call.waiting = False
        detail = result.detail if result is not None else ""
        if facts.bridged_at is None and not getattr(channel, "hung_up", False):
            if facts.beep.is_set():
                self._machine_message(channel, config)
            elif detail == SAFE_HARBOUR:  # no agent in time: the safe-harbour message, then goodbye
                self._say(channel, config.safe_harbour_message)
        # Once the switch reported the hang-up, every earlier event of the call has been seen (they arrive in
        # order): a bridge to an agent that happened just as the deadline passed is known now.
        channel.hangup()
        stop_watching()
        if facts.bridged_at is not None:  # an agent took it (the conversation may have ended with a hang-up)
            facts.agent_id = facts.agent_id or getattr(facts.queued, "agent_id", None)
            call.agent_id = facts.agent_id
            d.hopper.answered(call.attempt_id, answered_at, live=not facts.beep.is_set())
            d.hopper.connected(call.attempt_id, dt.datetime.fromtimestamp(facts.bridged_at, dt.timezone.utc),
                               facts.agent_id)
            talk = facts.talk_seconds
            loop.history.call_handled(talk or 0.0, self._wrap_up(config.queue))
            loop.conclude(call, MACHINE if facts.beep.is_set() else ANSWERED, talk_seconds=talk, abandoned=False)
            return
        if facts.beep.is_set():
            d.hopper.answered(call.attempt_id, answered_at, live=False)
            loop.conclude(call, MACHINE, abandoned=False)
            return
        # No agent in time: a live answer dropped. The line ended within the safe harbour (by the switch's
        # clock: only the callee ends it then): interrupted, retried per its rule, still counted as abandoned.
        left_first = (facts.hangup_at is not None
                      and facts.hangup_at - answered_on_switch < config.safe_harbour_within_s)
        loop.history.call_abandoned(d.clock())
        d.hopper.answered(call.attempt_id, answered_at, live=True)
        loop.conclude(call, INTERRUPTED if left_first else DROPPED, abandoned=True)

    def _machine_message(self, channel: Any, config: Any) -> None:
        if config.machine_action == "message" and config.machine_message:
            self._say(channel, config.machine_message)

    def _say(self, channel: Any, text: str) -> None:
        if self.announcer is None:
            return
        try:
            self.announcer.announce(channel, text, "zh")
        except Exception:
            log.info("call %s: message not played (the call ended)", channel.uuid)

    def _wrap_up(self, queue: str | None) -> float:
        config = self.dialer.queues.distributor.queues.get(queue or "") if self.dialer.queues is not None else None
        return float(config.wrap_up_seconds) if config is not None else 0.0
