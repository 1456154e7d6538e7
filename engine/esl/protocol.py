"""Sans-IO Event Socket protocol: bytes from FreeSWITCH in, frames out; commands in, bytes out.

How it works: `Parser.feed()` appends to a buffer and cuts complete frames: a header block ending at the
first blank line (LF LF: FreeSWITCH never sends CRLF), then exactly `Content-Length` *bytes* of body when that header
is present. Outer header values are URL-decoded (as libesl does), which turns the outbound `connect`
reply's `Reply-Text: %2BOK%0A` into `+OK\n`. Limits bound memory: a header block or body larger than the
configured maximum raises `FrameTooLarge`, a Content-Length that is not a number raises
`BadContentLength`; after an error the parser is poisoned and the connection must be closed.
The serializers refuse CR/LF inside command lines and header values, and send any multi-line or
space-heavy argument as a body with its own byte count.
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
    """A command line or header value contains CR or LF and would break framing."""


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

    __slots__ = ("_parts", "_parts_len", "_pending_headers", "_need", "_error", "max_header_bytes",
                 "max_body_bytes")

    def __init__(self, max_header_bytes: int = MAX_HEADER_BYTES, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._parts: list[bytes] = []  # received bytes not yet framed
        self._parts_len = 0
        self._pending_headers: dict[str, str] | None = None
        self._need = 0
        self._error: ProtocolError | None = None
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
        # Slices of one immutable buffer; while a large body is still arriving, chunks are only collected
        # (joined once when complete), so memory and copying stay linear.
        if self._parts:
            self._parts.append(bytes(data))
            self._parts_len += len(data)
            if self._pending_headers is not None and self._parts_len < self._need:
                return []
            buf = b"".join(self._parts)
            self._parts, self._parts_len = [], 0
        else:
            buf = bytes(data)
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
                if not length_text.isdigit():
                    length_text = length_text.strip()
                    if not length_text.isdigit():
                        raise BadContentLength(f"Content-Length {length_text[:40]!r} is not a byte count")
                need = int(length_text)
                if need > self.max_body_bytes:
                    raise FrameTooLarge(f"body of {need} bytes exceeds {self.max_body_bytes}")
                if need == 0:
                    append(Frame(headers))
                    continue
                self._pending_headers, self._need = headers, need
        except ProtocolError as exc:
            self._error = exc
            self._parts, self._parts_len = [], 0
            raise
        if start < size:
            self._parts, self._parts_len = [buf[start:]], size - start
        return frames


def _check_line(text: str, what: str) -> None:
    if "\n" in text or "\r" in text:
        raise UnsafeCommand(f"{what} must not contain CR or LF: {text[:60]!r}")


def encode_command(line: str, headers: Mapping[str, str] | None = None, body: str | bytes | None = None) -> bytes:
    """Serialize one client command: the command line, `Name: value` headers, a blank line, then the body.

    A body gets a `Content-Length` in bytes (and `Content-Type: text/plain` unless one is given).
    """
    _check_line(line, "command line")
    parts = [line]
    has_type = False
    if headers:
        for name, value in headers.items():
            value = str(value)
            _check_line(name, "header name")
            _check_line(value, f"header {name}")
            if ":" in name:
                raise UnsafeCommand(f"header name must not contain ':': {name!r}")
            if name.lower() == "content-type":
                has_type = True
            parts.append(f"{name}: {value}")
    if body is None:
        return ("\n".join(parts) + "\n\n").encode("utf-8")
    data = body.encode("utf-8") if isinstance(body, str) else body
    if not has_type:
        parts.append("content-type: text/plain")
    parts.append(f"content-length: {len(data)}")
    return ("\n".join(parts) + "\n\n").encode("utf-8") + data


def encode_sendmsg(uuid: str | None, call_command: str, headers: Mapping[str, str],
                   body: str | None = None) -> bytes:
    """Serialize `sendmsg [uuid]` with `call-command` and its headers (and an optional text body)."""
    all_headers = {"call-command": call_command, **headers}
    return encode_command(f"sendmsg {uuid}" if uuid else "sendmsg", all_headers, body)
