"""Dial attempts that survive a crash: written (with the compliance re-check) before the dial, concluded once.

How it works: `begin()` runs in one transaction: it extends the caller's lease on the contact (on
SQLite that first write takes the database's write lock, on PostgreSQL the contact row is locked),
reads the number's compliance facts, asks the caller's `check`, stores the decision, and only when it
allows: claims the number for the campaign, inserts the attempt (state "dialing"), counts it on the
contact and moves the contact's next attempt to now + `guard` (the campaign's shortest retry delay).
So when the engine dies after the originate, the attempt is on record and the contact is not due
again before its retry delay. `finish()` records the outcome once (the first conclusive result wins;
a real result may replace "interrupted"), applies the caller's retry `plan`, and releases lease and
claim. `recover()` concludes attempts whose dialer died (its lease ran out): "interrupted", or
"dropped" and abandoned when a person had answered and no agent was connected.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, insert, or_, select, update

from engine.store.database import Store
from engine.store.models import CampaignContactRow, CampaignRow, ContactAttemptRow, DialDecisionRow, NumberClaimRow, as_utc
from engine.store.phones import mask
from engine.store.records import CampaignContact, ContactAttempt, ContactStatus
from engine.store.repos.compliance import ComplianceRepository, NumberFacts, Verdict, decision_row, facts_in
from engine.store.repos.convert import to_record

log = logging.getLogger(__name__)
INTERRUPTED = "interrupted"
# plan(outcome, outcome_count, attempts) -> (contact status, next attempt at)
RetryPlan = Callable[[str, int, int], tuple[str, dt.datetime | None]]


@dataclass(frozen=True)
class Begun:
    """What `begin` did: the attempt (None when refused) and the decision."""

    attempt: ContactAttempt | None
    verdict: Verdict
    contact: CampaignContact | None


@dataclass(frozen=True)
class CampaignFigures:
    """Attempts and their results for one campaign over a period."""

    attempts: int
    in_flight: int
    outcomes: dict[str, int]
    live_answers: int
    abandoned: int
    connected: int
    talk_seconds: float

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live_answers if self.live_answers else 0.0

    @property
    def contact_rate(self) -> float:
        finished = self.attempts - self.in_flight
        return self.live_answers / finished if finished else 0.0


class DialAttemptRepository:
    """Begin, progress and conclude dial attempts; recover the ones a dead dialer left behind."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.compliance = ComplianceRepository(store)

    def begin(self, contact_id: int, holder: str, now: dt.datetime | float, check: Callable[[NumberFacts], Verdict],
              guard: dt.timedelta, lease_seconds: float = 120, purpose: str = "marketing") -> Begun:
        """Re-check compliance and write the attempt before the dial (see the module docstring).

        Refused, the contact is given back (blocked when the verdict is `final`, else due at its
        `retry_at`). A contact whose lease this holder lost is refused with rule "lease_lost"."""
        at = as_utc(now)
        assert at is not None
        with self.store.session() as s:
            contact = s.get(CampaignContactRow, contact_id, with_for_update=not self.store.is_sqlite)
            if contact is None or contact.lease_holder != holder or contact.lease_until is None \
                    or contact.lease_until <= at or contact.status != ContactStatus.PENDING.value:
                return Begun(None, _Lost(), to_record(CampaignContact, contact) if contact else None)
            contact.lease_until = at + dt.timedelta(seconds=lease_seconds)
            s.flush()  # the write lock (SQLite) is ours from here: nobody changes DNC or attempts under us
            facts = facts_in(s, [contact.number], at, contact.campaign_id)[contact.number]
            verdict = check(facts)
            attempt_id = None
            if verdict.allowed and campaign_status(s, contact.campaign_id) != "running":
                verdict = _Paused()
            elif verdict.allowed and not self.compliance.claim_in(s, contact.number, contact.campaign_id, holder,
                                                                   contact.lease_until, at):
                verdict = _Claimed(retry_at=at + dt.timedelta(minutes=10))
            if verdict.allowed:
                attempt_id = s.execute(insert(ContactAttemptRow).returning(ContactAttemptRow.id), [{
                    "number": contact.number, "campaign_id": contact.campaign_id, "at": at, "outcome": "dialing",
                    "contact_id": contact.id, "holder": holder, "purpose": purpose[:16], "state": "dialing",
                    "live": False, "abandoned": False}]).scalar_one()
                contact.attempts += 1
                contact.attempt_id = attempt_id
                contact.next_attempt_at = at + guard
            else:
                contact.lease_holder, contact.lease_until = None, None
                contact.last_outcome = str(verdict.rule)[:32]
                if getattr(verdict, "final", False):
                    contact.status = ContactStatus.BLOCKED.value
                elif getattr(verdict, "retry_at", None) is not None:
                    contact.next_attempt_at = as_utc(verdict.retry_at)
            s.execute(insert(DialDecisionRow), [decision_row(contact.number, verdict, "dial", at, contact.campaign_id,
                                                             contact.id, attempt_id)])
            s.flush()
            attempt = to_record(ContactAttempt, s.get(ContactAttemptRow, attempt_id)) if attempt_id else None
            return Begun(attempt, verdict, to_record(CampaignContact, contact))

    def begin_direct(self, number: str, kind: str, now: dt.datetime | float, check: Callable[[NumberFacts], Verdict],
                     agent_id: str | None = None) -> Begun:
        """The same for a dial that is not a campaign contact (manual dial, callback): decision and attempt."""
        at = as_utc(now)
        assert at is not None
        with self.store.session() as s:
            s.execute(update(NumberClaimRow).where(NumberClaimRow.number == number)
                      .values(until=NumberClaimRow.until))  # takes SQLite's write lock before reading facts
            facts = facts_in(s, [number], at)[number]
            verdict = check(facts)
            attempt_id = None
            if verdict.allowed:
                attempt_id = s.execute(insert(ContactAttemptRow).returning(ContactAttemptRow.id), [{
                    "number": number, "at": at, "outcome": "dialing", "purpose": kind[:16], "state": "dialing",
                    "live": False, "abandoned": False, "agent_id": agent_id}]).scalar_one()
            s.execute(insert(DialDecisionRow), [decision_row(number, verdict, kind, at, attempt_id=attempt_id)])
            attempt = to_record(ContactAttempt, s.get(ContactAttemptRow, attempt_id)) if attempt_id else None
            return Begun(attempt, verdict, None)

    def mark_answered(self, attempt_id: int, at: dt.datetime | float, live: bool = True) -> None:
        """The callee answered (live: a person, not a machine): counts for the abandon rate from now on."""
        with self.store.session() as s:
            s.execute(update(ContactAttemptRow).where(ContactAttemptRow.id == attempt_id,
                                                      ContactAttemptRow.answered_at.is_(None))
                      .values(answered_at=as_utc(at), live=live))

    def mark_connected(self, attempt_id: int, at: dt.datetime | float, agent_id: str | None = None) -> None:
        """The answered call reached an agent (or the agentless IVR): it is not an abandon."""
        with self.store.session() as s:
            s.execute(update(ContactAttemptRow).where(ContactAttemptRow.id == attempt_id,
                                                      ContactAttemptRow.connected_at.is_(None))
                      .values(connected_at=as_utc(at), agent_id=agent_id))

    def finish(self, attempt_id: int, outcome: str, now: dt.datetime | float, plan: RetryPlan | None = None,
               talk_seconds: float | None = None, abandoned: bool | None = None,
               interaction_id: int | None = None) -> CampaignContact | None:
        """Conclude an attempt once; apply `plan` to its contact (if that contact still waits on this attempt).

        `abandoned` defaults to: a person answered and no agent was connected. Returns the contact."""
        at = as_utc(now)
        assert at is not None
        with self.store.session() as s:
            attempt = s.get(ContactAttemptRow, attempt_id, with_for_update=not self.store.is_sqlite)
            if attempt is None:
                return None
            if attempt.state == "done" and attempt.outcome != INTERRUPTED:
                log.info("attempt %s already concluded (%s); %s ignored", attempt_id, attempt.outcome, outcome)
                return self._contact(s, attempt.contact_id)
            first = attempt.state == "dialing"
            attempt.state, attempt.outcome, attempt.ended_at = "done", str(outcome)[:32], at
            attempt.talk_seconds = talk_seconds
            attempt.interaction_id = interaction_id or attempt.interaction_id
            attempt.abandoned = (bool(attempt.live and attempt.connected_at is None) if abandoned is None
                                 else bool(abandoned))
            contact = s.get(CampaignContactRow, attempt.contact_id) if attempt.contact_id else None
            if contact is not None and first and contact.attempt_id == attempt.id:
                self._conclude(s, contact, attempt.outcome, at, plan)
            s.flush()
            return to_record(CampaignContact, contact) if contact is not None else None

    def _conclude(self, s: Any, contact: CampaignContactRow, outcome: str, at: dt.datetime,
                  plan: RetryPlan | None) -> None:
        counts = dict((contact.data or {}).get("outcomes") or {})
        counts[outcome] = int(counts.get(outcome, 0)) + 1
        contact.data = {**(contact.data or {}), "outcomes": counts}
        contact.last_outcome = outcome
        contact.attempt_id = None
        if contact.status == ContactStatus.PENDING.value and plan is not None:
            status, next_at = plan(outcome, counts[outcome], contact.attempts)
            contact.status = ContactStatus(status).value
            if next_at is not None:
                contact.next_attempt_at = as_utc(next_at)
        if contact.lease_holder is not None:
            contact.lease_holder, contact.lease_until = None, None
        s.execute(NumberClaimRow.__table__.delete().where(NumberClaimRow.number == contact.number,
                                                          NumberClaimRow.campaign_id == contact.campaign_id))

    def recover(self, now: dt.datetime | float, max_attempts: Callable[[int], int] | None = None
                ) -> list[ContactAttempt]:
        """Conclude attempts left "dialing" by a dialer that died: those whose contact lease ran out
        (or that are older than 4 h when they have no contact). Returns them as concluded."""
        at = as_utc(now)
        assert at is not None
        a, c = ContactAttemptRow, CampaignContactRow
        stale = at - dt.timedelta(hours=4)
        with self.store.session() as s:
            rows = s.execute(select(a, c).outerjoin(c, c.id == a.contact_id).where(
                a.state == "dialing",
                or_(a.contact_id.is_(None) & (a.at < stale), c.id.is_(None), c.attempt_id != a.id,
                    c.lease_until.is_(None), c.lease_until <= at))).all()
            done = []
            for attempt, contact in rows:
                if attempt.contact_id is None and attempt.at >= stale:
                    continue
                dropped = attempt.live and attempt.connected_at is None
                attempt.state, attempt.ended_at = "done", at
                attempt.outcome = "dropped" if dropped else INTERRUPTED
                attempt.abandoned = bool(dropped)
                if contact is not None and contact.attempt_id == attempt.id:
                    limit = max_attempts(contact.campaign_id) if max_attempts else None

                    def plan(_outcome: str, _count: int, attempts: int,
                             limit: int | None = limit) -> tuple[str, dt.datetime | None]:
                        return ("exhausted" if limit is not None and attempts >= limit else "pending"), None

                    self._conclude(s, contact, attempt.outcome, at, plan)
                log.info("attempt %s on %s recovered as %s", attempt.id, mask(attempt.number), attempt.outcome)
                done.append(attempt)
            s.flush()
            return [to_record(ContactAttempt, r) for r in done]

    def figures(self, campaign_id: int, since: dt.datetime | float, until: dt.datetime | float | None = None
                ) -> CampaignFigures:
        """Attempts, outcomes, live answers, abandons and talk time of a campaign in [since, until)."""
        a = ContactAttemptRow
        where = [a.campaign_id == campaign_id, a.at >= as_utc(since)]
        if until is not None:
            where.append(a.at < as_utc(until))
        with self.store.session() as s:
            outcomes = {o: int(n) for o, n in s.execute(select(a.outcome, func.count()).where(*where).group_by(a.outcome))}
            row = s.execute(select(
                func.count(), func.sum(case((a.state == "dialing", 1), else_=0)),
                func.sum(case((a.live.is_(True), 1), else_=0)), func.sum(case((a.abandoned.is_(True), 1), else_=0)),
                func.sum(case((a.connected_at.is_not(None), 1), else_=0)), func.sum(a.talk_seconds)).where(*where)).one()
        return CampaignFigures(int(row[0] or 0), int(row[1] or 0), outcomes, int(row[2] or 0), int(row[3] or 0),
                               int(row[4] or 0), float(row[5] or 0.0))

    def for_number(self, numbers: list[str], limit: int = 50) -> list[ContactAttempt]:
        """The newest attempts on numbers (E.164), newest first."""
        with self.store.session() as s:
            rows = s.scalars(select(ContactAttemptRow).where(ContactAttemptRow.number.in_(numbers))
                             .order_by(ContactAttemptRow.at.desc(), ContactAttemptRow.id.desc()).limit(limit))
            return [to_record(ContactAttempt, r) for r in rows]

    @staticmethod
    def _contact(s: Any, contact_id: int | None) -> CampaignContact | None:
        row = s.get(CampaignContactRow, contact_id) if contact_id else None
        return to_record(CampaignContact, row) if row else None


@dataclass(frozen=True)
class _Lost:
    allowed: bool = False
    rule: str = "lease_lost"
    reason: str = "this dialer no longer holds the contact's lease"


def campaign_status(s: Any, campaign_id: int) -> str | None:
    return s.scalar(select(CampaignRow.status).where(CampaignRow.id == campaign_id))


@dataclass(frozen=True)
class _Paused:
    allowed: bool = False
    rule: str = "campaign_not_running"
    reason: str = "the campaign is paused or stopped"


@dataclass(frozen=True)
class _Claimed:
    allowed: bool = False
    rule: str = "other_campaign"
    reason: str = "another campaign claimed this number a moment ago"
    final: bool = False
    retry_at: dt.datetime | None = None
