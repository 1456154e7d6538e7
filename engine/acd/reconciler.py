"""Compare the ACD's view with FreeSWITCH's channel list and repair what drifted (lost events, restarts).

Run on a schedule and after every reconnect. A caller whose channel is gone is treated as hung up; an
agent leg older than `grace` seconds that FreeSWITCH no longer has is treated as hung up (so its agent
goes to wrap-up or back to service); an agent stuck ringing or on a call that the service no longer
tracks is released. Never call from the event dispatcher (it blocks on `show channels`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent

from engine.acd.models import AgentState

if TYPE_CHECKING:  # pragma: no cover
    from engine.acd.queued import QueuedCall
    from engine.acd.service import QueueService

log = logging.getLogger(__name__)


@dataclass
class Repairs:
    """What one reconciliation changed."""

    callers_gone: list[str] = field(default_factory=list)
    legs_gone: list[str] = field(default_factory=list)
    agents_released: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.callers_gone) + len(self.legs_gone) + len(self.agents_released)


class Reconciler:
    def __init__(self, service: "QueueService", *, interval: float = 30.0, grace: float = 5.0) -> None:
        self.service = service
        self.interval = interval
        self.grace = grace
        self._loop: gevent.Greenlet | None = None
        self.paused = False  # the switch was unreachable at the last round (logged once, not every round)

    def start(self) -> "Reconciler":
        self._loop = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.kill(block=False)

    def _run(self) -> None:
        while True:
            gevent.sleep(self.interval)
            self.run_once()

    def _switch_connected(self) -> bool:
        control = getattr(self.service.legs, "control", None)
        return bool(getattr(control, "connected", True))

    def run_once(self) -> Repairs | None:
        """One scheduled round: reconcile, or say once that the switch is unreachable and wait for it."""
        if not self._switch_connected():
            self._pause("FreeSWITCH is not connected")
            return None
        try:
            repairs = self.reconcile()
        except Exception as exc:
            if not self._switch_connected():  # the connection dropped during the round
                self._pause(f"FreeSWITCH is not connected ({exc})")
                return None
            log.exception("reconciliation failed; will retry in %.0fs", self.interval)
            return None
        if self.paused:
            log.info("reconciliation resumed: FreeSWITCH is connected again")
            self.paused = False
        return repairs

    def _pause(self, why: str) -> None:
        if not self.paused:
            log.warning("reconciliation paused: %s; it resumes when the connection is back", why)
            self.paused = True

    def _customer_dialled(self, call: "QueuedCall", now: float) -> bool:
        dialled_at = getattr(call.channel, "dialled_at", None)
        return dialled_at is not None and now - dialled_at >= self.grace

    def _still_there(self, uuid: str) -> bool:
        """`show channels` is filled asynchronously and can lag behind a new channel (ESL.md §7): ask
        `uuid_exists` before treating a channel missing from it as gone."""
        try:
            return self.service.legs.channel_exists(uuid)
        except Exception as exc:  # cannot ask now: repair on a later round, not on a guess
            log.warning("reconciler: cannot check channel %s (%s); skipping it this round", uuid, exc)
            return True

    def reconcile(self) -> Repairs:
        service = self.service
        live = service.legs.live_channels()
        now = service.clock()
        repairs = Repairs()
        for call in list(service.calls.values()):
            if call.callback and not self._customer_dialled(call, now):
                continue  # a virtual caller has no channel until its customer is dialled
            if (call.channel.uuid not in live and not call.finished.is_set() and call.status != "left"
                    and not self._still_there(call.channel.uuid)):
                log.warning("call %s: caller channel gone without a hang-up event; repairing", call.call_id)
                repairs.callers_gone.append(call.call_id)
                service.caller_gone(call.call_id)
        for leg in list(service.agent_legs.values()):
            if leg.recovering:
                continue  # its originate result was lost: the executor asks FreeSWITCH by uuid
            if leg.uuid not in live and now - leg.created_at >= self.grace and not self._still_there(leg.uuid):
                log.warning("call %s: agent %s leg %s gone without a hang-up event; repairing", leg.call_id,
                            leg.agent_id, leg.uuid)
                repairs.legs_gone.append(leg.uuid)
                service.leg_hung_up(leg.uuid, "RECOVERY_ON_TIMER_EXPIRE")
        tracked = {(leg.call_id, leg.agent_id) for leg in service.agent_legs.values()}
        distributor = service.distributor
        for agent in list(distributor.agents.values()):
            if agent.state not in (AgentState.RINGING, AgentState.ON_CALL) or not agent.current_call:
                continue
            if (agent.current_call, agent.agent_id) in tracked:
                continue
            log.warning("agent %s: %s for call %s that no longer exists; releasing", agent.agent_id,
                        agent.state.value, agent.current_call)
            repairs.agents_released.append(agent.agent_id)
            if agent.state is AgentState.RINGING:
                service.execute(distributor.offer_failed(agent.current_call, agent.agent_id, now, "reconciled"))
            else:
                service.execute(distributor.call_ended(agent.agent_id, now))
        if repairs.count:
            service.wake_timers()
        return repairs
