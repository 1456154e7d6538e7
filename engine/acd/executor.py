"""Carrying out the distributor's intents on the switch and in the store, and settling agent legs.

A leg's fate is decided once, by the first conclusive fact: its answer (CHANNEL_ANSWER or a `+OK` job
result) or its failure (a `-ERR` job result or CHANNEL_HANGUP before answer). A later contradicting fact
is logged and ignored: on the real switch the answer event comes before the job result, and a leg that
the engine bridged while FreeSWITCH was still inside the originate ends `-ERR ORIGINATOR_CANCEL` although
it is up and bridged; it stays in the table so its hang-up still ends the conversation. Blocking switch commands
(`api`) run in their own greenlets so the event dispatcher is never blocked.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import gevent
from gevent.event import Event as Flag

from engine.acd.announce import Announcer, HandleTimes
from engine.acd.bus import TOPIC_AGENT_STATE, TOPIC_CALL, TOPIC_SCREEN_POP, Bus
from engine.acd.distributor import Distributor
from engine.acd.intents import Abandoned, AgentStateChanged, CallerExit, CancelOffer, Connect, Intent, Offer
from engine.acd.legs import SwitchLegs, parse_job_body
from engine.acd.live_calls import LiveCalls
from engine.acd.models import AgentState, ExitAction, RecordPolicy
from engine.acd.ports import AgentLog, CallbackBook, CustomerLookup, InteractionLog, RecordingCatalog
from engine.acd.queued import AgentLeg, QueuedCall
from engine.acd.timers import TimerLoop
from engine.acd.transfers import Consultations
from engine.esl import commands
from engine.esl.commands import (SIP_HEADER_CALL_ID, SIP_HEADER_CUSTOMER, SIP_HEADER_CUSTOMER_NAME, SIP_HEADER_QUEUE,
                                 SIP_HEADER_SEGMENT)
from engine.esl.commands import HangupCause
from engine.esl.hangup import HangupFacts
from engine.acd.whisper import Whisper, whisper_context
from engine.ivr.ports import QueueOutcome, QueueResult
from engine.recording.files import describe, recording_path

log = logging.getLogger(__name__)

RECORD_STOP_WAIT_SECONDS = 10.0
_WE_CANCELLED = {"ORIGINATOR_CANCEL", "LOSE_RACE", "MANAGER_REQUEST"}
_NOT_REGISTERED = {"USER_NOT_REGISTERED", "SUBSCRIBER_ABSENT"}
WHISPER_MAX_SECONDS = 15.0  # a whisper whose end is never reported does not hold the caller longer
UNDIALLABLE = "INVALID_NUMBER_FORMAT"  # the agent's extension cannot be put in a dial string
CONNECTION_LOST = "SWITCH_CONNECTION_LOST"  # our cause for a leg whose fate was lost with the connection


class IntentExecutor:
    """Carries out the distributor's intents on the switch and in the store; settles agent legs."""

    def __init__(self, distributor: Distributor, live: LiveCalls, *, legs: SwitchLegs, clock: Callable[[], float],
                 timers: TimerLoop, consults: Consultations, bus: Bus, agent_log: AgentLog,
                 interactions: InteractionLog, callbacks: CallbackBook, recordings: RecordingCatalog,
                 customers: CustomerLookup, announcer: Announcer, handle_times: HandleTimes,
                 recording_root: str, bridge_on_answer: bool) -> None:
        self.distributor = distributor
        self.live = live
        self.legs = legs
        self.clock = clock
        self.timers = timers
        self.consults = consults
        self.bus = bus
        self.agent_log = agent_log
        self.interactions = interactions
        self.callbacks = callbacks
        self.recordings = recordings
        self.customers = customers
        self.announcer = announcer
        self.handle_times = handle_times
        self.recording_root = recording_root
        self.bridge_on_answer = bridge_on_answer  # FreeSWITCH bridges on the agent's answer (may_bridge_on_answer)

    def execute(self, intents: list[Intent]) -> list[Intent]:
        """Carry out the distributor's intents (non-blocking; safe in event handlers)."""
        for intent in intents:
            try:
                getattr(self, f"_do_{type(intent).__name__}")(intent)
            except Exception:
                log.exception("call %s: failed to carry out %s", getattr(intent, "call_id", "?"), intent)
        self.timers.due_changed()
        return intents

    # ----- offers -------------------------------------------------------------------------------
    def _do_Offer(self, offer: Offer) -> None:
        call = self.live.calls.get(offer.call_id)
        now = self.clock()
        for agent_id in offer.agent_ids:
            agent = self.distributor.agents[agent_id]
            leg = AgentLeg(commands.new_uuid(), agent_id, offer.call_id, created_at=now)
            self.live.agent_legs[leg.uuid] = leg
            pop = self.screen_pop(call, offer, agent_id)
            self.bus.publish(TOPIC_SCREEN_POP, pop)
            self.interactions.queue_event(offer.call_id, now, offered_at=now, agent_id=agent_id)
            customer = call.customer if call else None
            headers = {SIP_HEADER_CALL_ID: offer.call_id, SIP_HEADER_QUEUE: offer.queue,
                       SIP_HEADER_CUSTOMER: (customer.customer_id or "") if customer else "",
                       SIP_HEADER_CUSTOMER_NAME: customer.name if customer else "",
                       SIP_HEADER_SEGMENT: customer.segment if customer else ""}
            display = (customer.name if customer and customer.name else
                       getattr(call.channel, "caller_name", "") if call else "")
            log.info("call %s: offering to agent %s (leg %s)", offer.call_id, agent_id, leg.uuid)
            extension = agent.extension or agent.agent_id
            try:
                self.legs.agent_endpoint(extension)
            except ValueError as exc:  # the agent's own extension: no offers until its phone registers again
                log.warning("call %s: agent %s cannot be rung: %s", offer.call_id, agent_id, exc)
                gevent.spawn(self.leg_failed, leg.uuid, UNDIALLABLE)
                continue
            leg.bridges_on_answer = self.may_bridge_on_answer(call, offer)
            try:
                future = self.legs.ring_agent(leg.uuid, extension, call_id=offer.call_id,
                                              queue=offer.queue, caller_number=call.caller_number if call else "",
                                              display_name=display, timeout=offer.timeout, headers=headers,
                                              bridge_to=call.channel.uuid if leg.bridges_on_answer else None,
                                              agent_id=agent_id)
            except ValueError as exc:  # the call's data: that call's failure, never the agent's
                self.live.agent_legs.pop(leg.uuid, None)
                unbuildable = str(exc)
                break
            future.rawlink(lambda done, leg=leg: gevent.spawn(self.ring_done, leg, done))
        else:
            return
        self._offer_not_built(offer.call_id, unbuildable)

    def may_bridge_on_answer(self, call: QueuedCall | None, offer: Offer) -> bool:
        """Let FreeSWITCH bridge on the agent's answer when nothing must happen in between: one agent rung
        (ring-all would let a second answer steal the caller), no whisper, a real caller (not a callback)."""
        if not self.bridge_on_answer or call is None or call.callback or len(offer.agent_ids) != 1:
            return False
        queue = self.distributor.queues.get(offer.queue)
        return queue is not None and not queue.whisper

    def _offer_not_built(self, call_id: str, why: str) -> None:
        """No command can be built for this call (its data breaks it): it leaves the queue, logged once; the
        agents it was offered to go back to service without a miss."""
        log.warning("call %s: cannot offer the call to an agent (%s); it leaves the queue", call_id, why)
        now = self.clock()
        for leg in [leg for leg in self.live.agent_legs.values() if leg.call_id == call_id and not leg.answered]:
            leg.settled = True  # the legs already rung are cancelled by the withdraw below
        self.execute(self.distributor.withdraw(call_id, now, "offer not built"))
        call = self.live.calls.get(call_id)
        if call is None or call.decided.is_set():
            return
        call.status, call.result = "left", QueueResult(QueueOutcome.FAILED, "offer not built")
        self.interactions.queue_event(call_id, now, ivr_outcome="queue_failed")
        call.decided.set()
        self.legs.stop_music(call.channel.uuid)

    def screen_pop(self, call: QueuedCall | None, offer: Offer, agent_id: str) -> dict[str, Any]:
        customer = call.customer if call else None
        return {"agent_id": agent_id, "call_id": offer.call_id, "queue": offer.queue,
                "transferred_from": call.transferred_from if call else None,
                "caller_number": call.caller_number if call else "",
                "waited": round(self.clock() - call.enqueued_at, 1) if call else 0.0,
                "ivr_path": list(call.ivr_path) if call else [], "ivr_digits": list(call.ivr_digits) if call else [],
                "customer": None if customer is None else {
                    "id": customer.customer_id, "name": customer.name, "segment": customer.segment,
                    "value_tier": customer.value_tier, "tags": list(customer.tags), **dict(customer.details)}}

    def ring_done(self, leg: AgentLeg, done: Any) -> None:
        if not done.successful():
            self._recover_leg(leg, done.exception)
            return
        result = parse_job_body(done.value)
        if result.answered:
            self.leg_answered(leg.uuid)
        else:
            self.leg_failed(leg.uuid, result.cause)

    def _recover_leg(self, leg: AgentLeg, error: BaseException | None) -> None:
        """The originate's result was lost (ESL reconnect, job timeout) though FreeSWITCH may still run it:
        ask FreeSWITCH by the uuid we chose and kill an orphan leg rather than leave a phone ringing."""
        log.warning("call %s: agent %s leg %s: originate result lost (%s); reconciling by uuid", leg.call_id,
                    leg.agent_id, leg.uuid, error)
        leg.recovering = True
        exists = self.legs.exists(leg.uuid)  # blocks until the control connection is back
        if leg.answered:  # its CHANNEL_ANSWER arrived after all: the conversation goes on
            if exists is False:
                self.leg_hung_up(leg.uuid, "NORMAL_CLEARING")
            return
        if exists is not False:
            self.legs.kill_now(leg.uuid, HangupCause.ORIGINATOR_CANCEL)
        self.leg_failed(leg.uuid, CONNECTION_LOST)

    def leg_answered(self, leg_uuid: str) -> None:
        leg = self.live.agent_legs.get(leg_uuid)
        if leg is None or leg.settled:
            return
        leg.settled = leg.answered = True
        log.info("call %s: agent %s answered", leg.call_id, leg.agent_id)
        if leg.consult:
            self.execute(self.distributor.consult_answered(leg.agent_id, leg.call_id, self.clock()))
            self.consults.answered(leg)
            return
        self.execute(self.distributor.offer_answered(leg.call_id, leg.agent_id, self.clock()))

    def leg_failed(self, leg_uuid: str, cause: str) -> None:
        """The leg did not (or no longer can) answer. A leg already answered keeps its fate: the real switch
        ends an originate `-ERR ORIGINATOR_CANCEL` when the leg was bridged before the originate returned."""
        leg = self.live.agent_legs.get(leg_uuid)
        if leg is None:
            return
        if leg.answered:
            log.info("call %s: agent %s leg %s: %s reported after its answer; ignored (the leg is up)",
                     leg.call_id, leg.agent_id, leg_uuid, cause)
            return
        del self.live.agent_legs[leg_uuid]
        leg.gone = True
        leg.played.set()
        if leg.settled:
            return
        leg.settled = True
        log.info("call %s: agent %s did not answer (%s)", leg.call_id, leg.agent_id, cause)
        if leg.consult:
            self.execute(self.distributor.consult_failed(leg.agent_id, leg.call_id, self.clock(), cause.lower()))
            self.consults.ended(leg)
            return
        if cause in _NOT_REGISTERED or cause == UNDIALLABLE:  # the phone is gone: no more offers until it registers again
            self.execute(self.distributor.set_registered(leg.agent_id, False, self.clock()))
        elif cause not in _WE_CANCELLED:
            self.execute(self.distributor.offer_failed(leg.call_id, leg.agent_id, self.clock(), reason=cause.lower()))

    def leg_hung_up(self, leg_uuid: str, cause: str, sip_status: int | None = None) -> None:
        """The agent leg hung up: an unanswered offer failed, or the agent's conversation ended (its cause and
        SIP status, as FreeSWITCH reported them, go on the interaction)."""
        leg = self.live.agent_legs.get(leg_uuid)
        if leg is None:
            return
        if not leg.answered:
            self.leg_failed(leg_uuid, cause)
            return
        self.live.agent_legs.pop(leg_uuid, None)
        leg.gone = True
        leg.played.set()
        now = self.clock()
        agent = self.distributor.agents.get(leg.agent_id)
        if agent is not None and agent.state is AgentState.ON_CALL and agent.current_call == leg.call_id:
            self.handle_times.add(self.distributor.serving_queue(leg.agent_id),
                                  now - agent.answered_at + self._wrap_up_of(leg.agent_id))
            self.execute(self.distributor.call_ended(leg.agent_id, now))
            self.interactions.queue_event(leg.call_id, now, wrap_up_until=agent.wrap_up_until or now)
            self.timers.wake()
        if leg.consult:
            self.consults.ended(leg)
        call = self.live.calls.get(leg.call_id)
        if call is not None and call.agent_leg == leg_uuid:
            if not call.bridged and not call.callback and call.transfer is None \
                    and not getattr(call.channel, "hung_up", False):
                call.transfer = ("queue", call.queue)  # the agent left before meeting the caller: back in line
            by = f"transfer:{call.transfer[0]}" if call.transfer is not None and call.bridged else "agent"
            self.conversation_over(call, by, now, cause=cause, sip_status=sip_status)

    def conversation_over(self, call: QueuedCall, by: str, now: float, cause: str = "",
                           sip_status: int | None = None) -> None:
        """The agent conversation ended (once): talk time and who hung up on the interaction, the recording
        catalogued, the caller's greenlet released."""
        if call.finished.is_set():
            return
        fields: dict[str, Any] = {"hangup_by": by}
        if call.answered_at:
            fields["talk_seconds"] = round(max(0.0, now - call.answered_at), 3)
        if cause:
            fields["hangup_cause"] = cause
        if sip_status is not None:
            fields["sip_status"] = sip_status
        if by == "caller":
            fields["hangup_at"] = now
        self.interactions.queue_event(call.call_id, now, **fields)
        call.finished.set()
        if call.holding:
            gevent.spawn(self.break_hold, call)
        served = getattr(self.customers, "agent_served", None)
        if served is not None and call.bridged and call.agent_id and call.customer and call.customer.customer_id:
            try:
                served(call.customer.customer_id, call.agent_id, now)
            except Exception:
                log.exception("call %s: could not record the customer's last agent", call.call_id)
        if call.recording:
            gevent.spawn(self._catalogue_recording, call.call_id, call.recording, now,
                         getattr(call.channel, "uuid", "") if by != "caller" else "")

    def _wrap_up_of(self, agent_id: str) -> float:
        queue = self.distributor.queues.get(self.distributor.serving_queue(agent_id))
        return queue.wrap_up_seconds if queue else 0.0

    def _do_CancelOffer(self, cancel: CancelOffer) -> None:
        leg = self.live.leg_for(cancel.call_id, cancel.agent_id)
        if leg is None:
            return
        leg.settled = True
        log.info("call %s: cancelling agent %s leg (%s)", cancel.call_id, cancel.agent_id, cancel.reason)
        self.legs.hang_up(leg.uuid, HangupCause.ORIGINATOR_CANCEL)

    # ----- connect ------------------------------------------------------------------------------
    def _do_Connect(self, connect: Connect) -> None:
        leg = self.live.leg_for(connect.call_id, connect.agent_id)
        call = self.live.calls.get(connect.call_id)
        now = self.clock()
        if call is None or leg is None:
            log.warning("call %s: connect for a call no longer here; releasing agent %s", connect.call_id,
                        connect.agent_id)
            if leg is not None:
                self.legs.hang_up(leg.uuid)
            else:
                self.execute(self.distributor.call_ended(connect.agent_id, now))
            return
        call.status, call.agent_id, call.agent_leg, call.answered_at = "connected", connect.agent_id, leg.uuid, now
        queue = self.distributor.queues[connect.queue]
        if queue.record.policy is RecordPolicy.ALWAYS:
            call.recording = recording_path(self.recording_root, queue.record.path_template, call_id=call.call_id,
                                            queue=queue.name, agent=connect.agent_id, caller=call.caller_number,
                                            at=now)
        call.decided.set()
        if call.callback:  # the customer is dialled now (callbacks.py), then bridged to this agent
            self.interactions.queue_event(call.call_id, now, agent_id=connect.agent_id, answered_at=now)
            return
        self.interactions.queue_event(call.call_id, now, agent_id=connect.agent_id, answered_at=now,
                                      wait_seconds=round(connect.waited, 3))
        if leg.bridges_on_answer:  # FreeSWITCH bridged it on the answer already
            call.bridged = True
            self.interactions.queue_event(call.call_id, now, bridged_at=now)
        self.bus.publish(TOPIC_CALL, {"event": "connected", "call_id": call.call_id, "agent_id": connect.agent_id,
                                      "queue": connect.queue, "waited": connect.waited})
        gevent.spawn(self._connect_legs, call, leg.uuid, queue.record.stereo)

    def _connect_legs(self, call: QueuedCall, leg_uuid: str, stereo: bool) -> None:
        """In order: bridge (which stops the music), start recording (blocking api calls, in their own greenlet).
        A leg FreeSWITCH bridged on its answer (`bridges_on_answer`) needs no bridge command."""
        caller_uuid = call.channel.uuid
        leg = self.live.agent_legs.get(leg_uuid)
        try:
            if call.bridged and leg is not None and leg.bridges_on_answer:
                self._after_bridge(call, caller_uuid, stereo)
                return
            self._whisper_to_agent(call, leg_uuid)  # the caller still hears hold music meanwhile
            reply = self.legs.bridge_now(caller_uuid, leg_uuid)
            if reply.startswith(commands.REPLY_ERR):
                log.warning("call %s: bridge to agent leg %s failed: %s", call.call_id, leg_uuid, reply.strip())
                if getattr(call.channel, "hung_up", False):
                    self.caller_gone(call.call_id)
                else:  # the caller is still here: back in line at its old place once the agent leg is gone
                    call.transfer = ("queue", call.queue)
                    self.legs.stop_music(caller_uuid)  # the failed bridge left the music on: end this round
                    self.legs.hang_up(leg_uuid)
                return
            call.bridged = True
            self.interactions.queue_event(call.call_id, self.clock(), bridged_at=self.clock())
            self._after_bridge(call, caller_uuid, stereo)
        except Exception:
            log.exception("call %s: connecting to agent leg %s failed", call.call_id, leg_uuid)
            self.legs.hang_up(leg_uuid)

    def _after_bridge(self, call: QueuedCall, caller_uuid: str, stereo: bool) -> None:
        if call.recording:
            self.live.recordings_closing[call.recording] = Flag()
            self.legs.start_recording(caller_uuid, call.recording, stereo=stereo)
            announce = self.distributor.queues[call.queue].record.announce
            if announce:  # "this call is recorded", heard by both sides
                self.legs.control.api(commands.uuid_broadcast(caller_uuid, announce, "both"))

    def _whisper_to_agent(self, call: QueuedCall, leg_uuid: str) -> None:
        """Play the queue's whisper on the agent leg only (`aleg`), and wait until it has been heard."""
        queue = self.distributor.queues.get(call.queue)
        leg = self.live.agent_legs.get(leg_uuid)
        if queue is None or not queue.whisper or leg is None:
            return
        whisper = Whisper.parse(queue.whisper)
        if whisper.audio:
            source: str | None = whisper.source
        else:
            words = whisper.text(whisper_context(call.customer, call.queue, call.caller_number,
                                                 self.clock() - call.enqueued_at))
            source = self.announcer.render(words, call.language) if words else None
        if not source:
            log.info("call %s: no whisper for agent %s (nothing to play)", call.call_id, call.agent_id)
            return
        leg.played.clear()
        reply = self.legs.control.api(commands.uuid_broadcast(leg_uuid, source, "aleg"))
        if reply.startswith(commands.REPLY_ERR):
            log.warning("call %s: whisper to agent leg %s failed: %s", call.call_id, leg_uuid, reply.strip())
            return
        if not leg.played.wait(timeout=WHISPER_MAX_SECONDS):
            log.warning("call %s: whisper to agent leg %s did not end in %.0fs; bridging anyway", call.call_id,
                        leg_uuid, WHISPER_MAX_SECONDS)

    def _catalogue_recording(self, call_id: str, path: str, at: float, caller_uuid: str = "") -> None:
        """The conversation is over: stop recording the caller (who may go on to a survey), then store the
        file's size, duration and checksum once FreeSWITCH has closed it."""
        closing = self.live.recordings_closing.get(path)
        if caller_uuid:
            try:
                self.legs.stop_recording(caller_uuid, path)  # -ERR when the caller's hang-up already stopped it
            except Exception as exc:
                log.debug("call %s: stopping the recording: %s", call_id, exc)
        # The file is complete only once FreeSWITCH says so (RECORD_STOP); a lost event costs at most 10 s.
        if closing is not None and not closing.wait(RECORD_STOP_WAIT_SECONDS):
            log.warning("call %s: no RECORD_STOP for %s; reading the file anyway", call_id, path)
        self.live.recordings_closing.pop(path, None)
        for _ in range(10):
            try:
                facts = describe(path)
            except FileNotFoundError:
                gevent.sleep(0.2)
                continue
            self.recordings.add_recording(call_id, facts.path, facts.duration, facts.size, facts.sha256, at)
            return
        log.warning("call %s: recording %s not found on this host; metadata not stored", call_id, path)

    # ----- leaving and agents -------------------------------------------------------------------
    def leave(self, call: QueuedCall, action: ExitAction, reason: str, now: float, due_in: float = 0.0) -> None:
        """The caller leaves the line (exit key, timeout, full queue): callback or voicemail as the queue says."""
        detail = reason
        if action is ExitAction.CALLBACK:
            callback_id = self.request_callback(call, f"{reason} in {call.queue}", now + due_in, "queue")
            detail = f"callback:{callback_id}" if callback_id else f"{reason}: no callback (caller unknown)"
        elif action is ExitAction.VOICEMAIL:
            detail = "voicemail"
        outcome = QueueOutcome.CLOSED if reason == "queue full" else QueueOutcome.TIMEOUT
        call.status, call.result = "left", QueueResult(outcome, detail)
        self.interactions.queue_event(call.call_id, now, ivr_outcome=f"queue_{action.value}")
        call.decided.set()
        self.legs.stop_music(call.channel.uuid)

    def request_callback(self, call: QueuedCall, reason: str, due_at: float, source: str) -> str | None:
        """A callback task in the book for the caller's number (None: no dialable number, or the store failed)."""
        if not call.caller_number or not call.caller_number.lstrip("+").isdigit():
            return None
        try:
            return self.callbacks.request_callback(call.caller_number, reason, due_at, source,
                                                   customer_id=call.customer.customer_id if call.customer else None,
                                                   call_id=call.call_id)
        except Exception:
            log.exception("call %s: could not store a callback", call.call_id)
            return None

    def caller_gone(self, call_id: str, facts: HangupFacts | None = None) -> None:
        """The caller hung up (event or failed channel command): cancel offers at once, end the conversation.
        `facts`: the cause and SIP status FreeSWITCH reported, stored on the interaction."""
        call = self.live.calls.get(call_id)
        if call is None:
            return
        if facts is not None:
            call.hangup = facts if call.hangup is None else call.hangup.merge(facts)
        if call.status == "waiting":
            call.status = "left"
            call.result = QueueResult(QueueOutcome.FAILED, "caller hung up")
            self.execute(self.distributor.caller_left(call_id, self.clock()))
            call.decided.set()
        elif call.status == "connected" and call.agent_leg and not call.finished.is_set():
            self.legs.hang_up(call.agent_leg)
            known = call.hangup or HangupFacts()
            self.conversation_over(call, "caller", self.clock(), cause=known.cause, sip_status=known.sip_status)

    def _do_CallerExit(self, exit_: CallerExit) -> None:
        call = self.live.calls.get(exit_.call_id)
        if call is None:
            return
        now = self.clock()
        self.interactions.queue_event(exit_.call_id, now, wait_seconds=round(exit_.waited, 3))
        log.info("call %s: leaves %s (%s, %s)", exit_.call_id, exit_.queue, exit_.reason, exit_.action.value)
        self.leave(call, exit_.action, exit_.reason, now)

    def _do_Abandoned(self, abandoned: Abandoned) -> None:
        now = self.clock()
        call = self.live.calls.get(abandoned.call_id)
        facts = call.hangup if call is not None and call.hangup is not None else HangupFacts()
        end = {"hangup_cause": facts.cause} if facts.cause else {}
        if facts.sip_status is not None:
            end["sip_status"] = facts.sip_status
        self.interactions.queue_event(abandoned.call_id, now, abandoned=True, wait_seconds=round(abandoned.waited, 3),
                                      hangup_at=now, hangup_by="caller", talk_seconds=0.0, **end)
        log.info("call %s: abandoned %s after %.0fs", abandoned.call_id, abandoned.queue, abandoned.waited)
        queue = self.distributor.queues.get(abandoned.queue)
        if call is not None and queue is not None and queue.abandon_callback:
            self.request_callback(call, f"abandoned after {abandoned.waited:.0f}s in {abandoned.queue}", now,
                                   "abandoned")

    def _do_AgentStateChanged(self, change: AgentStateChanged) -> None:
        self.agent_log.agent_state(change.agent_id, change.new.value, change.reason, change.at)
        self.bus.publish(TOPIC_AGENT_STATE, {"agent_id": change.agent_id, "state": change.new.value,
                                             "previous": change.old.value, "reason": change.reason,
                                             "at": change.at, "call_id": change.call_id})
        log.info("agent %s: %s -> %s (%s)", change.agent_id, change.old.value, change.new.value, change.reason)

    def break_hold(self, call: QueuedCall, tries: int = 20, every: float = 0.25) -> None:
        """The conversation is over but the caller's greenlet still waits for a hold-music playback (one sent
        while FreeSWITCH was bridging on answer runs after the bridge): break it until the loop has ended."""
        for _ in range(tries):
            if not call.holding or getattr(call.channel, "hung_up", False):
                return
            try:
                self.legs.stop_music(call.channel.uuid)
            except Exception as exc:  # not connected now: try again
                log.debug("call %s: breaking the hold music: %s", call.call_id, exc)
            gevent.sleep(every)
        if call.holding:
            log.warning("call %s: hold music still playing after the conversation ended", call.call_id)
