"""Server-side ESL byte formats: FreeSWITCH's url-encoder, event serializers, reply frames, command reader.

How it works: an event is an ordered list of (name, value) headers plus an optional body. It is
serialized once per format (plain/json/xml) and the resulting frame bytes are cached on the event, so
fan-out to many listeners costs one encode. The encoder reproduces `switch_url_encode_opt`'s quirks
(uppercase hex, its unsafe set, `%XX` with uppercase hex digits copied through).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
SHUTDOWN = b"The system is being shut down.\n"
MAX_CONTENT_LENGTH = 16 * 1024 * 1024
MAX_HEADER_BLOCK = 10485760

_UNSAFE = set(b"\r\n #%&+:;<=>?@[\\]^`{|}\"")
_HEX = set(b"0123456789ABCDEF")


@lru_cache(maxsize=65536)
def url_encode(value: str) -> str:
    """Encode like FreeSWITCH's switch_url_encode_opt(double_encode=false)."""
    raw = value.encode("utf-8")
    if all(0x20 <= b <= 0x7E and b not in _UNSAFE for b in raw):
        return value
    out = []
    n = len(raw)
    i = 0
    while i < n:
        b = raw[i]
        if b == 0x25 and i + 2 < n and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
            out.append("%")
        elif b < 0x20 or b > 0x7E or b in _UNSAFE:
            out.append("%%%02X" % b)
        else:
            out.append(chr(b))
        i += 1
    return "".join(out)


def _xml_escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


_json_str = lru_cache(maxsize=65536)(lambda s: json.dumps(s, ensure_ascii=False))


@lru_cache(maxsize=262144)
def _json_pair(name: str, value: str) -> str:
    """`"name":"value"` as cJSON writes it; cached because channel data repeats on every event."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return '%s:"%s"' % (_json_str(name), value)
    return _json_str(name) + ":" + _json_str(value)


@lru_cache(maxsize=262144)
def _plain_line(name: str, value: str) -> str:
    return "%s: %s\n" % (name, url_encode(value) if value != "" else "_undef_")


class Segment:
    """A run of headers shared by many events (a channel's data, its variables), serialized once per format.

    `json_items`/`plain_items`, when given, return the serialized text of the run from per-variable caches
    kept by the channel, so only changed variables are encoded again.
    """

    __slots__ = ("headers", "_json", "_plain", "_json_items", "_plain_items")

    def __init__(self, headers: list[tuple[str, str]], json_items=None, plain_items=None) -> None:
        self.headers = headers
        self._json: str | None = None
        self._plain: str | None = None
        self._json_items = json_items
        self._plain_items = plain_items

    def json(self) -> str:
        if self._json is None:
            self._json = (self._json_items() if self._json_items
                          else ",".join([_json_pair(k, v) for k, v in self.headers]))
        return self._json

    def plain(self) -> str:
        if self._plain is None:
            self._plain = (self._plain_items() if self._plain_items
                           else "".join([_plain_line(k, v) for k, v in self.headers]))
        return self._plain


@dataclass
class Event:
    """One FreeSWITCH event: ordered headers (duplicates allowed) and an optional body."""

    name: str
    headers: list[tuple[str, str]]
    body: str = ""
    subclass: str = ""
    uuid: str = ""            # Unique-ID of the channel it belongs to ("" when none)
    segments: list[tuple[int, Segment]] | None = None   # (start, seg): headers[start:...] is a cached run
    _cache: dict = field(default_factory=dict, repr=False)

    def _pieces(self, one, seg_text) -> list[str]:
        """Serialized header pieces, using the cached segment texts where there are some."""
        if not self.segments:
            return [one(k, v) for k, v in self.headers]
        out: list[str] = []
        pos = 0
        for start, seg in self.segments:
            out += [one(k, v) for k, v in self.headers[pos:start]]
            if seg.headers:
                out.append(seg_text(seg))
            pos = start + len(seg.headers)
        out += [one(k, v) for k, v in self.headers[pos:]]
        return out

    def get(self, name: str) -> str | None:
        """First value of a header (exact name), or None."""
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def get_ci(self, name: str) -> str | None:
        """First value of a header matched case-insensitively (filters do this)."""
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None

    def plain_text(self) -> bytes:
        """The serialized plain event (the frame body), per switch_event_serialize."""
        cached = self._cache.get("plain_text")
        if cached is None:
            parts = self._pieces(_plain_line, Segment.plain)
            if self.body:
                b = self.body.encode("utf-8")
                cached = ("".join(parts) + "Content-Length: %d\n\n" % len(b)).encode("utf-8") + b
            else:
                cached = ("".join(parts) + "\n").encode("utf-8")
            self._cache["plain_text"] = cached
        return cached

    def frame(self, fmt: str) -> bytes:
        """Full wire frame for this event in fmt (plain|json|xml), cached."""
        cached = self._cache.get(fmt)
        if cached is not None:
            return cached
        if fmt == "json":
            pieces = self._pieces(_json_pair, Segment.json)
            if self.body:
                pieces.append(_json_pair("Content-Length", str(len(self.body.encode("utf-8")))))
                pieces.append(_json_pair("_body", self.body))
            # duplicate header names (Hangup-Cause on HANGUP_COMPLETE) are written twice, like cJSON
            payload = ("{" + ",".join(pieces) + "}").encode("utf-8")
            ctype = "text/event-json"
        elif fmt == "xml":
            lines = ["<event>\n  <headers>\n"]
            for k, v in self.headers:
                lines.append("    <%s>%s</%s>\n" % (k, url_encode(v), k))
            lines.append("  </headers>\n")
            if self.body:
                lines.append("  <Content-Length>%d</Content-Length>\n" % len(self.body.encode("utf-8")))
                lines.append("  <body>%s\n  </body>\n" % _xml_escape(self.body).rstrip("\n"))
            lines.append("</event>\n")
            payload = "".join(lines).encode("utf-8")
            ctype = "text/event-xml"
        else:
            payload = self.plain_text()
            ctype = "text/event-plain"
        cached = b"Content-Length: %d\nContent-Type: %s\n\n" % (len(payload), ctype.encode()) + payload
        self._cache[fmt] = cached
        return cached


def auth_request() -> bytes:
    return b"Content-Type: auth/request\n\n"


def command_reply(text: str, extra: list[tuple[str, str]] | None = None) -> bytes:
    """A command/reply frame; text is raw, one line, truncated like FreeSWITCH's 512-byte buffer."""
    text = text.replace("\n", " ")[:510]
    out = "Content-Type: command/reply\nReply-Text: %s\n" % text
    for k, v in extra or ():
        out += "%s: %s\n" % (k, v)
    return (out + "\n").encode("utf-8")


def api_response(body: str | bytes) -> bytes:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data


def disconnect_notice(session_uuid: str | None = None, body: bytes = GOODBYE) -> bytes:
    if session_uuid:
        head = ("Content-Type: text/disconnect-notice\nControlled-Session-UUID: %s\n"
                "Content-Disposition: disconnect\nContent-Length: %d\n\n" % (session_uuid, len(body)))
    else:
        head = "Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(body)
    return head.encode() + body


def linger_notice(session_uuid: str, channel_name: str, linger_time: int) -> bytes:
    return ("Content-Type: text/disconnect-notice\nControlled-Session-UUID: %s\nContent-Disposition: linger\n"
            "Channel-Name: %s\nLinger-Time: %d\nContent-Length: 0\n\n"
            % (session_uuid, channel_name, linger_time)).encode("utf-8")


def connect_reply(channel_data: list[tuple[str, str]], async_mode: bool, full: bool) -> bytes:
    """The outbound `connect` reply: a url-encoded CHANNEL_DATA header block, no Content-Length."""
    lines = ["%s: %s\n" % (k, url_encode(v) if v != "" else "_undef_") for k, v in channel_data]
    lines.append("Content-Type: command/reply\nReply-Text: %2BOK%0A\n")
    lines.append("Socket-Mode: %s\nControl: %s\n\n" % ("async" if async_mode else "static",
                                                      "full" if full else "single-channel"))
    return "".join(lines).encode("utf-8")


def log_data(text: str, level: int, channel_uuid: str = "", file: str = "switch_sim.c", func: str = "sim",
             line: int = 1) -> bytes:
    b = text.encode("utf-8")
    return ("Content-Type: log/data\nContent-Length: %d\nLog-Level: %d\nText-Channel: 3\nLog-File: %s\nLog-Func: %s\n"
            "Log-Line: %d\nUser-Data: %s\n\n" % (len(b), level, file, func, line, channel_uuid)).encode() + b


@dataclass
class Command:
    """One client command block: first line, headers (raw values, never decoded), body."""

    line: str
    headers: dict[str, str]
    body: bytes = b""
    done: object = None          # set when a sync-socket sendmsg has been executed

    def header(self, name: str, default: str = "") -> str:
        """A header by case-insensitive name (the raw value as sent)."""
        lowered = self.__dict__.get("_lowered")
        if lowered is None:
            lowered = {}
            for k, v in self.headers.items():
                lowered.setdefault(k.lower(), v)
            self.__dict__["_lowered"] = lowered
        return lowered.get(name.lower(), default)


class BadContentLength(Exception):
    """The client sent a Content-Length outside 0..16 MiB: FreeSWITCH drops the connection."""


class CommandReader:
    """Incremental read_packet(): bytes in, Command blocks out (LF or CRLF, leading blank lines ignored)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pending: Command | None = None
        self._need = 0

    @property
    def partial(self) -> bool:
        return bool(self._buf) or self._pending is not None

    def feed(self, data: bytes) -> list[Command]:
        self._buf += data
        out: list[Command] = []
        while True:
            if self._pending is not None:
                if len(self._buf) < self._need:
                    break
                self._pending.body = bytes(self._buf[:self._need])
                del self._buf[:self._need]
                out.append(self._pending)
                self._pending = None
                continue
            # strip stray CR/LF before a block
            i = 0
            while i < len(self._buf) and self._buf[i] in (10, 13):
                i += 1
            if i:
                del self._buf[:i]
            end, skip = self._block_end()
            if end < 0:
                if len(self._buf) > MAX_HEADER_BLOCK:
                    end, skip = len(self._buf), 0
                else:
                    break
            block = bytes(self._buf[:end]).decode("utf-8", "replace")
            del self._buf[:end + skip]
            lines = [ln.rstrip("\r") for ln in block.split("\n")]
            headers: dict[str, str] = {}
            for ln in lines[1:]:
                name, sep, value = ln.partition(":")
                if not sep:
                    continue
                value = value.lstrip(" ")
                if value:
                    headers[name] = value
            cmd = Command(lines[0].strip(), headers)
            clen = None
            for k, v in headers.items():
                if k.lower() == "content-length":
                    try:
                        clen = int(v)
                    except ValueError:
                        clen = 0
            if clen is not None and (clen < 0 or clen > MAX_CONTENT_LENGTH):
                raise BadContentLength(str(clen))
            if clen:
                self._pending = cmd
                self._need = clen
                continue
            out.append(cmd)
        return out

    def _block_end(self) -> tuple[int, int]:
        """Index of the end of the header block and how many terminator bytes to skip."""
        buf = self._buf
        start = 0
        while True:
            j = buf.find(b"\n", start)
            if j < 0:
                return -1, 0
            k = j + 1
            while k < len(buf) and buf[k] == 13:
                k += 1
            if k < len(buf) and buf[k] == 10:
                return j, k + 1 - j
            if k >= len(buf):
                return -1, 0
            start = j + 1
