"""A scripted switch and caller channel for QueueService tests (no sockets): commands are recorded,
originate jobs are settled by the test, events are fed straight to the service's handler."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.event import AsyncResult, Event as Flag
from gevent.queue import Queue

from engine.acd.legs import SwitchLegs
from engine.acd.service import QueueService
from engine.acd.switch_events import SwitchEvents
from engine.esl import commands


class Hungup(Exception):
    """What the fake channel raises once the caller is gone (CallHungUp in production)."""


@dataclass(frozen=True)
class FakeEvent:
    name: str
    headers: dict

    def get(self, name: str, default=None):
        return self.headers.get(name, default)

    def variable(self, name: str):
        return self.headers.get("variable_" + name)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeCaller:
    """The caller's CallChannel: `play` blocks until uuid_break, a pressed digit, or hang-up."""

    def __init__(self, uuid: str, number: str = "13800138000", name: str = "") -> None:
        self.uuid, self.caller_number, self.caller_name = uuid, number, name
        self.hung_up = False
        self.played: list[str] = []
        self._inbox: Queue = Queue()
        self._handlers: list = []

    def add_handler(self, handler) -> None:
        self._handlers.append(handler)

    def play(self, path: str, *, terminators: str = "none") -> str:
        if self.hung_up:
            raise Hungup(self.uuid)
        self.played.append(path)
        item = self._inbox.get()
        if item == "hangup":
            raise Hungup(self.uuid)
        return item if item in terminators else ""

    def interrupt(self) -> None:
        self._inbox.put("")

    def press(self, digit: str) -> None:
        self._inbox.put(digit)

    def hang_up(self, cause: str = "", sip_status: int | None = None) -> None:
        """The caller hangs up; `cause`/`sip_status` as FreeSWITCH reports a BYE (Hangup-Cause,
        variable_sip_term_status) when given."""
        self.hung_up = True
        self._inbox.put("hangup")
        headers = {commands.H_UNIQUE_ID: self.uuid}
        if cause:
            headers[commands.H_HANGUP_CAUSE] = cause
        if sip_status is not None:
            headers["variable_" + commands.VAR_SIP_TERM_STATUS] = str(sip_status)
        for handler in self._handlers:
            handler(FakeEvent(commands.EV_CHANNEL_HANGUP, headers))


@dataclass
class FakeSwitch:
    """Records every command; originate jobs stay pending until `answer`/`fail` settles them."""

    callers: dict[str, FakeCaller] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    jobs: dict[str, AsyncResult] = field(default_factory=dict)
    rung: list[tuple[str, str, str]] = field(default_factory=list)  # (leg uuid, extension, command)
    live: set[str] = field(default_factory=set)
    killed: list[tuple[str, str]] = field(default_factory=list)
    service: Any = None
    bridge_replies: list[str] = field(default_factory=list)  # replies for the next uuid_bridge commands
    recording: dict[str, set[str]] = field(default_factory=dict)  # channel uuid -> paths being recorded
    unlisted: set[str] = field(default_factory=set)  # live, but not yet in `show channels` (its table lags)

    def _run(self, cmd: str) -> str:
        self.commands.append(cmd)
        words = cmd.split()
        if words[0] in ("uuid_break",) and words[1] in self.callers:
            self.callers[words[1]].interrupt()
        if words[0] == "uuid_kill":
            self.killed.append((words[1], words[2] if len(words) > 2 else ""))
            job = self.jobs.get(words[1])
            if job is not None and not job.ready():
                job.set("-ERR ORIGINATOR_CANCEL\n")
            self.live.discard(words[1])
        if words[0] == "uuid_record" and len(words) >= 4:
            # As FreeSWITCH: `stop` closes the file and fires RECORD_STOP (after the reply).
            paths = self.recording.setdefault(words[1], set())
            if words[2] == "start":
                paths.add(words[3])
            elif words[2] == "stop":
                if words[3] not in paths:
                    return "-ERR Cannot stop record session!\n"
                paths.discard(words[3])
                gevent.spawn(self.event, commands.EV_RECORD_STOP, words[1], **{commands.H_RECORD_FILE_PATH: words[3]})
            return "+OK Success\n"
        if words[0] == "uuid_bridge":  # takes the caller off hold music, as uuid_break does
            reply = self.bridge_replies.pop(0) if self.bridge_replies else "+OK\n"
            if reply.startswith("+OK") and words[1] in self.callers:
                self.callers[words[1]].interrupt()
            return reply
        if words[0] == "uuid_exists":
            return "true" if words[1] in self.live else "false"
        if words[0] == "show":
            rows = [{"uuid": u} for u in sorted(self.live - self.unlisted)]
            return json.dumps({"row_count": len(rows), "rows": rows}) if rows else '{"row_count": 0}\n'
        return "+OK\n"

    def api(self, cmd: str, timeout: float = 10.0) -> str:
        return self._run(cmd)

    def bgapi(self, cmd: str, job_uuid: str | None = None) -> AsyncResult:
        result = AsyncResult()
        if cmd.startswith("originate"):
            self.commands.append(cmd)
            uuid = re.search(r"origination_uuid=([0-9a-f-]+)", cmd).group(1)
            target = re.search(r"}(\S+) ", cmd).group(1)
            extension = target.split("/")[-1]
            self.jobs[uuid] = result
            self.live.add(uuid)
            self.rung.append((uuid, extension, cmd))
            return result
        result.set(self._run(cmd))
        return result

    # --- what the far end does --------------------------------------------------------------------
    def leg_of(self, extension: str, nth: int = -1) -> str:
        return [u for u, ext, _ in self.rung if ext == extension][nth]

    def answer(self, extension: str) -> str:
        """The agent answers. As FreeSWITCH: a leg originated with `api_on_answer` runs that command at the
        answer; the answer event comes first, then the job result (-ERR ORIGINATOR_CANCEL when the command
        bridged the leg inside its originate)."""
        leg = self.leg_of(extension)
        originate = next(cmd for uuid, _, cmd in self.rung if uuid == leg)
        on_answer = re.search(r"api_on_answer='([^']*)'", originate)
        reply = self._run(on_answer.group(1)) if on_answer else ""
        self.event(commands.EV_CHANNEL_ANSWER, leg)
        bridged = on_answer is not None and reply.startswith("+OK")
        self.jobs[leg].set("-ERR ORIGINATOR_CANCEL\n" if bridged else f"+OK {leg}\n")
        return leg

    def fail(self, extension: str, cause: str = "NO_ANSWER") -> str:
        leg = self.leg_of(extension)
        self.live.discard(leg)
        self.jobs[leg].set(f"-ERR {cause}\n")
        return leg

    def hang_up_leg(self, leg: str, cause: str = "NORMAL_CLEARING", *, lose_event: bool = False) -> None:
        self.live.discard(leg)
        if not lose_event:
            self.event(commands.EV_CHANNEL_HANGUP, leg, **{commands.H_HANGUP_CAUSE: cause})

    def caller_hung_up(self, caller: "FakeCaller") -> None:
        """The caller hangs up; FreeSWITCH closes that channel's recordings (RECORD_STOP for each)."""
        caller.hang_up()
        for path in self.recording.pop(caller.uuid, set()):
            self.event(commands.EV_RECORD_STOP, caller.uuid, **{commands.H_RECORD_FILE_PATH: path})

    def event(self, name: str, uuid: str = "", **headers: str) -> None:
        SwitchEvents(self.service)(FakeEvent(name, {commands.H_UNIQUE_ID: uuid, **headers}))

    def custom(self, subclass: str, **headers: str) -> None:
        SwitchEvents(self.service)(FakeEvent(commands.EV_CUSTOM, {commands.H_SUBCLASS: subclass, **headers}))


def wait_until(predicate, timeout: float = 2.0) -> None:
    """Let other greenlets run until `predicate()` holds (fails the test after `timeout` seconds)."""
    done = Flag()

    def poll() -> None:
        while not predicate():
            gevent.sleep(0.001)
        done.set()

    poller = gevent.spawn(poll)
    if not done.wait(timeout):
        poller.kill()
        raise AssertionError(f"condition not reached within {timeout}s: {predicate}")


def make_service(queues, agents, **kw) -> tuple[QueueService, FakeSwitch, Clock]:
    switch = FakeSwitch()
    clock = Clock()
    service = QueueService({q.name: q for q in queues}, agents, legs=SwitchLegs(switch), clock=clock, **kw)
    switch.service = service
    return service, switch, clock


def advance(service: QueueService, clock: Clock, seconds: float) -> None:
    clock.now += seconds
    service.execute(service.distributor.tick(clock.now))
