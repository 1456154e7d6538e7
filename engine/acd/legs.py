"""The ACD's hands on the switch: ring an agent, stop hold music, bridge, cancel, record, list live channels.

The only ACD module that builds FreeSWITCH commands (through `engine.esl.commands`). It talks to an
inbound control connection (`api`, `bgapi`); every method except `live_channels` is non-blocking and
safe to call from an event handler.
"""
from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

import gevent

from engine.esl import commands
from engine.esl.commands import HangupCause

log = logging.getLogger(__name__)
RECOVERY_TIMEOUT = 30.0  # how long a recovery command waits for the control connection to come back
NEAR_KEPT = 50_000  # calls whose first channel is remembered, for placing their agent legs on the same node


class Control(Protocol):
    """The part of `engine.esl.connection.InboundConnection` the ACD uses."""

    def api(self, command: str, timeout: float = 10.0) -> str: ...

    def bgapi(self, command: str, job_uuid: str | None = None) -> Any: ...


@dataclass(frozen=True)
class RingResult:
    """How an agent-leg originate ended: answered, or the FreeSWITCH cause name."""

    answered: bool
    cause: str


def parse_job_body(body: str) -> RingResult:
    """`+OK <uuid>` -> answered; `-ERR NO_ANSWER` -> the cause."""
    text = (body or "").strip()
    if text.startswith(commands.REPLY_OK):
        return RingResult(True, "SUCCESS")
    cause = text[len(commands.REPLY_ERR):].strip() if text.startswith(commands.REPLY_ERR) else text
    return RingResult(False, HangupCause.parse(cause.split()[0] if cause else "").name if cause else "UNKNOWN")


_CONTROL = {c: " " for c in range(0x20)} | {0x7F: " "}
MAX_TEXT = 80


def clean_text(value: object, limit: int = MAX_TEXT) -> str:
    """Call data (names, numbers, CRM fields) made fit for a command: control bytes (CR, LF, TAB...) become
    spaces, runs of spaces one, and the text is cut at `limit` characters. The command builders escape the rest."""
    text = " ".join(str(value or "").translate(_CONTROL).split())
    return text[:limit]


def sip_header(name: str) -> str:
    return commands.VAR_SIP_HEADER_PREFIX + name


class SwitchLegs:
    """Turns ACD decisions into FreeSWITCH commands on the control connection."""

    def __init__(self, control: Control, *, domain: str | None = None) -> None:
        self.control = control
        self.domain = domain
        # call id -> the channel its other legs must share a node with (several nodes: engine/esl/switchnodes.py)
        self._near: OrderedDict[str, str] = OrderedDict()

    def _remember(self, call_id: str, uuid: str) -> None:
        if call_id and uuid and call_id not in self._near:
            self._near[call_id] = uuid
            if len(self._near) > NEAR_KEPT:
                self._near.popitem(last=False)

    def calls_on(self, channels: set[str]) -> dict[str, str]:
        """call id -> caller uuid for the queued callers (and first legs) among `channels`."""
        return {call_id: uuid for call_id, uuid in self._near.items() if uuid in channels}

    def _place(self, extension: str, near: str | None) -> tuple[Any, str]:
        """(send, endpoint) for ringing a phone: with several nodes, on the node of the channel it will be
        bridged to, reaching a phone registered with another node over SIP (engine/esl/switchnodes.py)."""
        route = getattr(self.control, "agent_route", None)
        if route is None:
            return self.control.bgapi, self.agent_endpoint(extension)
        node, uri = route(extension, near)
        endpoint = (commands.sip_uri_endpoint(uri, self.control.profile(node)) if uri
                    else self.agent_endpoint(extension))
        return (lambda command: self.control.bgapi(command, node=node)), endpoint

    def ring_agent(self, leg_uuid: str, extension: str, *, call_id: str, queue: str, caller_number: str,
                   display_name: str, timeout: float, headers: Mapping[str, str], bridge_to: str | None = None,
                   agent_id: str = "") -> Any:
        """Originate the agent leg (parked on answer); the future resolves to the BACKGROUND_JOB body.

        `bridge_to`: the caller's uuid; FreeSWITCH then bridges the caller to the leg itself the moment the
        agent answers (`api_on_answer`), without waiting for the engine to hear of the answer. The originate
        then ends `-ERR ORIGINATOR_CANCEL` (the leg was bridged inside it) while the leg is up and bridged."""
        caller_number, display_name = clean_text(caller_number), clean_text(display_name)
        variables: dict[str, object] = {
            commands.VAR_ORIGINATION_CID_NUMBER: caller_number or "anonymous",
            commands.VAR_ORIGINATION_CID_NAME: display_name or caller_number or "anonymous",
            commands.VAR_CALL_ID: call_id,
            commands.VAR_QUEUE: queue,
            commands.VAR_AGENT_ID: agent_id,
            commands.VAR_IGNORE_EARLY_MEDIA: "true",
            commands.VAR_HANGUP_AFTER_BRIDGE: "true",
        }
        if bridge_to:
            variables[commands.VAR_API_ON_ANSWER] = commands.uuid_bridge(bridge_to, leg_uuid)
        for name, value in headers.items():
            value = clean_text(value)
            if value:
                variables[sip_header(name)] = value
        near = bridge_to or self._near.get(call_id)
        self._remember(call_id, leg_uuid)
        send, endpoint = self._place(extension, near)
        command = commands.originate(endpoint, app=commands.APP_PARK,
                                     variables=variables, uuid=leg_uuid, timeout=max(1, int(round(timeout))))
        return send(command)

    def agent_endpoint(self, extension: str) -> str:
        """`user/<ext>[@domain]`; raises ValueError when the agent's extension cannot be dialled."""
        return commands.user_endpoint(extension, self.domain)

    def ring_monitor(self, leg_uuid: str, extension: str, target_uuid: str, mode: str, *, call_id: str,
                     timeout: float = 30.0) -> Any:
        """Ring a supervisor's phone; on answer it eavesdrops on `target_uuid` (an agent leg): `listen` hears
        both sides, `whisper` is heard by the agent only, `barge` by both. DTMF mode switching is off so a
        listener cannot start talking without the permission for it."""
        whisper_agent, whisper_caller = {"listen": (False, False), "whisper": (True, False),
                                         "barge": (True, True)}[mode]
        variables: dict[str, object] = {
            commands.VAR_ORIGINATION_CID_NUMBER: "monitor", commands.VAR_ORIGINATION_CID_NAME: f"{mode}",
            commands.VAR_CALL_ID: call_id,
            commands.VAR_EAVESDROP_WHISPER_ALEG: str(whisper_agent).lower(),
            commands.VAR_EAVESDROP_WHISPER_BLEG: str(whisper_caller).lower(),
            commands.VAR_EAVESDROP_ENABLE_DTMF: "false",
        }
        send, endpoint = self._place(extension, target_uuid)  # eavesdrop needs the target on its own node
        command = commands.originate(endpoint, app=commands.APP_EAVESDROP,
                                     app_arg=commands.check_uuid(target_uuid), variables=variables, uuid=leg_uuid,
                                     timeout=max(1, int(round(timeout))))
        return send(command)

    def ring_customer(self, leg_uuid: str, endpoint: str, *, call_id: str, queue: str, timeout: float) -> Any:
        """Originate the customer leg of an agent-first callback (parked on answer)."""
        variables: dict[str, object] = {commands.VAR_CALL_ID: call_id, commands.VAR_QUEUE: queue,
                                        commands.VAR_IGNORE_EARLY_MEDIA: "true",
                                        commands.VAR_HANGUP_AFTER_BRIDGE: "true"}
        command = commands.originate(endpoint, app=commands.APP_PARK, variables=variables, uuid=leg_uuid,
                                     timeout=max(1, int(round(timeout))))
        near = self._near.get(call_id)  # the agent leg it is bridged to must be on the same node
        node = self.control.node_of(near) if near and hasattr(self.control, "node_of") else None
        return self.control.bgapi(command, node=node) if node else self.control.bgapi(command)

    def hang_up(self, uuid: str, cause: HangupCause = HangupCause.NORMAL_CLEARING) -> Any:
        """Kill a leg (non-blocking); a kill lost with the connection is sent again once reconnected."""
        job = self.control.bgapi(commands.uuid_kill(uuid, cause))
        if hasattr(job, "rawlink"):
            job.rawlink(lambda done: None if done.successful() else gevent.spawn(self.kill_now, uuid, cause))
        return job

    def kill_now(self, uuid: str, cause: HangupCause = HangupCause.NORMAL_CLEARING, attempts: int = 3) -> bool:
        """Kill a leg, blocking until FreeSWITCH answers (waits for a reconnect); False if it never did."""
        for _ in range(attempts):
            try:
                self.control.api(commands.uuid_kill(uuid, cause), timeout=RECOVERY_TIMEOUT)
                return True
            except Exception as exc:  # not connected yet, or the connection dropped again
                log.warning("leg %s: kill not delivered (%s); retrying", uuid, exc)
        return False

    def exists(self, uuid: str, attempts: int = 3) -> bool | None:
        """Does FreeSWITCH have this channel? Blocking (waits for a reconnect); None when it cannot be asked."""
        for _ in range(attempts):
            try:
                return self.control.api(commands.uuid_exists(uuid), timeout=RECOVERY_TIMEOUT).strip() == "true"
            except Exception as exc:
                log.warning("leg %s: uuid_exists not answered (%s); retrying", uuid, exc)
        return None

    def bridge_now(self, caller_uuid: str, agent_leg: str) -> str:
        """Bridge the caller to the agent leg; one step: uuid_bridge itself takes the caller off hold music
        (no uuid_break round trip first). Blocking; returns FreeSWITCH's reply."""
        return self.control.api(commands.uuid_bridge(caller_uuid, agent_leg))

    def stop_music(self, caller_uuid: str) -> Any:
        # Not `all`: that would also drop a playback the caller's greenlet just queued, whose completion
        # would then never come. uuid_bridge interrupts whatever still plays.
        return self.control.bgapi(commands.uuid_break(caller_uuid))

    def bridge(self, caller_uuid: str, agent_leg: str) -> Any:
        return self.control.bgapi(commands.uuid_bridge(caller_uuid, agent_leg))

    def keep_caller_after_bridge(self, caller_uuid: str) -> Any:
        """When the agent hangs up, the caller goes back to park (and to its IVR flow), not to hang-up."""
        self.control.bgapi(commands.uuid_setvar(caller_uuid, commands.VAR_HANGUP_AFTER_BRIDGE, "false"))
        return self.control.bgapi(commands.uuid_setvar(caller_uuid, commands.VAR_PARK_AFTER_BRIDGE, "true"))

    def mark_queued(self, caller_uuid: str, call_id: str, queue: str, since: float, priority: int = 0) -> Any:
        """Tag a queued caller so an engine restart can find it and give back its place in line; with
        `socket_resume` the caller survives the engine's socket closing (the dialplan parks it)."""
        self._remember(call_id, caller_uuid)
        return self.control.bgapi(commands.uuid_setvar_multi(caller_uuid, {
            commands.VAR_CALL_ID: call_id, commands.VAR_QUEUE: queue, commands.VAR_QUEUED_AT: f"{since:.3f}",
            commands.VAR_QUEUE_PRIORITY: str(int(priority)), commands.VAR_SOCKET_RESUME: "true"}))

    def start_recording(self, caller_uuid: str, path: str, *, stereo: bool) -> Any:
        if stereo:
            self.control.bgapi(commands.uuid_setvar(caller_uuid, commands.VAR_RECORD_STEREO, "true"))
        return self.control.bgapi(commands.uuid_record(caller_uuid, "start", path))

    def stop_recording(self, caller_uuid: str, path: str) -> str:
        """Stop the conversation's recording; blocking (the file is closed when FreeSWITCH answers)."""
        return self.control.api(commands.uuid_record(caller_uuid, "stop", path))

    def transfer(self, uuid: str, extension: str, context: str = "default") -> Any:
        return self.control.bgapi(commands.uuid_transfer(uuid, extension, context=context))

    def channel_exists(self, uuid: str, timeout: float = 10.0) -> bool:
        """Whether FreeSWITCH has this channel now (`uuid_exists`: authoritative, unlike `show channels`)."""
        return self.control.api(commands.uuid_exists(uuid), timeout=timeout).strip() == "true"

    def live_channels(self, timeout: float = 10.0) -> set[str]:
        """UUIDs of every channel FreeSWITCH has now (blocking; never call from an event handler)."""
        text = self.control.api(commands.show_channels_json(), timeout=timeout)
        try:
            data = json.loads(text)
        except ValueError:
            raise RuntimeError(f"unexpected reply to show channels: {text[:80]!r}") from None
        return {row.get("uuid", "") for row in data.get("rows", []) if row.get("uuid")}
