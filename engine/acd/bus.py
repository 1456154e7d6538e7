"""A small in-process publish/subscribe bus for ACD events (screen-pops, agent states) the web console reads."""
from __future__ import annotations

import logging
from collections import deque
from typing import Any, Callable, Mapping

log = logging.getLogger(__name__)

Subscriber = Callable[[str, Mapping[str, Any]], None]

TOPIC_SCREEN_POP = "acd.screen_pop"
TOPIC_AGENT_STATE = "acd.agent_state"
TOPIC_CALL = "acd.call"


class Bus:
    """Synchronous fan-out: `publish(topic, payload)` calls every subscriber of that topic (or of all topics).

    Subscribers run in the publisher's greenlet and must not block; a failing subscriber is logged and
    the others still run. The last `keep` messages are kept for late readers and tests.
    """

    def __init__(self, keep: int = 500) -> None:
        self._subscribers: dict[str | None, list[Subscriber]] = {}
        self.recent: deque[tuple[str, Mapping[str, Any]]] = deque(maxlen=keep)

    def subscribe(self, subscriber: Subscriber, topic: str | None = None) -> Callable[[], None]:
        """Receive messages of `topic` (every topic when None); returns an unsubscribe function."""
        self._subscribers.setdefault(topic, []).append(subscriber)

        def unsubscribe() -> None:
            listeners = self._subscribers.get(topic, [])
            if subscriber in listeners:
                listeners.remove(subscriber)
        return unsubscribe

    def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        self.recent.append((topic, payload))
        for subscriber in (*self._subscribers.get(topic, ()), *self._subscribers.get(None, ())):
            try:
                subscriber(topic, payload)
            except Exception:
                log.exception("bus subscriber failed on %s", topic)

    def messages(self, topic: str) -> list[Mapping[str, Any]]:
        """Recent payloads of one topic, oldest first."""
        return [payload for t, payload in self.recent if t == topic]
