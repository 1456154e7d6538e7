"""The webhook outbox: add events (idempotent per event and subscriber), hand out what is due, record results."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.store.database import Store, driver_errors
from engine.store.models import CallbackRow, WebhookOutboxRow, as_utc

_O = WebhookOutboxRow.__table__


@dataclass(frozen=True)
class OutboxRow:
    """One stored delivery (an event for one subscriber)."""

    id: int
    event_id: str
    subscriber: str
    kind: str
    ordering_key: str
    body: str
    created_at: dt.datetime
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str
    delivered_at: dt.datetime | None
    dead_at: dt.datetime | None


@dataclass(frozen=True)
class SubscriberStatus:
    """`jinqiao webhooks status` for one subscriber."""

    subscriber: str
    pending: int
    failing: int  # pending with at least one failed attempt
    dead: int
    delivered: int
    oldest_pending_at: dt.datetime | None


def _utc(value: Any) -> dt.datetime | None:
    """A raw aggregate of a UtcDateTime column (naive UTC, or text on SQLite) as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return as_utc(value)


def _row(r: Any) -> OutboxRow:
    return OutboxRow(**{name: getattr(r, name) for name in OutboxRow.__dataclass_fields__})


class OutboxRepository:
    """Store side of engine/webhooks: rows of `webhook_outbox`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ----- adding --------------------------------------------------------------------------------
    def add(self, rows: Iterable[dict[str, Any]], conn: Any = None) -> int:
        """Insert deliveries (keys: event_id, subscriber, kind, ordering_key, body), created and due now; one
        already there (the same event for the same subscriber, e.g. a replayed journal line) is left as it is.
        With `conn`, inside the caller's transaction (the fact and its event commit together)."""
        now = dt.datetime.now(dt.timezone.utc)
        rows = [{**r, "attempts": 0, "last_error": "", "created_at": now, "next_attempt_at": now} for r in rows]
        if not rows:
            return 0
        if conn is not None:
            return self._insert(conn, rows)
        with driver_errors(), self.store.engine.begin() as own:
            return self._insert(own, rows)

    def _insert(self, conn: Any, rows: list[dict[str, Any]]) -> int:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(_O).on_conflict_do_nothing(index_elements=["event_id", "subscriber"])
        return conn.execute(statement, rows).rowcount or 0

    # ----- delivering ----------------------------------------------------------------------------
    def undelivered(self, subscriber: str, limit: int = 200) -> list[OutboxRow]:
        """Pending deliveries of one subscriber (neither delivered nor dead), oldest first."""
        with self.store.session() as s:
            found = s.scalars(select(WebhookOutboxRow).where(
                WebhookOutboxRow.subscriber == subscriber, WebhookOutboxRow.delivered_at.is_(None),
                WebhookOutboxRow.dead_at.is_(None)).order_by(WebhookOutboxRow.id).limit(limit)).all()
            return [_row(r) for r in found]

    def due_heads(self, subscriber: str, now: dt.datetime | float, limit: int = 200) -> list[OutboxRow]:
        """Pending deliveries that are due and first in line for their ordering key (no earlier pending
        delivery with the same key), oldest first: what the worker may send now."""
        earlier = WebhookOutboxRow.__table__.alias("earlier")
        blocked = select(earlier.c.id).where(
            earlier.c.subscriber == _O.c.subscriber, earlier.c.ordering_key == _O.c.ordering_key,
            earlier.c.id < _O.c.id, earlier.c.delivered_at.is_(None), earlier.c.dead_at.is_(None)).exists()
        query = select(WebhookOutboxRow).where(
            WebhookOutboxRow.subscriber == subscriber, WebhookOutboxRow.delivered_at.is_(None),
            WebhookOutboxRow.dead_at.is_(None), WebhookOutboxRow.next_attempt_at <= as_utc(now), ~blocked,
        ).order_by(WebhookOutboxRow.id).limit(limit)
        with self.store.session() as s:
            return [_row(r) for r in s.scalars(query).all()]

    def delivered(self, row_id: int, at: dt.datetime | float) -> None:
        self._set(row_id, delivered_at=as_utc(at), attempts=_O.c.attempts + 1, last_error="")

    def failed(self, row_id: int, error: str, next_at: dt.datetime | float) -> None:
        self._set(row_id, attempts=_O.c.attempts + 1, last_error=error[:300], next_attempt_at=as_utc(next_at))

    def dead(self, row_id: int, error: str, at: dt.datetime | float) -> None:
        self._set(row_id, attempts=_O.c.attempts + 1, last_error=error[:300], dead_at=as_utc(at))

    def _set(self, row_id: int, **values: Any) -> None:
        with driver_errors(), self.store.engine.begin() as conn:
            conn.execute(update(_O).where(_O.c.id == row_id).values(**values))

    def purge_delivered(self, before: dt.datetime | float) -> int:
        """Forget deliveries made before `before` (dead letters stay until retried); returns how many."""
        with driver_errors(), self.store.engine.begin() as conn:
            return conn.execute(_O.delete().where(_O.c.delivered_at.isnot(None),
                                                  _O.c.delivered_at < as_utc(before))).rowcount or 0

    # ----- operators -----------------------------------------------------------------------------
    def status(self) -> list[SubscriberStatus]:
        """Per subscriber: pending, failing, dead and delivered counts and the oldest pending event."""
        pending = and_(_O.c.delivered_at.is_(None), _O.c.dead_at.is_(None))
        def count(condition: Any) -> Any:
            return func.sum(case((condition, 1), else_=0))

        query = select(
            _O.c.subscriber, count(pending), count(and_(pending, _O.c.attempts > 0)),
            count(_O.c.dead_at.isnot(None)), count(_O.c.delivered_at.isnot(None)),
            func.min(case((pending, _O.c.created_at))),
        ).group_by(_O.c.subscriber).order_by(_O.c.subscriber)
        with self.store.connection() as conn:
            out = []
            for name, p, f, d, ok, oldest in conn.execute(query):
                out.append(SubscriberStatus(name, int(p or 0), int(f or 0), int(d or 0), int(ok or 0),
                                            _utc(oldest)))
            return out

    def backlog(self) -> dict[str, tuple[int, dt.datetime | None]]:
        """Pending count and oldest pending creation time per subscriber (for /metrics)."""
        return {s.subscriber: (s.pending, s.oldest_pending_at) for s in self.status()}

    def problems(self, limit: int = 20) -> list[OutboxRow]:
        """Dead deliveries and pending ones that failed at least once, newest first."""
        with self.store.session() as s:
            found = s.scalars(select(WebhookOutboxRow).where(
                WebhookOutboxRow.delivered_at.is_(None),
                (WebhookOutboxRow.attempts > 0) | WebhookOutboxRow.dead_at.isnot(None))
                .order_by(WebhookOutboxRow.id.desc()).limit(limit)).all()
            return [_row(r) for r in found]

    def requeue(self, row_id: int | None, now: dt.datetime | float) -> int:
        """Send again: one delivery by id (dead or failing), or every dead one when `row_id` is None."""
        query = update(_O).where(_O.c.delivered_at.is_(None))
        query = query.where(_O.c.id == row_id) if row_id is not None else query.where(_O.c.dead_at.isnot(None))
        with driver_errors(), self.store.engine.begin() as conn:
            return conn.execute(query.values(dead_at=None, attempts=0, next_attempt_at=as_utc(now))).rowcount or 0

    def get(self, row_id: int) -> OutboxRow | None:
        with self.store.session() as s:
            found = s.get(WebhookOutboxRow, row_id)
            return _row(found) if found is not None else None

    # ----- callbacks that fall due ---------------------------------------------------------------
    def last_created(self, kind: str) -> dt.datetime | None:
        with self.store.connection() as conn:
            value = conn.execute(select(func.max(_O.c.created_at)).where(_O.c.kind == kind)).scalar()
        return _utc(value)

    def callbacks_due(self, since: dt.datetime | float, until: dt.datetime | float) -> list[dict[str, Any]]:
        """Open callbacks whose due time falls in (since, until]."""
        with self.store.session() as s:
            found = s.scalars(select(CallbackRow).where(
                CallbackRow.status == "open", CallbackRow.due_at > as_utc(since), CallbackRow.due_at <= as_utc(until))
                .order_by(CallbackRow.due_at, CallbackRow.id)).all()
            return [{"callback_id": r.id, "number": r.number, "due_at": r.due_at, "reason": r.reason,
                     "source": r.source, "customer_id": r.customer_id, "interaction_id": r.interaction_id}
                    for r in found]

