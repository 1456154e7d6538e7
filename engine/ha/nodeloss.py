"""Account for a lost FreeSWITCH node: its callers closed with a record, its agents freed and kept from offers.

When `SwitchNodes` declares a node lost (its control connection down for `freeswitch.node_lost_after`), every
ACD call whose caller was on it ends with the cause `NODE_LOST` on its interaction (queued callers count as
lost to the node, not as abandoned by a person who hung up), agent legs on it are ended so their agents leave
the call (wrap-up as usual), and agents whose phones registered with it get no offers until the node is back
(`on_back`: registered again; an offer to a phone that did not survive a restart then marks it unregistered
without a miss) or the phone registers with another node (its sofia::register event). Calls on the other
nodes are not touched.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from engine.esl.hangup import HangupFacts

if TYPE_CHECKING:  # pragma: no cover
    from engine.acd.service import QueueService
    from engine.esl.switchnodes import SwitchNodes

log = logging.getLogger(__name__)
NODE_LOST = "NODE_LOST"


class NodeLoss:
    """The ACD's side of a node going away and coming back."""

    def __init__(self, service: "QueueService", nodes: "SwitchNodes") -> None:
        self.service = service
        self.nodes = nodes
        self.closed: list[str] = []  # call ids closed because their node was lost (for status and tests)
        self.unreachable: dict[str, str] = {}  # extension -> the lost node its phone registered with

    def on_lost(self, node: str, channels: set[str], phones: set[str]) -> None:
        service = self.service
        now = service.clock()
        # A caller's engine socket closes with its node, often before the node is declared lost: whether the ACD
        # still tracks the call or already ended it as a hang-up, its record says the node was lost.
        lost_calls = service.legs.calls_on(channels)
        for call_id, call in list(service.calls.items()):
            if getattr(call.channel, "uuid", "") in channels:
                lost_calls[call_id] = call.channel.uuid
        for call_id in sorted(lost_calls):
            call = service.calls.get(call_id)
            log.warning("call %s: its FreeSWITCH node %s was lost; closed with the cause %s", call_id, node, NODE_LOST)
            if call is not None and not call.finished.is_set():
                service.caller_gone(call_id, HangupFacts(cause=NODE_LOST))
            service.interactions.queue_event(call_id, now, hangup_cause=NODE_LOST, hangup_by="node_lost",
                                             abandoned=False)
            self.closed.append(call_id)
        for uuid in sorted(channels & set(service.agent_legs)):
            service.leg_hung_up(uuid, NODE_LOST)
        for extension in sorted(phones):
            if self.nodes.registry.phone_node(extension) == node:
                self.unreachable[extension] = node
                service.set_registered(extension, False)
        if phones:
            log.warning("node %s lost: %d agent phones registered with it get no offers until it is back or they "
                        "register elsewhere", node, len(phones))
        service.wake_timers()

    def on_back(self, node: str) -> None:
        for extension, where in sorted(self.unreachable.items()):
            if where != node:
                continue
            del self.unreachable[extension]
            if self.nodes.registry.phone_node(extension) == node:
                self.service.set_registered(extension, True)


def attach_node_loss(service: "QueueService", nodes: "SwitchNodes") -> NodeLoss:
    loss = NodeLoss(service, nodes)
    nodes.on_node_lost(loss.on_lost)
    nodes.on_node_back(loss.on_back)
    return loss
