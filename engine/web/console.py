"""What the console and wallboard do, over the ACD's public methods and the store: one object the web views call.

How it works: the console listens to the ACD bus. A screen-pop (published when an agent's phone starts
ringing) is enriched in its own greenlet with the customer's context from the store (last interactions,
open callbacks, owner and last agent) and pushed to that agent's browser: the card is on screen while
the phone still rings. Call and agent-state messages keep each agent's current call, time in state and
the floor view up to date. Who may see what is decided here: an agent reads only calls offered to them.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import gevent

from engine.acd.bus import TOPIC_AGENT_STATE, TOPIC_CALL, TOPIC_SCREEN_POP, Bus
from engine.esl import commands
from engine.store.database import Store
from engine.store.phones import mask
from engine.store.repos.agents import AgentRepository, DispositionRepository
from engine.store.repos.callbacks import CallbackRepository
from engine.store.repos.floor import queue_days
from engine.store.repos.interactions import InteractionRepository
from engine.store.screenpop import ScreenPop

log = logging.getLogger(__name__)
NOT_READY_REASONS = ("break", "lunch", "meeting", "training", "after_call_work")
DISPOSITION_REASON = "disposition"  # the not-ready reason while a disposition is due
TRANSFER_KINDS = ("agent", "queue", "number")
MAX_NOTES = 2000
REMEMBERED_CALLS = 200  # calls per agent whose cards that agent may still open (history, late disposition)
FLOOR_REFRESH_S = 2.0  # the wallboard's figures read from the store are checked this often
FLOOR_GATHER_S = 0.05  # events of one instant (a call connected and its agent on call) make one push
FLOOR_PUSH_DELAY = 0.1  # floor updates within this window of the last push are pushed as one message

Push = Callable[[str, str, dict], None]  # (audience: "agent:<id>" | "supervisors", event name, data)


class ConsoleError(Exception):
    """An action the console refuses; `key` names the text shown to the user (i18n), `detail` adds facts."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key, self.detail = key, detail


@dataclass
class CallView:
    """One call as an agent's console shows it."""

    call_id: str
    agent_id: str
    queue: str
    caller_number: str
    status: str = "ringing"  # ringing | connected | ended
    card: dict[str, Any] = field(default_factory=dict)
    offered_at: float = 0.0
    connected_at: float | None = None  # when the agent's phone answered (the ACD connected the call)


class Console:
    """Agent and supervisor actions, and the live view pushed to browsers."""

    def __init__(self, acd: Any, store: Store, bus: Bus, *, clock: Callable[[], float] = time.time,
                 disposition_queues: str = "*", sla_seconds: float = 20.0, zone: Any = None) -> None:
        self.acd = acd  # engine.acd.service.QueueService, or None when no queues are configured
        self.store = store
        self.bus = bus
        self.clock = clock
        self.sla_seconds = sla_seconds
        self.zone = zone or dt.timezone.utc
        wanted = disposition_queues.strip()
        self._disposition_all = wanted == "*"
        self._disposition_queues = {q.strip() for q in wanted.split(",") if q.strip()} if not self._disposition_all else set()
        self.screen_pop = ScreenPop(store)
        self.interactions = InteractionRepository(store)
        self.dispositions = DispositionRepository(store)
        self.callbacks = CallbackRepository(store)
        self.agents = AgentRepository(store)
        self.push: Push = lambda audience, name, data: None
        self.outbound: Any = None  # engine.web.outbound.Outbound when the engine has a dialer
        self.masks: dict[str, list[list[float | None]]] = {}  # call id -> recording masked intervals [from, to]
        self.current: dict[str, CallView] = {}  # agent -> the call on their screen
        self.served: dict[str, OrderedDict[str, CallView]] = {}  # agent -> calls offered to them (bounded)
        self.notes: dict[str, str] = {}  # call id -> the notes that travel with a transfer
        self.awaiting: dict[str, str] = {}  # agent -> call id whose disposition is due before ready
        # Is anybody's console open for this audience ("agent:1001")? The web server asks its push hub.
        self.watching: Callable[[str], bool] = lambda audience: True
        self.chosen_reason: dict[str, str] = {}  # agent chose not-ready while a disposition was due
        self.state_since: dict[str, float] = {}
        self.waiting_history: list[tuple[float, int]] = []  # (time, callers waiting) for the chart
        self._floor_due: float | None = None  # time of the oldest event not yet pushed to the floor
        self._floor_pushed_at = float("-inf")
        self._floor_shown: tuple = ()  # the figures of the last floor pushed
        self._day_cache: tuple[float, dict] = (float("-inf"), {})
        self._unsubscribe = [bus.subscribe(self._on_pop, TOPIC_SCREEN_POP), bus.subscribe(self._on_call, TOPIC_CALL),
                             bus.subscribe(self._on_agent_state, TOPIC_AGENT_STATE)]

        self._refresher: gevent.Greenlet | None = None

    def start(self) -> "Console":
        """Refresh the wallboard every FLOOR_REFRESH_S when what it shows changed without a bus event (today's
        figures once the store has the call, campaign progress, a campaign paused from the CLI)."""
        self._refresher = gevent.spawn(self._refresh)
        return self

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self._refresher is not None:
            self._refresher.kill(block=False)

    def _refresh(self) -> None:
        while True:
            gevent.sleep(FLOOR_REFRESH_S)
            try:
                floor = self.floor(history=False)
            except Exception:
                log.exception("could not build the floor view")
                continue
            if _figures(floor) != self._floor_shown and self._floor_due is None:
                self._floor_changed()

    # ----- bus ----------------------------------------------------------------------------------
    def _on_pop(self, topic: str, payload: Any) -> None:
        # The bus runs us inside the ACD's offer: the store is read in another greenlet, never here.
        gevent.spawn(self._pop, dict(payload), self.clock())

    def _pop(self, payload: dict, at: float) -> None:
        agent_id = str(payload.get("agent_id") or "")
        view = CallView(str(payload.get("call_id")), agent_id, str(payload.get("queue") or ""),
                        str(payload.get("caller_number") or ""), offered_at=at)
        try:
            view.card = self.build_card(payload)
            if self.outbound is not None:
                self.outbound.enrich(view.card, payload)
        except Exception:
            log.exception("call %s: could not build the customer card for agent %s", view.call_id, agent_id)
            view.card = {"call_id": view.call_id, "queue": view.queue, "customer": None}
        self.current[agent_id] = view
        served = self.served.setdefault(agent_id, OrderedDict())
        served[view.call_id] = view
        while len(served) > REMEMBERED_CALLS:
            served.popitem(last=False)
        self.push(f"agent:{agent_id}", "pop", {"at": at, "status": "ringing", "card": view.card})

    def build_card(self, payload: dict) -> dict[str, Any]:
        """The customer card for a pop payload (customer context read from the store)."""
        call_id = str(payload.get("call_id"))
        customer = payload.get("customer") or None
        card: dict[str, Any] = {
            "call_id": call_id, "queue": payload.get("queue") or "", "number": mask(payload.get("caller_number") or ""),
            "waited": payload.get("waited") or 0, "transferred_from": payload.get("transferred_from"),
            "consult": bool(payload.get("consult")), "ivr_path": list(payload.get("ivr_path") or []),
            "ivr_digits": list(payload.get("ivr_digits") or []), "notes": self.notes.get(call_id, ""),
            "customer": None}
        customer_id = customer.get("id") if customer else None
        context = self.screen_pop.for_customer(int(customer_id)) if customer_id else None
        if context is None:
            if customer:
                card["customer"] = {"name": customer.get("name") or "", "segment": customer.get("segment") or "",
                                    "value_tier": customer.get("value_tier"), "tags": list(customer.get("tags") or [])}
            return card
        c = context.customer
        card["customer"] = {
            "id": c.id, "name": c.name, "segment": getattr(c.segment, "value", c.segment), "value_tier": c.value_tier,
            "tags": list(c.tags), "language": c.language, "account_no": c.account_no,
            "owner": _agent_label(context.owner_agent), "last_agent": _agent_label(context.last_agent),
            "recent": [{"at": self._local(i.arrived_at), "queue": i.queue or "", "agent": i.agent_id or "",
                        "result": i.disposition_code or i.ivr_outcome or ("abandoned" if i.abandoned else ""),
                        "notes": i.notes or ""} for i in context.recent_interactions if i.call_id != call_id],
            "callbacks": [{"due": self._local(cb.due_at), "reason": cb.reason} for cb in context.open_callbacks],
        }
        return card

    def _on_call(self, topic: str, payload: Any) -> None:
        if payload.get("event") == "connected":
            agent_id = str(payload.get("agent_id") or "")
            view = self.current.get(agent_id)
            if view is not None and view.call_id == payload.get("call_id"):
                view.status, view.connected_at = "connected", self.clock()
            self.push(f"agent:{agent_id}", "call", {"at": self.clock(), "status": "connected",
                                                   "call_id": payload.get("call_id")})
            if self._needs_disposition(str(payload.get("queue") or "")):
                if self.watching(f"agent:{agent_id}"):
                    self.awaiting[agent_id] = str(payload.get("call_id"))
                    gevent.spawn(self._hold_for_disposition, agent_id)
                else:  # an agent on the phone alone could never enter it: they would stay not-ready for good
                    log.info("call %s: agent %s has no console open; no disposition is required before ready",
                             payload.get("call_id"), agent_id)
        self._floor_changed()

    def _hold_for_disposition(self, agent_id: str) -> None:
        """Once this call and its wrap-up end, the agent goes not-ready until the disposition is saved."""
        if self.acd is not None and self.awaiting.get(agent_id) and agent_id not in self.chosen_reason:
            self.acd.not_ready(agent_id, DISPOSITION_REASON)

    def _on_agent_state(self, topic: str, payload: Any) -> None:
        agent_id = str(payload.get("agent_id") or "")
        at = float(payload.get("at") or self.clock())
        self.state_since[agent_id] = at
        state = str(payload.get("state"))
        view = self.current.get(agent_id)
        if view is not None and state == "on-call" and view.status in ("dialing", "ringing"):
            # an agent-first call the customer answered, or a consultation the agent picked up
            view.status, view.connected_at = "connected", view.connected_at or at
        if view is not None and state in ("wrap-up", "available", "not-ready", "logged-out") \
                and payload.get("previous") in ("on-call", "ringing", "reserved"):
            view.status = "ended" if payload.get("previous") == "on-call" else "missed"
        self.push(f"agent:{agent_id}", "state", {"at": at, "state": state,
                                                "reason": payload.get("reason") or "", "since": at,
                                                "call_status": view.status if view else None,
                                                "disposition_due": agent_id in self.awaiting})
        self._floor_changed()

    def _needs_disposition(self, queue: str) -> bool:
        return self._disposition_all or queue in self._disposition_queues

    # ----- the floor (wallboard) ----------------------------------------------------------------
    def _floor_changed(self) -> None:
        """Push the floor almost at once after a quiet spell (FLOOR_GATHER_S gathers the events of one instant);
        within FLOOR_PUSH_DELAY of the last push, coalesce."""
        if self._floor_due is None:
            self._floor_due = now = self.clock()
            wait = max(FLOOR_GATHER_S, self._floor_pushed_at + FLOOR_PUSH_DELAY - now)
            gevent.spawn_later(wait, self._push_floor)

    def _push_floor(self) -> None:
        first, self._floor_due = self._floor_due, None
        self._floor_pushed_at = self.clock()
        try:
            floor = self.floor(history=False)  # browsers extend their own chart from `waiting`
        except Exception:
            log.exception("could not build the floor view")
            return
        self._floor_shown = _figures(floor)
        self.push("supervisors", "floor", {"event_at": first, **floor})

    def floor(self, history: bool = True) -> dict[str, Any]:
        """Queues (waiting, longest wait, today's service level and abandon rate, agents by state) and agents."""
        now = self.clock()
        snapshot = self.acd.snapshot() if self.acd is not None else {"queues": {}, "agents": {}}
        day = self._today()
        queues = []
        for name, q in sorted(snapshot["queues"].items()):
            stats = day.get(name)
            states: dict[str, int] = {}
            for agent in snapshot["agents"].values():
                if name in agent["queues"]:
                    states[agent["state"]] = states.get(agent["state"], 0) + 1
            queues.append({"name": name, "waiting": q["waiting"], "longest_wait": q["longest_wait"],
                           "service_level": _pct(stats.service_level if stats else None),
                           "abandon_rate": _pct(stats.abandon_rate if stats else None),
                           "answered": stats.answered if stats else 0, "abandoned": stats.abandoned if stats else 0,
                           "agents": states})
        waiting = sum(q["waiting"] for q in queues)
        if not self.waiting_history or now - self.waiting_history[-1][0] >= 1.0 or \
                self.waiting_history[-1][1] != waiting:
            self.waiting_history.append((now, waiting))
            cutoff = now - 600
            while self.waiting_history and self.waiting_history[0][0] < cutoff:
                self.waiting_history.pop(0)
        agents = []
        for agent_id, a in sorted(snapshot["agents"].items()):
            since = self.state_since.get(agent_id)
            agents.append({"id": agent_id, "state": a["state"], "reason": a["reason"], "registered": a["registered"],
                           "call_id": a["call_id"], "queues": a["queues"],
                           "seconds_in_state": round(now - since) if since else None})
        totals: dict[str, int] = {}
        for agent in agents:
            totals[agent["state"]] = totals.get(agent["state"], 0) + 1
        floor = {"at": now, "waiting": waiting, "queues": queues, "agents": agents, "agent_states": totals,
                 "campaigns": self._campaign_floor()}
        if history:
            floor["waiting_history"] = [[round(t, 1), n] for t, n in self.waiting_history[-300:]]
        return floor

    def _campaign_floor(self) -> list[dict[str, Any]]:
        if self.outbound is None:
            return []
        try:
            return self.outbound.floor()
        except Exception:
            log.exception("could not read the campaign figures")
            return []

    def floor_changed(self) -> None:
        """Something the wallboard shows changed outside the bus (a campaign paused): push the floor."""
        self._floor_changed()

    def _today(self) -> dict:
        cached_at, cached = self._day_cache
        now = self.clock()
        if now - cached_at < 2.0:
            return cached
        local = dt.datetime.fromtimestamp(now, self.zone)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        day = queue_days(self.store, start, self.sla_seconds)
        self._day_cache = (now, day)
        return day

    # ----- agent actions ------------------------------------------------------------------------
    def _require_acd(self) -> Any:
        if self.acd is None:
            raise ConsoleError("error", "no ACD queues are configured")
        return self.acd

    def status(self, agent_id: str) -> dict[str, Any]:
        """The agent's state, time in state and the call on their screen (for page loads and reconnects)."""
        acd = self._require_acd()
        try:
            status = acd.agent_status(agent_id)
        except Exception:
            status = {"state": "logged-out", "reason": "", "call_id": None}
        view = self.current.get(agent_id)
        return {"agent_id": agent_id, "state": status["state"], "reason": status.get("reason") or "",
                "since": self.state_since.get(agent_id), "disposition_due": agent_id in self.awaiting,
                "call": {"status": view.status, "card": view.card} if view else None}

    def ready(self, agent_id: str) -> None:
        acd = self._require_acd()
        if agent_id in self.awaiting:
            raise ConsoleError("disposition_due")
        self.chosen_reason.pop(agent_id, None)
        state = self.status(agent_id)["state"]
        try:
            if state == "logged-out":
                acd.login(agent_id)
            else:
                acd.ready(agent_id)
        except Exception as exc:
            raise ConsoleError("error", str(exc)) from None

    def not_ready(self, agent_id: str, reason: str) -> None:
        acd = self._require_acd()
        if reason not in NOT_READY_REASONS:
            raise ConsoleError("error", f"unknown reason {reason!r}")
        if agent_id in self.awaiting:
            self.chosen_reason[agent_id] = reason
        try:
            if self.status(agent_id)["state"] == "logged-out":
                acd.login(agent_id, ready=False)
            acd.not_ready(agent_id, reason)
        except Exception as exc:
            raise ConsoleError("error", str(exc)) from None

    def call_for(self, agent_id: str, call_id: str) -> CallView:
        """A call offered to this agent (agents see only their own calls and customers)."""
        view = self.served.get(agent_id, {}).get(call_id)
        if view is None:
            raise ConsoleError("forbidden", f"call {call_id} was not offered to agent {agent_id}")
        return view

    def disposition_codes(self) -> list[tuple[str, str]]:
        return [(d.code, d.label) for d in self.dispositions.list()]

    def set_disposition(self, agent_id: str, call_id: str, code: str, notes: str = "") -> None:
        """Store the call's disposition and notes; a disposition that was due lets the agent be ready again."""
        self.call_for(agent_id, call_id)
        if code not in {c for c, _ in self.disposition_codes()}:
            raise ConsoleError("error", f"unknown disposition {code!r}")
        interaction = self.interactions.by_call_id(call_id)
        if interaction is None:
            raise ConsoleError("error", f"no interaction for call {call_id}")
        self.interactions.update(interaction.id, disposition_code=code, notes=notes[:MAX_NOTES] or interaction.notes)
        log.info("call %s: agent %s set disposition %s", call_id, agent_id, code)
        if self.awaiting.get(agent_id) == call_id:
            del self.awaiting[agent_id]
            chosen = self.chosen_reason.pop(agent_id, None)
            if self.acd is not None and chosen is None:
                status = self.status(agent_id)
                if status["state"] in ("on-call", "wrap-up") or \
                        (status["state"] == "not-ready" and status["reason"] == DISPOSITION_REASON):
                    self.acd.ready(agent_id)  # clears the pending not-ready, or ends it
        self.push(f"agent:{agent_id}", "saved", {"at": self.clock(), "call_id": call_id, "disposition": code})

    def transfer(self, agent_id: str, kind: str, target: str, notes: str = "") -> str:
        """Blind transfer of the agent's connected call; the notes travel to the receiving agent's card."""
        acd = self._require_acd()
        if kind not in TRANSFER_KINDS or not target.strip():
            raise ConsoleError("error", "a transfer needs a kind (agent, queue, number) and a target")
        call_id = acd.agent_status(agent_id).get("call_id")
        view = self.current.get(agent_id)
        if not call_id or view is None or view.call_id != call_id or view.status != "connected":
            raise ConsoleError("error", "no connected call to transfer")
        if notes.strip():
            self.notes[call_id] = notes[:MAX_NOTES]
            interaction = self.interactions.by_call_id(call_id)
            if interaction is not None:
                self.interactions.update(interaction.id, notes=notes[:MAX_NOTES])
        try:
            acd.transfer(call_id, kind, target.strip())
        except Exception as exc:
            raise ConsoleError("error", str(exc)) from None
        log.info("call %s: agent %s transferred it to %s %s", call_id, agent_id, kind,
                 target if kind != "number" else mask(target))
        return call_id

    def show_outbound(self, agent_id: str, call_id: str, number: str, card: dict[str, Any]) -> None:
        """Put an agent-first call's card on the agent's screen (the agent's phone rings first)."""
        view = CallView(call_id, agent_id, str(card.get("queue") or ""), number, status="dialing", card=card,
                        offered_at=self.clock())
        self.current[agent_id] = view
        served = self.served.setdefault(agent_id, OrderedDict())
        served[call_id] = view
        while len(served) > REMEMBERED_CALLS:
            served.popitem(last=False)
        self.push(f"agent:{agent_id}", "pop", {"at": view.offered_at, "status": "dialing", "card": card})

    def _connected_call(self, agent_id: str) -> tuple[Any, str]:
        acd = self._require_acd()
        call_id = acd.agent_status(agent_id).get("call_id")
        view = self.current.get(agent_id)
        if not call_id or view is None or view.call_id != call_id or view.status != "connected":
            raise ConsoleError("error", "no connected call")
        return acd, call_id

    def _keep_notes(self, call_id: str, notes: str) -> None:
        if notes.strip():
            self.notes[call_id] = notes[:MAX_NOTES]
            interaction = self.interactions.by_call_id(call_id)
            if interaction is not None:
                self.interactions.update(interaction.id, notes=notes[:MAX_NOTES])

    def consult(self, agent_id: str, target: str, notes: str = "") -> str:
        """Attended transfer, step 1: ring agent `target`, whose console pops this card with the notes."""
        acd, call_id = self._connected_call(agent_id)
        target = target.strip()
        if not target or target == agent_id:
            raise ConsoleError("error", "consult another agent (their agent id)")
        self._keep_notes(call_id, notes)
        try:
            acd.consult(call_id, target)
        except Exception as exc:
            raise ConsoleError("error", str(exc)) from None
        self.push(f"agent:{agent_id}", "consult", {"at": self.clock(), "call_id": call_id, "target": target,
                                                  "status": "ringing"})
        return call_id

    def complete_transfer(self, agent_id: str) -> str:
        """Attended transfer, step 2: the caller goes to the consulted agent; this agent goes to wrap-up."""
        acd, call_id = self._connected_call(agent_id)
        try:
            acd.complete_transfer(call_id)
        except Exception as exc:
            raise ConsoleError("error", str(exc)) from None
        self.awaiting.pop(agent_id, None)  # the call and its disposition belong to the receiving agent now
        self.push(f"agent:{agent_id}", "consult", {"at": self.clock(), "call_id": call_id, "status": "completed"})
        return call_id

    def cancel_consult(self, agent_id: str) -> str:
        acd, call_id = self._connected_call(agent_id)
        try:
            acd.cancel_consult(call_id)
        except Exception as exc:
            raise ConsoleError("error", str(exc)) from None
        self.push(f"agent:{agent_id}", "consult", {"at": self.clock(), "call_id": call_id, "status": "cancelled"})
        return call_id

    def recording(self, agent_id: str, masked: bool) -> dict[str, Any]:
        """Mask (pause) or unmask (resume) the recording of the agent's call: while masked FreeSWITCH writes
        silence (`uuid_record <uuid> mask|unmask <path>`); the masked intervals are kept and logged."""
        acd, call_id = self._connected_call(agent_id)
        call = acd.calls.get(call_id)
        path = getattr(call, "recording", None)
        if call is None or not path:
            raise ConsoleError("not_recorded")
        intervals = self.masks.setdefault(call_id, [])
        if masked == bool(intervals and intervals[-1][1] is None):
            return {"masked": masked, "intervals": intervals}
        try:
            reply = acd.legs.control.api(commands.uuid_record(call.channel.uuid, "mask" if masked else "unmask", path))
        except Exception as exc:
            raise ConsoleError("error", str(exc)) from None
        if reply.startswith(commands.REPLY_ERR):
            raise ConsoleError("error", reply.strip())
        offset = round(self.clock() - (self.current[agent_id].connected_at or self.clock()), 1)
        if masked:
            intervals.append([offset, None])
        else:
            intervals[-1][1] = offset
        log.info("call %s: recording %s %s by agent %s at %.1f s of the conversation", call_id, path,
                 "masked" if masked else "unmasked", agent_id, offset)
        self.push(f"agent:{agent_id}", "recording", {"at": self.clock(), "call_id": call_id, "masked": masked})
        return {"masked": masked, "intervals": intervals}

    def schedule_callback(self, agent_id: str, call_id: str, due_at: dt.datetime, reason: str) -> None:
        view = self.call_for(agent_id, call_id)
        customer = view.card.get("customer") or {}
        interaction = self.interactions.by_call_id(call_id)
        try:
            self.callbacks.request(view.caller_number, reason[:200] or "agent", due_at, "agent",
                                   customer_id=customer.get("id"), interaction_id=interaction.id if interaction else None)
        except Exception as exc:
            raise ConsoleError("error", str(exc)) from None

    def history(self, agent_id: str | None, limit: int = 50) -> list[dict[str, Any]]:
        """Recent calls: the agent's own, or every agent's (agent_id None, for supervisors)."""
        rows = self.interactions.search(agent_id=agent_id, limit=limit) if agent_id else \
            self.interactions.search(limit=limit)
        return [{"at": self._local(i.arrived_at), "caller": mask(i.caller or ""), "queue": i.queue or "",
                 "agent": i.agent_id or "", "talk": i.talk_seconds, "wait": i.wait_seconds,
                 "disposition": i.disposition_code or "", "outcome": i.ivr_outcome or "",
                 "abandoned": i.abandoned, "notes": i.notes or ""} for i in rows]

    # ----- supervisor actions -------------------------------------------------------------------
    def force_state(self, agent_id: str, state: str, reason: str = "") -> None:
        acd = self._require_acd()
        try:
            if state == "ready":
                self.awaiting.pop(agent_id, None)  # a supervisor's decision overrides a due disposition
                self.chosen_reason.pop(agent_id, None)
                if acd.agent_status(agent_id)["state"] == "logged-out":
                    acd.login(agent_id)
                else:
                    acd.ready(agent_id)
            elif state == "not-ready":
                acd.not_ready(agent_id, reason if reason in NOT_READY_REASONS else "supervisor")
            elif state == "logged-out":
                acd.logout(agent_id)
            else:
                raise ConsoleError("error", f"unknown state {state!r}")
        except ConsoleError:
            raise
        except Exception as exc:
            raise ConsoleError("error", str(exc)) from None
        log.info("agent %s: state forced to %s by a supervisor", agent_id, state)

    def monitor(self, agent_id: str, supervisor_extension: str, mode: str) -> str:
        """Ring the supervisor's phone, then listen to / whisper to / barge into the agent's call."""
        acd = self._require_acd()
        try:
            return acd.monitor(agent_id, supervisor_extension, mode)
        except Exception as exc:
            raise ConsoleError("error", str(exc)) from None

    def _local(self, value: dt.datetime | None) -> str:
        return value.astimezone(self.zone).strftime("%m-%d %H:%M") if value else ""


def _figures(floor: dict[str, Any]) -> tuple:
    """What the wallboard shows of a floor, without what only the clock moves (time in state, longest wait):
    a refresh for those alone would cost a message to every wallboard every FLOOR_REFRESH_S."""
    queues = [{k: v for k, v in q.items() if k != "longest_wait"} for q in floor["queues"]]
    return (floor["waiting"], queues, floor["agent_states"], floor["campaigns"],
            [(a["id"], a["state"], a["reason"], a["call_id"]) for a in floor["agents"]])


def _agent_label(agent: Any) -> str:
    if agent is None:
        return ""
    return f"{agent.name} ({agent.id})" if agent.name else agent.id


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)
