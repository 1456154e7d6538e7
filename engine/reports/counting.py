"""Which rows each count takes, written once as SQL expressions (portable between SQLite and PostgreSQL)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal, literal_column, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from engine.store.models import ContactAttemptRow, DispositionRow, InteractionRow

I = InteractionRow.__table__
A = ContactAttemptRow.__table__
D = DispositionRow.__table__

# Attempt outcomes where nobody (no person) answered; anything else (answered, dropped, a disposition) is live.
NO_CONTACT_OUTCOMES = ("busy", "no_answer", "machine", "failed", "invalid", "interrupted", "dialing")
ABANDONED_OUTCOMES = ("dropped",)  # a live answer no agent took (the dialer's abandoned / silent call)
NOT_RIGHT_PARTY_CATEGORIES = ("wrong-party", "no-contact")
SLOT_SECONDS = 900  # traffic is grouped by UTC quarter hour, then placed in the center's local day and hour


def const(value: str | float) -> ColumnElement:
    """A constant written into the SQL text (no bound parameter), so that an expression in the select list and
    the same one in GROUP BY are identical to PostgreSQL. Only for the module's own constants."""
    if isinstance(value, str):
        assert "'" not in value
        return literal_column(f"'{value}'")
    return literal_column(repr(float(value)))


def epoch(dialect: str, column: Any) -> ColumnElement:
    """Seconds since 1970 of a stored (naive UTC) timestamp."""
    if dialect == "sqlite":
        return (func.julianday(column) - const(2440587.5)) * const(86400.0)
    return func.extract("epoch", column)


def slot(dialect: str, column: Any) -> ColumnElement:
    """The UTC quarter hour of a timestamp, as a whole number (epoch seconds ÷ 900, rounded down; a
    millisecond is added so that julianday's rounding never moves 12:00:00 into the quarter before)."""
    if dialect == "sqlite":
        return cast((epoch(dialect, column) + const(0.001)) / const(SLOT_SECONDS), Integer)
    return func.floor(epoch(dialect, column) / const(SLOT_SECONDS))


def in_range(since: Any, until: Any) -> ColumnElement:
    """Interactions are attributed to a period by their arrival time."""
    return and_(I.c.arrived_at >= since, I.c.arrived_at < until)


def is_callback_call() -> ColumnElement:
    """An agent-first callback (call id `cb-…`): the ACD dials the customer; it is not an offered call."""
    return func.substr(func.coalesce(I.c.call_id, const("")), 1, 3) == const("cb-")


def offered() -> ColumnElement:
    """Inbound interactions that entered an ACD queue (agent-first callbacks excluded)."""
    return and_(I.c.direction == "inbound", I.c.queue_entered_at.is_not(None), not_(is_callback_call()))


# Each count of an offered call is "offered AND <its own condition>"; the condition alone (`given_offered=True`)
# is what a query whose WHERE already keeps offered calls evaluates, once per row.


def answered(given_offered: bool = False) -> ColumnElement:
    """Offered and bridged to an agent."""
    own = I.c.bridged_at.is_not(None)
    return own if given_offered else and_(offered(), own)


def abandoned(given_offered: bool = False) -> ColumnElement:
    """Offered, never bridged, flagged abandoned and ended by the caller (not by the queue's overflow rule)."""
    own = and_(I.c.bridged_at.is_(None), I.c.abandoned == true(),
               func.coalesce(I.c.hangup_by, const("caller")) == const("caller"))
    return own if given_offered else and_(offered(), own)


def short_abandoned(short_s: float, given_offered: bool = False) -> ColumnElement:
    """Abandoned with a wait under the short-abandon threshold."""
    return and_(abandoned(given_offered), func.coalesce(I.c.wait_seconds, 0.0) < short_s)


def overflowed(given_offered: bool = False) -> ColumnElement:
    """Offered, never bridged, not abandoned, and over: the queue's rule moved the caller on (callback,
    voicemail, timeout, queue full) or the flow ended the call."""
    own = and_(I.c.bridged_at.is_(None), I.c.hangup_at.is_not(None), not_(abandoned(True)))
    return own if given_offered else and_(offered(), own)


def answered_within(threshold_s: float, given_offered: bool = False) -> ColumnElement:
    """Answered with a wait (queue entry to bridge) of at most T seconds."""
    return and_(answered(given_offered), func.coalesce(I.c.wait_seconds, 0.0) <= threshold_s)


def handled() -> ColumnElement:
    """Any interaction (inbound or outbound, callbacks too) bridged to an agent: an agent's handled call."""
    return and_(I.c.agent_id.is_not(None), I.c.bridged_at.is_not(None))


def talk_without_hold() -> ColumnElement:
    """Talk of one interaction as AHT counts it: the bridged conversation (`talk_seconds`, bridge to
    hang-up) minus the seconds on hold in it, so that talk + hold + wrap-up counts each second once."""
    talk, hold = func.coalesce(I.c.talk_seconds, 0.0), func.coalesce(I.c.hold_seconds, 0.0)
    return case((talk > hold, talk - hold), else_=0.0)


def wrap_up_seconds(dialect: str) -> ColumnElement:
    """After-call work of one interaction: wrap_up_until − end of the agent conversation (bridge + talk), ≥ 0."""
    conversation_end = epoch(dialect, I.c.bridged_at) + func.coalesce(I.c.talk_seconds, 0.0)
    raw = epoch(dialect, I.c.wrap_up_until) - conversation_end
    return case((and_(I.c.wrap_up_until.is_not(None), I.c.bridged_at.is_not(None), raw > 0), raw), else_=0.0)


UNRESOLVED_CATEGORY = "unresolved"  # a disposition in this category says the matter is still open


def fcr_eligible() -> ColumnElement:
    """An inbound call an agent handled and gave a disposition: the calls first-contact resolution judges."""
    return and_(handled(), I.c.direction == "inbound", I.c.disposition_code.is_not(None))


def fcr_resolved(dialect: str, window_s: float) -> ColumnElement:
    """Eligible, a disposition not in category "unresolved", and no inbound call from the same number in the
    window after it (the index on (caller, arrived_at) serves the look-up)."""
    J = I.alias("repeat")
    repeat = (select(literal(1)).select_from(J)
              .where(J.c.caller == I.c.caller, J.c.direction == "inbound", J.c.arrived_at > I.c.arrived_at,
                     epoch(dialect, J.c.arrived_at) <= epoch(dialect, I.c.arrived_at) + const(window_s))
              .correlate(I).exists())
    return and_(fcr_eligible(), or_(D.c.category.is_(None), D.c.category != const(UNRESOLVED_CATEGORY)), not_(repeat))


def count_if(condition: ColumnElement) -> ColumnElement:
    return func.sum(case((condition, 1), else_=0))


def sum_if(condition: ColumnElement, value: ColumnElement) -> ColumnElement:
    return func.sum(case((condition, value), else_=0.0))


def attempt_live() -> ColumnElement:
    """A person answered the attempt: the dialer's `live` flag where the store has it, or an outcome that says so
    (anything but busy, no answer, machine, failed, invalid, interrupted: rows written before the flag existed)."""
    by_outcome = A.c.outcome.not_in(NO_CONTACT_OUTCOMES)
    return or_(A.c.live == true(), by_outcome) if "live" in A.c else by_outcome


def attempt_abandoned() -> ColumnElement:
    """A live answer that no agent took: the dialer's `abandoned` flag where the store has it, or outcome dropped."""
    by_outcome = A.c.outcome.in_(ABANDONED_OUTCOMES)
    return or_(A.c.abandoned == true(), by_outcome) if "abandoned" in A.c else by_outcome


def attempt_finished() -> ColumnElement:
    if "state" in A.c:
        return A.c.state != "dialing"
    return A.c.outcome != "dialing"


def attempt_connected() -> ColumnElement:
    """A live answer bridged to an agent (the interaction of the attempt reached an agent)."""
    return and_(attempt_live(), not_(attempt_abandoned()), I.c.bridged_at.is_not(None))


def right_party() -> ColumnElement:
    """Connected and the disposition's category does not say wrong party / no contact."""
    return and_(attempt_connected(), I.c.disposition_code.is_not(None),
                or_(D.c.category.is_(None), D.c.category.not_in(NOT_RIGHT_PARTY_CATEGORIES)))


def success() -> ColumnElement:
    return and_(I.c.disposition_code.is_not(None), D.c.is_success == true())


__all__ = ["A", "D", "I", "literal"]
