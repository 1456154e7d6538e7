"""Forward bus messages (screen-pops by default) to HTTP webhooks as JSON, without blocking the publisher."""
from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any, Callable, Iterable, Mapping

import gevent

from engine.acd.bus import TOPIC_SCREEN_POP, Bus

log = logging.getLogger(__name__)

Post = Callable[[str, bytes, float], int]


def http_post(url: str, body: bytes, timeout: float) -> int:
    """POST a JSON body; returns the HTTP status (raises on network errors)."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URLs only
        return response.status


class WebhookForwarder:
    """Subscribe to `topics` on the bus and POST each payload to every URL (one greenlet per delivery)."""

    def __init__(self, bus: Bus, urls: Iterable[str], *, topics: Iterable[str] = (TOPIC_SCREEN_POP,),
                 post: Post = http_post, timeout: float = 3.0) -> None:
        self.urls = [u for u in urls if u]
        self.post = post
        self.timeout = timeout
        self.delivered = 0
        self.failed = 0
        self._unsubscribe = [bus.subscribe(self._forward, topic) for topic in topics]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def _forward(self, topic: str, payload: Mapping[str, Any]) -> None:
        body = json.dumps({"topic": topic, **payload}, ensure_ascii=False, default=str).encode("utf-8")
        for url in self.urls:
            gevent.spawn(self._deliver, url, body, str(payload.get("call_id", "?")))

    def _deliver(self, url: str, body: bytes, call_id: str) -> None:
        try:
            status = self.post(url, body, self.timeout)
        except Exception as exc:  # network errors must never disturb the call
            self.failed += 1
            log.warning("call %s: webhook %s failed: %s", call_id, url, exc)
            return
        if 200 <= status < 300:
            self.delivered += 1
        else:
            self.failed += 1
            log.warning("call %s: webhook %s answered HTTP %s", call_id, url, status)
