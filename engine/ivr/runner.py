"""Runs the IVR for one call: the outbound-socket handler, one greenlet per call.

How it works: `FlowRunner.run(channel)` picks the flow for the dialled number, answers, and walks the
nodes in a `CallSession`. The call ends cleanly whichever way it ends: the caller hanging up at any node
(`CallHungUp`), a hangup/transfer node, an agent taking the call, or an unexpected error (logged, the
call is hung up). In every case the IVR record (path, digits, outcome, the node the call left from, and
the hang-up cause and SIP status FreeSWITCH reported on the channel's CHANNEL_HANGUP / _COMPLETE events)
goes to the interaction log.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from engine.esl import commands
from engine.esl.hangup import HANGUP_EVENTS, HangupFacts, hangup_facts
from engine.ivr.channel import CallHungUp
from engine.ivr.digits import mask_number
from engine.ivr.lookups import HttpLookup, TableStore
from engine.ivr.nodes import FlowFinished
from engine.ivr.ports import (CallbackStore, CustomerDirectory, InteractionLog, IvrRecord, NullCallbacks,
                              NullDirectory, NullInteractionLog, QueueGateway)
from engine.ivr.registry import FlowRegistry
from engine.ivr.session import CallSession, FlowServices

log = logging.getLogger(__name__)

CHANNEL_COMMANDS = frozenset({"answer", "play", "collect", "record", "set_variable", "bridge", "transfer",
                              "sleep", "hangup", "execute"})


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class NodeGapTimer:
    """Wraps a CallChannel to measure the time from one node's completion to the next command sent."""

    def __init__(self, channel: Any, observe: Callable[[float], None],
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._channel = channel
        self._observe = observe
        self._clock = clock
        self._done_at: float | None = None

    def node_done(self) -> None:
        self._done_at = self._clock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._channel, name)
        if name not in CHANNEL_COMMANDS:
            return attr

        def command(*args: Any, **kwargs: Any) -> Any:
            if self._done_at is not None:
                self._observe(self._clock() - self._done_at)
                self._done_at = None
            return attr(*args, **kwargs)

        return command


class HangupWatch:
    """Collects what FreeSWITCH reports about the end of the call from the channel's own events."""

    def __init__(self) -> None:
        self.facts = HangupFacts()

    def on_event(self, event: Any) -> None:  # runs in the channel's reader greenlet: must not block
        if getattr(event, "name", "") in HANGUP_EVENTS:
            self.facts = self.facts.merge(hangup_facts(event))


def exit_node(record: IvrRecord) -> str:
    """The node the call was in when it left the IVR (the last one entered), "" before the first node."""
    return record.path[-1] if record.path else ""


class FlowRunner:
    """The IVR: give `run` to the OutboundServer as its per-call handler."""

    def __init__(self, registry: FlowRegistry, tts: Any, directory: CustomerDirectory | None = None,
                 queue_gateway: QueueGateway | None = None, callbacks: CallbackStore | None = None,
                 interactions: InteractionLog | None = None, *, now: Callable[[], datetime] = utc_now,
                 recordings_dir: str | Path = "var/recordings", http: HttpLookup | None = None,
                 node_gap_observer: Callable[[float], None] | None = None) -> None:
        self.registry = registry
        self.services = FlowServices(
            tts=tts, directory=directory or NullDirectory(), queues=queue_gateway,
            callbacks=callbacks or NullCallbacks(), interactions=interactions or NullInteractionLog(),
            now=now, tables=TableStore(Path(registry.flows_dir) / "data"), http=http or HttpLookup(),
            recordings_dir=Path(recordings_dir))
        self.node_gap_observer = node_gap_observer
        # The dialer's handler for answered campaign calls (they carry `jq_campaign_id`); set by the daemon.
        self.campaign_calls: Callable[[Any], Any] | None = None
        self.cdr_wait = 2.0  # longest wait for CHANNEL_HANGUP_COMPLETE when no hang-up event was seen

    def run(self, channel: Any) -> Any:
        """Handle one call from answer to end; never raises (except gevent's GreenletExit on shutdown).

        An answered campaign call (it carries the dialer's `jq_campaign_id`) goes to the dialer instead."""
        variables = getattr(channel, "variables", None)
        if self.campaign_calls is not None and isinstance(variables, dict) and variables.get(commands.VAR_CAMPAIGN_ID):
            return self.campaign_calls(channel)
        return self.run_flow(channel)

    def run_flow(self, channel: Any, flow_name: str | None = None,
                 customer: dict[str, Any] | None = None) -> IvrRecord:
        """Run `flow_name` (default: the flow for the dialled number) with an optional customer record already
        known (the dialer's agentless calls); never raises."""
        uuid = str(getattr(channel, "uuid", "") or "")
        did = str(getattr(channel, "destination_number", "") or "")
        caller = str(getattr(channel, "caller_number", "") or "")
        flow = self.registry.get(flow_name) if flow_name else self.registry.flow_for(did)
        record = IvrRecord(call_uuid=uuid, flow=flow.name if flow else "", caller_number=caller,
                           destination_number=did, started_at=self.services.now())
        watch = HangupWatch()
        add_handler = getattr(channel, "add_handler", None)
        stop_watching = add_handler(watch.on_event) if callable(add_handler) else None
        timer = NodeGapTimer(channel, self.node_gap_observer) if self.node_gap_observer else None
        session = CallSession(channel=timer or channel, services=self.services, flows=self.registry.snapshot(),
                              record=record, on_node_done=timer.node_done if timer else None)
        if customer:
            session.customer = dict(customer)
        log.info("[%s] IVR call from %s to %s: flow %s", uuid, mask_number(caller), did, record.flow or "-")
        try:
            if flow is None:
                record.outcome = "no_flow"
                log.error("[%s] no flow for number %s (set ivr.dids or ivr.default_flow)", uuid, did)
                channel.hangup()
                return record
            channel.answer()
            record.answered_at = self.services.now()
            session.walk(flow)
            channel.hangup()  # the flow ran off its end: nothing more to do for this caller
        except FlowFinished as finished:
            record.outcome = finished.outcome
            if finished.outcome != "transferred":  # a transferred call belongs to the dialplan now
                channel.hangup()
        except CallHungUp:
            record.ended_by_caller = True
            if record.outcome == "completed":
                record.outcome = "caller_hangup"
        except Exception:
            record.outcome = "error"
            log.exception("[%s] IVR failed in flow %s at node %s", uuid, record.flow or "-",
                          exit_node(record) or "answer")
            try:
                channel.hangup()
            except Exception:
                pass
        finally:
            record.ended_at = self.services.now()
            record.exit_node = exit_node(record)
            if record.outcome != "transferred":
                facts = self._hangup_facts(channel, watch)
                record.hangup_cause, record.sip_status = facts.cause, facts.sip_status
                # The switch says who ended it: a SIP status on the caller's leg means the caller's BYE
                # (e.g. during the conversation with an agent, which ends the flow as "answered").
                if facts.by_remote or (facts.by_remote is None and facts.sip_status is not None):
                    record.ended_by_caller = True
            if stop_watching is not None:
                stop_watching()
            if record.ended_by_caller:
                log.info("[%s] caller hung up in flow %s at node %s (%s, SIP %s)", uuid, record.flow or "-",
                         record.exit_node or "answer", record.hangup_cause or "cause unknown",
                         record.sip_status if record.sip_status is not None else "-")
            try:
                self.services.interactions.ivr_finished(record)
            except Exception:
                log.exception("[%s] storing the IVR record failed", uuid)
        log.info("[%s] IVR done: outcome %s at node %s after %d nodes%s", uuid, record.outcome,
                 record.exit_node or "-", len(record.path), " (caller hung up)" if record.ended_by_caller else "")
        return record

    def _hangup_facts(self, channel: Any, watch: HangupWatch) -> HangupFacts:
        """The cause and SIP status of the call's end; waits briefly for the CDR when no hang-up event was seen
        (the caller left before this handler subscribed), never invents a cause."""
        if watch.facts.known or not getattr(channel, "hung_up", False):
            return watch.facts
        wait = getattr(channel, "wait_hangup_complete", None)
        cdr = wait(self.cdr_wait) if callable(wait) else None
        return watch.facts.merge(hangup_facts(cdr)) if cdr is not None else watch.facts

    __call__ = run
