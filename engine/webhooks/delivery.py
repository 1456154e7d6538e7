"""The delivery worker: one greenlet per subscriber POSTs signed events from the outbox, in order per call,
retrying with backoff; plus a watcher that turns callbacks falling due into events."""
from __future__ import annotations

import http.client
import logging
import random
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import gevent
from gevent.event import Event as Flag

from engine.webhooks.config import Subscriber, WebhookSettings
from engine.webhooks.events import CALLBACK_DUE, WebhookEvent
from engine.webhooks.outbox import Outbox
from engine.webhooks.signing import HEADER_EVENT_ID, HEADER_EVENT_TYPE, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign

log = logging.getLogger(__name__)
MAX_RESPONSE_BYTES = 64 * 1024
CALLBACK_LOOKBACK_S = 86400.0  # a first start looks this far back for callbacks that fell due
PURGE_EVERY_S = 3600.0  # how often delivered events past `keep_delivered_days` are removed


@dataclass(frozen=True)
class Delivery:
    """What the POST gave: ok, or the error kept on the outbox row."""

    ok: bool
    error: str = ""


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Delivery:
    """POST `body` (no redirects followed); 2xx is delivered, anything else an error naming the status."""
    parts = urllib.parse.urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                     headers={**headers, "Content-Type": "application/json; charset=utf-8",
                              "User-Agent": "jinqiao-webhooks"})
        response = conn.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        if 200 <= response.status < 300:
            return Delivery(True)
        return Delivery(False, f"HTTP {response.status} {response.reason}"[:300])
    except (OSError, http.client.HTTPException) as exc:
        return Delivery(False, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        conn.close()


def signed_headers(subscriber: Subscriber, event_id: str, kind: str, body: bytes, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    return {HEADER_TIMESTAMP: timestamp, HEADER_SIGNATURE: sign(subscriber.secret, timestamp, body),
            HEADER_EVENT_ID: event_id, HEADER_EVENT_TYPE: kind}


class DeliveryWorker:
    """Delivers the outbox; `counts[(subscriber, "delivered"|"failed"|"dead")]` feed /metrics."""

    def __init__(self, outbox: Outbox, *, post: Callable[..., Delivery] = http_post,
                 clock: Callable[[], float] = time.time, rand: Callable[[], float] = random.random) -> None:
        self.outbox = outbox
        self.repo = outbox.repo
        self.settings: WebhookSettings = outbox.settings
        self.post = post
        self.clock = clock
        self.rand = rand
        self.counts: Counter[tuple[str, str]] = Counter()
        self._wake = {s.name: Flag() for s in self.settings.subscribers}
        self._greenlets: list[gevent.Greenlet] = []
        self._callbacks_since: float | None = None
        self._stopping = False
        self._stopped = Flag()
        outbox.on_enqueued = self.wake

    def start(self) -> "DeliveryWorker":
        self._stopping = False
        self._stopped.clear()
        for subscriber in self.settings.subscribers:
            self._greenlets.append(gevent.spawn(self._run, subscriber))
        if self.outbox.wanted(CALLBACK_DUE):
            self._greenlets.append(gevent.spawn(self._watch_callbacks))
        self._greenlets.append(gevent.spawn(self._purge))
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Let each greenlet finish the delivery it is in (so a delivered event is marked), then end them."""
        self._stopping = True
        self._stopped.set()
        self.wake()
        gevent.joinall(self._greenlets, timeout=timeout)
        gevent.killall(self._greenlets, block=True, timeout=1)
        self._greenlets = []

    def wake(self) -> None:
        for flag in self._wake.values():
            flag.set()

    # ----- delivering ----------------------------------------------------------------------------
    def _run(self, subscriber: Subscriber) -> None:
        flag = self._wake[subscriber.name]
        while not self._stopping:
            flag.clear()
            try:
                while self.deliver_once(subscriber) and not self._stopping:
                    pass  # delivered something: the next events of those calls are first in line now
            except Exception as exc:  # the store away for a moment: try again at the next poll
                log.warning("webhooks %s: outbox not readable (%s); retrying", subscriber.name, exc)
            flag.wait(self.settings.poll_every)

    def deliver_once(self, subscriber: Subscriber) -> int:
        """One pass over the subscriber's due events that are first in line for their ordering key (an event
        waits while an earlier one with the same key is pending); returns how many were delivered."""
        delivered = 0
        for row in self.repo.due_heads(subscriber.name, self.clock()):
            if self._stopping:
                break
            now = self.clock()
            body = row.body.encode("utf-8")
            result = self.post(subscriber.url, body, signed_headers(subscriber, row.event_id, row.kind, body, now),
                               self.settings.timeout)
            now = self.clock()
            if result.ok:
                self.repo.delivered(row.id, now)
                self.counts[(subscriber.name, "delivered")] += 1
                delivered += 1
                continue
            attempts = row.attempts + 1
            age = now - row.created_at.timestamp()
            if self.settings.retry.dead(attempts, age):
                self.repo.dead(row.id, result.error, now)
                self.counts[(subscriber.name, "dead")] += 1
                log.warning("webhooks %s: event %s (%s) dead after %d attempts: %s", subscriber.name, row.id,
                            row.kind, attempts, result.error)
            else:
                delay = self.settings.retry.delay(attempts, self.rand())
                self.repo.failed(row.id, result.error, now + delay)
                self.counts[(subscriber.name, "failed")] += 1
                log.info("webhooks %s: event %s (%s) attempt %d failed (%s); next in %.1fs", subscriber.name,
                         row.id, row.kind, attempts, result.error, delay)
        return delivered

    def _purge(self) -> None:
        while not self._stopping:
            try:
                removed = self.repo.purge_delivered(self.clock() - self.settings.keep_delivered_days * 86400)
                if removed:
                    log.info("webhooks: removed %d delivered events older than %g days", removed,
                             self.settings.keep_delivered_days)
            except Exception as exc:
                log.warning("webhooks: delivered events not purged (%s); trying again later", exc)
            self._stopped.wait(PURGE_EVERY_S)

    # ----- callbacks falling due -----------------------------------------------------------------
    def _watch_callbacks(self) -> None:
        while not self._stopping:
            try:
                self.callbacks_due_once()
            except Exception as exc:
                log.warning("webhooks: callbacks not readable (%s); retrying", exc)
            self._stopped.wait(self.settings.poll_every)

    def callbacks_due_once(self) -> int:
        """Enqueue callback.due for open callbacks that fell due since the last look (the first look starts at
        the last such event stored, at most a day back); the event id is per callback and due time, so a look
        that overlaps adds nothing twice."""
        now = self.clock()
        if self._callbacks_since is None:
            last = self.repo.last_created(CALLBACK_DUE)
            self._callbacks_since = max(now - CALLBACK_LOOKBACK_S, last.timestamp() - 60 if last else 0.0)
        added = 0
        for due in self.repo.callbacks_due(self._callbacks_since, now):
            at = due["due_at"].timestamp()
            data = {**due, "due_at": due["due_at"].isoformat()}
            added += self.outbox.enqueue(WebhookEvent(CALLBACK_DUE, f"callback-{due['callback_id']}", now, data,
                                                      event_id=f"callback-due-{due['callback_id']}-{int(at)}"))
        self._callbacks_since = now
        return added
