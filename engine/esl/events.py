"""Typed, immutable values decoded from ESL frames: replies, API responses, events, disconnect notices.

How it works: `classify(frame)` turns a `protocol.Frame` into one of the values below. Events are decoded
from all three formats into the same `Event` shape: header values as text (URL-decoded for plain and XML,
raw for JSON), JSON arrays folded into FreeSWITCH's `ARRAY::a|:b` form so that every format reads the
same, and the event body separately. A body that cannot be decoded raises `EventDecodeError`, which
concerns only that event: framing is intact and the connection goes on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Union
from xml.etree import ElementTree

from engine.esl.protocol import Frame, decode_value, parse_header_lines


class EventDecodeError(ValueError):
    """One event body could not be decoded (bad JSON, bad XML, bad UTF-8)."""


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """FreeSWITCH asks for `auth <password>`."""


@dataclass(frozen=True, slots=True)
class CommandReply:
    """Reply to any command except `api`; `headers` include extras such as Job-UUID or channel data."""

    text: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.text.startswith("+OK")


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """The output of an `api` command, exactly as FreeSWITCH wrote it (may lack a trailing newline)."""

    body: str

    @property
    def ok(self) -> bool:
        return not self.body.startswith("-")


@dataclass(frozen=True, slots=True)
class Event:
    """One FreeSWITCH event, whatever its wire format."""

    name: str
    headers: Mapping[str, str]
    body: str | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    @property
    def unique_id(self) -> str | None:
        return self.headers.get("Unique-ID")

    @property
    def subclass(self) -> str | None:
        return self.headers.get("Event-Subclass")

    @property
    def job_uuid(self) -> str | None:
        return self.headers.get("Job-UUID")

    @property
    def application_uuid(self) -> str | None:
        return self.headers.get("Application-UUID")

    @property
    def sequence(self) -> int:
        value = self.headers.get("Event-Sequence", "")
        return int(value) if value.isdigit() else 0

    def variable(self, name: str) -> str | None:
        """A channel variable carried on this event (`variable_<name>`), or None."""
        return self.headers.get("variable_" + name)


@dataclass(frozen=True, slots=True)
class DisconnectNotice:
    """FreeSWITCH is closing (disposition `disconnect`) or lingering after the channel hung up (`linger`)."""

    disposition: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_linger(self) -> bool:
        return self.disposition == "linger"


@dataclass(frozen=True, slots=True)
class RudeRejection:
    """The ACL refused this client."""

    message: str


@dataclass(frozen=True, slots=True)
class LogLine:
    """A `log/data` frame."""

    level: int
    text: str
    channel_uuid: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UnknownFrame:
    """A frame of a content type this client does not know; kept so nothing is silently lost."""

    content_type: str
    frame: Frame


Message = Union[AuthRequest, CommandReply, ApiResponse, Event, DisconnectNotice, RudeRejection, LogLine,
                UnknownFrame]


def _fold_json_value(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "ARRAY::" + "|:".join(str(item) for item in value)
    return "" if value is None else str(value)


def decode_json_event(body: bytes) -> Event:
    """Decode a `text/event-json` body."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventDecodeError(f"event JSON does not parse: {exc}") from None
    if not isinstance(data, dict):
        raise EventDecodeError("event JSON is not an object")
    event_body = data.pop("_body", None)
    headers = {key: value if isinstance(value, str) else _fold_json_value(value) for key, value in data.items()}
    return Event(headers.get("Event-Name", ""), headers, event_body)


def decode_plain_event(body: bytes) -> Event:
    """Decode a `text/event-plain` body: split lines first, then URL-decode each value; keep the body."""
    split = body.find(b"\n\n")
    head = body if split == -1 else body[:split]
    headers = parse_header_lines(head.decode("utf-8", "replace"))
    event_body: str | None = None
    length = headers.get("Content-Length")
    if split != -1 and length is not None and length.isdigit():
        start = split + 2
        event_body = body[start:start + int(length)].decode("utf-8", "replace")
    return Event(headers.get("Event-Name", ""), headers, event_body)


def decode_xml_event(body: bytes) -> Event:
    """Decode a `text/event-xml` body (`<event><headers>…</headers><body>…</body></event>`)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise EventDecodeError(f"event XML does not parse: {exc}") from None
    headers: dict[str, str] = {}
    head = root.find("headers")
    for child in head if head is not None else []:
        headers[child.tag] = decode_value(child.text or "")
    body_node = root.find("body")
    event_body = body_node.text if body_node is not None else None
    return Event(headers.get("Event-Name", ""), headers, event_body)


_EVENT_DECODERS = {
    "text/event-json": decode_json_event,
    "text/event-plain": decode_plain_event,
    "text/event-xml": decode_xml_event,
}


def classify(frame: Frame) -> Message:
    """Turn a frame into a typed message; raises EventDecodeError only for an undecodable event body."""
    kind = frame.content_type
    decoder = _EVENT_DECODERS.get(kind)
    if decoder is not None:
        return decoder(frame.body)
    if kind == "command/reply":
        return CommandReply(frame.headers.get("Reply-Text", "").rstrip("\n"), frame.headers)
    if kind == "api/response":
        return ApiResponse(frame.text())
    if kind == "auth/request":
        return AuthRequest()
    if kind == "text/disconnect-notice":
        return DisconnectNotice(frame.headers.get("Content-Disposition", "disconnect"), frame.text(), frame.headers)
    if kind == "text/rude-rejection":
        return RudeRejection(frame.text())
    if kind == "log/data":
        level = frame.headers.get("Log-Level", "7")
        return LogLine(int(level) if level.isdigit() else 7, frame.text(), frame.headers.get("User-Data", ""),
                       frame.headers)
    return UnknownFrame(kind, frame)
