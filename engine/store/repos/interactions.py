"""Interactions (one per call, from arrival to hang-up), their recordings and survey results."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import false, func, or_, select, true, update

from engine.store.database import Store
from engine.store.errors import NotFound
from engine.store.models import CustomerPhoneRow, CustomerRow, InteractionRow, RecordingRow, SurveyResultRow, as_utc
from engine.store.phones import lookup_variants
from engine.store.records import Interaction, Recording, SurveyResult
from engine.store.repos.convert import to_record

log = logging.getLogger(__name__)
_TIMES = {"arrived_at", "queue_entered_at", "offered_at", "answered_at", "bridged_at", "hangup_at", "wrap_up_until"}
_LISTS = {"ivr_path", "ivr_digits"}
UPDATABLE = _TIMES | _LISTS | {
    "call_id", "caller", "callee", "did", "customer_id", "campaign_id", "queue", "agent_id", "ivr_flow", "ivr_outcome",
    "wait_seconds", "talk_seconds", "hold_seconds", "hangup_cause", "sip_status", "ivr_exit_node", "hangup_by", "disposition_code", "abandoned", "notes",
    "transferred_from_id",
}


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, round((end - start).total_seconds(), 3))


class InteractionRepository:
    """Write the life of each call as it happens; read a customer's history."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def start(self, direction: str, arrived_at: dt.datetime | float, caller: str | None = None,
              callee: str | None = None, did: str | None = None, call_id: str | None = None,
              customer_id: int | None = None, campaign_id: int | None = None, ivr_flow: str | None = None,
              transferred_from_id: int | None = None) -> int:
        """Open the interaction of a call and return its id; links the customer by the remote number."""
        if direction not in ("inbound", "outbound"):
            raise ValueError(f"direction must be inbound or outbound, got {direction!r}")
        remote = caller if direction == "inbound" else callee
        with self.store.session() as s:
            if customer_id is None and remote:
                variants = lookup_variants(remote, self.store.region)
                if variants:
                    customer_id = s.scalars(select(CustomerPhoneRow.customer_id)
                                            .where(CustomerPhoneRow.e164.in_(variants)).limit(1)).first()
            row = InteractionRow(direction=direction, arrived_at=as_utc(arrived_at),
                                 caller=self._number(caller), callee=self._number(callee), did=_clip(did), call_id=call_id, customer_id=customer_id,
                                 campaign_id=campaign_id, ivr_flow=ivr_flow, transferred_from_id=transferred_from_id,
                                 ivr_path=[], ivr_digits=[], abandoned=False)
            s.add(row)
            s.flush()
            return row.id

    def update(self, interaction_id: int, **fields: Any) -> None:
        """Set some fields (timestamps as datetimes or epoch seconds); unknown field names raise ValueError."""
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"unknown interaction field(s): {', '.join(sorted(unknown))}")
        with self.store.session() as s:
            row = self._require(s, interaction_id)
            for key, value in fields.items():
                if key in _TIMES:
                    value = as_utc(value)
                elif key in _LISTS:
                    value = list(value or [])
                setattr(row, key, value)

    def finish(self, interaction_id: int, hangup_at: dt.datetime | float, hangup_cause: str | None = None,
               hangup_by: str | None = None, abandoned: bool | None = None,
               disposition_code: str | None = None, sip_status: int | None = None,
               ivr_exit_node: str | None = None) -> Interaction:
        """Close the interaction: wait and talk seconds are computed, the customer's last contact updated.

        Wait is queue entry to bridge (or to hang-up when never bridged); talk is bridge (or answer) to
        hang-up, unless a talk time was already stored (the ACD stores the agent conversation's length,
        and the caller may stay on afterwards, e.g. for a survey). `abandoned` defaults to "entered a queue and was never bridged to an agent".
        """
        end = as_utc(hangup_at)
        with self.store.session() as s:
            row = self._require(s, interaction_id)
            row.hangup_at = end
            row.hangup_cause = hangup_cause or row.hangup_cause
            row.hangup_by = hangup_by or row.hangup_by
            row.sip_status = sip_status if sip_status is not None else row.sip_status
            row.ivr_exit_node = ivr_exit_node or row.ivr_exit_node
            if disposition_code is not None:
                row.disposition_code = disposition_code
            connected = row.bridged_at or row.answered_at
            if row.queue_entered_at is not None and row.wait_seconds is None:  # the ACD may have stored it
                row.wait_seconds = _seconds(row.queue_entered_at, row.bridged_at or end)
            if row.talk_seconds is None:  # the ACD may already have stored the conversation's own length
                row.talk_seconds = _seconds(connected, end) if connected else 0.0
            row.abandoned = (row.queue_entered_at is not None and row.bridged_at is None) if abandoned is None else abandoned
            if row.customer_id is not None:
                customer = s.get(CustomerRow, row.customer_id)
                if customer is not None:
                    customer.last_contact_at = end
                    if row.agent_id and row.bridged_at is not None:
                        customer.last_agent_id = row.agent_id
            s.flush()
            return to_record(Interaction, row)

    def get(self, interaction_id: int) -> Interaction | None:
        with self.store.session() as s:
            row = s.get(InteractionRow, interaction_id)
            return to_record(Interaction, row) if row else None

    def by_call_id(self, call_id: str) -> Interaction | None:
        """The newest interaction carrying this engine call id."""
        with self.store.session() as s:
            row = s.scalars(select(InteractionRow).where(InteractionRow.call_id == call_id)
                            .order_by(InteractionRow.id.desc()).limit(1)).first()
            return to_record(Interaction, row) if row else None

    def add_hold(self, call_ids: Sequence[str], seconds: float) -> int | None:
        """Add `seconds` on hold to the newest interaction of the first of `call_ids` that has one (a hold
        is reported on either leg of a bridged call); returns its id, or None when no call id is known."""
        if seconds <= 0:
            return None
        with self.store.session() as s:
            for call_id in call_ids:
                row = s.scalars(select(InteractionRow).where(InteractionRow.call_id == call_id)
                                .order_by(InteractionRow.id.desc()).limit(1)).first()
                if row is not None:
                    s.execute(update(InteractionRow).where(InteractionRow.id == row.id).values(
                        hold_seconds=func.coalesce(InteractionRow.hold_seconds, 0.0) + float(seconds)))
                    return row.id
        return None

    def recent_for_customer(self, customer_id: int, limit: int = 5) -> list[Interaction]:
        """The customer's newest interactions first."""
        with self.store.session() as s:
            rows = s.scalars(select(InteractionRow).where(InteractionRow.customer_id == customer_id)
                             .order_by(InteractionRow.arrived_at.desc(), InteractionRow.id.desc()).limit(limit))
            return [to_record(Interaction, r) for r in rows]

    def between(self, since: dt.datetime | float, until: dt.datetime | float) -> list[Interaction]:
        """Interactions that arrived in [since, until), oldest first (for reports)."""
        with self.store.session() as s:
            rows = s.scalars(select(InteractionRow).where(InteractionRow.arrived_at >= as_utc(since),
                                                          InteractionRow.arrived_at < as_utc(until))
                             .order_by(InteractionRow.arrived_at, InteractionRow.id))
            return [to_record(Interaction, r) for r in rows]

    def search(self, since: dt.datetime | float | None = None, until: dt.datetime | float | None = None,
               number: str | None = None, queue: str | None = None, agent_id: str | None = None,
               outcome: str | None = None, abandoned: bool | None = None, limit: int = 100,
               offset: int = 0) -> list[Interaction]:
        """Interactions that arrived in [since, until), newest first, at most `limit`.

        `number` matches the caller or the callee in any format; `outcome` is `answered` (bridged to an
        agent), `abandoned`, or an IVR outcome / disposition code (exact).
        """
        query = select(InteractionRow)
        if since is not None:
            query = query.where(InteractionRow.arrived_at >= as_utc(since))
        if until is not None:
            query = query.where(InteractionRow.arrived_at < as_utc(until))
        if number:
            variants = lookup_variants(number, self.store.region) or [number.strip()]
            query = query.where(or_(InteractionRow.caller.in_(variants), InteractionRow.callee.in_(variants)))
        if queue:
            query = query.where(InteractionRow.queue == queue)
        if agent_id:
            query = query.where(InteractionRow.agent_id == agent_id)
        if outcome == "answered":
            query = query.where(InteractionRow.bridged_at.is_not(None))
        elif outcome == "abandoned":
            query = query.where(InteractionRow.abandoned == true())
        elif outcome:
            query = query.where(or_(InteractionRow.ivr_outcome == outcome, InteractionRow.disposition_code == outcome))
        if abandoned is not None:
            query = query.where(InteractionRow.abandoned == (true() if abandoned else false()))
        query = query.order_by(InteractionRow.arrived_at.desc(), InteractionRow.id.desc()).limit(max(1, int(limit)))
        query = query.offset(max(0, int(offset)))
        with self.store.session() as s:
            return [to_record(Interaction, r) for r in s.scalars(query)]

    def _number(self, raw: str | None) -> str | None:
        """E.164 when the number parses, else the raw text (an anonymous or internal caller ID)."""
        if raw is None:
            return None
        variants = lookup_variants(raw, self.store.region)
        return variants[0] if variants else _clip(raw)

    @staticmethod
    def _require(s, interaction_id: int) -> InteractionRow:  # type: ignore[no-untyped-def]
        row = s.get(InteractionRow, interaction_id)
        if row is None:
            raise NotFound(f"no interaction with id {interaction_id}")
        return row


class RecordingRepository:
    """Recording files with their size and checksum, attached to interactions."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, path: str, duration: float, bytes: int, sha256: str, interaction_id: int | None,
            at: dt.datetime | float | None = None) -> Recording:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower()):
            raise ValueError("sha256 must be 64 hexadecimal characters")
        with self.store.session() as s:
            row = RecordingRow(path=str(path), duration=float(duration), size_bytes=int(bytes), sha256=sha256.lower(),
                               interaction_id=interaction_id,
                               created_at=as_utc(at) or dt.datetime.now(dt.timezone.utc))
            s.add(row)
            s.flush()
            return to_record(Recording, row)

    def get(self, recording_id: int) -> Recording | None:
        with self.store.session() as s:
            row = s.get(RecordingRow, recording_id)
            return to_record(Recording, row) if row else None

    def for_interaction(self, interaction_id: int) -> list[Recording]:
        with self.store.session() as s:
            rows = s.scalars(select(RecordingRow).where(RecordingRow.interaction_id == interaction_id).order_by(RecordingRow.id))
            return [to_record(Recording, r) for r in rows]


class SurveyRepository:
    """Post-call survey answers (scores 1..5)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, question: str, score: int, at: dt.datetime | float, interaction_id: int | None = None,
               customer_id: int | None = None, agent_id: str | None = None) -> SurveyResult:
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise ValueError(f"survey score must be a whole number 1..5, got {score!r}")
        with self.store.session() as s:
            row = SurveyResultRow(question=str(question)[:64], score=score, at=as_utc(at), interaction_id=interaction_id,
                                  customer_id=customer_id, agent_id=agent_id)
            s.add(row)
            s.flush()
            return to_record(SurveyResult, row)

    def for_interaction(self, interaction_id: int) -> list[SurveyResult]:
        with self.store.session() as s:
            rows = s.scalars(select(SurveyResultRow).where(SurveyResultRow.interaction_id == interaction_id)
                             .order_by(SurveyResultRow.id))
            return [to_record(SurveyResult, r) for r in rows]

    def average(self, since: dt.datetime | float, until: dt.datetime | float,
                question: str | None = None) -> tuple[int, float | None]:
        """(number of answers, mean score) in [since, until)."""
        query = select(func.count(), func.avg(SurveyResultRow.score)).where(
            SurveyResultRow.at >= as_utc(since), SurveyResultRow.at < as_utc(until))
        if question is not None:
            query = query.where(SurveyResultRow.question == question)
        with self.store.session() as s:
            count, mean = s.execute(query).one()
            return int(count), (round(float(mean), 3) if mean is not None else None)


def _clip(value: str | None) -> str | None:
    return None if value is None else str(value)[:64]
