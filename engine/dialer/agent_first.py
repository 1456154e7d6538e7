"""Agent-first dials: manual calls and preview dialing. The agent's phone rings first, then the customer's.

How it works: the agent is reserved in the shared pool (no inbound offer reaches it), its leg is
originated parked; when the agent answers, the customer leg is originated with `api_on_answer` bridging
it to the agent the moment the customer answers. Every dial goes through compliance first: manual calls
through `ComplianceGate` (the attempt is written before the dial), preview dials through `Hopper.begin`.
A preview reserves one due contact of a preview campaign for one agent, who dials it or skips it with a
reason (the contact comes back after `SKIP_DELAY`). The customer leg's CHANNEL_BRIDGE / CHANNEL_HANGUP on
the control connection end the conversation (`switch_event`); its outcome and talk time conclude the
attempt once. The web console and `jinqiao call` / `jinqiao campaign preview` use these same calls.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.event import Event as Flag

from engine.dialer.hopper import CampaignHandle, ComplianceGate, load_handle
from engine.dialer.outcomes import ANSWERED, job_cause, outcome_for_cause
from engine.esl import commands
from engine.store.phones import mask
from engine.store.records import CampaignContact
from engine.store.repos.customers import CustomerRepository
from engine.store.repos.dial_attempts import DialAttemptRepository
from engine.store.repos.interactions import InteractionRepository

log = logging.getLogger(__name__)
SKIP_DELAY = dt.timedelta(hours=1)
AGENT_RING_S = 30


class DialRefused(Exception):
    """A dial that cannot be placed: the message says why (compliance rule, agent not free, no contact)."""


@dataclass
class AgentFirstCall:
    """One agent-first dial, from the agent's ring to its single conclusion."""

    agent_id: str
    number: str
    attempt_id: int
    agent_leg: str
    customer_leg: str
    campaign: CampaignHandle | None = None
    bridged_at: float | None = None
    ended_at: float | None = None
    outcome: str = ""
    done: bool = False
    finished: Flag = field(default_factory=Flag)


@dataclass
class Preview:
    """A contact reserved for one agent until dialled or skipped."""

    agent_id: str
    campaign: CampaignHandle
    contact: CampaignContact
    script: str = ""


class AgentFirstDialer:
    """Manual and preview dials for one dialer (see the module docstring)."""

    def __init__(self, dialer: Any, gate: ComplianceGate) -> None:
        self.dialer = dialer  # engine.dialer.service.DialerService: store, control, hopper, pool, clocks
        self.gate = gate
        self.calls: dict[str, AgentFirstCall] = {}  # by customer leg uuid
        self.previews: dict[str, Preview] = {}  # by agent id

    # ----- manual --------------------------------------------------------------------------------
    def manual_call(self, agent_id: str, number: str) -> AgentFirstCall:
        """`jinqiao call NUMBER --agent A`: compliance, then the agent's phone, then the customer's."""
        d = self.dialer
        agent = self._free_agent(agent_id)
        begun = self.gate.begin(number, "manual", d.now(), agent_id=agent_id)
        if begun.attempt is None:
            raise DialRefused(f"not dialed: {begun.verdict.rule} ({begun.verdict.reason})")
        return self._ring_agent(agent, begun.attempt.number, begun.attempt.id, None, "manual call")

    # ----- preview -------------------------------------------------------------------------------
    def preview_next(self, agent_id: str, campaign: str | int) -> Preview:
        """Reserve the next due contact of a preview campaign for this agent (and the agent for it)."""
        d = self.dialer
        if agent_id in self.previews:
            return self.previews[agent_id]
        handle = load_handle(d.store, campaign)
        if handle is None:
            raise DialRefused(f"no campaign {campaign!r}")
        if handle.config.mode != "preview":
            raise DialRefused(f"campaign {handle.config.name} is {handle.config.mode}, not preview")
        self._free_agent(agent_id)
        contacts = d.hopper.fill(handle, 1, d.now())
        if not contacts:
            raise DialRefused(f"campaign {handle.config.name}: no contact due now")
        d.queues.reserve(agent_id, "preview")
        contact = contacts[0]
        customer = {k: v for k, v in (contact.data or {}).items() if k != "outcomes"}
        customer.update(self._customer_fields(contact.customer_id))
        try:
            script = handle.config.render_script({**customer, "phone": contact.number}, d.now())
        except Exception:
            log.exception("campaign %s: agent script did not render", handle.config.name)
            script = ""
        preview = Preview(agent_id, handle, contact, script)
        self.previews[agent_id] = preview
        return preview

    def _customer_fields(self, customer_id: int | None) -> dict[str, Any]:
        """The linked customer's fields for the script (`customer.name`, `customer.segment`, ...)."""
        if customer_id is None:
            return {}
        try:
            c = CustomerRepository(self.dialer.store).get(customer_id)
        except Exception:
            log.exception("customer %s: could not read it for the agent script", customer_id)
            return {}
        if c is None:
            return {}
        return {"id": c.id, "name": c.name, "segment": getattr(c.segment, "value", c.segment),
                "value_tier": c.value_tier, "tags": list(c.tags), "language": c.language, "account_no": c.account_no}

    def preview_dial(self, agent_id: str) -> AgentFirstCall:
        d = self.dialer
        preview = self.previews.get(agent_id)
        if preview is None:
            raise DialRefused(f"agent {agent_id} has no preview (ask for one first)")
        begun = d.hopper.begin(preview.campaign, preview.contact, d.now())
        self.previews.pop(agent_id, None)
        if begun.attempt is None:
            d.queues.release(agent_id, "preview refused")
            raise DialRefused(f"not dialed: {begun.verdict.rule} ({begun.verdict.reason})")
        agent = d.queues.distributor.agent(agent_id)
        return self._ring_agent(agent, preview.contact.number, begun.attempt.id, preview.campaign, None)

    def preview_skip(self, agent_id: str, reason: str) -> None:
        d = self.dialer
        preview = self.previews.pop(agent_id, None)
        if preview is None:
            raise DialRefused(f"agent {agent_id} has no preview to skip")
        d.campaigns.defer(d.hopper.holder, [(preview.contact.id, f"skipped: {reason}"[:32], d.now() + SKIP_DELAY,
                                             False)])
        d.queues.release(agent_id, "preview skipped")
        log.info("campaign %s: agent %s skipped %s (%s)", preview.campaign.config.name, agent_id,
                 mask(preview.contact.number), reason)

    # ----- the two legs --------------------------------------------------------------------------
    def _free_agent(self, agent_id: str) -> Any:
        d = self.dialer
        if d.queues is None:
            raise DialRefused("agent-first dialing needs the ACD (acd.queues)")
        agent = d.queues.distributor.agents.get(agent_id)
        if agent is None:
            raise DialRefused(f"unknown agent {agent_id!r}")
        if not agent.can_take_offer:
            raise DialRefused(f"agent {agent_id} is not free ({agent.state.value})")
        return agent

    def _ring_agent(self, agent: Any, number: str, attempt_id: int, campaign: CampaignHandle | None,
                    reserve_reason: str | None) -> AgentFirstCall:
        d = self.dialer
        if reserve_reason:
            d.queues.reserve(agent.agent_id, reserve_reason)
        call = AgentFirstCall(agent.agent_id, number, attempt_id, commands.new_uuid(), commands.new_uuid(), campaign)
        self.calls[call.customer_leg] = call
        job = d.queues.legs.ring_agent(call.agent_leg, agent.extension or agent.agent_id, call_id=call.customer_leg,
                                       queue="", caller_number=number, display_name="outbound", timeout=AGENT_RING_S,
                                       headers={})
        job.rawlink(lambda done: gevent.spawn(self._agent_answered, call, done))
        log.info("agent %s: agent-first dial to %s (attempt %s)", agent.agent_id, mask(number), attempt_id)
        return call

    def _agent_answered(self, call: AgentFirstCall, done: Any) -> None:
        d = self.dialer
        cause = job_cause(str(done.value or "")) if done.successful() else "ORIGINATOR_CANCEL"
        if cause is not None:
            self._conclude(call, "agent_no_answer")
            return
        variables: dict[str, object] = {commands.VAR_CALL_ID: call.customer_leg, commands.VAR_IGNORE_EARLY_MEDIA: "true",
                                        commands.VAR_HANGUP_AFTER_BRIDGE: "true",
                                        commands.VAR_API_ON_ANSWER: commands.uuid_bridge(call.customer_leg,
                                                                                         call.agent_leg)}
        ring = 30
        if call.campaign is not None:
            ring = int(round(call.campaign.config.ring_timeout_s))
            if call.campaign.config.caller_id:
                variables[commands.VAR_ORIGINATION_CID_NUMBER] = call.campaign.config.caller_id
        try:
            command = commands.originate(d.endpoint(call.number), app=commands.APP_PARK, variables=variables,
                                         uuid=call.customer_leg, timeout=ring)
        except ValueError:
            d.queues.legs.hang_up(call.agent_leg)
            self._conclude(call, "invalid")
            return
        d.control.bgapi(command).rawlink(lambda job: gevent.spawn(self._customer_done, call, job))

    def _customer_done(self, call: AgentFirstCall, job: Any) -> None:
        cause = job_cause(str(job.value or "")) if job.successful() else "NORMAL_TEMPORARY_FAILURE"
        if cause is None or cause == "ORIGINATOR_CANCEL" and call.bridged_at is not None:
            return  # answered (bridged inside the originate): the hang-up event ends it
        if call.bridged_at is None:
            self.dialer.queues.legs.hang_up(call.agent_leg)
            self._conclude(call, outcome_for_cause(cause))

    def switch_event(self, event: Any) -> None:
        """The customer leg's bridge and hang-up, from the control connection (must not block)."""
        call = self.calls.get(event.headers.get(commands.H_UNIQUE_ID, ""))
        if call is None:
            return
        at = int(event.headers.get(commands.H_EVENT_DATE_TIMESTAMP, "0") or 0) / 1e6 or self.dialer.clock()
        if event.name == commands.EV_CHANNEL_BRIDGE and call.bridged_at is None:
            call.bridged_at = at
            d = self.dialer
            d.queues.execute(d.queues.distributor.reserved_call(call.agent_id, call.customer_leg, d.clock()))
        elif event.name == commands.EV_CHANNEL_HANGUP and call.bridged_at is not None and call.ended_at is None:
            call.ended_at = at
            d = self.dialer
            d.queues.execute(d.queues.distributor.call_ended(call.agent_id, d.clock()))
            gevent.spawn(self._conclude, call, ANSWERED)

    def _record_conversation(self, call: AgentFirstCall) -> int:
        """The agent's conversation as an outbound interaction (callee, agent, campaign, bridge to hang-up), so the
        agent's manual and preview calls count in the reports like their other calls."""
        interactions = InteractionRepository(self.dialer.store)
        bridged = call.bridged_at or self.dialer.clock()
        interaction = interactions.start("outbound", bridged, callee=call.number, call_id=call.customer_leg,
                                         campaign_id=call.campaign.id if call.campaign is not None else None)
        interactions.update(interaction, agent_id=call.agent_id, answered_at=bridged, bridged_at=bridged)
        interactions.finish(interaction, call.ended_at or self.dialer.clock(), hangup_by="switch", abandoned=False)
        return interaction

    def _conclude(self, call: AgentFirstCall, outcome: str) -> None:
        if call.done:
            return
        call.done, call.outcome = True, outcome
        self.calls.pop(call.customer_leg, None)
        d = self.dialer
        d.queues.release(call.agent_id, "outbound call over")
        talk = round(call.ended_at - call.bridged_at, 3) if call.bridged_at and call.ended_at else None
        try:
            interaction = None
            if call.bridged_at is not None:
                attempts = DialAttemptRepository(d.store)
                attempts.mark_answered(call.attempt_id, dt.datetime.fromtimestamp(call.bridged_at, dt.timezone.utc))
                attempts.mark_connected(call.attempt_id, dt.datetime.fromtimestamp(call.bridged_at, dt.timezone.utc),
                                        call.agent_id)
                interaction = self._record_conversation(call)
            if call.campaign is not None:
                d.hopper.finish(call.campaign, call.attempt_id, outcome, d.now(), talk_seconds=talk, abandoned=False,
                                interaction_id=interaction)
            else:
                DialAttemptRepository(d.store).finish(call.attempt_id, outcome, d.now(), talk_seconds=talk,
                                                      abandoned=False, interaction_id=interaction)
        except Exception:
            log.exception("attempt %s: outcome %s not stored", call.attempt_id, outcome)
        call.finished.set()
