"""The webhook outbox: one row per event and subscriber, kept until delivered (or dead) so a crash loses none."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models.base import Base, UtcDateTime


class WebhookOutboxRow(Base):
    """An event waiting for (or done with) delivery to one subscriber; `body` is the exact JSON that is signed."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (UniqueConstraint("event_id", "subscriber"),
                      Index("ix_webhook_outbox_pending", "subscriber", "delivered_at", "dead_at", "id"),
                      Index("ix_webhook_outbox_key", "subscriber", "ordering_key", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    subscriber: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    ordering_key: Mapped[str] = mapped_column(String(128))  # events of one key go out in id order
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    dead_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
