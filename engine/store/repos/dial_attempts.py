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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, or_, select, update

from engine.store.database import Store, driver_errors
from engine.store.models import CampaignContactRow, ContactAttemptRow, DialDecisionRow, NumberClaimRow, as_utc
from engine.store.phones import mask
from engine.store.records import CampaignContact, ContactAttempt, ContactStatus
from engine.store.repos.compliance import ComplianceRepository, NumberFacts, Verdict, claim, decision_row, facts_for_one
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
    check_seconds: float = 0.0  # time spent reading the compliance facts and deciding (for metrics)


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


_C, _A = CampaignContactRow.__table__, ContactAttemptRow.__table__
_K, _D = NumberClaimRow.__table__, DialDecisionRow.__table__
_TIME = _C.c.lease_until.type
# Statements of the hot path, built once (SQLAlchemy then reuses their compiled form).
_LEASE_FOR_DIAL = (update(_C).where(_C.c.id == bindparam("b_id"), _C.c.lease_holder == bindparam("b_holder"),
                                    _C.c.lease_until > bindparam("b_now", type_=_TIME),
                                    _C.c.status == ContactStatus.PENDING.value)
                   .values(lease_until=bindparam("b_until", type_=_TIME)).returning(*_C.c))
_CONTACT_DIALING = update(_C).where(_C.c.id == bindparam("b_id")).values(
    attempts=_C.c.attempts + 1, attempt_id=bindparam("b_attempt"), next_attempt_at=bindparam("b_next", type_=_TIME))
_INSERT_ATTEMPT = insert(_A).returning(_A.c.id)
_INSERT_DECISION = insert(_D)
_ATTEMPT_AND_CONTACT = select(
    _A.c.state.label("a_state"), _A.c.outcome.label("a_outcome"), _A.c.live.label("a_live"),
    _A.c.connected_at.label("a_connected_at"), _A.c.contact_id.label("a_contact_id"), *_C.c,
).select_from(_A.outerjoin(_C, _C.c.id == _A.c.contact_id)).where(_A.c.id == bindparam("b_id"))
_ATTEMPT_AND_CONTACT_LOCKED = _ATTEMPT_AND_CONTACT.with_for_update(of=_A)
_CONTACT_LOCKED = select(_C).where(_C.c.id == bindparam("b_id")).with_for_update()
_ATTEMPT_DONE = update(_A).where(_A.c.id == bindparam("b_id")).values(
    state="done", outcome=bindparam("b_outcome"), ended_at=bindparam("b_at", type_=_TIME),
    talk_seconds=bindparam("b_talk"), abandoned=bindparam("b_abandoned"),
    interaction_id=func.coalesce(bindparam("b_interaction"), _A.c.interaction_id))
_CONTACT_CONCLUDED = update(_C).where(_C.c.id == bindparam("b_id")).values(
    data=bindparam("b_data", type_=_C.c.data.type), last_outcome=bindparam("b_outcome"), attempt_id=None,
    lease_holder=None, lease_until=None, status=bindparam("b_status"),
    next_attempt_at=func.coalesce(bindparam("b_next", type_=_TIME), _C.c.next_attempt_at))
_ANSWERED = update(_A).where(_A.c.id == bindparam("b_id"), _A.c.answered_at.is_(None)).values(
    answered_at=bindparam("b_at", type_=_TIME), live=bindparam("b_live"))
_CONNECTED = update(_A).where(_A.c.id == bindparam("b_id"), _A.c.connected_at.is_(None)).values(
    connected_at=bindparam("b_at", type_=_TIME), agent_id=bindparam("b_agent"))
_CLAIM_ENDED = _K.delete().where(_K.c.number == bindparam("b_number"), _K.c.campaign_id == bindparam("b_campaign"))


class DialAttemptRepository:
    """Begin, progress and conclude dial attempts; recover the ones a dead dialer left behind."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Called inside finish()'s transaction with the concluded attempt's facts (the webhook outbox).
        self.on_finished: Callable[[Any, dict[str, Any]], None] | None = None
        self.compliance = ComplianceRepository(store)

    def begin(self, contact_id: int, holder: str, now: dt.datetime | float, check: Callable[[NumberFacts], Verdict],
              guard: dt.timedelta, lease_seconds: float = 120, purpose: str = "marketing") -> Begun:
        """Re-check compliance and write the attempt before the dial (see the module docstring).

        Refused, the contact is given back (blocked when the verdict is `final`, else due at its
        `retry_at`). A contact whose lease this holder lost is refused with rule "lease_lost"."""
        at = as_utc(now)
        assert at is not None
        c = _C
        until = at + dt.timedelta(seconds=lease_seconds)
        with driver_errors(), self.store.engine.begin() as conn:
            # This first write takes SQLite's write lock (PostgreSQL: the contact's row lock): from here on
            # nobody changes DNC entries, attempts or claims under us until we commit.
            row = conn.execute(_LEASE_FOR_DIAL, {"b_id": contact_id, "b_holder": holder, "b_now": at,
                                                 "b_until": until}).mappings().first()
            if row is None:
                return Begun(None, _Lost(), None)
            contact = dict(row)
            started = time.perf_counter()
            facts, status = facts_for_one(conn, contact["number"], at, contact["campaign_id"])
            verdict = check(facts)
            check_seconds = time.perf_counter() - started
            attempt = None
            if verdict.allowed and status != "running":
                verdict = _Paused()
            elif verdict.allowed and not claim(conn, self.store.is_sqlite, contact["number"], contact["campaign_id"],
                                               holder, until, at):
                verdict = _Claimed(retry_at=at + dt.timedelta(minutes=10))
            if verdict.allowed:
                values = {"number": contact["number"], "campaign_id": contact["campaign_id"], "at": at,
                          "outcome": "dialing", "contact_id": contact_id, "holder": holder, "purpose": purpose[:16],
                          "state": "dialing", "live": False, "abandoned": False}
                attempt_id = conn.execute(_INSERT_ATTEMPT, [values]).scalar_one()
                attempt = ContactAttempt(id=attempt_id, **{k: v for k, v in values.items() if k != "live"
                                                           and k != "abandoned"})
                changes = {"attempts": contact["attempts"] + 1, "attempt_id": attempt_id, "next_attempt_at": at + guard}
                conn.execute(_CONTACT_DIALING, {"b_id": contact_id, "b_attempt": attempt_id, "b_next": at + guard})
            else:
                changes = {"lease_holder": None, "lease_until": None, "last_outcome": str(verdict.rule)[:32]}
                if getattr(verdict, "final", False):
                    changes["status"] = ContactStatus.BLOCKED.value
                elif getattr(verdict, "retry_at", None) is not None:
                    changes["next_attempt_at"] = as_utc(verdict.retry_at)
                conn.execute(update(c).where(c.c.id == contact_id).values(**changes))
            contact.update(changes)
            conn.execute(_INSERT_DECISION, [decision_row(
                contact["number"], verdict, "dial", at, contact["campaign_id"], contact_id,
                attempt.id if attempt else None)])
            return Begun(attempt, verdict, to_record(CampaignContact, contact), check_seconds)

    def begin_direct(self, number: str, kind: str, now: dt.datetime | float, check: Callable[[NumberFacts], Verdict],
                     agent_id: str | None = None) -> Begun:
        """The same for a dial that is not a campaign contact (manual dial, callback): decision and attempt."""
        at = as_utc(now)
        assert at is not None
        with self.store.session() as s:
            conn = s.connection()
            values = {"number": number, "at": at, "outcome": "dialing", "purpose": kind[:16], "state": "dialing",
                      "live": False, "abandoned": False, "agent_id": agent_id}
            # Write first (the write lock is ours), then decide; a refusal rolls the row back.
            attempt_id = conn.execute(insert(ContactAttemptRow.__table__).returning(ContactAttemptRow.id),
                                      [{**values, "state": "done", "outcome": "checking"}]).scalar_one()
            started = time.perf_counter()
            facts, _status = facts_for_one(conn, number, at, None)
            verdict = check(facts)
            check_seconds = time.perf_counter() - started
            a = ContactAttemptRow.__table__
            if verdict.allowed:
                conn.execute(update(a).where(a.c.id == attempt_id).values(state="dialing", outcome="dialing"))
                attempt = ContactAttempt(id=attempt_id, **{k: v for k, v in values.items()
                                                           if k not in ("live", "abandoned")})
            else:
                conn.execute(a.delete().where(a.c.id == attempt_id))
                attempt = None
            conn.execute(insert(DialDecisionRow.__table__), [decision_row(
                number, verdict, kind, at, attempt_id=attempt.id if attempt else None)])
            return Begun(attempt, verdict, None, check_seconds)

    def mark_answered(self, attempt_id: int, at: dt.datetime | float, live: bool = True) -> None:
        """The callee answered (live: a person, not a machine): counts for the abandon rate from now on."""
        with driver_errors(), self.store.engine.begin() as conn:
            conn.execute(_ANSWERED, {"b_id": attempt_id, "b_at": as_utc(at), "b_live": bool(live)})

    def mark_connected(self, attempt_id: int, at: dt.datetime | float, agent_id: str | None = None) -> None:
        """The answered call reached an agent (or the agentless IVR): it is not an abandon."""
        with driver_errors(), self.store.engine.begin() as conn:
            conn.execute(_CONNECTED, {"b_id": attempt_id, "b_at": as_utc(at), "b_agent": agent_id})

    def finish(self, attempt_id: int, outcome: str, now: dt.datetime | float, plan: RetryPlan | None = None,
               talk_seconds: float | None = None, abandoned: bool | None = None,
               interaction_id: int | None = None) -> CampaignContact | None:
        """Conclude an attempt once; apply `plan` to its contact (if that contact still waits on this attempt).

        `abandoned` defaults to: a person answered and no agent was connected. Returns the contact."""
        at = as_utc(now)
        assert at is not None
        lock = not self.store.is_sqlite
        with driver_errors(), self.store.engine.begin() as conn:
            found = conn.execute(_ATTEMPT_AND_CONTACT_LOCKED if lock else _ATTEMPT_AND_CONTACT,
                                 {"b_id": attempt_id}).mappings().first()
            if found is None:
                return None
            found = dict(found)
            state, previous, live = found.pop("a_state"), found.pop("a_outcome"), found.pop("a_live")
            connected_at, contact_id = found.pop("a_connected_at"), found.pop("a_contact_id")
            row = found if found["id"] is not None else None
            if lock and row is not None:  # PostgreSQL: lock the contact too, and read it under the lock
                row = dict(conn.execute(_CONTACT_LOCKED, {"b_id": contact_id}).mappings().one())
            if state == "done" and previous != INTERRUPTED:
                log.info("attempt %s already concluded (%s); %s ignored", attempt_id, previous, outcome)
                return to_record(CampaignContact, row) if row else None
            outcome = str(outcome)[:32]
            conn.execute(_ATTEMPT_DONE, {
                "b_id": attempt_id, "b_outcome": outcome, "b_at": at, "b_talk": talk_seconds,
                "b_abandoned": bool(live and connected_at is None) if abandoned is None else bool(abandoned),
                "b_interaction": interaction_id})
            if self.on_finished is not None:
                self.on_finished(conn, {
                    "attempt_id": attempt_id, "campaign_id": row["campaign_id"] if row else None,
                    "contact_id": contact_id, "number": row["number"] if row else None, "outcome": outcome,
                    "ended_at": at, "talk_seconds": talk_seconds, "interaction_id": interaction_id,
                    "abandoned": bool(live and connected_at is None) if abandoned is None else bool(abandoned)})
            if row is None:
                return None
            contact = row
            if state == "dialing" and contact["attempt_id"] == attempt_id:
                self._conclude(conn, contact, outcome, at, plan)
            return to_record(CampaignContact, contact)

    @staticmethod
    def _conclude(conn: Any, contact: dict[str, Any], outcome: str, at: dt.datetime, plan: RetryPlan | None) -> None:
        """Apply an attempt's outcome to its contact (a mapping, updated in place) and end lease and claim."""
        data = dict(contact.get("data") or {})
        counts = dict(data.get("outcomes") or {})
        counts[outcome] = int(counts.get(outcome, 0)) + 1
        data["outcomes"] = counts
        status, next_at = contact["status"], None
        if status == ContactStatus.PENDING.value and plan is not None:
            planned, next_at = plan(outcome, counts[outcome], contact["attempts"])
            status = ContactStatus(planned).value
        next_at = as_utc(next_at)
        conn.execute(_CONTACT_CONCLUDED, {"b_id": contact["id"], "b_data": data, "b_outcome": outcome,
                                          "b_status": status, "b_next": next_at})
        conn.execute(_CLAIM_ENDED, {"b_number": contact["number"], "b_campaign": contact["campaign_id"]})
        contact.update(data=data, last_outcome=outcome, attempt_id=None, lease_holder=None, lease_until=None,
                       status=status, next_attempt_at=next_at or contact["next_attempt_at"])

    def recover(self, now: dt.datetime | float, max_attempts: Callable[[int], int] | None = None
                ) -> list[ContactAttempt]:
        """Conclude attempts left "dialing" by a dialer that died: those whose contact lease ran out
        (or that are older than 4 h when they have no contact). Returns them as concluded."""
        at = as_utc(now)
        assert at is not None
        a, c = ContactAttemptRow.__table__, CampaignContactRow.__table__
        stale = at - dt.timedelta(hours=4)
        with self.store.session() as s:
            conn = s.connection()
            rows = conn.execute(select(a.c.id, a.c.number, a.c.live, a.c.connected_at, a.c.contact_id, a.c.at)
                                .select_from(a.outerjoin(c, c.c.id == a.c.contact_id)).where(
                a.c.state == "dialing",
                or_(and_(a.c.contact_id.is_(None), a.c.at < stale), and_(a.c.contact_id.is_not(None), or_(
                    c.c.id.is_(None), c.c.attempt_id != a.c.id, c.c.lease_until.is_(None), c.c.lease_until <= at))))
            ).all()
            done = []
            for attempt_id, number, live, connected_at, contact_id, began in rows:
                dropped = bool(live and connected_at is None)
                outcome = "dropped" if dropped else INTERRUPTED
                conn.execute(update(a).where(a.c.id == attempt_id, a.c.state == "dialing").values(
                    state="done", ended_at=at, outcome=outcome, abandoned=dropped))
                row = conn.execute(select(c).where(c.c.id == contact_id)).mappings().first() if contact_id else None
                if row is not None and row["attempt_id"] == attempt_id:
                    limit = max_attempts(row["campaign_id"]) if max_attempts else None

                    def plan(_outcome: str, _count: int, attempts: int,
                             limit: int | None = limit) -> tuple[str, dt.datetime | None]:
                        return ("exhausted" if limit is not None and attempts >= limit else "pending"), None

                    self._conclude(conn, dict(row), outcome, at, plan)
                log.info("attempt %s on %s recovered as %s", attempt_id, mask(number), outcome)
                done.append(ContactAttempt(id=attempt_id, number=number, at=began, outcome=outcome,
                                           contact_id=contact_id, state="done", live=bool(live), abandoned=dropped))
            return done

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


@dataclass(frozen=True)
class _Lost:
    allowed: bool = False
    rule: str = "lease_lost"
    reason: str = "this dialer no longer holds the contact's lease"


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
