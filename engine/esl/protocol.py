"""Sans-IO Event Socket protocol: bytes from FreeSWITCH in, frames out; commands in, bytes out.

How it works: `Parser.feed()` appends to a buffer and cuts complete frames: a header block ending at the
first blank line (LF LF: FreeSWITCH never sends CRLF), then exactly `Content-Length` *bytes* of body when that header
is present. Outer header values are URL-decoded (as libesl does), which turns the outbound `connect`
reply's `Reply-Text: %2BOK%0A` into `+OK\n`. Limits bound memory: a header block or body larger than the
configured maximum raises `FrameTooLarge`, a Content-Length that is not ASCII digits raises
`BadContentLength`; after an error the parser is poisoned and the connection must be closed. While a
header block is incomplete, new bytes are only collected and searched (never the whole buffer again), so
a block that arrives in many small pieces costs linear time.
The serializers write nothing that could change a command's structure as FreeSWITCH's `read_packet`
reads it (ESL.md §1.2): no CR, LF or NUL anywhere in the head, no NUL in the body (it is kept as a C
string), no `:` in header names, no value starting with a space (FreeSWITCH would strip it), no
Content-Length of the caller's own; anything else raises `UnsafeCommand`. Arguments travel as a body with its own byte count.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import unquote

_EVENT_TYPE = b"\nContent-Type: text/event-"
MAX_HEADER_BYTES = 1 << 20  # FreeSWITCH's largest real header block (the connect reply) is ~10 KB
MAX_BODY_BYTES = 16 << 20  # libesl's ESL_MAX_CONTENT_LENGTH


class ProtocolError(Exception):
    """The byte stream cannot be framed any more; close the connection."""


class FrameTooLarge(ProtocolError):
    """A header block or body exceeds the configured limit."""


class BadContentLength(ProtocolError):
    """A Content-Length header that is not a non-negative whole number."""


class UnsafeCommand(ValueError):
    """A command line, header or body that would change the command's structure (or not arrive intact)."""


MAX_COMMAND_HEAD_BYTES = 8 << 20  # FreeSWITCH cuts a command head at 10 MB (and parses the cut part)


def ascii_int(text: str | None) -> int | None:
    """The value of a field of ASCII digits 0-9 (spaces around allowed), else None.

    `str.isdigit()` accepts `²` (which `int()` refuses) and `int()` accepts Arabic-Indic or full-width
    digits; a number from the switch is only ever ASCII, so anything else is not a number.
    """
    if text is None:
        return None
    text = text.strip(" \t")
    if not text or len(text) > 18 or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame from FreeSWITCH: its outer headers (decoded, in wire order) and raw body bytes."""

    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").lower()

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text", "")

    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.body.decode("utf-8", "replace")


def decode_value(raw: str) -> str:
    """URL-decode one header value the way libesl does: only %XX sequences, `+` stays `+`."""
    if "%" not in raw:
        return raw
    return unquote(raw, encoding="utf-8", errors="replace")


_HEADER_LINE = re.compile(r"([^:\n]+): ?([^\n]*)")


def parse_header_lines(block: str, decode: bool = True) -> dict[str, str]:
    """Split `Name: value` lines (LF separated; lines without a colon are skipped); values URL-decoded
    unless decode is False.

    A repeated header keeps its last value, as Python's json does for the JSON format, so both formats
    read the same: a sendmsg's PRIVATE_COMMAND event carries `Event-Name: COMMAND` first and
    `Event-Name: PRIVATE_COMMAND` last (capture 12); the repeated Hangup-Cause of
    CHANNEL_HANGUP_COMPLETE has equal copies. One regular-expression pass does the splitting in C,
    which matters at 150 headers per event.
    """
    pairs = _HEADER_LINE.findall(block)
    if decode:
        return {name: decode_value(value) for name, value in pairs}
    return dict(pairs)


class Parser:
    """Incremental ESL frame parser for the client side of a connection (inbound or outbound)."""

    __slots__ = ("_parts", "_parts_len", "_pending_headers", "_need", "_error", "_tail_lf", "max_header_bytes",
                 "max_body_bytes")

    def __init__(self, max_header_bytes: int = MAX_HEADER_BYTES, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._parts: list[bytes] = []  # received bytes not yet framed
        self._parts_len = 0
        self._pending_headers: dict[str, str] | None = None
        self._need = 0
        self._error: ProtocolError | None = None
        self._tail_lf = False  # the buffered bytes end with LF (a header block may end across two reads)
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return self._parts_len

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes; return every frame completed by them (possibly none)."""
        if self._error is not None:
            raise self._error
        data = bytes(data)
        # Slices of one immutable buffer; while a large body or an unfinished header block is still arriving,
        # chunks are only collected (joined once when complete), so memory and copying stay linear.
        if self._parts:
            if not data:
                return []
            self._parts.append(data)
            self._parts_len += len(data)
            if self._pending_headers is not None:
                if self._parts_len < self._need:
                    return []
            elif b"\n\n" not in data and not (self._tail_lf and data[0] == 10):
                # The buffered bytes hold no blank line; only these new ones (or the seam) could end the block.
                self._tail_lf = data[-1] == 10
                if self._parts_len > self.max_header_bytes:
                    self._fail(FrameTooLarge(f"header block exceeds {self.max_header_bytes} bytes"))
                return []
            buf = b"".join(self._parts)
            self._parts, self._parts_len = [], 0
        else:
            buf = data
        size = len(buf)
        frames: list[Frame] = []
        append = frames.append
        start = 0
        try:
            while True:
                if self._pending_headers is not None:
                    end = start + self._need
                    if end > size:
                        break
                    append(Frame(self._pending_headers, buf[start:end]))
                    self._pending_headers = None
                    start = end
                    continue
                # Skip stray line breaks between frames, as FreeSWITCH itself does.
                while start < size and buf[start] in (10, 13):
                    start += 1
                idx = buf.find(b"\n\n", start)  # FreeSWITCH only ever sends LF
                if idx == -1:
                    if size - start > self.max_header_bytes:
                        raise FrameTooLarge(f"header block exceeds {self.max_header_bytes} bytes")
                    break
                if idx - start > self.max_header_bytes:
                    raise FrameTooLarge(f"header block exceeds {self.max_header_bytes} bytes")
                line_end = buf.find(b"\n", start)
                if (buf.startswith(b"Content-Length: ", start) and buf.startswith(_EVENT_TYPE, line_end)
                        and buf.find(b"\n", line_end + 1, idx) == -1):
                    # The frame of every event: exactly `Content-Length: N` then `Content-Type: text/event-…`.
                    headers = {"Content-Length": buf[start + 16:line_end].decode("ascii", "replace"),
                               "Content-Type": buf[line_end + 15:idx].decode("ascii", "replace")}
                else:
                    headers = parse_header_lines(buf[start:idx].decode("utf-8", "replace"))
                start = idx + 2
                length_text = headers.get("Content-Length")
                if length_text is None:
                    for name, value in headers.items():  # match case-insensitively, rarely needed
                        if name.lower() == "content-length":
                            length_text = value
                            break
                    else:
                        append(Frame(headers))
                        continue
                need = ascii_int(length_text)
                if need is None:
                    digits = length_text.strip()
                    if len(digits) > 18 and digits.isascii() and digits.isdigit():
                        raise FrameTooLarge(f"body of {digits[:40]}... bytes exceeds {self.max_body_bytes}")
                    raise BadContentLength(f"Content-Length {length_text[:40]!r} is not a byte count")
                if need > self.max_body_bytes:
                    raise FrameTooLarge(f"body of {need} bytes exceeds {self.max_body_bytes}")
                if need == 0:
                    append(Frame(headers))
                    continue
                self._pending_headers, self._need = headers, need
        except ProtocolError as exc:
            self._fail(exc)
        if start < size:
            self._parts, self._parts_len = [buf[start:]], size - start
            self._tail_lf = buf[-1] == 10
        return frames

    def _fail(self, exc: ProtocolError) -> None:
        """Poison the parser (every later feed raises the same error) and drop what it buffered."""
        self._error = exc
        self._parts, self._parts_len = [], 0
        raise exc


_UNSAFE_IN_HEAD = re.compile(r"[\x00\r\n]")
_SENDMSG_TARGET = re.compile(r"[!-~]{1,128}")  # a channel UUID: printable ASCII, no space


def _check_text(text: str, what: str) -> None:
    """Refuse what `read_packet` would cut at (CR, LF, NUL) and text that cannot be sent as UTF-8."""
    if not isinstance(text, str):
        raise UnsafeCommand(f"{what} must be text, got {type(text).__name__}")
    if _UNSAFE_IN_HEAD.search(text):
        raise UnsafeCommand(f"{what} must not contain CR, LF or NUL: {text[:60]!r}")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise UnsafeCommand(f"{what} is not valid Unicode text: {text[:60]!r}") from None


def encode_command(line: str, headers: Mapping[str, str] | None = None, body: str | bytes | None = None) -> bytes:
    """Serialize one client command: the command line, `Name: value` headers, a blank line, then the body.

    A body gets a `Content-Length` in bytes (and `Content-Type: text/plain` unless one is given). A header
    whose value is empty is left out: FreeSWITCH drops it anyway (ESL.md §1.2). Whatever the values hold,
    FreeSWITCH reads back exactly this line, these headers and this body, or `UnsafeCommand` is raised.
    """
    _check_text(line, "command line")
    if not line:
        raise UnsafeCommand("command line must not be empty")
    parts = [line]
    has_type = False
    if headers:
        for name, value in headers.items():
            _check_text(name, "header name")
            value = value if isinstance(value, str) else str(value)
            _check_text(value, f"header {name[:40]!r}")
            if not name or ":" in name:
                raise UnsafeCommand(f"header name must be non-empty and contain no ':': {name[:60]!r}")
            lowered = name.lower()
            if lowered == "content-length":
                raise UnsafeCommand("Content-Length is written by the serializer, not passed as a header")
            if not value:
                continue
            if value[0] == " ":
                raise UnsafeCommand(f"header {name[:40]!r} must not start with a space: {value[:60]!r}")
            if lowered == "content-type":
                has_type = True
            parts.append(f"{name}: {value}")
    if body is None:
        head = ("\n".join(parts) + "\n\n").encode("utf-8")
        data = b""
    else:
        if isinstance(body, str):
            _check_body_text(body)
            data = body.encode("utf-8")
        elif isinstance(body, (bytes, bytearray, memoryview)):
            data = bytes(body)
        else:
            raise UnsafeCommand(f"body must be text or bytes, got {type(body).__name__}")
        if b"\x00" in data:  # FreeSWITCH keeps the body as a C string: it would end at the NUL
            raise UnsafeCommand("body must not contain NUL")
        if len(data) > MAX_BODY_BYTES:
            raise UnsafeCommand(f"body of {len(data)} bytes exceeds FreeSWITCH's {MAX_BODY_BYTES}")
        if not has_type:
            parts.append("content-type: text/plain")
        parts.append(f"content-length: {len(data)}")
        head = ("\n".join(parts) + "\n\n").encode("utf-8")
    if len(head) > MAX_COMMAND_HEAD_BYTES:
        raise UnsafeCommand(f"command head of {len(head)} bytes exceeds {MAX_COMMAND_HEAD_BYTES}")
    return head + data


def _check_body_text(body: str) -> None:
    if not body.isascii():
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            raise UnsafeCommand(f"body is not valid Unicode text: {body[:60]!r}") from None


def encode_sendmsg(uuid: str | None, call_command: str, headers: Mapping[str, str],
                   body: str | None = None) -> bytes:
    """Serialize `sendmsg [uuid]` with `call-command` and its headers (and an optional text body)."""
    if uuid is not None and uuid != "" and not (isinstance(uuid, str) and _SENDMSG_TARGET.fullmatch(uuid)):
        raise UnsafeCommand(f"sendmsg target must be a channel UUID (printable ASCII, no space): {uuid!r:.60}")
    if not isinstance(call_command, str) or not call_command:
        raise UnsafeCommand("call-command must be non-empty text")
    if any(name.lower() == "call-command" for name in headers if isinstance(name, str)):
        raise UnsafeCommand("call-command is given once, as its own argument")
    all_headers = {"call-command": call_command, **headers}
    return encode_command(f"sendmsg {uuid}" if uuid else "sendmsg", all_headers, body)
