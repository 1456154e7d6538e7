"""Build the outbox and its delivery worker from the config (one call for the daemon)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.webhooks.config import WebhookSettings, load_webhooks
from engine.webhooks.delivery import DeliveryWorker
from engine.webhooks.outbox import Outbox


@dataclass
class RunningWebhooks:
    """The outbox (enqueue side) and its worker; `start`/`stop` run the worker's greenlets."""

    settings: WebhookSettings
    outbox: Outbox
    worker: DeliveryWorker

    def start(self) -> "RunningWebhooks":
        self.worker.start()
        return self

    def stop(self) -> None:
        self.worker.stop()


def build_webhooks(config: Any, store: Any) -> RunningWebhooks | None:
    """The webhooks of `config.webhooks`, or None when no subscriber is configured. Raises WebhookConfigError."""
    from engine.store.repos.webhooks import OutboxRepository

    settings = load_webhooks(getattr(config, "webhooks", None), config.source)
    if not settings.subscribers:
        return None
    outbox = Outbox(OutboxRepository(store), settings)
    return RunningWebhooks(settings, outbox, DeliveryWorker(outbox))
