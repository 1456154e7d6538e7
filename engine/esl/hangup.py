"""What FreeSWITCH says about a leg's end: the hang-up cause, the SIP status and who sent the BYE.

How it works: CHANNEL_HANGUP carries `Hangup-Cause` and, when the far end ended or refused the call,
`variable_sip_term_status` (200 after the caller's BYE, 486 busy...) and `proto_specific_hangup_cause`
(`sip:200`); CHANNEL_HANGUP_COMPLETE (the CDR) adds `sip_hangup_disposition` (recv_bye, send_bye,
recv_cancel, recv_refuse, send_cancel...). A leg the engine hung up itself has no SIP status
(captures 03, 05a-05c, 04c-04e). `HangupFacts.merge` folds the two events: the first value seen wins.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from engine.esl import commands

if TYPE_CHECKING:  # pragma: no cover - a type only: the ACD reads hang-ups without loading the wire protocol
    from engine.esl.events import Event

HANGUP_EVENTS = frozenset({commands.EV_CHANNEL_HANGUP, commands.EV_CHANNEL_HANGUP_COMPLETE})


@dataclass(frozen=True)
class HangupFacts:
    """The end of one leg as FreeSWITCH reported it; empty values when it said nothing."""

    cause: str = ""  # Q.850 name, e.g. NORMAL_CLEARING, USER_BUSY, ORIGINATOR_CANCEL
    sip_status: int | None = None  # final SIP status; None when the leg was ended on our side
    disposition: str = ""  # sip_hangup_disposition

    @property
    def known(self) -> bool:
        return bool(self.cause)

    @property
    def by_remote(self) -> bool | None:
        """True when the far end ended the leg (BYE, CANCEL or refusal received), None when not told."""
        if not self.disposition:
            return None
        return self.disposition.startswith("recv_")

    def merge(self, other: "HangupFacts") -> "HangupFacts":
        return replace(self, cause=self.cause or other.cause,
                       sip_status=self.sip_status if self.sip_status is not None else other.sip_status,
                       disposition=self.disposition or other.disposition)


def sip_status_of(variable) -> int | None:  # type: ignore[no-untyped-def]
    """The SIP status from a leg's variables (`variable(name) -> str | None`), or None."""
    for name in (commands.VAR_SIP_TERM_STATUS, commands.VAR_SIP_INVITE_FAILURE_STATUS):
        value = (variable(name) or "").strip()
        if value.isdigit() and 100 <= int(value) <= 699:
            return int(value)
    proto = (variable(commands.VAR_PROTO_HANGUP_CAUSE) or "").strip()
    if proto.startswith("sip:") and proto[4:].isdigit() and 100 <= int(proto[4:]) <= 699:
        return int(proto[4:])
    return None


def hangup_facts(event: Event) -> HangupFacts:
    """The facts carried by a CHANNEL_HANGUP or CHANNEL_HANGUP_COMPLETE event (empty for other events)."""
    if event.name not in HANGUP_EVENTS:
        return HangupFacts()
    cause = (event.get(commands.H_HANGUP_CAUSE) or event.variable(commands.VAR_HANGUP_CAUSE) or "").strip()
    return HangupFacts(cause=cause[:64], sip_status=sip_status_of(event.variable),
                       disposition=(event.variable(commands.VAR_SIP_HANGUP_DISPOSITION) or "")[:32])
