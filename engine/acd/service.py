"""QueueService: the IVR's `queue` node hands a caller here; it holds the caller with music, rings agents,
bridges on answer, and records everything.

How it works: the pure `Distributor` decides (it is also the one agent pool the dialer shares); the service
is a facade over small collaborators it builds: `IntentExecutor` (executor.py) carries out the intents,
`TransferDesk` (transfers.py) moves connected calls, `CallbackDialer` (callbacks.py) runs agent-first
callbacks, `TimerLoop` (timers.py) runs the distributor's timers, and all of them share one `LiveCalls`
table (live_calls.py). None of them imports this module. The caller's own
greenlet (inside `enqueue`) loops over hold music (`channel.play`, ended by `uuid_break`) and
announcements until the distributor connects it or it leaves. Agent legs are originated with `bgapi`
and a pre-assigned UUID; their answer/hang-up arrive as events (`switch_events.py`) or as the job
result, whichever comes first, and each leg is settled exactly once. Store writes go through the
injected ports. Time comes from the injected `clock`; a timer greenlet runs the distributor's timers.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable, Mapping

import gevent

from engine.acd.announce import Announcer, HandleTimes, SilentAnnouncer, announcement_text, estimated_wait
from engine.acd.bus import TOPIC_CALL, Bus
from engine.acd.callbacks import CallbackDialer
from engine.acd.distributor import AcdError, Distributor
from engine.acd.executor import IntentExecutor
from engine.acd.transfers import Consultations, TransferDesk
from engine.acd.intents import Intent
from engine.acd.legs import SwitchLegs
from engine.acd.live_calls import LiveCalls
from engine.acd.models import Agent, AgentState, ExitAction, QueueConfig, WaitingCaller
from engine.acd.ports import (AgentLog, CallbackBook, CustomerInfo, CustomerLookup, InteractionLog, MemoryRecords,
                              NoCustomers, RecordingCatalog)
from engine.acd.queued import QueuedCall, mask
from engine.acd.reconciler import Reconciler
from engine.acd.restore import LastState, restore_agents
from engine.acd.switch_events import SwitchEvents
from engine.acd.timers import TimerLoop
from engine.esl import commands
from engine.esl.hangup import HangupFacts, hangup_facts
from engine.ivr.ports import QueueOutcome, QueueRequest, QueueResult

log = logging.getLogger(__name__)


def arrival_time(channel: Any, default: float) -> float:
    """When the call reached the switch (its channel's creation time), for the interaction's `arrived_at`;
    `default` when the channel does not say (a virtual callback caller, a test double)."""
    data = getattr(channel, "data", None)
    raw = data.get(commands.H_CALLER_CREATED_TIME, "") if isinstance(data, dict) else ""
    return int(raw) / 1e6 if raw.isdigit() and int(raw) > 0 else default


DIRECT_TRANSFER_SECONDS = 60.0
ON_ANSWER_GRACE_SECONDS = 1.0  # music cut while an agent leg bridges on answer: wait this long for the answer event
QUICK_MUSIC_SECONDS = 0.2  # hold music that ends faster than this (file missing) three times is replaced
HOLD_SILENCE = commands.silence(-1)  # endless silence, interrupted by uuid_break like music  # a call transferred to one agent waits this long for them, then for anyone


class QueueService:
    """Queues, agents and offers on a live switch. Construct once in the daemon; see `attach`."""

    def __init__(self, queues: Mapping[str, QueueConfig], agents: Iterable[Agent], *, legs: SwitchLegs,
                 clock: Callable[[], float], bus: Bus | None = None, agent_log: AgentLog | None = None,
                 interactions: InteractionLog | None = None, callbacks: CallbackBook | None = None,
                 recordings: RecordingCatalog | None = None, customers: CustomerLookup | None = None,
                 announcer: Announcer | None = None, recording_root: str = "var/recordings",
                 music: str = commands.MUSIC_ON_HOLD, agent_directory: Callable[[str], Agent | None] | None = None,
                 dial_customer: Callable[[str], str] | None = None, bridge_on_answer: bool = False) -> None:
        memory = MemoryRecords()
        self.distributor = Distributor(queues, agents)
        self.legs = legs
        self.clock = clock
        self.bus = bus or Bus()
        self.agent_log = agent_log or memory
        self.interactions = interactions or memory
        self.callbacks = callbacks or memory
        self.recordings = recordings or memory
        self.customers = customers or NoCustomers()
        self.announcer = announcer or SilentAnnouncer()
        self.music = music
        self.agent_directory = agent_directory  # finds agents created after start (e.g. in the store)
        self.handle_times = HandleTimes()
        self.live = LiveCalls()  # shared by the collaborators below; its tables are exposed as before
        self.calls = self.live.calls  # by call id
        self.by_caller_uuid = self.live.by_caller_uuid
        self.agent_legs = self.live.agent_legs  # by leg uuid
        self.recordings_closing = self.live.recordings_closing  # path -> set on its RECORD_STOP (file closed)
        self.timers = TimerLoop(self.distributor.next_timer, clock)
        self.consults = Consultations(self.live, legs, music)
        self.executor = IntentExecutor(
            self.distributor, self.live, legs=legs, clock=clock, timers=self.timers, consults=self.consults,
            bus=self.bus, agent_log=self.agent_log, interactions=self.interactions, callbacks=self.callbacks,
            recordings=self.recordings, customers=self.customers, announcer=self.announcer,
            handle_times=self.handle_times, recording_root=recording_root, bridge_on_answer=bridge_on_answer)
        self.transfer_desk = TransferDesk(self.distributor, self.live, legs=legs, clock=clock, executor=self.executor,
                                          consults=self.consults, bus=self.bus, interactions=self.interactions)
        self.callback_dialer = CallbackDialer(self.distributor, self.live, legs=legs, clock=clock,
                                              executor=self.executor, interactions=self.interactions,
                                              callbacks=self.callbacks, customers=self.customers,
                                              dial_customer=dial_customer)

    @property
    def recording_root(self) -> str:
        return self.executor.recording_root

    @property
    def bridge_on_answer(self) -> bool:
        """FreeSWITCH bridges the caller on the agent's answer (`IntentExecutor.may_bridge_on_answer`)."""
        return self.executor.bridge_on_answer

    @property
    def dial_customer(self) -> Callable[[str], str] | None:
        """Number -> dial string, for agent-first callbacks (None: callbacks go to the book for the dialer)."""
        return self.callback_dialer.dial_customer

    # ----- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "QueueService":
        """Run the timers and put the agent-first callbacks still owed back in line."""
        self.timers.start(lambda: self.execute(self.distributor.tick(self.clock())))
        try:
            self.restore_callbacks()
        except Exception:
            log.exception("could not restore agent-first callbacks from the book")
        return self

    def stop(self) -> None:
        self.timers.stop()

    def wake_timers(self) -> None:
        self.timers.wake()

    def attach(self, control: Any, *, reconcile_every: float = 30.0) -> Reconciler:
        """Listen to the control connection's events, reconcile after reconnects and every `reconcile_every` s."""
        control.add_handler(SwitchEvents(self))
        reconciler = Reconciler(self, interval=reconcile_every)
        control.on_reconnect(reconciler.reconcile)
        return reconciler.start()

    # ----- agents -------------------------------------------------------------------------------
    def restore_agents(self, last: Mapping[str, LastState]) -> list[Intent]:
        """After a restart: every agent back in the state the store last saw (see `restore.py`)."""
        intents = self.execute(restore_agents(self.distributor, last, self.clock()))
        restored = sum(1 for a in self.distributor.agents.values() if a.state is not AgentState.LOGGED_OUT)
        log.info("restored %d agents' state from the store", restored)
        return intents

    def login(self, agent_id: str, queues: Iterable[str] | Mapping[str, Mapping[str, int]] | None = None,
              ready: bool = True) -> list[Intent]:
        if agent_id not in self.distributor.agents and self.agent_directory is not None:
            found = self.agent_directory(agent_id)
            if found is not None:
                self.distributor.add_agent(found)
        if queues is not None and not isinstance(queues, Mapping):
            queues = {name: {} for name in queues}
        if queues is None and not self.distributor.agent(agent_id).queues:
            queues = {name: {} for name in self.distributor.queues}
        return self.execute(self.distributor.login(agent_id, self.clock(), queues, ready=ready))

    def logout(self, agent_id: str) -> list[Intent]:
        return self.execute(self.distributor.logout(agent_id, self.clock()))

    def ready(self, agent_id: str) -> list[Intent]:
        return self.execute(self.distributor.set_ready(agent_id, self.clock()))

    def not_ready(self, agent_id: str, reason: str) -> list[Intent]:
        return self.execute(self.distributor.set_not_ready(agent_id, reason, self.clock()))

    def end_wrap_up(self, agent_id: str) -> list[Intent]:
        return self.execute(self.distributor.end_wrap_up(agent_id, self.clock()))

    def set_registered(self, extension: str, registered: bool) -> list[Intent]:
        intents: list[Intent] = []
        for agent in self.distributor.agents.values():
            if agent.extension == extension or (not agent.extension and agent.agent_id == extension):
                intents += self.distributor.set_registered(agent.agent_id, registered, self.clock())
        return self.execute(intents)

    def agent_status(self, agent_id: str) -> dict[str, Any]:
        agent = self.distributor.agent(agent_id)
        return {"agent_id": agent.agent_id, "state": agent.state.value, "reason": agent.not_ready_reason,
                "registered": agent.registered, "queues": sorted(agent.queues), "call_id": agent.current_call,
                "calls_handled": agent.calls_handled, "no_answers": agent.consecutive_no_answers}

    def monitor(self, agent_id: str, supervisor_extension: str, mode: str) -> str:
        """Ring the supervisor's phone, then listen to / whisper to / barge into the agent's connected call
        (FreeSWITCH eavesdrop on the agent's leg). Returns the supervisor leg's UUID."""
        if mode not in ("listen", "whisper", "barge"):
            raise AcdError(f"monitor mode must be listen, whisper or barge, not {mode!r}")
        if not supervisor_extension:
            raise AcdError("the supervisor's extension is needed: their phone rings first")
        agent = self.distributor.agent(agent_id)
        call = self.calls.get(agent.current_call or "")
        if call is None or call.status != "connected" or not call.agent_leg or call.agent_id != agent_id:
            raise AcdError(f"agent {agent_id} has no connected call")
        leg = commands.new_uuid()
        log.info("call %s: supervisor phone %s rung to %s agent %s", call.call_id, supervisor_extension, mode, agent_id)
        self.legs.ring_monitor(leg, supervisor_extension, call.agent_leg, mode, call_id=call.call_id)
        return leg

    def snapshot(self) -> dict[str, Any]:
        """Queues and agents right now, for the wallboard and `jinqiao` status pages."""
        now = self.clock()
        d = self.distributor
        queues = {name: {"waiting": d.queue_length(name), "longest_wait": round(d.longest_waiting(name, now), 1),
                         "agents_serving": d.agents_serving(name),
                         "average_handle": round(self.handle_times.average(name), 1)} for name in d.queues}
        agents = {a.agent_id: {"state": a.state.value, "reason": a.not_ready_reason, "registered": a.registered,
                               "call_id": a.current_call, "queues": sorted(a.queues)} for a in d.agents.values()}
        return {"at": now, "queues": queues, "agents": agents}

    # ----- the shared agent pool (inbound and outbound; see docs/dialer.md) --------------------------
    def reserve(self, agent_id: str, reason: str) -> list[Intent]:
        """Hold a free agent for an outbound call or a preview (AcdError when it is not free)."""
        return self.execute(self.distributor.reserve(agent_id, reason, self.clock()))

    def release(self, agent_id: str, reason: str = "released") -> list[Intent]:
        return self.execute(self.distributor.release(agent_id, self.clock(), reason))

    def free_agents(self, queue: str | None = None) -> list[str]:
        return self.distributor.free_agents(queue)

    def pool_figures(self, queue: str) -> dict[str, Any]:
        """What outbound pacing needs about one queue's agents and inbound callers right now."""
        now, d = self.clock(), self.distributor
        members = [a for a in d.agents.values() if queue in a.queues]
        by_state: dict[str, int] = {}
        for a in members:
            by_state[a.state.value] = by_state.get(a.state.value, 0) + 1
        return {"at": now, "agents": by_state,
                "logged_in": sum(1 for a in members if a.state is not AgentState.LOGGED_OUT),
                "ready": sum(1 for a in members if a.can_take_offer),
                "paused": sum(1 for a in members if a.state is AgentState.NOT_READY),
                "talk_started": [a.answered_at for a in members if a.state is AgentState.ON_CALL],
                "wrap_up_ends": [a.wrap_up_until for a in members if a.state is AgentState.WRAP_UP],
                "waiting": d.queue_length(queue)}

    def give_up_waiting(self, call_id: str, reason: str) -> bool:
        """Take a waiting caller out of line (e.g. the dialer's safe-harbour deadline passed): True when it was
        still waiting; its `enqueue` then returns TIMEOUT with `reason`. An agent ringing for it is cancelled."""
        call = self.calls.get(call_id)
        if call is None or call.status != "waiting":
            return False
        now = self.clock()
        self.execute(self.distributor.withdraw(call_id, now, reason))
        call.status, call.result = "left", QueueResult(QueueOutcome.TIMEOUT, reason)
        call.decided.set()
        self.legs.stop_music(call.channel.uuid)
        return True

    def recording_stopped(self, path: str) -> None:
        """FreeSWITCH closed a recording file (RECORD_STOP); only the ACD's own recordings are tracked."""
        closing = self.recordings_closing.get(path)
        if closing is not None:
            closing.set()

    # ----- the caller's greenlet ----------------------------------------------------------------
    def enqueue(self, channel: Any, request: QueueRequest, *, direct_agent: str | None = None,
                transferred_from: str | None = None, since: float | None = None) -> QueueResult:
        """Hold the caller in `request.queue` until an agent's conversation with it ends, or it leaves."""
        queue = self.distributor.queues.get(request.queue)
        if queue is None:
            log.warning("call %s: unknown queue %s", request.call_uuid or channel.uuid, request.queue)
            return QueueResult(QueueOutcome.CLOSED, f"unknown queue {request.queue}")
        call = self._admit(channel, request, queue, direct_agent, transferred_from, since)
        try:
            if call.result is None:
                self._hold(call, queue)
            if call.status == "connected":
                call.finished.wait()
                return self._after_conversation(call, request)
            return call.result or QueueResult(QueueOutcome.FAILED, "left the queue")
        finally:
            if call.status == "waiting":  # the caller's channel failed (hang-up): leave the line now
                self.caller_gone(call.call_id)
            self.live.remove(call, channel.uuid)

    def _admit(self, channel: Any, request: QueueRequest, queue: QueueConfig, direct_agent: str | None,
               transferred_from: str | None, since: float | None = None) -> QueuedCall:
        now = self.clock()
        call_id = request.call_uuid or channel.uuid
        number = getattr(channel, "caller_number", "") or ""
        customer = self.customers.lookup(number, request.customer_id)
        call = QueuedCall(call_id, channel, queue.name, number, customer, request.language, now,
                          transferred_from=transferred_from)
        call.ivr_path, call.ivr_digits = request.ivr_path, request.ivr_digits
        self.live.add(call, channel.uuid)
        if hasattr(channel, "add_handler"):  # the caller's own socket also reports its hang-up
            channel.add_handler(lambda event: self._caller_event(call, event))
        self.legs.keep_caller_after_bridge(channel.uuid)
        if not call.callback and hasattr(channel, "add_handler"):  # a live caller: findable after a restart
            self.legs.mark_queued(channel.uuid, call_id, queue.name, now if since is None else since,
                                  request.priority)
        self.interactions.queue_event(call_id, now, caller=number or None, arrived_at=arrival_time(channel, now),
                                      queue=queue.name, queue_entered_at=now if since is None else since)
        sticky = None
        if customer is not None and queue.sticky is not None:
            sticky = customer.owner_agent if queue.sticky.mode == "owner" else customer.last_agent
        caller = WaitingCaller(call_id, queue.name, now if since is None else since, priority=request.priority,
                               required_skills={s: 1 for s in request.skills}, sticky_agent=sticky,
                               features=customer.features if customer else {},
                               max_wait=float(request.timeout_s or 0))
        if direct_agent is not None:
            caller.sticky_agent, caller.sticky_until = direct_agent, now + DIRECT_TRANSFER_SECONDS
        log.info("call %s: queued in %s from %s", call_id, queue.name, mask(number))
        self.bus.publish(TOPIC_CALL, {"event": "queued", "call_id": call_id, "queue": queue.name,
                                      "caller_number": number, "at": now})
        try:
            self.execute(self.distributor.enqueue(caller, now))
        except AcdError as exc:
            call.status, call.result = "left", QueueResult(QueueOutcome.FAILED, str(exc))
        self.wake_timers()
        return call

    def _hold(self, call: QueuedCall, queue: QueueConfig) -> None:
        """Music (and announcements) until decided; exit keys end the wait."""
        keys = "".join(queue.exit_keys) or "none"
        announcer = gevent.spawn(self._announce_clock, call, queue.announce_every) if queue.announce_every else None
        music, quick = queue.moh or self.music, 0
        call.holding = True
        try:
            while not call.decided.is_set():
                if call.announce_due:
                    call.announce_due = False
                    self._announce(call)
                    continue
                started = time.monotonic()
                digit = call.channel.play(music, terminators=keys)
                if not digit and not call.announce_due and self.live.bridging_on_answer(call):
                    # FreeSWITCH may have bridged the caller on an agent's answer before that answer event
                    # reached us: don't start the music again over the agent, wait for the answer event.
                    call.decided.wait(ON_ANSWER_GRACE_SECONDS)
                    continue
                if digit and digit in queue.exit_keys and not call.decided.is_set():
                    self._exit_key(call, queue, digit)
                elif not digit and time.monotonic() - started < QUICK_MUSIC_SECONDS and not call.announce_due:
                    quick += 1
                    if quick == 3 and music != HOLD_SILENCE:  # missing music: hold in silence, don't hammer
                        log.warning("call %s: hold music %s ends at once; holding in silence", call.call_id, music)
                        music = HOLD_SILENCE
                else:
                    quick = 0
        finally:
            call.holding = False
            if announcer is not None:
                announcer.kill(block=False)

    def _announce_clock(self, call: QueuedCall, every: float) -> None:
        while not call.decided.is_set():
            gevent.sleep(every)
            if not call.decided.is_set():
                call.announce_due = True
                self.legs.stop_music(call.channel.uuid)

    def _announce(self, call: QueuedCall) -> None:
        if call.call_id not in self.distributor.waiting:
            return
        now = self.clock()
        position = self.distributor.position(call.call_id, now)
        wait = estimated_wait(position, self.distributor.agents_serving(call.queue),
                              self.handle_times.average(call.queue))
        try:
            self.announcer.announce(call.channel, announcement_text(position, wait, call.language), call.language)
        except Exception:
            if getattr(call.channel, "hung_up", False):
                raise  # the caller left: end the wait as usual
            log.exception("call %s: announcement failed; the caller keeps waiting with music", call.call_id)

    def _exit_key(self, call: QueuedCall, queue: QueueConfig, digit: str) -> None:
        action = queue.exit_keys[digit]
        now = self.clock()
        position = self.distributor.position(call.call_id, now) if call.call_id in self.distributor.waiting else 1
        waiting = self.distributor.waiting.get(call.call_id)
        self.execute(self.distributor.withdraw(call.call_id, now, f"exit key {digit}"))
        if action is ExitAction.CALLBACK:
            virtual = self.callback_dialer.keep_place(call, waiting)
            if virtual is not None:
                call.status, call.result = "left", QueueResult(QueueOutcome.TIMEOUT, f"callback:{virtual}")
                self.interactions.queue_event(call.call_id, now, ivr_outcome="queue_callback")
                call.decided.set()
                self.legs.stop_music(call.channel.uuid)
                return
        wait = estimated_wait(position, self.distributor.agents_serving(call.queue), self.handle_times.average(call.queue))
        self.executor.leave(call, action, f"exit key {digit}", now, due_in=wait)

    def _after_conversation(self, call: QueuedCall, request: QueueRequest) -> QueueResult:
        if call.transfer is None:
            return QueueResult(QueueOutcome.ANSWERED, f"agent {call.agent_id}")
        kind, target = call.transfer
        if kind == "number":
            # The call now belongs to the dialplan (uuid_transfer): the flow must not touch it again.
            return QueueResult(QueueOutcome.ANSWERED, f"transferred:{target}")
        queue, direct = target, None
        if kind == "agent":
            agent = self.distributor.agent(target)
            queue = call.queue if call.queue in agent.queues else next(iter(agent.queues), call.queue)
            direct = target
        self.live.remove(call, call.channel.uuid)
        again = QueueRequest(queue=queue, priority=request.priority, skills=request.skills, call_uuid=call.call_id,
                             flow=request.flow, customer_id=request.customer_id, language=request.language,
                             ivr_path=request.ivr_path, ivr_digits=request.ivr_digits)
        if queue == call.queue and direct is None:  # re-queued after a failed bridge: keep the place in line
            return self.enqueue(call.channel, again, since=call.enqueued_at)
        return self.enqueue(call.channel, again, direct_agent=direct, transferred_from=call.agent_id)

    def _caller_event(self, call: QueuedCall, event: Any) -> None:
        if event.name == commands.EV_CHANNEL_HANGUP and self.calls.get(call.call_id) is call:
            self.caller_gone(call.call_id, hangup_facts(event))

    # ----- the collaborators' entry points (kept on the facade for the engine's adapters) ----------
    def execute(self, intents: list[Intent]) -> list[Intent]:
        """Carry out the distributor's intents (non-blocking; safe in event handlers)."""
        return self.executor.execute(intents)

    def caller_gone(self, call_id: str, facts: HangupFacts | None = None) -> None:
        """The caller hung up: cancel offers at once, end the conversation (see `IntentExecutor.caller_gone`)."""
        self.executor.caller_gone(call_id, facts)

    def leg_answered(self, leg_uuid: str) -> None:
        self.executor.leg_answered(leg_uuid)

    def leg_failed(self, leg_uuid: str, cause: str) -> None:
        self.executor.leg_failed(leg_uuid, cause)

    def leg_hung_up(self, leg_uuid: str, cause: str, sip_status: int | None = None) -> None:
        self.executor.leg_hung_up(leg_uuid, cause, sip_status)

    # ----- transfers (transfers.py) --------------------------------------------------------------
    def transfer(self, call_id: str, kind: str, target: str) -> None:
        """Blind transfer of a connected call to a `queue`, an `agent` or a `number`."""
        self.transfer_desk.transfer(call_id, kind, target)

    def consult(self, call_id: str, agent_id: str) -> str:
        """Ring `agent_id` for the connected agent to consult; returns the consult leg's UUID."""
        return self.transfer_desk.consult(call_id, agent_id)

    def complete_transfer(self, call_id: str) -> None:
        self.transfer_desk.complete_transfer(call_id)

    def cancel_consult(self, call_id: str) -> None:
        self.transfer_desk.cancel_consult(call_id)

    # ----- agent-first callbacks (callbacks.py) ----------------------------------------------------
    def queue_callback(self, number: str, queue: str, *, since: float | None = None,
                       priority: int = 0, required_skills: Mapping[str, int] | None = None,
                       customer: CustomerInfo | None = None, callback_id: str | None = None) -> str:
        """Put a virtual caller for `number` in `queue`; returns its call id (see `CallbackDialer`)."""
        return self.callback_dialer.queue_callback(number, queue, since=since, priority=priority,
                                                   required_skills=required_skills, customer=customer,
                                                   callback_id=callback_id)

    def restore_callbacks(self) -> list[str]:
        return self.callback_dialer.restore_callbacks()
