"""The Python control API of the simulator: FreeSwitchSim, scripted callers (Press/Hangup/Wait), SimCall."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Union

import gevent

from engine.sim.channel import Channel
from engine.sim.profile import CallerProfile
from engine.sim.dialplan import Dialplan, Originator, Route
from engine.sim.faults import Faults
from engine.sim.endpoints import OUTCOMES, Destination, Directory, Endpoint, Latency
from engine.sim.population import Attempt, Population
from engine.sim.inbound import InboundServer
from engine.sim.session import spawn_inbound
from engine.sim.sounds import SoundLibrary
from engine.sim.switch import Switch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Press:
    """The caller presses `digits` at `at` seconds (unscaled) after answer, one digit every `gap` seconds.

    `at=None` means right after the previous step. `from_start=True` measures from call creation instead.
    """

    digits: str
    at: float | None = None
    gap: float = 0.25
    from_start: bool = False
    during: str | None = None       # wait for the next new run of this app; `at` counts from its start


@dataclass(frozen=True)
class Hangup:
    """The caller hangs up at `at` seconds after answer (or after creation with from_start=True)."""

    at: float | None = None
    cause: str = "NORMAL_CLEARING"
    from_start: bool = False


@dataclass(frozen=True)
class Wait:
    """Advance the script clock by `seconds` before the next step whose `at` is None."""

    seconds: float


Step = Union[Press, Hangup, Wait]


class SimCall:
    """A scripted inbound caller and its channel."""

    def __init__(self, channel: Channel, script: list[Step]) -> None:
        self.channel = channel
        self.uuid = channel.uuid
        self.script = list(script)
        self._runner = gevent.spawn(self._run) if script else None

    @property
    def hung_up(self) -> bool:
        return not self.channel.up

    @property
    def hangup_cause(self) -> str:
        return self.channel.hangup_cause

    @property
    def apps(self) -> list[tuple[str, str]]:
        return self.channel.apps

    @property
    def played(self) -> list[str]:
        return self.channel.played

    @property
    def variables(self) -> dict[str, str]:
        return self.channel.variables

    @property
    def events(self) -> list[str]:
        return self.channel.events

    def wait_hangup(self, timeout: float | None = None) -> bool:
        return self.channel.hungup.wait(timeout)

    def wait_destroyed(self, timeout: float | None = None) -> bool:
        return self.channel.destroyed.wait(timeout)

    def press(self, digits: str) -> None:
        self.channel.queue_dtmf(digits)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """The caller hangs up (sends BYE, or CANCEL before answer)."""
        self.channel.hangup(cause, remote=True)

    def _run(self) -> None:
        ch = self.channel
        sw = ch.switch
        start = time.monotonic()
        answered_at: float | None = None
        cursor = 0.0
        used_runs = 0  # apps already used by a `during` step
        for step in self.script:
            if isinstance(step, Wait):
                cursor += step.seconds
                continue
            when = step.at if step.at is not None else cursor
            during = getattr(step, "during", None)
            if during:
                # Each `during` step waits for a new run of that app (the next prompt, not the same one).
                while ch.up and not (ch.current_app == during and
                                     any(app == during for app, _ in ch.apps[used_runs:])):
                    ch.app_changed.wait(1.0)
                    ch.app_changed.clear()
                if not ch.up:
                    return
                used_runs = len(ch.apps)
                base = time.monotonic()
                when = step.at or 0.0
            elif step.from_start:
                base = start
            else:
                if answered_at is None:
                    while ch.up and not ch.answered:
                        ch.answered_evt.wait(1.0)
                    if not ch.up:
                        return
                    answered_at = time.monotonic()
                base = answered_at
            delay = base + sw.scaled(when) - time.monotonic()
            if delay > 0 and ch.hungup.wait(delay):
                return
            if not ch.up:
                return
            if isinstance(step, Hangup):
                ch.hangup(step.cause, remote=True)
                return
            for i, digit in enumerate(step.digits):
                if i and ch.hungup.wait(sw.scaled(step.gap)):
                    return
                ch.queue_dtmf(digit)
            cursor = when + step.gap * len(step.digits)


class FreeSwitchSim:
    """A faithful-enough FreeSWITCH on loopback: inbound ESL server, dialplan, endpoints, scripted callers."""

    def __init__(self, password: str = "ClueCon", time_scale: float = 1.0, host: str = "127.0.0.1",
                 port: int = 0, sounds_dir: str | None = None) -> None:
        self.switch = Switch(password=password, time_scale=time_scale)
        sw = self.switch
        sw.sounds = SoundLibrary(sounds_dir)
        sw.dialplan = Dialplan()
        sw.directory = Directory(sw)
        sw.originator = Originator(sw)
        sw.latency = Latency()  # the host's own processing delays (engine.sim.endpoints.Latency)
        self._server = InboundServer(sw, host, port)
        self._started = False
        self.faults = Faults(self)  # fault injection for tests (engine.sim.faults); all off by default

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._server.start()
        self._started = True

    def stop(self, timeout: float = 2.0) -> None:
        """Hang up every channel (SYSTEM_SHUTDOWN), let their tails run, then close every connection."""
        for ch in list(self.switch.channels.values()):
            ch.hangup("SYSTEM_SHUTDOWN")
        deadline = time.monotonic() + timeout
        while self.switch.channels and time.monotonic() < deadline:
            for ch in list(self.switch.channels.values()):
                if ch.held_by and not ch.up:
                    for lst in list(self.switch.listeners):
                        if lst.session is ch:
                            lst.close_after_flush()
            gevent.sleep(0.005)
        if self._started:
            self._server.stop()
            self._started = False

    def __enter__(self) -> FreeSwitchSim:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address

    @property
    def time_scale(self) -> float:
        return self.switch.time_scale

    # -- configuration ------------------------------------------------------------------------
    def route(self, did: str, socket: str | None = None, apps: list[tuple[str, str]] | None = None,
              after: list[tuple[str, str]] | None = None) -> Route:
        """Dialplan entry for `did` (`*` = catch-all): apps, then `socket <socket>` if given, then `after`
        (reached when the socket closes on a channel with `socket_resume=true`)."""
        route = Route(did, socket, list(apps or []), list(after or []))
        self.switch.dialplan.add(route)
        return route

    def add_endpoint(self, ext: str, registered: bool = True, answer_after: float | None = 1.0,
                     reject_cause: str | None = None, hangup_after: float | None = None) -> Endpoint:
        """A user/<ext> phone. answer_after=None never answers; reject_cause e.g. "CALL_REJECTED"."""
        return self.switch.directory.add_endpoint(Endpoint(ext, registered, answer_after, reject_cause,
                                                           hangup_after))

    def set_destination(self, number: str, outcome: str = "answer", after: float = 2.0,
                        hangup_after: float | None = None, machine_greeting: float = 8.0) -> Destination:
        """What dialing `number` does: answer|busy|no_answer|unallocated|rejected|machine|not_registered."""
        if outcome not in OUTCOMES:
            raise ValueError("unknown outcome %r (one of %s)" % (outcome, ", ".join(OUTCOMES)))
        dest = Destination(number, outcome, after, hangup_after, machine_greeting)
        self.switch.directory.destinations[number] = dest
        return dest

    def set_population(self, population: Population | str | None = None, **shares: Any) -> Population | None:
        """Numbers without `set_destination` follow a seeded called-party population (engine.sim.population):
        a Population, a spec `answer=0.3,machine=0.1,busy=0.05,unallocated=0.02,seed=7`, or keyword arguments
        of Population. None (and no keywords) turns it off. `population_log` is the ground truth."""
        if isinstance(population, str):
            population = Population.parse(population)
        elif population is None and shares:
            population = Population(**shares)
        self.switch.directory.set_population(population)
        return population

    @property
    def population_log(self) -> list[Attempt]:
        """One Attempt per population dial, in dial order (complete once `done`: the leg was destroyed)."""
        pop = self.switch.directory.population
        return list(pop.log) if pop is not None else []

    def set_sound(self, path: str, seconds: float) -> None:
        """Give a sound file an explicit (unscaled) duration, whether or not it exists."""
        self.switch.sounds.register(path, seconds)

    def register(self, ext: str) -> None:
        self.switch.directory.register(ext)

    def unregister(self, ext: str) -> None:
        self.switch.directory.unregister(ext)

    def expire(self, ext: str) -> None:
        self.switch.directory.expire(ext)

    # -- calls --------------------------------------------------------------------------------
    def place_call(self, did: str, caller_number: str, caller_name: str = "",
                   script: list[Step] | None = None, variables: dict[str, str] | None = None) -> SimCall:
        """An inbound call from `caller_number` to `did`, running the route's apps; `script` drives the caller."""
        sw = self.switch
        port = 5070 + (sw.sessions_since_startup % 1000)
        name = "sofia/internal/%s@127.0.0.1:%d" % (caller_number, port)
        profile = CallerProfile(username=caller_number, caller_id_name=caller_name or caller_number,
                                caller_id_number=caller_number, orig_caller_id_name=caller_name or caller_number,
                                orig_caller_id_number=caller_number, ani=caller_number, destination_number=did,
                                context="public")
        base = {"sip_from_user": caller_number, "sip_from_host": "127.0.0.1", "sip_to_user": did,
                "sip_req_user": did, "sip_network_ip": "127.0.0.1", "sip_network_port": str(port),
                "sofia_profile_name": "internal", "presence_id": "%s@127.0.0.1" % caller_number,
                "endpoint_disposition": "RECEIVED"}
        base.update(variables or {})
        ch = Channel(sw, name, "inbound", profile, variables=base)
        ch.presence_id = "%s@127.0.0.1" % caller_number
        call = SimCall(ch, list(script or []))
        spawn_inbound(ch, sw.dialplan.lookup(did, ch))
        return call

    @property
    def channels(self) -> dict[str, Channel]:
        return self.switch.channels

    @property
    def command_log(self) -> list[str]:
        return self.switch.command_log

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait (cooperatively) until predicate() is true; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            gevent.sleep(0.002)
