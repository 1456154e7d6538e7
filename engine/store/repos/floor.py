"""Per-queue counts of one period for the supervisor's wallboard (offered, answered, in service level, abandoned)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select

from engine.store.database import Store
from engine.store.models import InteractionRow, as_utc


@dataclass(frozen=True)
class QueueDay:
    """What happened in one queue since a moment (usually the start of the center's day)."""

    queue: str
    offered: int = 0
    answered: int = 0
    answered_in_sla: int = 0
    abandoned: int = 0

    @property
    def service_level(self) -> float | None:
        """Share of answered-or-abandoned calls answered within the threshold (None before any call)."""
        handled = self.answered + self.abandoned
        return self.answered_in_sla / handled if handled else None

    @property
    def abandon_rate(self) -> float | None:
        handled = self.answered + self.abandoned
        return self.abandoned / handled if handled else None


def queue_days(store: Store, since: dt.datetime | float, sla_seconds: float) -> dict[str, QueueDay]:
    """One aggregate query over the interactions that entered a queue since `since`."""
    ix = InteractionRow.__table__.c
    answered = ix.bridged_at.is_not(None)
    query = (select(ix.queue, func.count(), func.sum(case((answered, 1), else_=0)),
                    func.sum(case((and_(answered, ix.wait_seconds <= sla_seconds), 1), else_=0)),
                    func.sum(case((ix.abandoned.is_(True), 1), else_=0)))
             .where(ix.queue.is_not(None), ix.arrived_at >= as_utc(since).replace(tzinfo=None))
             .group_by(ix.queue))
    with store.connection() as conn:
        return {q: QueueDay(q, int(n or 0), int(a or 0), int(s or 0), int(b or 0))
                for q, n, a, s, b in conn.execute(query)}
