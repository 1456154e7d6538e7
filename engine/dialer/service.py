"""The dialing service: one gevent loop per running campaign that paces, leases, checks and originates calls.

How it works: a supervisor greenlet polls the store every `poll_s` and runs a `CampaignLoop` for each
campaign whose state is `running` (so `jinqiao campaign pause|resume|stop` from any shell is followed).
Each loop asks the pacing policy how many calls to place (`pacing.calls_to_place` over a snapshot of the
shared agent pool: agents free for outbound are the queue's free agents minus the inbound callers waiting
that they could take), leases that many contacts (`Hopper.fill`), re-checks each in the transaction that
writes the attempt (`Hopper.begin`) and originates it with `bgapi`, a pre-assigned `origination_uuid`,
the `jq_*` variables and `&socket(<engine> async full)` as the answered call's application. A call that
does not answer is concluded from its job result (`-ERR USER_BUSY` -> busy ...); an answered one reaches
the engine's outbound server and `answered.CampaignCalls` (agent queue with a safe-harbour deadline, or
the agentless IVR flow). Each call is concluded exactly once (`OutboundCall.conclude`).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import gevent
from gevent.event import Event as Flag

from engine.dialer.hopper import CampaignHandle, Hopper, load_handle
from engine.dialer.outcomes import job_cause, outcome_for_cause
from engine.dialer.pacing import PacingHistory, PacingState, make_policy
from engine.esl import commands
from engine.store.phones import mask
from engine.store.records import CampaignContact
from engine.store.repos.campaigns import CampaignRepository

log = logging.getLogger(__name__)
AGENT_MODES = ("progressive", "predictive")
LOOP_MODES = AGENT_MODES + ("agentless",)
SOCKET_WAIT_S = 5.0  # an answered call that has not reached the outbound server by then is concluded


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class DialerSettings:
    """The `dialer:` section of the engine config (all optional)."""

    gateway: str = ""  # customer numbers are dialled as sofia/gateway/<gateway>/<number>
    pacing: str = "jinqiao"  # the predictive policy (progressive campaigns always pace 1:1)
    inbound_first: bool = True  # inbound callers waiting keep the agents they could take
    agentless_channels: int = 10  # calls at once per agentless campaign
    tick_s: float = 1.0
    poll_s: float = 2.0
    publish_s: float = 2.0
    priority: int = 100  # queue priority of answered outbound calls (above inbound's default 0)

    @classmethod
    def from_mapping(cls, raw: Any, source: Any = None) -> "DialerSettings":
        """The `dialer:` mapping (its `compliance` part is read by `compliance.policy_from_config`)."""
        raw = raw if isinstance(raw, dict) else {}
        fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "compliance":
                continue
            if key not in fields:
                message = f"unknown setting (known: compliance, {', '.join(sorted(fields))})"
                raise source.error(("dialer", key), message) if source is not None else ValueError(f"dialer.{key}: {message}")
            kind = type(getattr(cls, key))
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                message = f"expected {kind.__name__}, got {value!r}"
                raise source.error(("dialer", key), message) if source is not None else ValueError(f"dialer.{key}: {message}")
            values[key] = value
        if "pacing" in values:
            try:
                make_policy(values["pacing"])
            except ValueError as exc:
                raise source.error(("dialer", "pacing"), str(exc)) if source is not None else exc
        return cls(**values)


@dataclass
class OutboundCall:
    """One customer leg the dialer placed, from originate to its single conclusion."""

    uuid: str
    campaign: CampaignHandle
    contact: CampaignContact
    attempt_id: int
    placed_at: float
    answered_at: float | None = None
    waiting: bool = False  # answered and waiting in the queue for an agent
    handled: bool = False  # the answered call reached the engine's outbound server
    agent_id: str | None = None
    done: bool = False
    outcome: str = ""
    on_beep: Callable[[], None] | None = None  # set while the answered call is handled (answered.py)
    concluded: Flag = field(default_factory=Flag)

    @property
    def ringing(self) -> bool:
        return self.answered_at is None and not self.done

    @property
    def awaiting_agent(self) -> bool:
        """Answered, no agent yet: from the answer (even before the call reaches the engine) to the bridge."""
        return self.answered_at is not None and not self.done and (self.waiting or not self.handled)


class CampaignLoop:
    """Paces and places the calls of one running campaign."""

    def __init__(self, dialer: "DialerService", handle: CampaignHandle) -> None:
        self.dialer = dialer
        self.handle = handle
        mode = handle.config.mode
        self.policy = make_policy("progressive" if mode == "progressive" else dialer.settings.pacing)
        self.history = PacingHistory()
        self.calls: dict[str, OutboundCall] = {}
        self.wake = Flag()
        self.greenlet: gevent.Greenlet | None = None
        self._published = 0.0

    @property
    def in_flight(self) -> int:
        return len(self.calls)

    def start(self) -> "CampaignLoop":
        self.greenlet = gevent.spawn(self._run)
        return self

    def _run(self) -> None:
        d = self.dialer
        log.info("campaign %s: dialing (%s, pacing %s)", self.handle.config.name, self.handle.config.mode,
                 self.policy.name)
        while True:
            try:
                if d.hopper.status(self.handle.id) != "running":
                    break
                # While FreeSWITCH is not connected an originate cannot be sent: dialing would only burn
                # contacts as failed attempts (the connection is usually back within a second).
                want = self.calls_to_place() if getattr(d.control, "connected", True) else 0
                if want > 0:
                    contacts = d.hopper.fill(self.handle, want, d.now())
                    for contact in contacts:
                        self.dial(contact)
                    if not contacts and not self.calls and self._all_worked():
                        break
                self.publish()
            except Exception:
                log.exception("campaign %s: dialing loop failed; continuing", self.handle.config.name)
            self.wake.clear()
            self.wake.wait(d.settings.tick_s)
        log.info("campaign %s: no longer running; %d calls still in flight", self.handle.config.name, self.in_flight)
        self.publish(force=True)

    def _all_worked(self) -> bool:
        """No contact left to dial, ever (none pending): the campaign is done."""
        d = self.dialer
        if d.campaigns.counts(self.handle.id).get("pending", 0):
            return False
        try:
            d.campaigns.change_status(self.handle.id, "done")
        except ValueError:
            return False
        log.info("campaign %s: every contact worked; done", self.handle.config.name)
        return True

    # ----- pacing ----------------------------------------------------------------------------------
    def pacing_state(self) -> PacingState:
        """The snapshot the pacing policy reads: the queue's agents from the shared pool, our calls."""
        d = self.dialer
        ringing = [c.placed_at for c in self.calls.values() if c.ringing]
        mine_waiting = sum(1 for c in self.calls.values() if c.awaiting_agent)
        pool = d.pool_figures(self.handle.config.queue) if d.queues is not None and self.handle.config.queue else {}
        mine_queued = sum(1 for c in self.calls.values() if c.waiting and not c.done)
        inbound_waiting = max(0, int(pool.get("waiting", 0)) - mine_queued)
        ready = int(pool.get("ready", 0))
        if d.settings.inbound_first:
            ready = max(0, ready - inbound_waiting)
        return PacingState(agents_logged_in=int(pool.get("logged_in", 0)), agents_ready=ready,
                           talk_started=tuple(pool.get("talk_started", ())),
                           wrap_up_ends=tuple(pool.get("wrap_up_ends", ())), ringing_started=tuple(ringing),
                           calls_waiting=mine_waiting, history=self.history, agents_paused=int(pool.get("paused", 0)))

    def calls_to_place(self) -> int:
        if self.handle.config.mode == "agentless":
            return max(0, self.dialer.settings.agentless_channels - self.in_flight)
        return max(0, int(self.policy.calls_to_place(self.pacing_state(), self.dialer.clock())))

    def publish(self, force: bool = False) -> None:
        """The live figures `jinqiao campaign status` shows (dial level, ringing, agents by state)."""
        d = self.dialer
        now = d.clock()
        if not force and now - self._published < d.settings.publish_s:
            return
        self._published = now
        pool = d.pool_figures(self.handle.config.queue) if d.queues is not None and self.handle.config.queue else {}
        busy = sum(pool.get("agents", {}).get(s, 0) for s in ("on-call", "ringing", "reserved"))
        ringing = sum(1 for c in self.calls.values() if c.ringing)
        figures = {"dial_level": round(self.in_flight / busy, 2) if busy else float(self.in_flight),
                   "ringing": ringing, "waiting": sum(1 for c in self.calls.values() if c.awaiting_agent),
                   "in_flight": self.in_flight, "agents": pool.get("agents", {}), "pacing": self.policy.name,
                   "abandon_rate_today": round(self.history.abandon_rate(), 4)}
        try:
            d.campaigns.publish_live(self.handle.id, figures, d.now())
        except Exception:
            log.exception("campaign %s: could not publish live figures", self.handle.config.name)

    # ----- one call --------------------------------------------------------------------------------
    def dial(self, contact: CampaignContact) -> OutboundCall | None:
        d = self.dialer
        begun = d.hopper.begin(self.handle, contact, d.now())
        if begun.attempt is None:
            log.info("campaign %s: %s not dialed (%s)", self.handle.config.name, mask(contact.number),
                     begun.verdict.rule)
            return None
        uuid = commands.new_uuid()
        call = OutboundCall(uuid, self.handle, begun.contact or contact, begun.attempt.id, d.clock())
        try:
            command = d.originate_command(call)
        except ValueError as exc:  # a number no dial string can carry
            log.warning("campaign %s: attempt %s cannot be dialled: %s", self.handle.config.name, call.attempt_id, exc)
            self.conclude(call, "invalid")
            return None
        self.calls[uuid] = call
        d.calls[uuid] = (self, call)
        self.history.call_placed(call.placed_at)
        future = d.control.bgapi(command)
        future.rawlink(lambda done: gevent.spawn(self._job_done, call, done))
        return call

    def _job_done(self, call: OutboundCall, done: Any) -> None:
        """The originate returned: `+OK` means answered (the outbound socket handles the rest)."""
        if not done.successful():
            log.warning("campaign %s: attempt %s originate lost (%s)", self.handle.config.name, call.attempt_id,
                        done.exception)
            if call.answered_at is None:
                self.conclude(call, "failed")
            return
        cause = job_cause(str(done.value or ""))
        if cause is None:
            self.answered(call)
            gevent.spawn_later(SOCKET_WAIT_S, self._never_handled, call)
            return
        if call.answered_at is None:
            self.history.call_resolved(self.dialer.clock(), self.dialer.clock() - call.placed_at, False)
            self.conclude(call, outcome_for_cause(cause))

    def _never_handled(self, call: OutboundCall) -> None:
        """Answered, but the call never reached the outbound server (the callee hung up at once, or the socket
        failed): a live answer no agent took."""
        if call.handled or call.done:
            return
        log.info("campaign %s: attempt %s answered but never reached the engine; dropped", self.handle.config.name,
                 call.attempt_id)
        self.history.call_abandoned(self.dialer.clock())
        self.dialer.hopper.answered(call.attempt_id, self.dialer.now(), live=True)
        self.conclude(call, "dropped", abandoned=True)

    def answered(self, call: OutboundCall) -> None:
        if call.answered_at is None:
            call.answered_at = self.dialer.clock()

    def conclude(self, call: OutboundCall, outcome: str, *, talk_seconds: float | None = None,
                 abandoned: bool | None = None) -> None:
        """Record the attempt's outcome once; the campaign's retry rules decide the contact's next step."""
        if call.done:
            return
        call.done, call.outcome, call.waiting = True, outcome, False
        self.calls.pop(call.uuid, None)
        self.dialer.calls.pop(call.uuid, None)
        try:
            self.dialer.hopper.finish(self.handle, call.attempt_id, outcome, self.dialer.now(),
                                      talk_seconds=talk_seconds, abandoned=abandoned)
        except Exception:
            log.exception("campaign %s: attempt %s outcome %s not stored", self.handle.config.name,
                          call.attempt_id, outcome)
        call.concluded.set()
        self.wake.set()


class DialerService:
    """Every campaign's dialing loop, and the handler of their answered calls (see the module docstring)."""

    def __init__(self, store: Any, control: Any, hopper: Hopper, *,
                 socket_address: tuple[str, int] | Callable[[], tuple[str, int]],
                 queues: Any = None, settings: DialerSettings | None = None,
                 clock: Callable[[], float] = time.time, now: Callable[[], dt.datetime] = utc_now) -> None:
        self.store = store
        self.control = control
        self.hopper = hopper
        self.queues = queues  # the ACD's QueueService: the shared agent pool
        self.settings = settings or DialerSettings()
        self.socket_address = socket_address
        self.clock = clock
        self.now = now
        self.campaigns = CampaignRepository(store)
        self.loops: dict[int, CampaignLoop] = {}
        self.calls: dict[str, tuple[CampaignLoop, OutboundCall]] = {}  # by customer leg uuid
        self._supervisor: gevent.Greenlet | None = None
        self.agent_first: Any = None  # agent_first.AgentFirstDialer: manual and preview dials

    def start(self) -> "DialerService":
        try:
            recovered = self.hopper.recover(self.now())
            if recovered:
                log.info("dialer: concluded %d attempts a previous run left open", recovered)
        except Exception:
            log.exception("dialer: recovering open attempts failed")
        self._supervisor = gevent.spawn(self._supervise)
        return self

    def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.kill(block=False)
        for loop in list(self.loops.values()):
            if loop.greenlet is not None:
                loop.greenlet.kill(block=False)

    def _supervise(self) -> None:
        while True:
            try:
                self.follow_campaigns()
            except Exception:
                log.exception("dialer: reading the campaigns failed; retrying")
            gevent.sleep(self.settings.poll_s)

    def follow_campaigns(self) -> None:
        """Start a loop for every running campaign of a dialing mode that has none (pause/stop end loops)."""
        for record in self.campaigns.list():
            loop = self.loops.get(record.id)
            if loop is not None and loop.greenlet is not None and loop.greenlet.dead and not loop.calls:
                self.loops.pop(record.id, None)
                loop = None
            if record.status != "running" or record.mode not in LOOP_MODES or loop is not None:
                continue
            handle = load_handle(self.store, record.id)
            if handle is None:
                continue
            if handle.config.mode in AGENT_MODES and self.queues is None:
                log.warning("campaign %s: %s dialing needs the ACD (acd.queues); not dialing", record.name,
                            handle.config.mode)
                continue
            self.loops[record.id] = CampaignLoop(self, handle).start()

    def attach(self, control: Any) -> "DialerService":
        """Hear mod_avmd's beeps on the control connection (its CUSTOM events carry only the Unique-ID)."""
        control.add_handler(self.switch_event)
        return self

    def switch_event(self, event: Any) -> None:  # the control connection's dispatcher: must not block
        if self.agent_first is not None and event.name in (commands.EV_CHANNEL_BRIDGE, commands.EV_CHANNEL_HANGUP):
            self.agent_first.switch_event(event)
            return
        if event.name != commands.EV_CUSTOM or event.headers.get(commands.H_SUBCLASS) != commands.SUBCLASS_AVMD_BEEP:
            return
        tracked = self.calls.get(event.headers.get(commands.H_UNIQUE_ID, ""))
        if tracked is not None and tracked[1].on_beep is not None:
            tracked[1].on_beep()

    def pool_figures(self, queue: str | None) -> dict[str, Any]:
        return self.queues.pool_figures(queue) if self.queues is not None and queue else {}

    def endpoint(self, number: str) -> str:
        """The dial string target for a customer number (`sofia/gateway/<gw>/<number>`)."""
        return commands.sofia_gateway_endpoint(self.settings.gateway or "default", number)

    def originate_command(self, call: OutboundCall) -> str:
        config = call.campaign.config
        variables: dict[str, object] = {
            commands.VAR_CAMPAIGN_ID: call.campaign.id, commands.VAR_ATTEMPT_ID: call.attempt_id,
            commands.VAR_CONTACT_ID: call.contact.id, commands.VAR_CALL_ID: call.uuid,
            commands.VAR_IGNORE_EARLY_MEDIA: "true"}
        if config.caller_id:
            variables[commands.VAR_ORIGINATION_CID_NUMBER] = config.caller_id
        if call.contact.customer_id:
            variables[commands.VAR_CUSTOMER_ID] = call.contact.customer_id
        host, port = self.socket_address() if callable(self.socket_address) else self.socket_address
        return commands.originate(self.endpoint(call.contact.number), app=commands.APP_SOCKET,
                                  app_arg=commands.socket_arg(host, port), variables=variables, uuid=call.uuid,
                                  timeout=int(round(config.ring_timeout_s)))

    def tracked(self, uuid: str) -> tuple[CampaignLoop, OutboundCall] | None:
        return self.calls.get(uuid)
