"""Do-not-call lists (black and grey, optionally expiring) and contact attempts for frequency caps."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import bindparam, func, insert, or_, select, update

from engine.store.database import Store
from engine.store.models import ContactAttemptRow, DncEntryRow, as_utc
from engine.store.phones import lookup_variants, mask, normalize
from engine.store.records import ContactAttempt, DncEntry, DncList
from engine.store.repos.convert import to_record

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class DncRepository:
    """Numbers we must not call (black) or may call only under restrictions (grey)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, number: str, list_kind: DncList | str = DncList.BLACK, reason: str = "", source: str = "manual",
            expires_at: dt.datetime | float | None = None, now: dt.datetime | float | None = None) -> DncEntry:
        """Put a number on a list (replacing any previous entry for it). Raises InvalidPhoneNumber."""
        e164 = normalize(number, self.store.region)
        kind = DncList(list_kind)
        with self.store.session() as s:
            row = s.scalars(select(DncEntryRow).where(DncEntryRow.number == e164)).first()
            if row is None:
                row = DncEntryRow(number=e164)
                s.add(row)
            row.list_kind, row.reason, row.source = kind.value, str(reason)[:200], str(source)[:32]
            row.created_at, row.expires_at = as_utc(now) or _now(), as_utc(expires_at)
            s.flush()
            log.info("DNC %s list: %s added", kind.value, mask(e164))
            return to_record(DncEntry, row)

    def add_many(self, entries: list[tuple[str, DncList | str, str, dt.datetime | None]], source: str,
                 now: dt.datetime | float | None = None) -> tuple[int, int]:
        """Upsert already-normalised (E.164, list, reason, expires_at) entries in one transaction:
        (added, replaced)."""
        created = as_utc(now) or _now()
        table = DncEntryRow.__table__
        with self.store.session() as s:
            conn = s.connection()
            numbers = [e[0] for e in entries]
            known: set[str] = set()
            for i in range(0, len(numbers), 5000):
                known.update(conn.execute(select(table.c.number).where(table.c.number.in_(numbers[i:i + 5000]))).scalars())
            rows = [{"number": n, "list_kind": DncList(k).value, "reason": str(r)[:200], "source": str(source)[:32],
                     "created_at": created, "expires_at": as_utc(x)} for n, k, r, x in entries]
            fresh = [r for r in rows if r["number"] not in known]
            old = [{**r, "b_number": r["number"]} for r in rows if r["number"] in known]
            if fresh:
                conn.execute(insert(table), fresh)
            if old:
                conn.execute(update(table).where(table.c.number == bindparam("b_number")).values(
                    list_kind=bindparam("list_kind"), reason=bindparam("reason"), source=bindparam("source"),
                    created_at=bindparam("created_at"), expires_at=bindparam("expires_at")), old)
            return len(fresh), len(old)

    def remove(self, number: str) -> bool:
        variants = lookup_variants(number, self.store.region)
        if not variants:
            return False
        with self.store.session() as s:
            rows = s.scalars(select(DncEntryRow).where(DncEntryRow.number.in_(variants))).all()
            for row in rows:
                s.delete(row)
            return bool(rows)

    def is_blocked(self, number: str, at: dt.datetime | float) -> DncEntry | None:
        """The entry (black or grey) that applies to a number at a time, or None when it may be called.

        A number that cannot be parsed is not on any list (the dialer rejects it for that reason).
        """
        variants = lookup_variants(number, self.store.region)
        if not variants:
            return None
        when = as_utc(at)
        with self.store.session() as s:
            row = s.scalars(select(DncEntryRow).where(
                DncEntryRow.number.in_(variants),
                or_(DncEntryRow.expires_at.is_(None), DncEntryRow.expires_at > when),
            ).order_by(DncEntryRow.list_kind).limit(1)).first()  # "black" sorts before "grey"
            return to_record(DncEntry, row) if row else None

    def list(self, list_kind: DncList | str | None = None, at: dt.datetime | float | None = None) -> list[DncEntry]:
        """Entries by number; only one list when `list_kind` is given, only those in force at `at` when given."""
        query = select(DncEntryRow).order_by(DncEntryRow.number)
        if list_kind is not None:
            query = query.where(DncEntryRow.list_kind == DncList(list_kind).value)
        if at is not None:
            query = query.where(or_(DncEntryRow.expires_at.is_(None), DncEntryRow.expires_at > as_utc(at)))
        with self.store.session() as s:
            return [to_record(DncEntry, r) for r in s.scalars(query)]


class ContactAttemptRepository:
    """Every attempt to reach a number, whatever placed it: the audit trail and frequency caps."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, number: str, outcome: str, at: dt.datetime | float, campaign_id: int | None = None,
               interaction_id: int | None = None) -> ContactAttempt:
        e164 = normalize(number, self.store.region)
        with self.store.session() as s:
            row = ContactAttemptRow(number=e164, outcome=str(outcome)[:32], at=as_utc(at), campaign_id=campaign_id,
                                    interaction_id=interaction_id)
            s.add(row)
            s.flush()
            return to_record(ContactAttempt, row)

    def count_since(self, number: str, since: dt.datetime | float) -> int:
        """How many attempts reached for this number since a time (for "at most N per day" caps)."""
        variants = lookup_variants(number, self.store.region)
        if not variants:
            return 0
        with self.store.session() as s:
            return int(s.scalar(select(func.count()).select_from(ContactAttemptRow).where(
                ContactAttemptRow.number.in_(variants), ContactAttemptRow.at >= as_utc(since))) or 0)

    def last_for(self, number: str) -> ContactAttempt | None:
        variants = lookup_variants(number, self.store.region)
        if not variants:
            return None
        with self.store.session() as s:
            row = s.scalars(select(ContactAttemptRow).where(ContactAttemptRow.number.in_(variants))
                            .order_by(ContactAttemptRow.at.desc(), ContactAttemptRow.id.desc()).limit(1)).first()
            return to_record(ContactAttempt, row) if row else None
