"""Callbacks: promises to call a number back, one per number and local day, worked by dialer or agents."""
from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from engine.store.database import Store
from engine.store.errors import NotFound, StoreConflict
from engine.store.models import CallbackRow, CustomerPhoneRow, as_utc
from engine.store.phones import mask, normalize, timezone_for
from engine.store.records import Callback, CallbackStatus
from engine.store.repos.convert import to_record

log = logging.getLogger(__name__)


def local_day(number: str, at: dt.datetime) -> dt.date:
    """The calendar day at `at` in the number's own time zone (UTC when unknown)."""
    zone = timezone_for(number)
    try:
        return at.astimezone(ZoneInfo(zone)).date() if zone else at.date()
    except Exception:  # zoneinfo data missing for that zone
        return at.date()


class CallbackRepository:
    """Request, list and close callbacks."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def request(self, number: str, reason: str, due_at: dt.datetime | float, source: str,
                customer_id: int | None = None, interaction_id: int | None = None,
                now: dt.datetime | float | None = None) -> Callback:
        """Ask for a callback; a second request for the same number and local day returns the first one.

        A request after that day's callback was closed (done, failed, cancelled) reopens it: one row per
        number and day, but a caller who needs us again is never left without a callback.

        The merged callback keeps its original due time and counts the request in `requests`;
        a later request that is due earlier pulls the due time forward. Raises InvalidPhoneNumber.
        """
        e164 = normalize(number, self.store.region)
        due = as_utc(due_at)
        day = local_day(e164, due)
        created = as_utc(now) or dt.datetime.now(dt.timezone.utc)
        for _ in range(2):  # a concurrent insert of the same (number, day) makes the first try fail
            try:
                with self.store.session() as s:
                    row = s.scalars(select(CallbackRow).where(CallbackRow.number == e164, CallbackRow.day == day)).first()
                    if row is not None and row.status != CallbackStatus.OPEN.value:
                        # That day's callback was already worked (or cancelled): this is a new need.
                        row.status, row.closed_at, row.attempts = CallbackStatus.OPEN.value, None, 0
                        row.requests += 1
                        row.due_at, row.reason, row.source = due, str(reason)[:200], str(source)[:32]
                        row.interaction_id = interaction_id or row.interaction_id
                        row.customer_id = row.customer_id or customer_id or self._customer_of(s, e164)
                        s.flush()
                        log.info("callback %s for %s reopened (%s)", row.id, mask(e164), source)
                        return to_record(Callback, row)
                    if row is not None:
                        row.requests += 1
                        row.due_at = min(row.due_at, due)
                        row.customer_id = row.customer_id or customer_id or self._customer_of(s, e164)
                        s.flush()
                        log.info("callback %s for %s merged (%d requests)", row.id, mask(e164), row.requests)
                        return to_record(Callback, row)
                    row = CallbackRow(number=e164, day=day, reason=str(reason)[:200], source=str(source)[:32],
                                      due_at=due, status=CallbackStatus.OPEN.value, requests=1, attempts=0,
                                      customer_id=customer_id or self._customer_of(s, e164),
                                      interaction_id=interaction_id, created_at=created)
                    s.add(row)
                    s.flush()
                    log.info("callback %s requested for %s (%s)", row.id, mask(e164), source)
                    return to_record(Callback, row)
            except StoreConflict:
                continue
        raise AssertionError("unreachable: callback insert raced twice")

    def get(self, callback_id: int) -> Callback | None:
        with self.store.session() as s:
            row = s.get(CallbackRow, callback_id)
            return to_record(Callback, row) if row else None

    def due(self, now: dt.datetime | float, limit: int = 100) -> list[Callback]:
        """Open callbacks whose due time has come, oldest due first."""
        with self.store.session() as s:
            rows = s.scalars(select(CallbackRow).where(CallbackRow.status == CallbackStatus.OPEN.value,
                                                       CallbackRow.due_at <= as_utc(now))
                             .order_by(CallbackRow.due_at, CallbackRow.id).limit(limit))
            return [to_record(Callback, r) for r in rows]

    def open_for(self, customer_id: int | None = None, numbers: tuple[str, ...] = ()) -> list[Callback]:
        """Open callbacks of a customer or of any of the given E.164 numbers, soonest first."""
        conditions = []
        if customer_id is not None:
            conditions.append(CallbackRow.customer_id == customer_id)
        if numbers:
            conditions.append(CallbackRow.number.in_(list(numbers)))
        if not conditions:
            return []
        with self.store.session() as s:
            rows = s.scalars(select(CallbackRow).where(CallbackRow.status == CallbackStatus.OPEN.value, or_(*conditions))
                             .order_by(CallbackRow.due_at, CallbackRow.id))
            return [to_record(Callback, r) for r in rows]

    def list(self, status: CallbackStatus | str | None = CallbackStatus.OPEN, limit: int = 100) -> list[Callback]:
        """Callbacks with this status (None: any), soonest due first, at most `limit`."""
        query = select(CallbackRow)
        if status is not None:
            query = query.where(CallbackRow.status == CallbackStatus(status).value)
        with self.store.session() as s:
            rows = s.scalars(query.order_by(CallbackRow.due_at, CallbackRow.id).limit(max(1, int(limit))))
            return [to_record(Callback, r) for r in rows]

    def record_attempt(self, callback_id: int, agent_id: str | None = None) -> Callback:
        with self.store.session() as s:
            row = self._require(s, callback_id)
            row.attempts += 1
            row.agent_id = agent_id or row.agent_id
            s.flush()
            return to_record(Callback, row)

    def close(self, callback_id: int, status: CallbackStatus | str, at: dt.datetime | float) -> Callback:
        """Mark a callback done, failed or cancelled."""
        status = CallbackStatus(status)
        if status is CallbackStatus.OPEN:
            raise ValueError("close() needs done, failed or cancelled")
        with self.store.session() as s:
            row = self._require(s, callback_id)
            row.status, row.closed_at = status.value, as_utc(at)
            s.flush()
            return to_record(Callback, row)

    @staticmethod
    def _customer_of(s, e164: str) -> int | None:  # type: ignore[no-untyped-def]
        return s.scalars(select(CustomerPhoneRow.customer_id).where(CustomerPhoneRow.e164 == e164)).first()

    @staticmethod
    def _require(s, callback_id: int) -> CallbackRow:  # type: ignore[no-untyped-def]
        row = s.get(CallbackRow, callback_id)
        if row is None:
            raise NotFound(f"no callback with id {callback_id}")
        return row
