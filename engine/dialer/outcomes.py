"""Dial outcomes: what an originate's result or a hang-up cause means for a campaign attempt (pure).

The names are the campaign's retry-rule outcomes (`campaigns.OUTCOMES`) plus "answered" (a person reached
an agent or the agentless flow: the contact is done). "interrupted" is an answered call whose line dropped
before it was worked: the callee hung up during the agentless flow, or while waiting for an agent within the
safe harbour (still counted as abandoned: no agent was connected), or the engine died during the call.
"""
from __future__ import annotations

from engine.esl import commands

ANSWERED = "answered"
DROPPED = "dropped"
INTERRUPTED = "interrupted"
MACHINE = "machine"
# FreeSWITCH hang-up causes of a customer leg that never answered -> the campaign's outcome
_BY_CAUSE = {
    "USER_BUSY": "busy",
    "NO_ANSWER": "no_answer",
    "NO_USER_RESPONSE": "no_answer",
    "ALLOTTED_TIMEOUT": "no_answer",
    "ORIGINATOR_CANCEL": "no_answer",  # the engine gave up ringing (originate timeout)
    "UNALLOCATED_NUMBER": "invalid",
    "NO_ROUTE_DESTINATION": "invalid",
    "INVALID_NUMBER_FORMAT": "invalid",
    "NUMBER_CHANGED": "invalid",
}


def outcome_for_cause(cause: str) -> str:
    """The outcome of a call that was not answered, from the originate's `-ERR <CAUSE>` (others: failed)."""
    return _BY_CAUSE.get((cause or "").strip().upper(), "failed")


def job_cause(body: str) -> str | None:
    """The cause of a failed originate job (`-ERR USER_BUSY`), or None when it answered (`+OK <uuid>`)."""
    text = (body or "").strip()
    if text.startswith(commands.REPLY_OK):
        return None
    if text.startswith(commands.REPLY_ERR):
        text = text[len(commands.REPLY_ERR):].strip()
    return (text.split() or ["UNKNOWN"])[0]
