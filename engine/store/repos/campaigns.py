"""Campaigns and their contacts; a lease makes sure only one dialer instance works a contact at a time.

How it works: `lease_due` claims up to n due contacts for a holder until now + lease_seconds. On
PostgreSQL the candidates are locked with SELECT ... FOR UPDATE SKIP LOCKED, so concurrent dialers
never wait for nor take the same rows; on SQLite one UPDATE ... RETURNING statement does the claim
under SQLite's database-wide write lock. Both re-check "lease free" in the UPDATE itself. A lease that
is not renewed expires and the contact becomes due again.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from engine.store.database import Store
from engine.store.models import CampaignContactRow, CampaignRow, CustomerPhoneRow, as_utc
from engine.store.errors import InvalidPhoneNumber, NotFound, StoreError
from engine.store.phones import normalize
from engine.store.records import Campaign, CampaignContact, ContactStatus
from engine.store.repos.convert import to_record

log = logging.getLogger(__name__)
MODES = ("preview", "progressive", "predictive")
STATUSES = ("draft", "running", "paused", "done")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class CampaignRepository:
    """Create campaigns, load contacts, lease due contacts to dialers and record outcomes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, mode: str = "progressive", queue: str | None = None, max_attempts: int = 3,
               retry_delay_s: int = 3600, settings: dict[str, Any] | None = None,
               now: dt.datetime | float | None = None) -> Campaign:
        if mode not in MODES:
            raise ValueError(f"campaign mode must be one of {', '.join(MODES)}, got {mode!r}")
        if max_attempts < 1 or retry_delay_s < 0:
            raise ValueError("max_attempts must be >= 1 and retry_delay_s >= 0")
        with self.store.session() as s:
            if s.scalars(select(CampaignRow.id).where(CampaignRow.name == name)).first() is not None:
                raise StoreError(f"a campaign named {name!r} already exists")
            row = CampaignRow(name=name, mode=mode, status="draft", queue=queue, max_attempts=max_attempts,
                              retry_delay_s=retry_delay_s, settings=dict(settings or {}), created_at=as_utc(now) or _now())
            s.add(row)
            s.flush()
            return to_record(Campaign, row)

    def get(self, campaign_id: int) -> Campaign | None:
        with self.store.session() as s:
            row = s.get(CampaignRow, campaign_id)
            return to_record(Campaign, row) if row else None

    def by_name(self, name: str) -> Campaign | None:
        with self.store.session() as s:
            row = s.scalars(select(CampaignRow).where(CampaignRow.name == name)).first()
            return to_record(Campaign, row) if row else None

    def set_status(self, campaign_id: int, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"campaign status must be one of {', '.join(STATUSES)}, got {status!r}")
        with self.store.session() as s:
            self._campaign(s, campaign_id).status = status

    def add_contacts(self, campaign_id: int, numbers: Iterable[str], priority: int = 0,
                     start_at: dt.datetime | float | None = None) -> tuple[int, list[tuple[str, str]]]:
        """Add numbers to a campaign: (how many added, [(raw number, reason) rejected]); duplicates are skipped."""
        first = as_utc(start_at)
        added, rejected = 0, []
        with self.store.session() as s:
            self._campaign(s, campaign_id)
            existing = set(s.scalars(select(CampaignContactRow.number).where(CampaignContactRow.campaign_id == campaign_id)))
            for raw in numbers:
                try:
                    e164 = normalize(raw, self.store.region)
                except InvalidPhoneNumber as exc:
                    rejected.append((raw, str(exc)))
                    continue
                if e164 in existing:
                    rejected.append((raw, "already in the campaign"))
                    continue
                existing.add(e164)
                customer_id = s.scalars(select(CustomerPhoneRow.customer_id).where(CustomerPhoneRow.e164 == e164)).first()
                s.add(CampaignContactRow(campaign_id=campaign_id, number=e164, customer_id=customer_id, priority=priority,
                                         status=ContactStatus.PENDING.value, attempts=0, next_attempt_at=first, data={}))
                added += 1
        return added, rejected

    def lease_due(self, campaign_id: int, holder: str, n: int, now: dt.datetime | float,
                  lease_seconds: float = 120) -> list[CampaignContact]:
        """Claim up to n pending contacts that are due and not leased by anyone else (highest priority first)."""
        if n <= 0:
            return []
        at = as_utc(now)
        until = at + dt.timedelta(seconds=lease_seconds)
        free = or_(CampaignContactRow.lease_until.is_(None), CampaignContactRow.lease_until <= at)
        due = and_(CampaignContactRow.campaign_id == campaign_id,
                   CampaignContactRow.status == ContactStatus.PENDING.value,
                   or_(CampaignContactRow.next_attempt_at.is_(None), CampaignContactRow.next_attempt_at <= at), free)
        order = (CampaignContactRow.priority.desc(), CampaignContactRow.next_attempt_at, CampaignContactRow.id)
        with self.store.session() as s:
            if self.store.is_sqlite:
                picked = select(CampaignContactRow.id).where(due).order_by(*order).limit(n).scalar_subquery()
                stmt = (update(CampaignContactRow).where(CampaignContactRow.id.in_(picked), free)
                        .values(lease_holder=holder, lease_until=until).returning(CampaignContactRow))
                rows = list(s.scalars(stmt, execution_options={"synchronize_session": False}))
            else:
                ids = list(s.scalars(select(CampaignContactRow.id).where(due).order_by(*order).limit(n)
                                     .with_for_update(skip_locked=True)))
                rows = list(s.scalars(update(CampaignContactRow).where(CampaignContactRow.id.in_(ids), free)
                                      .values(lease_holder=holder, lease_until=until).returning(CampaignContactRow),
                                      execution_options={"synchronize_session": False})) if ids else []
            rows.sort(key=lambda r: (-r.priority, r.next_attempt_at or at, r.id))
            return [to_record(CampaignContact, r) for r in rows]

    def renew_lease(self, contact_id: int, holder: str, now: dt.datetime | float, lease_seconds: float = 120) -> bool:
        """Extend a lease this holder still has; False when it was lost (expired and taken, or released)."""
        at = as_utc(now)
        with self.store.session() as s:
            result = s.execute(update(CampaignContactRow).where(
                CampaignContactRow.id == contact_id, CampaignContactRow.lease_holder == holder,
                CampaignContactRow.lease_until > at).values(lease_until=at + dt.timedelta(seconds=lease_seconds)))
            return bool(result.rowcount)

    def release(self, contact_id: int, holder: str) -> None:
        """Give a contact back without an attempt (e.g. the dialer is stopping)."""
        with self.store.session() as s:
            s.execute(update(CampaignContactRow).where(CampaignContactRow.id == contact_id,
                                                       CampaignContactRow.lease_holder == holder)
                      .values(lease_holder=None, lease_until=None))

    def record_outcome(self, contact_id: int, holder: str, outcome: str, now: dt.datetime | float,
                       final: bool = False, retry_at: dt.datetime | float | None = None,
                       status: ContactStatus | str | None = None) -> CampaignContact:
        """Count an attempt and release the lease: done when `final`, exhausted after max attempts, else
        due again at `retry_at` (default now + the campaign's retry delay). `status` forces a status
        (e.g. blocked by DNC). Raises StoreError if `holder` no longer holds the lease."""
        at = as_utc(now)
        with self.store.session() as s:
            row = s.get(CampaignContactRow, contact_id, with_for_update=not self.store.is_sqlite)
            if row is None:
                raise NotFound(f"no campaign contact with id {contact_id}")
            if row.lease_holder != holder:
                raise StoreError(f"contact {contact_id} is not leased by {holder!r} (lease lost)")
            campaign = self._campaign(s, row.campaign_id)
            row.attempts += 1
            row.last_outcome = str(outcome)[:32]
            row.lease_holder, row.lease_until = None, None
            if status is not None:
                row.status = ContactStatus(status).value
            elif final:
                row.status = ContactStatus.DONE.value
            elif row.attempts >= campaign.max_attempts:
                row.status = ContactStatus.EXHAUSTED.value
            else:
                row.next_attempt_at = as_utc(retry_at) or at + dt.timedelta(seconds=campaign.retry_delay_s)
            s.flush()
            return to_record(CampaignContact, row)

    def contact(self, contact_id: int) -> CampaignContact | None:
        with self.store.session() as s:
            row = s.get(CampaignContactRow, contact_id)
            return to_record(CampaignContact, row) if row else None

    def counts(self, campaign_id: int) -> dict[str, int]:
        """How many contacts are in each status."""
        with self.store.session() as s:
            rows = s.execute(select(CampaignContactRow.status, func.count()).where(
                CampaignContactRow.campaign_id == campaign_id).group_by(CampaignContactRow.status))
            return {status: int(n) for status, n in rows}

    @staticmethod
    def _campaign(s, campaign_id: int) -> CampaignRow:  # type: ignore[no-untyped-def]
        row = s.get(CampaignRow, campaign_id)
        if row is None:
            raise NotFound(f"no campaign with id {campaign_id}")
        return row
