"""What compliance needs to know about numbers (DNC, recent attempts, claims, preferences) and its decision log.

How it works: `facts()` answers for a whole batch of numbers with one indexed query per kind of fact
(DNC entries, attempts in the last 24 h, marketing contacts in the last 7 days, attempts in flight,
claims by other campaigns, the customer's preferences and time zone), so the hopper pays a handful
of queries per batch, not per number. `facts_in()` is the same inside a caller's transaction (the
re-check right before a dial). Every decision is written to `dial_decisions` with its rule and reason;
`history()` reads them back for `jinqiao campaign why`.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, case, func, insert, or_, select
from sqlalchemy.orm import Session

from engine.store.database import Store
from engine.store.models import (
    CampaignRow,
    ContactAttemptRow,
    CustomerPhoneRow,
    CustomerRow,
    DialDecisionRow,
    DncEntryRow,
    NumberClaimRow,
    as_utc,
)
from engine.store.phones import lookup_variants

CHUNK = 900  # bound parameter lists (SQLite allows 32766, but smaller IN lists plan better)
IN_FLIGHT_STALE = dt.timedelta(hours=4)  # an attempt "dialing" for longer than this is not in flight


@dataclass(frozen=True)
class NumberFacts:
    """What the store knows about a number at one instant, for a dial decision."""

    number: str
    dnc_list: str | None = None  # "black" | "grey" | None
    dnc_reason: str = ""
    attempts_24h: int = 0
    marketing_contacts_7d: int = 0
    in_flight: bool = False  # an attempt on this number is being dialed right now
    claimed_by: int | None = None  # another campaign working this number now
    customer_id: int | None = None
    do_not_disturb: bool = False
    marketing_consent: bool | None = None
    timezone: str | None = None


class Verdict(Protocol):
    """A compliance decision as the store records it."""

    allowed: bool
    rule: str
    reason: str


@dataclass(frozen=True)
class DialDecision:
    """One stored decision."""

    id: int
    number: str
    at: dt.datetime
    allowed: bool
    rule: str
    reason: str
    stage: str
    campaign_id: int | None = None
    contact_id: int | None = None
    attempt_id: int | None = None
    campaign_name: str | None = None


def decision_row(number: str, verdict: Verdict, stage: str, at: dt.datetime, campaign_id: int | None = None,
                 contact_id: int | None = None, attempt_id: int | None = None) -> dict:
    """The parameters of one dial_decisions row."""
    return {"number": number, "at": at, "allowed": bool(verdict.allowed), "rule": str(verdict.rule)[:32],
            "reason": str(verdict.reason)[:200], "stage": stage[:12], "campaign_id": campaign_id,
            "contact_id": contact_id, "attempt_id": attempt_id}


def facts_in(s: Session, numbers: Iterable[str], now: dt.datetime, campaign_id: int | None = None
             ) -> dict[str, NumberFacts]:
    """Facts for already-normalised E.164 numbers, read in the session's transaction."""
    wanted = list(dict.fromkeys(numbers))
    found: dict[str, dict] = {n: {} for n in wanted}
    day_ago, week_ago = now - dt.timedelta(hours=24), now - dt.timedelta(days=7)
    for i in range(0, len(wanted), CHUNK):
        chunk = wanted[i:i + CHUNK]
        for number, kind, reason in s.execute(select(DncEntryRow.number, DncEntryRow.list_kind, DncEntryRow.reason).where(
                DncEntryRow.number.in_(chunk),
                (DncEntryRow.expires_at.is_(None)) | (DncEntryRow.expires_at > now))):
            found[number].update(dnc_list=kind, dnc_reason=reason)
        a = ContactAttemptRow
        for number, total, marketing, dialing in s.execute(select(
                a.number, func.count(),
                func.sum(case((and_(a.purpose == "marketing", a.live.is_(True)), 1), else_=0)),
                func.sum(case((and_(a.state == "dialing", a.at > now - IN_FLIGHT_STALE), 1), else_=0)),
        ).where(a.number.in_(chunk), a.at >= week_ago).group_by(a.number)):
            found[number].update(marketing_contacts_7d=int(marketing or 0), in_flight=bool(dialing))
        for number, total in s.execute(select(a.number, func.count()).where(
                a.number.in_(chunk), a.at >= day_ago).group_by(a.number)):
            found[number]["attempts_24h"] = int(total)
        claims = select(NumberClaimRow.number, NumberClaimRow.campaign_id).where(
            NumberClaimRow.number.in_(chunk), NumberClaimRow.until > now)
        if campaign_id is not None:
            claims = claims.where(NumberClaimRow.campaign_id != campaign_id)
        for number, other in s.execute(claims):
            found[number]["claimed_by"] = int(other)
        for number, cid, dnd, consent, zone in s.execute(
                select(CustomerPhoneRow.e164, CustomerRow.id, CustomerRow.do_not_disturb, CustomerRow.marketing_consent,
                       CustomerRow.timezone).join(CustomerRow, CustomerRow.id == CustomerPhoneRow.customer_id)
                .where(CustomerPhoneRow.e164.in_(chunk))):
            found[number].update(customer_id=cid, do_not_disturb=bool(dnd), marketing_consent=consent, timezone=zone)
    return {n: NumberFacts(number=n, **values) for n, values in found.items()}


def _one_number_query():  # type: ignore[no-untyped-def]
    """One statement with a scalar subquery per fact (and the campaign's status): the per-dial re-check."""
    d, a, k = DncEntryRow, ContactAttemptRow, NumberClaimRow
    n, now = bindparam("n"), bindparam("now", type_=DncEntryRow.expires_at.type)
    live_dnc = and_(d.number == n, or_(d.expires_at.is_(None), d.expires_at > now))
    owner = select(CustomerPhoneRow.customer_id).where(CustomerPhoneRow.e164 == n).limit(1).scalar_subquery()

    def customer(column):  # type: ignore[no-untyped-def]
        return select(column).where(CustomerRow.id == owner).scalar_subquery()

    def count(*where):  # type: ignore[no-untyped-def]
        return select(func.count()).select_from(a).where(a.number == n, *where).scalar_subquery()

    return select(
        select(d.list_kind).where(live_dnc).limit(1).scalar_subquery(),
        select(d.reason).where(live_dnc).limit(1).scalar_subquery(),
        count(a.at >= bindparam("day", type_=a.at.type)),
        count(a.at >= bindparam("week", type_=a.at.type), a.purpose == "marketing", a.live.is_(True)),
        count(a.state == "dialing", a.at > bindparam("stale", type_=a.at.type)),
        select(k.campaign_id).where(k.number == n, k.until > now, k.campaign_id != bindparam("campaign"))
        .limit(1).scalar_subquery(),
        owner, customer(CustomerRow.do_not_disturb), customer(CustomerRow.marketing_consent),
        customer(CustomerRow.timezone),
        select(CampaignRow.status).where(CampaignRow.id == bindparam("campaign")).scalar_subquery(),
    )


_ONE_NUMBER = _one_number_query()


def facts_for_one(conn: Any, number: str, now: dt.datetime, campaign_id: int | None) -> tuple[NumberFacts, str | None]:
    """(facts, the campaign's status) for one E.164 number in one round trip, inside the caller's transaction."""
    row = conn.execute(_ONE_NUMBER, {"n": number, "now": now, "day": now - dt.timedelta(hours=24),
                                     "week": now - dt.timedelta(days=7), "stale": now - IN_FLIGHT_STALE,
                                     "campaign": campaign_id if campaign_id is not None else -1}).one()
    kind, reason, day, week, dialing, claimed, customer_id, dnd, consent, zone, status = row
    return NumberFacts(number=number, dnc_list=kind, dnc_reason=reason or "", attempts_24h=int(day or 0),
                       marketing_contacts_7d=int(week or 0), in_flight=bool(dialing), claimed_by=claimed,
                       customer_id=customer_id, do_not_disturb=bool(dnd), marketing_consent=consent,
                       timezone=zone), status


def claim(conn: Any, sqlite: bool, number: str, campaign_id: int, holder: str, until: dt.datetime,
          now: dt.datetime) -> bool:
    """Make `campaign_id` the one campaign working `number` until `until`, unless another campaign holds a
    live claim (one upsert, safe against a concurrent claimer on both databases)."""
    params = {"number": number, "campaign_id": campaign_id, "holder": holder, "until": until, "b_now": now}
    return conn.execute(_claim_statement(sqlite), params).first() is not None


@functools.lru_cache(maxsize=2)
def _claim_statement(sqlite: bool) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite as sqlite_dialect

    table = NumberClaimRow.__table__
    stmt = (sqlite_dialect.insert if sqlite else postgresql.insert)(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.number],
        set_={"campaign_id": stmt.excluded.campaign_id, "holder": stmt.excluded.holder, "until": stmt.excluded.until},
        where=or_(table.c.campaign_id == stmt.excluded.campaign_id,
                  table.c.until <= bindparam("b_now", type_=table.c.until.type)))
    return stmt.returning(table.c.number)


class ComplianceRepository:
    """Facts for dial decisions, and the decision log."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def facts(self, numbers: Iterable[str], now: dt.datetime | float, campaign_id: int | None = None
              ) -> dict[str, NumberFacts]:
        """Facts for E.164 numbers, in one short transaction."""
        at = as_utc(now)
        assert at is not None
        with self.store.session() as s:
            return facts_in(s, numbers, at, campaign_id)

    def record(self, rows: list[dict]) -> None:
        """Store decisions built with `decision_row` (one transaction)."""
        if rows:
            with self.store.session() as s:
                s.execute(insert(DialDecisionRow), rows)

    def history(self, number: str, limit: int = 50, since: dt.datetime | None = None) -> list[DialDecision]:
        """The newest decisions about a number (in any format), newest first, with campaign names."""
        variants = lookup_variants(number, self.store.region)
        if not variants:
            return []
        d = DialDecisionRow
        query = (select(d, CampaignRow.name).outerjoin(CampaignRow, CampaignRow.id == d.campaign_id)
                 .where(d.number.in_(variants)))
        if since is not None:
            query = query.where(d.at >= as_utc(since))
        with self.store.session() as s:
            rows = s.execute(query.order_by(d.at.desc(), d.id.desc()).limit(limit)).all()
            return [DialDecision(id=r.id, number=r.number, at=r.at, allowed=r.allowed, rule=r.rule, reason=r.reason,
                                 stage=r.stage, campaign_id=r.campaign_id, contact_id=r.contact_id,
                                 attempt_id=r.attempt_id, campaign_name=name) for r, name in rows]
