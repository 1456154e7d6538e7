"""Placing callers: match a waiting caller with free agents, and a freed agent with the best waiting caller.

The distributor's half that decides *who* gets *whom*. An offer always reserves its agents (RINGING) in
the same step, and a caller leaves the waiting line (its version is bumped, so index entries go stale)
whenever it is offered or its requirement changes.

Scarce agents are spared (queue option `preserve_scarce_agents`, on by default): when several agents
could take a caller, each is priced by what its absence would cost its *other* queues. For every other
queue whose own skills it has, the agent costs 1 / (1 + the other available agents who could serve that
queue), or nothing once `SCARCE_BELOW` others could. The cheapest candidates are kept and the queue's
strategy chooses among them. So the only VIP-skilled agent is not given to a general caller while a
general agent is idle. Waiting callers need no term of their own: a caller waits only while no available
agent qualifies for it (or every one has refused it), so no candidate could take a waiting caller now.
The index keeps, per queue, the available members who meet its skills, so pricing costs O(the
candidates' memberships).
"""
from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.acd.index import AvailableAgents, Timers, WaitingLine, requirement_key
from engine.acd.intents import CallerExit, CancelOffer, Intent, Offer
from engine.acd.models import Agent, AgentState, QueueConfig, WaitingCaller
from engine.acd.strategies import choose_agents, choose_sparing

AUTO_PAUSE_REASON = "auto-pause: unanswered offers"
OFFER_GRACE_SECONDS = 5.0
SCARCE_BELOW = 3  # a queue that fewer than this many other available agents can serve depends on a candidate


class AcdError(ValueError):
    """A request the distributor cannot honour (unknown agent or queue, bad state); the message says why."""


class CallerRouting:
    """Matching and timer handling shared by the Distributor (state lives in the Distributor)."""

    queues: dict[str, QueueConfig]
    agents: dict[str, Agent]
    waiting: dict[str, WaitingCaller]
    _available: AvailableAgents
    _line: WaitingLine
    _sticky_line: dict[str, WaitingLine]
    _timers: Timers
    _last_offered: dict[str, str]
    _rng: dict[str, random.Random]
    _agent_queue: dict[str, str]
    _lengths: dict[str, int]
    _offer_started: dict[str, float]

    if TYPE_CHECKING:  # pragma: no cover
        _set_state: Callable[..., list[Intent]]
        offer_failed: Callable[..., list[Intent]]
        _end_wrap_up: Callable[..., list[Intent]]

    # ----- requirements and priority ----------------------------------------------------------
    def _requirement(self, caller: WaitingCaller, queue_name: str) -> dict[str, int]:
        """Skill levels the caller needs in `queue_name`, after the overflow steps applied so far."""
        need = dict(self.queues[queue_name].skills)
        for skill, level in caller.required_skills.items():
            need[skill] = max(need.get(skill, 0), level)
        for step in self.queues[caller.queue].overflow[:caller.overflow_step]:
            for skill in step.drop_skills:
                need.pop(skill, None)
            if step.lower_proficiency:
                need = {s: lvl - step.lower_proficiency for s, lvl in need.items()}
        return {s: lvl for s, lvl in need.items() if lvl > 0}

    def _effective(self, caller: WaitingCaller, now: float, queue_name: str | None = None) -> float:
        """Priority plus aging: every caller eventually outranks any newcomer, so nobody starves."""
        queue = self.queues[queue_name or caller.queue]
        return caller.priority + queue.aging_per_minute / 60.0 * caller.waited(now)

    def _sticky_deadline(self, caller: WaitingCaller, queue: QueueConfig) -> float | None:
        if not caller.sticky_agent:
            return None
        if caller.sticky_until is not None:
            return caller.sticky_until
        return caller.enqueued_at + queue.sticky.max_wait if queue.sticky is not None else None

    def _in_sticky_window(self, caller: WaitingCaller, queue: QueueConfig, now: float) -> bool:
        deadline = self._sticky_deadline(caller, queue)
        if deadline is None:
            return False
        agent = self.agents.get(caller.sticky_agent or "")
        if agent is None or agent.state is AgentState.LOGGED_OUT or caller.queue not in agent.queues:
            return False
        return now < deadline

    def _live(self, call_id: str, version: int) -> bool:
        caller = self.waiting.get(call_id)
        return caller is not None and caller.version == version and not caller.offered_to

    # ----- caller side ------------------------------------------------------------------------
    def _place(self, caller: WaitingCaller, now: float) -> list[Intent]:
        """Offer the caller to the best free agent, or put it (back) in line."""
        caller.version += 1
        queue = self.queues[caller.queue]
        if self._in_sticky_window(caller, queue, now):
            agent = self.agents[caller.sticky_agent]  # type: ignore[index]
            if agent.can_take_offer and agent.agent_id not in caller.declined_by:
                return self._offer(caller, [agent], now)
            self._sticky_line.setdefault(agent.agent_id, WaitingLine()).push(
                caller.queue, frozenset(), caller.call_id, caller.version, priority=caller.priority,
                enqueued_at=caller.enqueued_at, aging_per_second=queue.aging_per_minute / 60.0)
            return []
        candidates: dict[str, Agent] = {}
        requirements = {}
        for name in (caller.queue, *caller.extra_queues):
            need = self._requirement(caller, name)
            requirements[name] = need
            for agent_id in self._available.in_queue(name):
                if agent_id in caller.declined_by or agent_id in candidates:
                    continue
                agent = self.agents[agent_id]
                if agent.can_take_offer and agent.qualifies(name, need):
                    candidates[agent_id] = agent
        if candidates:
            kw = {"queue": caller.queue, "requirement": requirements[caller.queue],
                  "last_agent": self._last_offered.get(caller.queue), "rng": self._rng.get(caller.queue)}
            if queue.preserve_scarce_agents and len(candidates) > 1:
                chosen = choose_sparing(queue.strategy, list(candidates.values()), self._absence_cost(caller.queue),
                                        **kw)
            else:
                chosen = choose_agents(queue.strategy, list(candidates.values()), **kw)
            return self._offer(caller, chosen, now)
        for name, need in requirements.items():
            self._line.push(name, requirement_key(need), caller.call_id, caller.version, priority=caller.priority,
                            enqueued_at=caller.enqueued_at,
                            aging_per_second=self.queues[name].aging_per_minute / 60.0)
        return []

    def _fits_queue(self, agent_id: str, queue: str) -> bool:
        """The agent meets `queue`'s own skills (kept per queue by the available-agents index)."""
        config = self.queues.get(queue)
        if config is None:
            return False
        return not config.skills or self.agents[agent_id].qualifies(queue, config.skills)

    def _absence_cost(self, serving: str) -> Callable[[Agent], float]:
        """How much the agent's other queues would miss it if it took a caller of `serving` (see module doc)."""
        fitting_of = self._available.fitting

        def cost(agent: Agent) -> float:
            total = 0.0
            for name in agent.queues:
                if name != serving:
                    fitting = fitting_of(name)
                    serving_it = len(fitting)  # the agent and serving_it - 1 others could serve that queue
                    if serving_it <= SCARCE_BELOW and agent.agent_id in fitting:
                        total += 1.0 / serving_it
            return total
        return cost

    def _offer(self, caller: WaitingCaller, agents: list[Agent], now: float) -> list[Intent]:
        caller.version += 1
        caller.offered_to = tuple(a.agent_id for a in agents)
        queue = self.queues[caller.queue]
        intents: list[Intent] = [Offer(caller.call_id, caller.queue, caller.offered_to, queue.offer_timeout)]
        for agent in agents:
            intents += self._set_state(agent, AgentState.RINGING, now, "offer", caller.call_id)
            agent.current_call = caller.call_id
            self._agent_queue[agent.agent_id] = caller.queue
        self._last_offered[caller.queue] = caller.offered_to[-1]
        self._offer_started[caller.call_id] = now
        self._timers.schedule(now + queue.offer_timeout + OFFER_GRACE_SECONDS, "offer_expiry", caller.call_id)
        return intents

    def _forget(self, caller: WaitingCaller) -> None:
        if self.waiting.pop(caller.call_id, None) is not None:
            self._lengths[caller.queue] -= 1
        caller.version += 1
        self._offer_started.pop(caller.call_id, None)

    def _cancel_ringing(self, caller: WaitingCaller, now: float, reason: str) -> list[Intent]:
        """Drop every agent leg ringing for this caller and put those agents back in service."""
        ringing, caller.offered_to = caller.offered_to, ()
        intents: list[Intent] = []
        for agent_id in ringing:
            agent = self.agents[agent_id]
            intents.append(CancelOffer(caller.call_id, agent_id, reason))
            if agent.state is AgentState.RINGING and agent.current_call == caller.call_id:
                intents += self._set_state(agent, AgentState.AVAILABLE, now, reason, caller.call_id)
        return intents

    def _withdraw_offer(self, agent: Agent, now: float, reason: str) -> list[Intent]:
        """The agent leaves service while ringing: cancel its leg, the caller goes back in line."""
        call_id = agent.current_call or ""
        intents: list[Intent] = [CancelOffer(call_id, agent.agent_id, reason)]
        caller = self.waiting.get(call_id)
        if caller is not None:
            caller.offered_to = tuple(a for a in caller.offered_to if a != agent.agent_id)
            if not caller.offered_to:  # the agent is still RINGING, so it cannot be chosen again here
                intents += self._place(caller, now)
        return intents

    def _release_sticky(self, agent: Agent, now: float) -> list[Intent]:
        """The agent logged out: callers waiting for it alone join the normal line at once."""
        line = self._sticky_line.pop(agent.agent_id, None)
        intents: list[Intent] = []
        for entry in line.drain() if line is not None else ():
            if self._live(entry.call_id, entry.version):
                intents += self._place(self.waiting[entry.call_id], now)
        return intents

    # ----- agent side -------------------------------------------------------------------------
    def _agent_freed(self, agent: Agent, now: float) -> list[Intent]:
        """An agent can take an offer: give it the best waiting caller it qualifies for, if any."""
        best: tuple[tuple[float, float], WaitingCaller] | None = None
        sticky = self._sticky_line.get(agent.agent_id)
        if sticky is not None:
            for name in agent.queues:
                caller = self._first_for(agent, sticky, name, frozenset())
                if caller is None:
                    continue
                score = (self._effective(caller, now), -caller.enqueued_at)
                if best is None or score > best[0]:
                    best = (score, caller)
            if best is not None:
                return self._offer(best[1], [agent], now)
        for name in agent.queues:
            for need, _ in self._line.groups(name):
                if not all(agent.skill_level(name, s) >= lvl for s, lvl in need):
                    continue
                caller = self._first_for(agent, self._line, name, need)
                if caller is None:
                    continue
                score = (self._effective(caller, now, name), -caller.enqueued_at)
                if best is None or score > best[0]:
                    best = (score, caller)
        if best is None:
            return []
        return self._offer(best[1], [agent], now)

    def _first_for(self, agent: Agent, line: WaitingLine, queue: str, need: frozenset) -> WaitingCaller | None:
        """The best live caller of a group that has not already been refused by this agent."""
        entry = line.head(queue, need, self._live)
        if entry is None:
            return None
        if agent.agent_id not in self.waiting[entry.call_id].declined_by:
            return self.waiting[entry.call_id]
        entry = line.best(queue, need, lambda call_id, version: self._live(call_id, version)
                          and agent.agent_id not in self.waiting[call_id].declined_by)
        return self.waiting[entry.call_id] if entry is not None else None

    # ----- timers -----------------------------------------------------------------------------
    def _on_wrap_up(self, agent_id: str, _: int, now: float) -> list[Intent]:
        agent = self.agents.get(agent_id)
        if agent is None or agent.state is not AgentState.WRAP_UP or agent.wrap_up_until > now:
            return []
        return self._end_wrap_up(agent, now)

    def _on_sticky_end(self, call_id: str, _: int, now: float) -> list[Intent]:
        caller = self.waiting.get(call_id)
        if caller is None or caller.offered_to:
            return []
        return self._place(caller, now)

    def _on_forgive(self, call_id: str, _: int, now: float) -> list[Intent]:
        caller = self.waiting.get(call_id)
        if caller is None or caller.offered_to or not caller.declined_by:
            return []
        caller.declined_by.clear()
        return self._place(caller, now)

    def _on_overflow(self, call_id: str, step_index: int, now: float) -> list[Intent]:
        caller = self.waiting.get(call_id)
        if caller is None or step_index < caller.overflow_step:
            return []
        if caller.offered_to:  # let the ringing offer finish first
            self._timers.schedule(now + 1.0, "overflow", call_id, step_index)
            return []
        queue = self.queues[caller.queue]
        step = queue.overflow[step_index]
        caller.overflow_step = step_index + 1
        if step.action is not None and caller.callback:  # already a callback: it keeps its place
            return []
        if step.action is not None:
            self._forget(caller)
            return [CallerExit(call_id, caller.queue, "overflow", step.action, caller.waited(now))]
        caller.extra_queues += tuple(q for q in step.add_queues if q not in caller.extra_queues and q != caller.queue)
        return self._place(caller, now)

    def _schedule_overflow(self, caller: WaitingCaller, queue: QueueConfig) -> None:
        for i, step in enumerate(queue.overflow):
            self._timers.schedule(caller.enqueued_at + step.after, "overflow", caller.call_id, i)

    def _on_max_wait(self, call_id: str, _: int, now: float) -> list[Intent]:
        caller = self.waiting.get(call_id)
        if caller is None:
            return []
        if caller.offered_to:
            self._timers.schedule(now + 1.0, "max_wait", call_id)
            return []
        self._forget(caller)
        queue = self.queues[caller.queue]
        return [CallerExit(call_id, caller.queue, "max wait", queue.max_wait_action, caller.waited(now))]

    def _on_offer_expiry(self, call_id: str, _: int, now: float) -> list[Intent]:
        """Safety net for a lost answer/hangup event: an offer still ringing past its timeout is failed."""
        caller = self.waiting.get(call_id)
        started = self._offer_started.get(call_id)
        if caller is None or started is None:
            return []
        queue = self.queues[caller.queue]
        if now < started + queue.offer_timeout + OFFER_GRACE_SECONDS:
            return []
        intents: list[Intent] = []
        for agent_id in caller.offered_to:
            intents.append(CancelOffer(call_id, agent_id, "offer expired"))
            intents += self.offer_failed(call_id, agent_id, now, reason="offer expired")
        return intents

