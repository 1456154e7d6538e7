"""Customers: find by any phone number or account, upsert by phone, track last and owner agent."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.store.database import Store
from engine.store.errors import NotFound, StoreError
from engine.store.models import CustomerPhoneRow, CustomerRow, as_utc
from engine.store.phones import lookup_variants, mask, normalize, timezone_for
from engine.store.records import Customer
from engine.store.customer_fields import clean_field
from engine.store.repos.convert import to_record

log = logging.getLogger(__name__)


class CustomerRepository:
    """Read and write customers; every method is one short transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, customer_id: int) -> Customer | None:
        with self.store.session() as s:
            row = s.get(CustomerRow, customer_id)
            return self._record(row) if row else None

    def find_by_phone(self, raw: str) -> Customer | None:
        """The customer owning a number given in any format a caller ID or a person writes it."""
        variants = lookup_variants(raw, self.store.region)
        if not variants:
            return None
        with self.store.session() as s:
            row = self._by_numbers(s, variants)
            return self._record(row) if row else None

    def find_by_account(self, account_no: str) -> Customer | None:
        with self.store.session() as s:
            row = s.scalars(select(CustomerRow).where(CustomerRow.account_no == str(account_no).strip())).first()
            return self._record(row) if row else None

    def upsert(self, phones: Iterable[str], at: dt.datetime | float | None = None, **fields: Any) -> Customer:
        """Create the customer owning these numbers, or update the one that owns any of them.

        Fields given as None are left as they are. New numbers are added after the existing ones.
        Raises InvalidPhoneNumber, ValueError (bad field) or StoreError (numbers of two customers).
        """
        numbers = _unique(normalize(p, self.store.region) for p in phones)
        if not numbers:
            raise ValueError("a customer needs at least one phone number")
        values = {k: clean_field(k, v) for k, v in fields.items() if v is not None}
        now = as_utc(at) or dt.datetime.now(dt.timezone.utc)
        with self.store.session() as s:
            owners = set(s.scalars(select(CustomerPhoneRow.customer_id).where(CustomerPhoneRow.e164.in_(numbers))))
            if len(owners) > 1:
                raise StoreError(f"numbers belong to different customers ({', '.join(map(str, sorted(owners)))})")
            if owners:
                row = s.get(CustomerRow, owners.pop())
                assert row is not None
            else:
                row = CustomerRow(created_at=now, tags=[], attributes={})
                s.add(row)
            for key, value in values.items():
                setattr(row, key, value)
            known = {p.e164 for p in row.phones}
            for number in numbers:
                if number not in known:
                    row.phones.append(CustomerPhoneRow(e164=number, position=len(row.phones)))
            if not row.timezone:
                row.timezone = timezone_for(row.phones[0].e164)
            row.updated_at = now
            s.flush()
            log.debug("customer %s upserted (%s)", row.id, mask(numbers[0]))
            return self._record(row)

    def search(self, name: str | None = None, segment: str | None = None, limit: int = 50,
               offset: int = 0) -> list[Customer]:
        """Customers whose name contains `name` (any case) and who are in `segment`, by id."""
        query = select(CustomerRow)
        if name:
            query = query.where(func.lower(CustomerRow.name).contains(name.strip().lower(), autoescape=True))
        if segment:
            query = query.where(CustomerRow.segment == clean_field("segment", segment))
        query = query.order_by(CustomerRow.id).limit(max(1, int(limit))).offset(max(0, int(offset)))
        with self.store.session() as s:
            return [self._record(r) for r in s.scalars(query)]

    def set_last_agent(self, customer_id: int, agent_id: str, at: dt.datetime | float) -> None:
        """Remember who served the customer last, and when (used for sticky routing)."""
        self._set(customer_id, last_agent_id=agent_id, last_contact_at=as_utc(at))

    def set_owner_agent(self, customer_id: int, agent_id: str | None) -> None:
        self._set(customer_id, owner_agent_id=agent_id)

    def touch(self, customer_id: int, at: dt.datetime | float) -> None:
        """Record a contact with the customer (no agent involved)."""
        self._set(customer_id, last_contact_at=as_utc(at))

    def delete(self, customer_id: int) -> bool:
        with self.store.session() as s:
            row = s.get(CustomerRow, customer_id)
            if row is None:
                return False
            s.delete(row)
            return True

    def count(self) -> int:
        with self.store.session() as s:
            return int(s.scalar(select(func.count()).select_from(CustomerRow)) or 0)

    def iter_all(self, batch: int = 2000) -> Iterator[Customer]:
        """Every customer by id, fetched in batches (for export)."""
        last = 0
        while True:
            with self.store.session() as s:
                rows = s.scalars(select(CustomerRow).where(CustomerRow.id > last).order_by(CustomerRow.id).limit(batch)).all()
                page = [self._record(r) for r in rows]
            if not page:
                return
            yield from page
            last = page[-1].id

    def _set(self, customer_id: int, **values: Any) -> None:
        with self.store.session() as s:
            row = s.get(CustomerRow, customer_id)
            if row is None:
                raise NotFound(f"no customer with id {customer_id}")
            for key, value in values.items():
                setattr(row, key, value)

    @staticmethod
    def _by_numbers(s: Session, numbers: list[str]) -> CustomerRow | None:
        owner = s.scalars(select(CustomerPhoneRow.customer_id).where(CustomerPhoneRow.e164.in_(numbers)).limit(1)).first()
        return s.get(CustomerRow, owner) if owner is not None else None

    @staticmethod
    def _record(row: CustomerRow) -> Customer:
        phones = tuple(p.e164 for p in sorted(row.phones, key=lambda p: p.position))
        return to_record(Customer, row, phones=phones, tags=tuple(row.tags or ()))


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out
