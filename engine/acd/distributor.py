"""The call distributor: agents, waiting callers and offers as a pure state machine that returns intents.

How it works: every method takes `now` and returns a list of intents (see `intents.py`); nothing here
does I/O. An agent can hold at most one call (`current_call`) and is offered only while AVAILABLE and
registered; an offer moves it to RINGING at once, so no agent is ever offered two callers. A caller waits
in `WaitingLine` (priority with aging) until an agent it qualifies for is free; timers drive sticky
fall-back, overflow steps, max wait, wrap-up and offer expiry. Indexes in `index.py` keep each decision
proportional to the candidate agents.
"""
from __future__ import annotations

import logging
import random
from typing import Iterable, Mapping

from engine.acd.index import AvailableAgents, Timers, WaitingLine
from engine.acd.intents import Abandoned, AgentStateChanged, CallerExit, CancelOffer, Connect, Intent
from engine.acd.models import Agent, AgentState, QueueConfig, WaitingCaller
from engine.acd.routing import AUTO_PAUSE_REASON, AcdError, CallerRouting

log = logging.getLogger(__name__)
__all__ = ["AUTO_PAUSE_REASON", "AcdError", "Distributor"]
NOT_THE_AGENTS_FAULT = frozenset({"unregistered", "offer expired", "reconciled", "switch_connection_lost"})
NOT_DECLINED = frozenset({"switch_connection_lost"})  # the agent may be offered the same caller again at once


class Distributor(CallerRouting):
    """Routes waiting callers to agents across every queue."""

    def __init__(self, queues: Mapping[str, QueueConfig], agents: Iterable[Agent] = ()) -> None:
        self.queues: dict[str, QueueConfig] = dict(queues)
        self.agents: dict[str, Agent] = {}
        self.waiting: dict[str, WaitingCaller] = {}
        self._available = AvailableAgents(fits=self._fits_queue)
        self._line = WaitingLine()
        self._sticky_line: dict[str, WaitingLine] = {}
        self._timers = Timers()
        self._last_offered: dict[str, str] = {}
        self._rng = {name: random.Random(q.random_seed) for name, q in self.queues.items()}
        self._agent_queue: dict[str, str] = {}  # agent -> queue of the call it is handling
        self._pending: dict[str, tuple[AgentState, str]] = {}  # agent -> state to take after the call
        self._lengths: dict[str, int] = {}
        self._offer_started: dict[str, float] = {}
        for agent in agents:
            self.add_agent(agent)

    # ----- agents -------------------------------------------------------------------------------
    def add_agent(self, agent: Agent) -> None:
        """Register an agent definition (state as given)."""
        self.agents[agent.agent_id] = agent
        if agent.can_take_offer:
            self._available.add(agent.agent_id, list(agent.queues))

    def agent(self, agent_id: str) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise AcdError(f"unknown agent {agent_id!r}") from None

    def serving_queue(self, agent_id: str) -> str:
        """The queue of the call the agent is handling (or wrapping up); "" when none."""
        return self._agent_queue.get(agent_id, "")

    def login(self, agent_id: str, now: float, queues: Mapping[str, Mapping[str, int]] | None = None,
              *, ready: bool = True, reason: str | None = None) -> list[Intent]:
        """Log an agent in (optionally into these queues with per-queue skill levels); `reason` replaces the
        default one on the agent's timeline (e.g. the not-ready reason restored after a restart)."""
        agent = self.agent(agent_id)
        if queues is not None:
            for name in queues:
                if name not in self.queues:
                    raise AcdError(f"unknown queue {name!r} (known: {', '.join(sorted(self.queues))})")
            self._available.remove(agent_id, list(agent.queues))
            agent.queues = {name: dict(levels) for name, levels in queues.items()}
            if agent.can_take_offer:
                self._available.add(agent_id, list(agent.queues))
                return self._agent_freed(agent, now)
        if agent.state is not AgentState.LOGGED_OUT:
            return []
        return self._set_state(agent, AgentState.AVAILABLE if ready else AgentState.NOT_READY, now,
                               reason or ("login" if ready else "login: not ready"))

    def logout(self, agent_id: str, now: float) -> list[Intent]:
        return self._leave_service(agent_id, AgentState.LOGGED_OUT, "logout", now)

    def set_not_ready(self, agent_id: str, reason: str, now: float) -> list[Intent]:
        return self._leave_service(agent_id, AgentState.NOT_READY, reason or "not ready", now)

    def set_ready(self, agent_id: str, now: float) -> list[Intent]:
        agent = self.agent(agent_id)
        self._pending.pop(agent_id, None)
        if agent.state is AgentState.LOGGED_OUT:
            raise AcdError(f"agent {agent_id} is logged out; log in first")
        if agent.state is not AgentState.NOT_READY:
            return []
        agent.consecutive_no_answers = 0
        return self._set_state(agent, AgentState.AVAILABLE, now, "ready")

    def set_registered(self, agent_id: str, registered: bool, now: float) -> list[Intent]:
        """SIP registration changed; an unregistered phone gets no offers (a ringing one is cancelled)."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.registered == registered:
            return []
        was_offerable = agent.can_take_offer
        agent.registered = registered
        intents: list[Intent] = []
        if was_offerable and not agent.can_take_offer:
            self._available.remove(agent_id, list(agent.queues))
        elif agent.can_take_offer and not was_offerable:
            self._available.add(agent_id, list(agent.queues))
            intents += self._agent_freed(agent, now)
        if not registered and agent.state is AgentState.RINGING and agent.current_call:
            intents.append(CancelOffer(agent.current_call, agent_id, "unregistered"))
            intents += self.offer_failed(agent.current_call, agent_id, now, reason="unregistered")
        return intents

    def _leave_service(self, agent_id: str, target: AgentState, reason: str, now: float) -> list[Intent]:
        agent = self.agent(agent_id)
        if agent.state in (AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.RESERVED):
            self._pending[agent_id] = (target, reason)  # applied when the call (or reservation) and wrap-up end
            return []
        intents: list[Intent] = []
        if agent.state is AgentState.RINGING and agent.current_call:
            intents += self._withdraw_offer(agent, now, reason)
        if agent.state is not target:
            intents += self._set_state(agent, target, now, reason)
        return intents

    def _set_state(self, agent: Agent, new: AgentState, now: float, reason: str,
                   call_id: str | None = None) -> list[Intent]:
        old = agent.state
        was_offerable = agent.can_take_offer
        agent.state = new
        agent.not_ready_reason = reason if new is AgentState.NOT_READY else ""
        if new in (AgentState.AVAILABLE, AgentState.NOT_READY, AgentState.LOGGED_OUT):
            agent.current_call = None
            self._agent_queue.pop(agent.agent_id, None)
        if new is AgentState.AVAILABLE and old is not AgentState.RINGING:
            agent.idle_since = now
        intents: list[Intent] = [AgentStateChanged(agent.agent_id, old, new, reason, now, call_id)]
        if was_offerable and not agent.can_take_offer:
            self._available.remove(agent.agent_id, list(agent.queues))
        elif agent.can_take_offer and not was_offerable:
            self._available.add(agent.agent_id, list(agent.queues))
            intents += self._agent_freed(agent, now)
        if new is AgentState.LOGGED_OUT:
            intents += self._release_sticky(agent, now)
        return intents

    # ----- the shared agent pool (the dialer reserves agents for outbound calls and previews) ------
    def reserve(self, agent_id: str, reason: str, now: float) -> list[Intent]:
        """Hold a free agent for one outbound call or preview: no inbound offer reaches it until `release`."""
        agent = self.agent(agent_id)
        if not agent.can_take_offer:
            raise AcdError(f"agent {agent_id} cannot be reserved now ({agent.state.value})")
        intents = self._set_state(agent, AgentState.RESERVED, now, reason)
        agent.not_ready_reason = reason
        return intents

    def release(self, agent_id: str, now: float, reason: str = "released") -> list[Intent]:
        """End a reservation: the agent is free again (or takes the state asked for meanwhile, e.g. logout)."""
        agent = self.agent(agent_id)
        if agent.state is not AgentState.RESERVED:
            return []
        target, why = self._pending.pop(agent_id, (AgentState.AVAILABLE, reason))
        return self._set_state(agent, target, now, why)

    def reserved_call(self, agent_id: str, call_id: str, now: float, queue: str | None = None) -> list[Intent]:
        """A reserved agent is now talking on an outbound call it placed itself (preview, manual)."""
        agent = self.agent(agent_id)
        if agent.state is not AgentState.RESERVED:
            return []
        agent.answered_at = now
        if queue:
            self._agent_queue[agent_id] = queue
        intents = self._set_state(agent, AgentState.ON_CALL, now, "outbound call", call_id)
        agent.current_call = call_id
        return intents

    def free_agents(self, queue: str | None = None) -> list[str]:
        """Agents who could take a call now (available, registered), in `queue` when given."""
        return [a.agent_id for a in self.agents.values() if a.can_take_offer and (queue is None or queue in a.queues)]

    # ----- callers ------------------------------------------------------------------------------
    def enqueue(self, caller: WaitingCaller, now: float) -> list[Intent]:
        """A caller joins a queue; returns an Offer at once when an agent is free, or CallerExit if full."""
        queue = self.queues.get(caller.queue)
        if queue is None:
            raise AcdError(f"unknown queue {caller.queue!r} (known: {', '.join(sorted(self.queues))})")
        if caller.call_id in self.waiting:
            raise AcdError(f"call {caller.call_id} is already waiting in {self.waiting[caller.call_id].queue}")
        if queue.max_length and self.queue_length(caller.queue) >= queue.max_length:
            return [CallerExit(caller.call_id, caller.queue, "queue full", queue.max_wait_action, 0.0)]
        caller.priority = max(caller.priority, queue.base_priority(caller.features))
        self.waiting[caller.call_id] = caller
        self._lengths[caller.queue] = self._lengths.get(caller.queue, 0) + 1
        limit = min((w for w in (queue.max_wait, caller.max_wait) if w > 0), default=0.0)
        if limit and not caller.callback:
            self._timers.schedule(caller.enqueued_at + limit, "max_wait", caller.call_id)
        self._schedule_overflow(caller, queue)
        if self._in_sticky_window(caller, queue, now):
            self._timers.schedule(self._sticky_deadline(caller, queue) or now, "sticky_end", caller.call_id)
        return self._place(caller, now)

    def agents_serving(self, queue: str) -> int:
        """Members of the queue who are working (not logged out, not paused); O(agents), for estimates only."""
        working = (AgentState.AVAILABLE, AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP)
        return sum(1 for a in self.agents.values() if queue in a.queues and a.state in working)

    def longest_waiting(self, queue: str, now: float) -> float:
        """Seconds the oldest caller of `queue` has waited (0 when empty); O(waiting), for wallboards."""
        return max((c.waited(now) for c in self.waiting.values() if c.queue == queue), default=0.0)

    def queue_length(self, queue: str) -> int:
        return self._lengths.get(queue, 0)

    def position(self, call_id: str, now: float) -> int:
        """1-based place in line among callers of the same queue; ties go to the earlier arrival.

        O(waiting callers); meant for announcements, not for routing.
        """
        me = self.waiting[call_id]
        mine = (self._effective(me, now), -me.enqueued_at)
        ahead, before_me = 0, True
        for other in self.waiting.values():  # insertion order is arrival order
            if other is me:
                before_me = False
                continue
            if other.queue != me.queue:
                continue
            theirs = (self._effective(other, now), -other.enqueued_at)
            if theirs > mine or (theirs == mine and before_me):
                ahead += 1
        return ahead + 1

    def caller_left(self, call_id: str, now: float) -> list[Intent]:
        """The caller hung up while waiting or ringing: cancel offers at once, report the abandon."""
        caller = self.waiting.get(call_id)
        if caller is None:
            return []
        intents = self._cancel_ringing(caller, now, "caller hung up")
        self._forget(caller)
        return intents + [Abandoned(call_id, caller.queue, caller.waited(now))]

    def withdraw(self, call_id: str, now: float, reason: str) -> list[Intent]:
        """Take a caller out of line without an abandon (exit key, transfer away)."""
        caller = self.waiting.get(call_id)
        if caller is None:
            return []
        intents = self._cancel_ringing(caller, now, reason)
        self._forget(caller)
        return intents

    # ----- offers -------------------------------------------------------------------------------
    def offer_answered(self, call_id: str, agent_id: str, now: float) -> list[Intent]:
        """The agent picked up. Connect, or drop the agent leg if the caller is already gone."""
        agent = self.agents.get(agent_id)
        caller = self.waiting.get(call_id)
        if agent is None or agent.state is not AgentState.RINGING or agent.current_call != call_id or caller is None:
            intents: list[Intent] = [CancelOffer(call_id, agent_id, "offer no longer valid")]
            if agent is not None and agent.current_call == call_id and agent.state is AgentState.RINGING:
                intents += self._set_state(agent, AgentState.AVAILABLE, now, "caller gone", call_id)
            return intents
        others = [a for a in caller.offered_to if a != agent_id]
        caller.offered_to = (agent_id,)
        self._forget(caller)
        agent.consecutive_no_answers = 0
        agent.answered_at = now
        self._agent_queue[agent_id] = caller.queue
        intents = self._set_state(agent, AgentState.ON_CALL, now, "answered", call_id)
        agent.current_call = call_id
        for other in others:
            intents.append(CancelOffer(call_id, other, "answered elsewhere"))
            intents += self._set_state(self.agents[other], AgentState.AVAILABLE, now, "answered elsewhere", call_id)
        intents.append(Connect(call_id, agent_id, caller.queue, caller.waited(now)))
        return intents

    def offer_failed(self, call_id: str, agent_id: str, now: float, reason: str = "no answer") -> list[Intent]:
        """The agent did not answer (timeout, busy, rejected, unregistered): count it, maybe pause, try next."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.state is not AgentState.RINGING or agent.current_call != call_id:
            return []
        caller = self.waiting.get(call_id)
        queue = self.queues.get(caller.queue if caller else self._agent_queue.get(agent_id, ""), None)
        if reason not in NOT_THE_AGENTS_FAULT:
            agent.consecutive_no_answers += 1
        intents: list[Intent] = []
        limit = queue.max_no_answer if queue else 3
        pending = self._pending.pop(agent_id, None)
        if pending:
            intents += self._set_state(agent, pending[0], now, pending[1], call_id)
        elif agent.consecutive_no_answers >= limit:
            intents += self._set_state(agent, AgentState.NOT_READY, now, AUTO_PAUSE_REASON, call_id)
        if caller is not None:
            caller.offered_to = tuple(a for a in caller.offered_to if a != agent_id)
            if reason not in NOT_DECLINED:
                caller.declined_by.add(agent_id)
        if agent.state is AgentState.RINGING:
            # back to service, but not for this caller straight away
            intents += self._set_state(agent, AgentState.AVAILABLE, now, reason, call_id)
        if caller is not None and not caller.offered_to:
            self._timers.schedule(now + (queue.offer_timeout if queue else 20.0), "forgive", call_id, caller.version)
            intents += self._place(caller, now)
        return intents

    def consult(self, agent_id: str, call_id: str, queue: str, now: float) -> list[Intent]:
        """Reserve an available agent to be consulted about a connected call (attended transfer)."""
        agent = self.agent(agent_id)
        if not agent.can_take_offer:
            raise AcdError(f"agent {agent_id} cannot take a call now ({agent.state.value})")
        intents = self._set_state(agent, AgentState.RINGING, now, "consult", call_id)
        agent.current_call = call_id
        self._agent_queue[agent_id] = queue
        return intents

    def consult_answered(self, agent_id: str, call_id: str, now: float) -> list[Intent]:
        agent = self.agent(agent_id)
        if agent.state is not AgentState.RINGING or agent.current_call != call_id:
            return []
        agent.answered_at = now
        intents = self._set_state(agent, AgentState.ON_CALL, now, "consult answered", call_id)
        agent.current_call = call_id
        return intents

    def consult_failed(self, agent_id: str, call_id: str, now: float, reason: str) -> list[Intent]:
        agent = self.agent(agent_id)
        if agent.state is not AgentState.RINGING or agent.current_call != call_id:
            return []
        return self._set_state(agent, AgentState.AVAILABLE, now, f"consult {reason}", call_id)

    def call_ended(self, agent_id: str, now: float) -> list[Intent]:
        """The agent's bridged call ended (either side hung up): start wrap-up."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.state is not AgentState.ON_CALL:
            return []
        call_id = agent.current_call
        queue = self.queues.get(self._agent_queue.get(agent_id, ""))
        agent.calls_handled += 1
        agent.talk_seconds += max(0.0, now - agent.answered_at)
        wrap = queue.wrap_up_seconds if queue else 0.0
        if wrap > 0:
            agent.wrap_up_until = now + wrap
            self._timers.schedule(agent.wrap_up_until, "wrap_up", agent_id)
            return self._set_state(agent, AgentState.WRAP_UP, now, "call ended", call_id)
        return self._end_wrap_up(agent, now)

    def resume_wrap_up(self, agent_id: str, until: float, now: float,
                       queues: Mapping[str, Mapping[str, int]] | None = None, reason: str = "restored") -> list[Intent]:
        """Log an agent in straight into the wrap-up it was in before a restart, ending at `until`."""
        agent = self.agent(agent_id)
        if agent.state is not AgentState.LOGGED_OUT or until <= now:
            return []
        if queues is not None:
            for name in queues:
                if name not in self.queues:
                    raise AcdError(f"unknown queue {name!r} (known: {', '.join(sorted(self.queues))})")
            agent.queues = {name: dict(levels) for name, levels in queues.items()}
        agent.wrap_up_until = until
        self._timers.schedule(until, "wrap_up", agent_id)
        return self._set_state(agent, AgentState.WRAP_UP, now, reason)

    def end_wrap_up(self, agent_id: str, now: float) -> list[Intent]:
        """The agent finished wrap-up early."""
        agent = self.agent(agent_id)
        if agent.state is not AgentState.WRAP_UP:
            return []
        return self._end_wrap_up(agent, now)

    def _end_wrap_up(self, agent: Agent, now: float) -> list[Intent]:
        call_id = agent.current_call
        target, reason = self._pending.pop(agent.agent_id, (AgentState.AVAILABLE, "wrap-up done"))
        agent.wrap_up_until = 0.0
        return self._set_state(agent, target, now, reason, call_id)

    # ----- time ---------------------------------------------------------------------------------
    def tick(self, now: float) -> list[Intent]:
        """Run every timer that is due: wrap-up ends, sticky fall-back, overflow steps, max wait, offer expiry."""
        intents: list[Intent] = []
        for kind, subject, version in self._timers.due(now):
            try:
                intents += getattr(self, f"_on_{kind}")(subject, version, now)
            except Exception:  # one broken timer must not drop the intents of the others
                log.exception("timer %s for %s failed; the other timers still run", kind, subject)
        return intents

    def next_timer(self) -> float | None:
        return self._timers.next_due()
