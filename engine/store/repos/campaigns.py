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
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, update

from engine.store.database import Store
from engine.store.models import CampaignContactRow, CampaignRow, CustomerPhoneRow, CustomerRow, as_utc
from engine.store.errors import InvalidPhoneNumber, NotFound, StoreError
from engine.store.phones import normalize
from engine.store.records import Campaign, CampaignContact, ContactStatus
from engine.store.repos.convert import to_record

log = logging.getLogger(__name__)
MODES = ("manual", "preview", "progressive", "predictive", "agentless")
STATUSES = ("draft", "running", "paused", "stopped", "done")
# Which status changes an operator may make: launch (draft -> running), pause, resume, stop.
TRANSITIONS = {"running": ("draft", "paused"), "paused": ("running",), "stopped": ("draft", "running", "paused"),
               "done": ("running", "paused", "stopped")}
# The operator's actions (CLI, API, wallboard): the status each sets and the statuses it may start from.
ACTIONS = {"launch": ("running", ("draft",)), "pause": ("paused", ("running",)), "resume": ("running", ("paused",)),
           "stop": ("stopped", ("draft", "running", "paused"))}
ENROLL_CHUNK = 5000
# next_attempt_at of a contact that may be dialed as soon as the campaign runs: a real timestamp rather
# than NULL, so the lease index finds due contacts first on PostgreSQL too (which sorts NULLs last).
DUE_FROM_START = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


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

    def change_status(self, campaign_id: int, status: str, allowed_from: tuple[str, ...] | None = None
                      ) -> tuple[str, str]:
        """An operator's state change (launch, pause, resume, stop), checked against the current state:
        (before, after). Raises StoreError for a change that makes no sense (resume a draft, ...)."""
        allowed_from = allowed_from or TRANSITIONS.get(status)
        if allowed_from is None:
            raise ValueError(f"a campaign cannot be set to {status!r}")
        with self.store.session() as s:
            row = self._campaign(s, campaign_id, lock=True)
            before = row.status
            if before == status:
                return before, status
            if before not in allowed_from:
                raise StoreError(f"campaign {row.name} is {before}; it cannot become {status} "
                                 f"(only from {', '.join(allowed_from)})")
            row.status = status
            log.info("campaign %s: %s -> %s", row.name, before, status)
            return before, status

    def save(self, name: str, mode: str, queue: str | None, max_attempts: int, retry_delay_s: int,
             settings: dict[str, Any], now: dt.datetime | float | None = None, replace: bool = False) -> Campaign:
        """Create a campaign, or (with `replace`) update the configuration of an existing one."""
        if mode not in MODES:
            raise ValueError(f"campaign mode must be one of {', '.join(MODES)}, got {mode!r}")
        with self.store.session() as s:
            row = s.scalars(select(CampaignRow).where(CampaignRow.name == name)).first()
            if row is not None and not replace:
                raise StoreError(f"a campaign named {name!r} already exists (pass --replace to update it)")
            if row is None:
                row = CampaignRow(name=name, status="draft", created_at=as_utc(now) or _now())
                s.add(row)
            row.mode, row.queue, row.max_attempts, row.retry_delay_s = mode, queue, max_attempts, retry_delay_s
            row.settings = dict(settings)
            s.flush()
            return to_record(Campaign, row)

    def recheck_window_deferrals(self, campaign_id: int, now: dt.datetime | float | None = None) -> int:
        """Make contacts that the campaign's own calling windows pushed to a later time due now, so that a
        changed configuration is judged again at once (compliance defers them again if still outside): how many."""
        with self.store.session() as s:
            result = s.execute(update(CampaignContactRow).where(
                CampaignContactRow.campaign_id == campaign_id,
                CampaignContactRow.status == ContactStatus.PENDING.value,
                CampaignContactRow.last_outcome == "campaign_window",
                CampaignContactRow.next_attempt_at > (as_utc(now) or _now()),
            ).values(next_attempt_at=as_utc(now) or _now()))
            return int(result.rowcount or 0)

    def list(self) -> list[Campaign]:
        with self.store.session() as s:
            return [to_record(Campaign, r) for r in s.scalars(select(CampaignRow).order_by(CampaignRow.id))]

    def enroll(self, campaign_id: int, rows: Iterable[tuple[str, int | None, str | None]], priority: int = 0,
               progress: Any = None) -> tuple[int, int]:
        """Add already-normalised (E.164, customer id or None, time zone or None) contacts in batches:
        (added, already in the campaign). Missing customer ids and zones are looked up by number."""
        added = skipped = 0
        batch: list[tuple[str, int | None, str | None]] = []

        def flush() -> None:
            nonlocal added, skipped
            with self.store.session() as s:
                self._campaign(s, campaign_id)
                numbers = [n for n, _c, _z in batch]
                known = set(s.scalars(select(CampaignContactRow.number).where(
                    CampaignContactRow.campaign_id == campaign_id, CampaignContactRow.number.in_(numbers))))
                owners = {n: (cid, tz) for n, cid, tz in s.execute(
                    select(CustomerPhoneRow.e164, CustomerRow.id, CustomerRow.timezone)
                    .join(CustomerRow, CustomerRow.id == CustomerPhoneRow.customer_id)
                    .where(CustomerPhoneRow.e164.in_([n for n, c, _z in batch if c is None])))}
                fresh, seen = [], set()
                for number, customer_id, zone in batch:
                    if number in known or number in seen:
                        skipped += 1
                        continue
                    seen.add(number)
                    owner, owner_zone = owners.get(number, (None, None))
                    fresh.append({"campaign_id": campaign_id, "number": number, "customer_id": customer_id or owner,
                                  "status": ContactStatus.PENDING.value, "priority": priority, "attempts": 0,
                                  "next_attempt_at": DUE_FROM_START, "data": {}, "timezone": owner_zone or zone})
                if fresh:
                    s.execute(insert(CampaignContactRow), fresh)
                added += len(fresh)
            if progress is not None:
                progress(len(batch))
            batch.clear()

        for row in rows:
            batch.append(row)
            if len(batch) >= ENROLL_CHUNK:
                flush()
        if batch:
            flush()
        return added, skipped

    def segment_members(self, segments: tuple[str, ...] = (), contacted_before: dt.datetime | None = None,
                        tags: tuple[str, ...] = (), tier_min: int | None = None, tier_max: int | None = None,
                        batch: int = 5000) -> Iterator[tuple[str, int, str | None]]:
        """(primary E.164, customer id, time zone) of customers matching a segment query, by id.

        `contacted_before`: last contact before that time, or never contacted. `tags`: all of them."""
        c, p = CustomerRow, CustomerPhoneRow
        where = [p.position == 0]
        if segments:
            where.append(c.segment.in_(segments))
        if contacted_before is not None:
            where.append(or_(c.last_contact_at.is_(None), c.last_contact_at < as_utc(contacted_before)))
        if tier_min is not None:
            where.append(c.value_tier >= tier_min)
        if tier_max is not None:
            where.append(c.value_tier <= tier_max)
        wanted = set(tags)
        last = 0
        while True:
            with self.store.session() as s:
                rows = s.execute(select(c.id, p.e164, c.timezone, c.tags).join(p, p.customer_id == c.id)
                                 .where(c.id > last, *where).order_by(c.id).limit(batch)).all()
            if not rows:
                return
            for cid, e164, zone, row_tags in rows:
                if not wanted or wanted <= set(row_tags or ()):
                    yield e164, cid, zone
            last = rows[-1][0]

    def defer(self, holder: str, refusals: list[tuple[int, str, dt.datetime | None, bool]]) -> None:
        """Give back leased contacts that compliance refused, as (contact id, rule, retry at, block): blocked
        for good, or due again at `retry at` (None: stays due). No attempt is counted. One transaction."""
        if not refusals:
            return
        with self.store.session() as s:
            for contact_id, outcome, retry_at, block in refusals:
                values: dict[str, Any] = {"lease_holder": None, "lease_until": None, "last_outcome": outcome[:32]}
                if block:
                    values["status"] = ContactStatus.BLOCKED.value
                elif retry_at is not None:
                    values["next_attempt_at"] = as_utc(retry_at)
                s.execute(update(CampaignContactRow).where(CampaignContactRow.id == contact_id,
                                                           CampaignContactRow.lease_holder == holder).values(**values))

    def publish_live(self, campaign_id: int, figures: dict[str, Any], now: dt.datetime | float) -> None:
        """The running dialer's live figures (dial level, ringing, agents by state) for `campaign status`."""
        with self.store.session() as s:
            row = self._campaign(s, campaign_id)
            row.live, row.live_at = dict(figures), as_utc(now)

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
        table = CampaignContactRow.__table__
        with self.store.session() as s:
            conn = s.connection()
            if self.store.is_sqlite:
                picked = select(CampaignContactRow.id).where(due).order_by(*order).limit(n).scalar_subquery()
                rows = [dict(r) for r in conn.execute(
                    update(table).where(table.c.id.in_(picked), free).values(lease_holder=holder, lease_until=until)
                    .returning(*table.c)).mappings()]
            else:
                ids = list(conn.execute(select(CampaignContactRow.id).where(due).order_by(*order).limit(n)
                                        .with_for_update(skip_locked=True)).scalars())
                rows = [dict(r) for r in conn.execute(
                    update(table).where(table.c.id.in_(ids), free).values(lease_holder=holder, lease_until=until)
                    .returning(*table.c)).mappings()] if ids else []
            rows.sort(key=lambda r: (-r["priority"], r["next_attempt_at"] or at, r["id"]))
            return [to_record(CampaignContact, r) for r in rows]

    def renew_lease(self, contact_id: int, holder: str, now: dt.datetime | float, lease_seconds: float = 120) -> bool:
        """Extend a lease this holder still has; False when it was lost (expired and taken, or released)."""
        at = as_utc(now)
        with self.store.session() as s:
            result = s.execute(update(CampaignContactRow).where(
                CampaignContactRow.id == contact_id, CampaignContactRow.lease_holder == holder,
                CampaignContactRow.lease_until > at).values(lease_until=at + dt.timedelta(seconds=lease_seconds)))
            return bool(result.rowcount)

    def take_over(self, contact_id: int, attempt_id: int, holder: str, now: dt.datetime | float,
                  lease_seconds: float = 120) -> bool:
        """Lease a contact whose attempt is still in flight to a new holder (a restarted dialer re-attaching the
        call); False when the contact no longer waits on that attempt."""
        at = as_utc(now)
        with self.store.session() as s:
            result = s.execute(update(CampaignContactRow).where(
                CampaignContactRow.id == contact_id, CampaignContactRow.attempt_id == attempt_id).values(
                lease_holder=holder, lease_until=at + dt.timedelta(seconds=lease_seconds)))
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

    def due_and_leased(self, campaign_id: int, now: dt.datetime | float) -> tuple[int, int]:
        """(pending contacts due now and not leased, contacts leased by a dialer now)."""
        at = as_utc(now)
        c = CampaignContactRow
        leased_now = and_(c.lease_until.is_not(None), c.lease_until > at)
        with self.store.session() as s:
            row = s.execute(select(
                func.sum(case((and_(or_(c.next_attempt_at.is_(None), c.next_attempt_at <= at), ~leased_now), 1),
                              else_=0)),
                func.sum(case((leased_now, 1), else_=0))).where(
                c.campaign_id == campaign_id, c.status == ContactStatus.PENDING.value)).one()
            return int(row[0] or 0), int(row[1] or 0)

    def counts(self, campaign_id: int) -> dict[str, int]:
        """How many contacts are in each status."""
        with self.store.session() as s:
            rows = s.execute(select(CampaignContactRow.status, func.count()).where(
                CampaignContactRow.campaign_id == campaign_id).group_by(CampaignContactRow.status))
            return {status: int(n) for status, n in rows}

    def _campaign(self, s, campaign_id: int, lock: bool = False) -> CampaignRow:  # type: ignore[no-untyped-def]
        row = s.get(CampaignRow, campaign_id, with_for_update=lock and not self.store.is_sqlite)
        if row is None:
            raise NotFound(f"no campaign with id {campaign_id}")
        return row
