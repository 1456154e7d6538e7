"""Runs the IVR for one call: the outbound-socket handler, one greenlet per call.

How it works: `FlowRunner.run(channel)` picks the flow for the dialled number, answers, and walks the
nodes in a `CallSession`. The call ends cleanly whichever way it ends: the caller hanging up at any node
(`CallHungUp`), a hangup/transfer node, an agent taking the call, or an unexpected error (logged, the
call is hung up). In every case the IVR record (path, digits, outcome) goes to the interaction log.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

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

    def run(self, channel: Any) -> IvrRecord:
        """Handle one call from answer to end; never raises (except gevent's GreenletExit on shutdown)."""
        uuid = str(getattr(channel, "uuid", "") or "")
        did = str(getattr(channel, "destination_number", "") or "")
        caller = str(getattr(channel, "caller_number", "") or "")
        flow = self.registry.flow_for(did)
        record = IvrRecord(call_uuid=uuid, flow=flow.name if flow else "", caller_number=caller,
                           destination_number=did, started_at=self.services.now())
        timer = NodeGapTimer(channel, self.node_gap_observer) if self.node_gap_observer else None
        session = CallSession(channel=timer or channel, services=self.services, flows=self.registry.snapshot(),
                              record=record, on_node_done=timer.node_done if timer else None)
        log.info("[%s] IVR call from %s to %s: flow %s", uuid, mask_number(caller), did, record.flow or "-")
        try:
            if flow is None:
                record.outcome = "no_flow"
                log.error("[%s] no flow for number %s (set ivr.dids or ivr.default_flow)", uuid, did)
                channel.hangup()
                return record
            channel.answer()
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
            log.info("[%s] caller hung up at %s", uuid, session.node_id or "answer")
        except Exception:
            record.outcome = "error"
            log.exception("[%s] IVR failed at node %s", uuid, session.node_id)
            try:
                channel.hangup()
            except Exception:
                pass
        finally:
            record.ended_at = self.services.now()
            try:
                self.services.interactions.ivr_finished(record)
            except Exception:
                log.exception("[%s] storing the IVR record failed", uuid)
        log.info("[%s] IVR done: outcome %s after %d nodes%s", uuid, record.outcome, len(record.path),
                 " (caller hung up)" if record.ended_by_caller else "")
        return record

    __call__ = run
