"""Authenticated agent control: check where a `jinqiao::agent` request came from, apply it, acknowledge it.

How it works. A request is a CUSTOM `jinqiao::agent` event, and anything that can fire an event (an ESL
client, the dialplan `event` app fed with caller data, a module) can fire one, so the headers alone prove
nothing. Two sources are accepted, everything else is refused and logged:

- **The engine's CLI/API** signs its request: `Agent-Request-ID`, `Agent-Time` and an HMAC-SHA256
  `Agent-Signature` over every control header, keyed by a key derived from the ESL password (only holders
  of the password, i.e. the engine's own config, can sign). Requests older or newer than `max_age` seconds,
  or with a request id already seen, are refused (no replay). The engine answers with a signed
  `jinqiao::agent-ack` event carrying the same request id, the result and the agent's live state (for
  `status`, the whole agent pool as a JSON body), which `jinqiao agent …` waits for.
- **A phone feature code** (`*21`…`*24`, rendered by `jinqiao fs render`): the dialplan only fires the
  event after SIP digest authentication (`${sip_authorized}` true, `${sip_auth_username}` matching a strict
  pattern) and adds `Agent-Extension=${sip_auth_username}` plus a feature-code token derived from the same
  key. The agent is the one whose extension is that authenticated user; any `Agent-ID` header is ignored.

The pure parts (`sign`, `verify`, `signed_request`, `feature_code_token`) take time as an argument.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import uuid
from typing import Any, Callable, Mapping

from engine.esl import commands

log = logging.getLogger(__name__)

H_REQUEST_ID = "Agent-Request-ID"
H_TIME = "Agent-Time"
H_SIGNATURE = "Agent-Signature"
H_EXTENSION = "Agent-Extension"
H_TOKEN = "Agent-Token"
H_RESULT = "Agent-Result"  # ok | refused
H_DETAIL = "Agent-Detail"
H_STATE = "Agent-State"
SUBCLASS_ACK = "jinqiao::agent-ack"
SIGNED_HEADERS = (H_REQUEST_ID, H_TIME, commands.H_AGENT_ID, commands.H_AGENT_ACTION, commands.H_AGENT_REASON,
                  commands.H_AGENT_QUEUES, H_RESULT, H_DETAIL, H_STATE)
ACTIONS = ("login", "logout", "ready", "not-ready", "wrap-up-done", "status")
PHONE_ACTIONS = ("login", "logout", "ready", "not-ready")
AGENT_ID_RE = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
QUEUE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
REASON_RE = re.compile(r"^[\w .:/-]{1,64}$")
EXTENSION_PATTERN = r"^[A-Za-z0-9_.+-]{1,64}$"  # what the dialplan requires of ${sip_auth_username}


def control_key(password: str) -> bytes:
    """The key that signs agent control, derived from the ESL password (never the password itself)."""
    return hmac.new(password.encode("utf-8"), b"jinqiao agent control v1", hashlib.sha256).digest()


def feature_code_token(key: bytes) -> str:
    """The token the rendered feature codes put in their event (a caller cannot know it)."""
    return hmac.new(key, b"jinqiao phone feature codes v1", hashlib.sha256).hexdigest()[:32]


def sign(key: bytes, headers: Mapping[str, str], body: str = "") -> str:
    text = "\n".join(f"{name}={headers.get(name, '')}" for name in SIGNED_HEADERS) + "\n" + body
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(key: bytes, headers: Mapping[str, str], body: str = "") -> bool:
    given = headers.get(H_SIGNATURE) or ""
    return bool(given) and hmac.compare_digest(given, sign(key, headers, body))


def signed_request(key: bytes, fields: Mapping[str, str], now: float, request_id: str | None = None) -> dict[str, str]:
    """The headers of one CLI/API request (Event-Subclass included), signed."""
    headers = {commands.H_SUBCLASS: commands.SUBCLASS_AGENT_CONTROL, **fields,
               H_REQUEST_ID: request_id or str(uuid.uuid4()), H_TIME: f"{now:.3f}"}
    headers[H_SIGNATURE] = sign(key, headers)
    return headers


def check_request_fields(fields: Mapping[str, str]) -> str:
    """Why these control fields are not acceptable ("" when they are)."""
    action = fields.get(commands.H_AGENT_ACTION, "")
    agent_id = fields.get(commands.H_AGENT_ID, "")
    if action not in ACTIONS:
        return f"unknown action {action!r}"
    if agent_id and not AGENT_ID_RE.match(agent_id):
        return "not an agent id"
    if not agent_id and action != "status":
        return "no agent id"
    reason = fields.get(commands.H_AGENT_REASON, "")
    if reason and not REASON_RE.match(reason):
        return "a reason is up to 64 letters, digits, blanks or . : / - _"
    queues = [q for q in fields.get(commands.H_AGENT_QUEUES, "").split(",") if q]
    if any(not QUEUE_RE.match(q) for q in queues):
        return "not a queue name"
    return ""


class AgentControl:
    """An event handler for `InboundConnection.add_handler`: applies authenticated agent control; never blocks.

    `send_ack(headers, body)` must fire the acknowledgement without blocking the dispatcher (the daemon
    spawns `InboundConnection.sendevent`)."""

    def __init__(self, service: Any, key: bytes, send_ack: Callable[[dict[str, str], str], None], *,
                 clock: Callable[[], float], max_age: float = 60.0) -> None:
        self.service = service
        self.key = key
        self.token = feature_code_token(key)
        self.send_ack = send_ack
        self.clock = clock
        self.max_age = max_age
        self._seen: dict[str, float] = {}  # request id -> when accepted (pruned after max_age)

    def __call__(self, event: Any) -> None:
        if event.name != commands.EV_CUSTOM or event.get(commands.H_SUBCLASS) != commands.SUBCLASS_AGENT_CONTROL:
            return
        if event.get(H_SIGNATURE):
            self._signed(event)
        elif event.get(H_TOKEN):
            self._phone(event)
        else:
            log.warning("agent control refused: unsigned request (not from the engine's CLI nor a feature code)")

    # ----- sources ------------------------------------------------------------------------------------
    def _signed(self, event: Any) -> None:
        headers = {name: event.get(name) or "" for name in SIGNED_HEADERS}
        headers[H_SIGNATURE] = event.get(H_SIGNATURE) or ""
        request_id = headers[H_REQUEST_ID]
        if not verify(self.key, headers):
            log.warning("agent control refused: bad signature")
            return  # no ack: whoever sent it cannot check one
        now = self.clock()
        for seen, at in list(self._seen.items()):
            if now - at > self.max_age:
                del self._seen[seen]
        try:
            sent_at = float(headers[H_TIME])
        except ValueError:
            sent_at = float("nan")
        if not abs(now - sent_at) <= self.max_age:
            return self._ack(headers, "refused", "request too old (or clocks differ)")
        if request_id in self._seen:
            log.warning("agent control refused: request %s replayed", request_id)
            return
        self._seen[request_id] = now
        problem = check_request_fields(headers)
        if problem:
            return self._ack(headers, "refused", problem)
        self._apply(headers)

    def _phone(self, event: Any) -> None:
        if not hmac.compare_digest(event.get(H_TOKEN) or "", self.token) or not event.get(commands.H_UNIQUE_ID):
            log.warning("agent control refused: feature-code event with a wrong token or without a channel")
            return
        extension = event.get(H_EXTENSION) or ""
        action = event.get(commands.H_AGENT_ACTION) or ""
        if not re.match(EXTENSION_PATTERN, extension) or action not in PHONE_ACTIONS:
            log.warning("agent control refused: feature code %r without an authenticated SIP user", action)
            return
        agent_id = self._agent_for_extension(extension)
        if agent_id is None:
            log.warning("agent control refused: SIP user %s is no agent", extension)
            return
        reason = event.get(commands.H_AGENT_REASON) or ""
        self._apply({commands.H_AGENT_ID: agent_id, commands.H_AGENT_ACTION: action,
                     commands.H_AGENT_REASON: reason if REASON_RE.match(reason) else ""}, ack=False)

    def _agent_for_extension(self, extension: str) -> str | None:
        agents = self.service.distributor.agents
        for agent in agents.values():
            if agent.extension == extension:
                return agent.agent_id
        if extension in agents and not agents[extension].extension:
            return extension
        directory = getattr(self.service, "agent_directory", None)
        found = directory(extension) if directory is not None else None
        if found is not None and (found.extension or found.agent_id) == extension:
            return found.agent_id
        return None

    # ----- apply and acknowledge ----------------------------------------------------------------------
    def _apply(self, headers: Mapping[str, str], ack: bool = True) -> None:
        from engine.acd.distributor import AcdError

        agent_id = headers.get(commands.H_AGENT_ID, "")
        action = headers.get(commands.H_AGENT_ACTION, "")
        reason = headers.get(commands.H_AGENT_REASON, "")
        queues = [q for q in headers.get(commands.H_AGENT_QUEUES, "").split(",") if q]
        service = self.service
        try:
            if action == "status":
                return self._ack(headers, "ok", "", body=self._status_body(agent_id)) if ack else None
            if action == "login":
                service.login(agent_id, queues or None)
            elif action == "logout":
                service.logout(agent_id)
            elif action == "ready":
                service.ready(agent_id)
            elif action == "not-ready":
                service.not_ready(agent_id, reason or "not ready")
            elif action == "wrap-up-done":
                service.end_wrap_up(agent_id)
        except AcdError as exc:
            log.warning("agent control %s for %s refused: %s", action, agent_id, exc)
            if ack:
                self._ack(headers, "refused", str(exc)[:200])
            return
        log.info("agent control: %s %s", action, agent_id)
        if ack:
            state = service.agent_status(agent_id).get("state", "")
            self._ack(headers, "ok", "", state=state)

    def _status_body(self, agent_id: str) -> str:
        agents = self.service.snapshot()["agents"]
        if agent_id:
            if agent_id not in agents:
                from engine.acd.distributor import AcdError

                raise AcdError(f"unknown agent {agent_id!r}")
            agents = {agent_id: agents[agent_id]}
        return json.dumps(agents, ensure_ascii=False, sort_keys=True)

    def _ack(self, request: Mapping[str, str], result: str, detail: str, *, state: str = "", body: str = "") -> None:
        headers = {commands.H_SUBCLASS: SUBCLASS_ACK, H_REQUEST_ID: request.get(H_REQUEST_ID, ""),
                   H_TIME: f"{self.clock():.3f}", commands.H_AGENT_ID: request.get(commands.H_AGENT_ID, ""),
                   commands.H_AGENT_ACTION: request.get(commands.H_AGENT_ACTION, ""), H_RESULT: result,
                   H_DETAIL: " ".join(detail.split()), H_STATE: state}
        headers[H_SIGNATURE] = sign(self.key, headers, body)
        try:
            self.send_ack(headers, body)
        except Exception:
            log.exception("could not send the agent control acknowledgement")
