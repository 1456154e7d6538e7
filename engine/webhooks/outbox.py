"""Put events in the store's outbox, one row per interested subscriber, alone or inside the fact's transaction."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Mapping

from engine.webhooks.config import WebhookSettings
from engine.webhooks.events import CAMPAIGN_ATTEMPT_ENDED, WebhookEvent


class Outbox:
    """The enqueue side; `on_enqueued` (the delivery worker's wake-up) runs after each stored event."""

    def __init__(self, repo: Any, settings: WebhookSettings) -> None:
        self.repo = repo
        self.settings = settings
        self.on_enqueued: Callable[[], None] = lambda: None

    def wanted(self, kind: str) -> bool:
        return any(s.wants(kind) for s in self.settings.subscribers)

    def rows(self, event: WebhookEvent) -> list[dict[str, Any]]:
        body = event.body()
        return [{"event_id": event.event_id, "subscriber": s.name, "kind": event.kind, "ordering_key": event.key[:128],
                 "body": body} for s in self.settings.subscribers if s.wants(event.kind)]

    def enqueue(self, event: WebhookEvent | Mapping[str, Any], conn: Any = None) -> int:
        """Store the event for each subscriber that wants it (a second enqueue of the same event adds nothing);
        with `conn`, in the caller's transaction. Accepts the dict form the write-behind journal keeps."""
        if not isinstance(event, WebhookEvent):
            event = WebhookEvent.from_dict(event)
        added = self.repo.add(self.rows(event), conn=conn)
        if conn is None and added:
            self.on_enqueued()
        return added

    def attempt_ended(self, conn: Any, facts: Mapping[str, Any]) -> None:
        """DialAttemptRepository's hook: the concluded attempt's event, in the transaction that concludes it."""
        if not self.wanted(CAMPAIGN_ATTEMPT_ENDED):
            return
        at = facts["ended_at"]
        data = {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in facts.items()}
        self.enqueue(WebhookEvent(CAMPAIGN_ATTEMPT_ENDED, f"attempt-{facts['attempt_id']}", at.timestamp(), data,
                                  event_id=f"attempt-ended-{facts['attempt_id']}"), conn=conn)
        self.on_enqueued()  # the worker looks after the commit (its poll finds it if this was too early)
