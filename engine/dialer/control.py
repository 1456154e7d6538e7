"""Authenticated dialer control: `jinqiao call` and `jinqiao campaign preview` reach the running engine as a signed
CUSTOM `jinqiao::dialer` event, the way `jinqiao agent` does (see engine/acd/agent_control.py).

The request is signed with an HMAC-SHA256 over every control header, keyed by a key derived from the ESL
password; stale, replayed or unsigned requests are refused. The engine answers with a signed
`jinqiao::dialer-ack` carrying the request id, the result and, for a preview, the contact as a JSON body.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from typing import Any, Callable, Mapping

from engine.esl import commands

log = logging.getLogger(__name__)
SUBCLASS_REQUEST = "jinqiao::dialer"
SUBCLASS_ACK = "jinqiao::dialer-ack"
H_REQUEST_ID, H_TIME, H_SIGNATURE = "Dialer-Request-ID", "Dialer-Time", "Dialer-Signature"
H_ACTION, H_NUMBER, H_CAMPAIGN, H_REASON = "Dialer-Action", "Dialer-Number", "Dialer-Campaign", "Dialer-Reason"
H_RESULT, H_DETAIL = "Dialer-Result", "Dialer-Detail"
SIGNED = (H_REQUEST_ID, H_TIME, H_ACTION, commands.H_AGENT_ID, H_NUMBER, H_CAMPAIGN, H_REASON, H_RESULT, H_DETAIL)
ACTIONS = ("call", "preview-next", "preview-dial", "preview-skip")
_AGENT = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
_CAMPAIGN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_REASON = re.compile(r"^[\w .:/-]{1,64}$")


def control_key(password: str) -> bytes:
    return hmac.new(password.encode("utf-8"), b"jinqiao dialer control v1", hashlib.sha256).digest()


def sign(key: bytes, headers: Mapping[str, str], body: str = "") -> str:
    text = "\n".join(f"{name}={headers.get(name, '')}" for name in SIGNED) + "\n" + body
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(key: bytes, headers: Mapping[str, str], body: str = "") -> bool:
    given = headers.get(H_SIGNATURE) or ""
    return bool(given) and hmac.compare_digest(given, sign(key, headers, body))


def signed_request(key: bytes, fields: Mapping[str, str], now: float) -> dict[str, str]:
    headers = {commands.H_SUBCLASS: SUBCLASS_REQUEST, **fields, H_REQUEST_ID: str(uuid.uuid4()), H_TIME: f"{now:.3f}"}
    headers[H_SIGNATURE] = sign(key, headers)
    return headers


def check_fields(fields: Mapping[str, str]) -> str:
    """Why these request fields are not acceptable ("" when they are)."""
    action = fields.get(H_ACTION, "")
    if action not in ACTIONS:
        return f"unknown action {action!r}"
    if not _AGENT.match(fields.get(commands.H_AGENT_ID, "")):
        return "not an agent id"
    if action == "call" and not _NUMBER.match(fields.get(H_NUMBER, "")):
        return "not a phone number (digits, optional +)"
    if action == "preview-next" and not _CAMPAIGN.match(fields.get(H_CAMPAIGN, "")):
        return "not a campaign name"
    if action == "preview-skip" and not _REASON.match(fields.get(H_REASON, "")):
        return "a skip needs a reason: up to 64 letters, digits, blanks or . : / - _"
    return ""


class DialerControl:
    """An event handler for the control connection: applies signed dialer requests; never blocks (work is spawned)."""

    def __init__(self, agent_first: Any, key: bytes, send_ack: Callable[[dict[str, str], str], None], *,
                 clock: Callable[[], float] = time.time, spawn: Callable[..., Any] | None = None,
                 max_age: float = 60.0) -> None:
        import gevent

        self.agent_first = agent_first
        self.key = key
        self.send_ack = send_ack
        self.clock = clock
        self.spawn = spawn or gevent.spawn
        self.max_age = max_age
        self._seen: dict[str, float] = {}

    def __call__(self, event: Any) -> None:
        if event.name != commands.EV_CUSTOM or event.get(commands.H_SUBCLASS) != SUBCLASS_REQUEST:
            return
        headers = {name: event.get(name) or "" for name in (*SIGNED, H_SIGNATURE)}
        if not verify(self.key, headers):
            log.warning("dialer control refused: unsigned or badly signed request")
            return
        now = self.clock()
        self._seen = {k: t for k, t in self._seen.items() if now - t <= self.max_age}
        try:
            sent_at = float(headers[H_TIME])
        except ValueError:
            sent_at = float("nan")
        if not abs(now - sent_at) <= self.max_age:
            return self._ack(headers, "refused", "request too old (or clocks differ)")
        if headers[H_REQUEST_ID] in self._seen:
            log.warning("dialer control refused: request replayed")
            return
        self._seen[headers[H_REQUEST_ID]] = now
        problem = check_fields(headers)
        if problem:
            return self._ack(headers, "refused", problem)
        self.spawn(self._apply, headers)  # store reads and originates: off the event dispatcher

    def _apply(self, headers: Mapping[str, str]) -> None:
        from engine.acd.distributor import AcdError
        from engine.dialer.agent_first import DialRefused

        af, action, agent = self.agent_first, headers[H_ACTION], headers[commands.H_AGENT_ID]
        try:
            if action == "call":
                call = af.manual_call(agent, headers[H_NUMBER])
                return self._ack(headers, "ok", f"ringing agent {agent}, then the customer (attempt {call.attempt_id})")
            if action == "preview-next":
                p = af.preview_next(agent, headers[H_CAMPAIGN])
                body = json.dumps({"campaign": p.campaign.config.name, "contact_id": p.contact.id,
                                   "number": p.contact.number, "attempts": p.contact.attempts,
                                   "data": {k: v for k, v in (p.contact.data or {}).items() if k != "outcomes"},
                                   "script": p.script}, ensure_ascii=False, default=str)
                return self._ack(headers, "ok", "", body)
            if action == "preview-dial":
                call = af.preview_dial(agent)
                return self._ack(headers, "ok", f"ringing agent {agent}, then the customer (attempt {call.attempt_id})")
            af.preview_skip(agent, headers[H_REASON])
            return self._ack(headers, "ok", "skipped")
        except (DialRefused, AcdError) as exc:
            return self._ack(headers, "refused", str(exc)[:200])
        except Exception:
            log.exception("dialer control %s for agent %s failed", action, agent)
            return self._ack(headers, "refused", "internal error (see the engine's log)")

    def _ack(self, request: Mapping[str, str], result: str, detail: str, body: str = "") -> None:
        headers = {commands.H_SUBCLASS: SUBCLASS_ACK, H_REQUEST_ID: request.get(H_REQUEST_ID, ""),
                   H_TIME: f"{self.clock():.3f}", H_ACTION: request.get(H_ACTION, ""),
                   commands.H_AGENT_ID: request.get(commands.H_AGENT_ID, ""), H_RESULT: result,
                   H_DETAIL: " ".join(detail.split())}
        headers[H_SIGNATURE] = sign(self.key, headers, body)
        try:
            self.send_ack(headers, body)
        except Exception:
            log.exception("could not send the dialer control acknowledgement")


def send_request(config: Any, fields: Mapping[str, str], timeout: float = 10.0) -> tuple[dict[str, str], str]:
    """Sign `fields`, send them through FreeSWITCH's event socket, wait for the engine's signed ack.
    Raises RuntimeError with a message a user can act on."""
    import gevent
    from gevent.event import AsyncResult

    from engine.esl.connection import InboundConnection

    fs = config.freeswitch
    if not fs.password:
        raise RuntimeError("freeswitch.password is not set (config or JINQIAO_FREESWITCH_PASSWORD)")
    key = control_key(fs.password)
    request = signed_request(key, fields, time.time())
    answer: AsyncResult = AsyncResult()

    def on_event(event: Any) -> None:
        headers = {name: event.get(name) or "" for name in (*SIGNED, H_SIGNATURE)}
        if (event.get(commands.H_SUBCLASS) == SUBCLASS_ACK and headers[H_REQUEST_ID] == request[H_REQUEST_ID]
                and verify(key, headers, event.body or "")):
            answer.set((headers, event.body or ""))

    conn = InboundConnection(fs.host, fs.port, fs.password, events=(SUBCLASS_ACK,), reconnect_min_delay=1.0,
                             connect_timeout=fs.connect_timeout)
    conn.add_handler(on_event)
    conn.start()
    try:
        if not conn.wait_connected(fs.connect_timeout):
            raise RuntimeError(f"cannot reach FreeSWITCH at {fs.host}:{fs.port}: {conn.last_error or 'no answer'}")
        conn.sendevent(commands.EV_CUSTOM, request)
        try:
            return answer.get(timeout=timeout)
        except gevent.Timeout:
            raise RuntimeError(f"the engine did not acknowledge within {timeout:g} s: is `jinqiao serve` running "
                               "with acd.queues, connected to this FreeSWITCH with the same ESL password?") from None
    finally:
        conn.close()
