"""Typed, immutable values decoded from ESL frames: replies, API responses, events, disconnect notices.

How it works: `classify(frame)` turns a `protocol.Frame` into one of the values below. Events are decoded
from all three formats into the same `Event` shape: header values as text (URL-decoded for plain and XML,
raw for JSON), JSON arrays folded into FreeSWITCH's `ARRAY::a|:b` form so that every format reads the
same, and the event body separately. A body that cannot be decoded raises `EventDecodeError`, which
concerns only that event: framing is intact and the connection goes on.
"""
from __future__ import annotations

import json
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Union
from xml.etree import ElementTree

from engine.esl.protocol import Frame, ascii_int, decode_value, parse_header_lines

try:  # orjson is a C JSON decoder, 3-4x faster than the stdlib on FreeSWITCH's 4 KB events
    from orjson import loads as _json_loads
except ImportError:  # pragma: no cover - the stdlib gives the same result, slower
    _json_loads = json.loads


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
        return ascii_int(self.headers.get("Event-Sequence")) or 0

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


_MISSING = object()


class LazyHeaders(Mapping[str, str]):
    """Event headers decoded only when read.

    A dispatcher reads two or three headers of ~150 (Event-Name, Unique-ID) and drops most events, so
    the first few lookups scan the raw text for that one header (the last occurrence wins, as in a full
    decode); after that, or on iteration, the whole event is decoded once.
    """

    __slots__ = ("_text", "_full", "_quick", "_scans")

    QUICK_LOOKUPS = 4

    def __init__(self, text) -> None:
        self._text = text
        self._full: dict[str, str] | None = None
        self._quick: dict[str, str] = {}
        self._scans = 0

    def _scan(self, name: str) -> str | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _decode_all(self) -> dict[str, str]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _headers(self) -> dict[str, str]:
        if self._full is None:
            self._full = self._decode_all()
        return self._full

    def __getitem__(self, name: str) -> str:
        value = self.get(name, _MISSING)
        if value is _MISSING:
            raise KeyError(name)
        return value

    def get(self, name: str, default=None):  # type: ignore[override]
        if self._full is not None:
            return self._full.get(name, default)
        value = self._quick.get(name, _MISSING)
        if value is not _MISSING:
            return value
        if self._scans < self.QUICK_LOOKUPS:
            self._scans += 1
            value = self._scan(name)
            if value is None:
                return default
            self._quick[name] = value
            return value
        return self._headers().get(name, default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers())

    def __len__(self) -> int:
        return len(self._headers())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.items())!r})"


class JsonHeaders(LazyHeaders):
    """Headers of a `text/event-json` event: a scan finds `"Name":"value"` when the value has no escapes."""

    __slots__ = ()

    def _scan(self, name: str) -> str | None:
        text: bytes = self._text
        key = _json_key(name)
        at = text.rfind(key)
        if at == -1:
            return None
        start = at + len(key)
        if text[start:start + 1] != b'"':  # an array (or odd spacing): let the full decode answer
            return self._headers().get(name)
        end = text.find(b'"', start + 1)
        raw = text[start + 1:end]
        if b"\\" in raw:
            return self._headers().get(name)
        return raw.decode("utf-8", "replace")

    def _decode_all(self) -> dict[str, str]:
        headers = _decode_json_object(self._text)
        headers.pop("_body", None)
        return headers


@lru_cache(maxsize=1024)
def _json_key(name: str) -> bytes:
    """`"Name":` as bytes, for the few names handlers look up."""
    return b'"' + name.encode() + b'":'


def _decode_json_object(body: bytes) -> dict[str, str]:
    try:
        headers = _json_loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventDecodeError(f"event JSON does not parse: {exc}") from None
    if not isinstance(headers, dict):
        raise EventDecodeError("event JSON is not an object")
    # cJSON writes arrays as `"Name":[`; without that sequence every value is already a string.
    if b'":[' in body:
        headers = {key: value if isinstance(value, str) else _fold_json_value(value) for key, value in headers.items()}
    return headers


def decode_json_event(body: bytes) -> Event:
    """Decode a `text/event-json` body (duplicate keys: the last wins, as in Python's json).

    A body (`_body`, e.g. a BACKGROUND_JOB result) is decoded at once; other events decode fully on
    first wide use, and an event whose JSON turns out to be broken raises EventDecodeError then.
    """
    if body[:1] != b"{" or (body[-1:] != b"}" and body.rstrip()[-1:] != b"}"):
        raise EventDecodeError("event JSON is not an object")
    if b'"_body":' in body:
        headers = _decode_json_object(body)
        event_body = headers.pop("_body", None)
        return Event(headers.get("Event-Name", ""), headers, event_body)
    lazy = JsonHeaders(body)
    return Event(lazy.get("Event-Name") or "", lazy, None)


class PlainHeaders(LazyHeaders):
    """Headers of a `text/event-plain` event: a scan finds `\nName: value`, URL-decoded when read."""

    __slots__ = ()

    def __init__(self, block: str) -> None:
        super().__init__("\n" + block)

    def _scan(self, name: str) -> str | None:
        text: str = self._text
        key = "\n" + name + ": "
        at = text.rfind(key)
        if at == -1:
            return None
        start = at + len(key)
        end = text.find("\n", start)
        return decode_value(text[start:] if end == -1 else text[start:end])

    def _decode_all(self) -> dict[str, str]:
        return parse_header_lines(self._text)


def decode_plain_event(body: bytes) -> Event:
    """Decode a `text/event-plain` body: split lines first, then URL-decode each value; keep the body."""
    split = body.find(b"\n\n")
    head = body if split == -1 else body[:split]
    headers = PlainHeaders(head.decode("utf-8", "replace"))
    event_body: str | None = None
    if split != -1:
        length = ascii_int(headers.get("Content-Length"))
        if length is not None:
            start = split + 2
            event_body = body[start:start + length].decode("utf-8", "replace")
    return Event(headers.get("Event-Name") or "", headers, event_body)


def decode_xml_event(body: bytes) -> Event:
    """Decode a `text/event-xml` body (`<event><headers>…</headers><body>…</body></event>`)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise EventDecodeError(f"event XML does not parse: {exc}") from None
    headers: dict[str, str] = {}
    head = root.find("headers")
    repeated: dict[str, list[str]] = {}
    for child in head if head is not None else []:
        repeated.setdefault(child.tag, []).append(decode_value(child.text or ""))
    for tag, values in repeated.items():  # a multi-value header is repeated elements: fold like plain/JSON
        headers[tag] = values[0] if len(values) == 1 else "ARRAY::" + "|:".join(values)
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
        level = ascii_int(frame.headers.get("Log-Level"))
        return LogLine(7 if level is None else level, frame.text(), frame.headers.get("User-Data", ""),
                       frame.headers)
    return UnknownFrame(kind, frame)
