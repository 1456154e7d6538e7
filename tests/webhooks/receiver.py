"""A real webhook receiver on loopback (gevent's WSGI server) that verifies signatures and can fail on purpose."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from gevent.pywsgi import WSGIServer

from engine.webhooks.signing import HEADER_EVENT_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, verify


@dataclass
class Receiver:
    """Answers 500 to the first `fail_first` requests, then 200; keeps every request (`tried`) and the
    accepted events (`accepted`), and counts the ones whose signature did not verify (`bad_signatures`)."""

    secret: bytes
    fail_first: int = 0
    tried: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    server: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        timestamp = environ.get("HTTP_" + HEADER_TIMESTAMP.upper().replace("-", "_"), "")
        signature = environ.get("HTTP_" + HEADER_SIGNATURE.upper().replace("-", "_"), "")
        event = json.loads(body)
        assert event["id"] == environ.get("HTTP_" + HEADER_EVENT_ID.upper().replace("-", "_"))
        self.tried.append(event)
        if not verify(self.secret, timestamp, body, signature, now=time.time()):
            self.bad_signatures += 1
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"bad signature"]
        if len(self.tried) <= self.fail_first:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"not now"]
        self.accepted.append(event)
        start_response("204 No Content", [])
        return []

    def start(self) -> "Receiver":
        self.server = WSGIServer(("127.0.0.1", 0), self, log=None, error_log=None)
        self.server.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/jinqiao"

    def stop(self) -> None:
        self.server.stop(timeout=1)

    def ids(self) -> list[str]:
        return [e["id"] for e in self.accepted]
