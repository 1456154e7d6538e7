"""The outbound-socket handler that takes back a queued caller sent to the engine after a restart (adopt.py).

A channel arriving with `jq_readopt=true` re-enters the queue it was in, with its original entry time (its
place in line), instead of starting its IVR flow again; every other channel runs its flow as usual.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from engine.esl import commands
from engine.ivr.channel import CallHungUp
from engine.ivr.ports import QueueOutcome, QueueRequest

log = logging.getLogger(__name__)


class ReadoptingHandler:
    """`handler(channel)` for the OutboundServer: re-adopted callers to their queue, the rest to `run_flow`."""

    def __init__(self, run_flow: Callable[[Any], Any], queues: Any) -> None:
        self.run_flow = run_flow
        self.queues = queues  # the QueueService (None without an ACD)
        self.readopted = 0

    def __call__(self, channel: Any) -> Any:
        variables = getattr(channel, "variables", None) or {}
        if self.queues is None or variables.get(commands.VAR_READOPT) != "true":
            return self.run_flow(channel)
        return self.readopt(channel, variables)

    def readopt(self, channel: Any, variables: dict[str, str]) -> Any:
        call_id = variables.get(commands.VAR_CALL_ID) or channel.uuid
        queue = variables.get(commands.VAR_QUEUE, "")
        try:
            since = float(variables.get(commands.VAR_QUEUED_AT, ""))
        except ValueError:
            since = None
        raw_priority = variables.get(commands.VAR_QUEUE_PRIORITY, "0")
        priority = int(raw_priority) if raw_priority.lstrip("-").isdigit() else 0
        self.readopted += 1
        log.info("call %s: back in queue %s after an engine restart", call_id, queue)
        try:
            channel.set_variable(commands.VAR_READOPT, "false")
            result = self.queues.enqueue(channel, QueueRequest(queue=queue, call_uuid=call_id, priority=priority), since=since)
            if result.outcome is not QueueOutcome.ANSWERED or not result.detail.startswith("transferred:"):
                channel.hangup()
            return result
        except CallHungUp:
            return None
