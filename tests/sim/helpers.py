"""Test helpers: a tiny frame splitter and blocking ESL peers (inbound client, outbound server) over real sockets."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

import gevent
from gevent import socket
from gevent.queue import Queue
from gevent.server import StreamServer

from tests.conftest import CAPTURES as _CAPTURES

CAPTURES = str(_CAPTURES)


@dataclass
class Frame:
    headers: list[tuple[str, str]]
    body: bytes = b""
    event: list[tuple[str, str]] | None = None     # inner event headers (decoded), for event frames
    event_body: str = ""

    @property
    def h(self) -> dict[str, str]:
        return dict(self.headers)

    @property
    def content_type(self) -> str:
        return self.h.get("Content-Type", "")

    @property
    def ev(self) -> dict[str, str]:
        return dict(self.event or [])

    @property
    def event_name(self) -> str:
        return self.ev.get("Event-Name", "")


def _parse_event(ctype: str, body: bytes) -> tuple[list[tuple[str, str]] | None, str]:
    if ctype == "text/event-plain":
        head, _, rest = body.partition(b"\n\n")
        items = []
        for line in head.decode("utf-8").split("\n"):
            k, _, v = line.partition(": ")
            items.append((k, unquote(v)))
        return items, rest.decode("utf-8")
    if ctype == "text/event-xml":
        text = body.decode("utf-8")
        head = text.split("<headers>", 1)[1].split("</headers>", 1)[0]
        items = [(k, unquote(v)) for k, v in re.findall(r"<([^>/]+)>(.*?)</\1>", head)]
        m = re.search(r"<body>(.*)\n  </body>", text, re.S)
        return items, m.group(1) if m else ""
    if ctype == "text/event-json":
        obj = json.loads(body, object_pairs_hook=list)
        items = [(k, v) for k, v in obj if k != "_body"]
        body_text = next((v for k, v in obj if k == "_body"), "")
        return items, body_text
    return None, ""


class Splitter:
    """Header block up to a blank line, then Content-Length bytes of body."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> list[Frame]:
        self.buf += data
        out = []
        while True:
            end = self.buf.find(b"\n\n")
            if end < 0:
                break
            head = self.buf[:end].decode("utf-8")
            headers = []
            for line in head.split("\n"):
                k, _, v = line.partition(": ")
                headers.append((k, v))
            d = dict(headers)
            n = int(d.get("Content-Length", 0))
            if len(self.buf) < end + 2 + n:
                break
            body = self.buf[end + 2:end + 2 + n]
            self.buf = self.buf[end + 2 + n:]
            ev, evb = _parse_event(d.get("Content-Type", ""), body)
            out.append(Frame(headers, body, ev, evb))
        return out


def split_file(path: str) -> list[Frame]:
    with open(path, "rb") as f:
        return Splitter().feed(f.read())


def commands_of(path: str) -> list[str]:
    """The command blocks of a to_fs.txt, each with its trailing blank line."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    return [b + "\n\n" for b in text.split("\n\n") if b.strip()]


@dataclass
class Peer:
    """One ESL connection seen from the client side; frames arrive in a queue."""

    sock: socket.socket
    frames: Queue = field(default_factory=Queue)
    log: list[Frame] = field(default_factory=list)
    closed: bool = False
    raw: bytearray = field(default_factory=bytearray)     # every byte received, for parser tests

    def __post_init__(self) -> None:
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        sp = Splitter()
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.raw += data
                for fr in sp.feed(data):
                    self.log.append(fr)
                    self.frames.put(fr)
        except OSError:
            pass
        self.closed = True
        self.frames.put(None)

    def send(self, text: str) -> None:
        if not text.endswith("\n\n"):
            text += "\n\n"
        self.sock.sendall(text.encode("utf-8"))

    def next(self, timeout: float = 5.0) -> Frame:
        fr = self.frames.get(timeout=timeout)
        assert fr is not None, "connection closed"
        return fr

    def next_reply(self, timeout: float = 5.0) -> Frame:
        """Next command/reply or api/response (events before it stay in the log)."""
        while True:
            fr = self.next(timeout)
            if fr.content_type in ("command/reply", "api/response", "auth/request"):
                return fr

    def cmd(self, text: str, timeout: float = 5.0) -> Frame:
        self.send(text)
        return self.next_reply(timeout)

    def wait_event(self, pred, timeout: float = 5.0) -> Frame:
        while True:
            fr = self.next(timeout)
            if fr.event is not None and pred(fr):
                return fr

    def wait_closed(self, timeout: float = 5.0) -> bool:
        self._reader.join(timeout)
        return self.closed

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def connect_inbound(address, password: str = "ClueCon", auth: bool = True) -> Peer:
    sock = socket.create_connection(address)
    peer = Peer(sock)
    first = peer.next()
    assert first.content_type == "auth/request"
    if auth:
        assert peer.cmd("auth %s" % password).h["Reply-Text"] == "+OK accepted"
    return peer


class OutboundServer:
    """A minimal engine-side outbound listener: accepts the sim's `socket` connections as Peers."""

    def __init__(self) -> None:
        self.peers: Queue = Queue()
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.server.address[1]

    def _handle(self, sock, addr) -> None:
        peer = Peer(sock)
        self.peers.put(peer)
        peer._reader.join()

    def accept(self, timeout: float = 5.0) -> Peer:
        return self.peers.get(timeout=timeout)

    def stop(self) -> None:
        self.server.stop(timeout=1)
