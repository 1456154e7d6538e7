"""Metric definitions: one pure function per metric, with its formula and what it counts (docs/metrics.md).

How it works: the queries (engine.reports.queries) count facts in SQL — which rows each count takes is
written once, in engine.reports.counting — and hand them over as the small value types below; these
functions turn counts into the figures a report shows. Nothing here touches the database, so the same
definitions serve the CLI, CSV, the web pages and the tests' independent ground truth.
A ratio with an empty denominator is None ("no calls"), never 0 or an error.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

DEFAULT_SERVICE_LEVEL_S = 20.0  # the "80/20" convention: answered within 20 s
DEFAULT_SHORT_ABANDON_S = 5.0  # callers who hang up within 5 s of queueing are "short abandons"
DEFAULT_FCR_WINDOW_DAYS = 7  # a repeat call within 7 days means the first one did not resolve the matter
DEFAULT_CALLBACK_GRACE_S = 3600.0  # a callback is kept "on time" when the customer is reached within 1 h of due
MAX_OUTBOUND_ABANDON_RATE = 0.03  # Ofcom (per 24 h) and the FTC TSR (per 30 days): at most 3 % of live answers


def ratio(part: float, whole: float) -> float | None:
    """part ÷ whole, None when whole is 0."""
    return None if not whole else part / whole


@dataclass
class QueueCounts:
    """What happened to inbound calls that entered a queue (one queue, agent, hour... or the whole center)."""

    offered: int = 0  # entered an ACD queue
    answered: int = 0  # bridged to an agent
    abandoned: int = 0  # the caller hung up while waiting (never bridged)
    short_abandoned: int = 0  # abandoned within the short-abandon threshold
    answered_within_t: int = 0  # answered with wait <= service-level threshold T
    overflowed: int = 0  # left the queue by the queue's rule: callback, voicemail, timeout, full
    wait_answered_s: float = 0.0  # sum of waits (queue entry -> bridge) of answered calls
    talk_s: float = 0.0  # sum of agent conversation seconds of answered calls
    hold_s: float = 0.0  # sum of hold seconds of answered calls (CHANNEL_HOLD..CHANNEL_UNHOLD, engine/acd/hold.py)
    wrap_up_s: float = 0.0  # sum of after-call work seconds of answered calls
    successes: int = 0  # answered calls whose disposition is a success (is_success)

    @property
    def in_progress(self) -> int:
        """Offered calls with no end yet (still waiting or talking when the report was run)."""
        return self.offered - self.answered - self.abandoned - self.overflowed

    def add(self, other: "QueueCounts") -> "QueueCounts":
        for name in _QUEUE_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


def offered(c: QueueCounts) -> int:
    """Calls offered = inbound interactions that entered an ACD queue (queue_entered_at set), counted once per
    call even when an agent transferred it to another queue (it is counted in the queue it ended in)."""
    return c.offered


def answered(c: QueueCounts) -> int:
    """Calls answered = offered calls bridged to an agent (bridged_at set)."""
    return c.answered


def abandoned(c: QueueCounts, include_short: bool = True) -> int:
    """Calls abandoned = offered calls the caller hung up before an agent was bridged; without short
    abandons: minus those whose wait was under the short-abandon threshold."""
    return c.abandoned if include_short else c.abandoned - c.short_abandoned


def abandon_rate(c: QueueCounts, include_short: bool = True) -> float | None:
    """Abandon rate = abandoned ÷ offered; without short abandons = (abandoned − short) ÷ (offered − short)."""
    if include_short:
        return ratio(c.abandoned, c.offered)
    return ratio(c.abandoned - c.short_abandoned, c.offered - c.short_abandoned)


def service_level(c: QueueCounts, exclude_short_abandons: bool = False) -> float | None:
    """Service level = answered within T ÷ offered (every offered call counts, abandons too); the variant
    excluding short abandons = answered within T ÷ (offered − short abandons)."""
    if exclude_short_abandons:
        return ratio(c.answered_within_t, c.offered - c.short_abandoned)
    return ratio(c.answered_within_t, c.offered)


def average_speed_of_answer(c: QueueCounts) -> float | None:
    """ASA = Σ wait of answered calls (queue entry → bridge to the agent) ÷ answered calls, in seconds."""
    return ratio(c.wait_answered_s, c.answered)


def average_handle_time(c: QueueCounts) -> float | None:
    """AHT = (Σ talk + Σ hold + Σ wrap-up) ÷ answered calls, in seconds."""
    return ratio(c.talk_s + c.hold_s + c.wrap_up_s, c.answered)


@dataclass
class AgentTime:
    """Seconds an agent spent in each state over a period (from the agent state timeline)."""

    seconds: dict[str, float] = field(default_factory=dict)  # state -> seconds
    not_ready: dict[str, float] = field(default_factory=dict)  # not-ready reason ("" = none given) -> seconds

    def of(self, *states: str) -> float:
        return sum(self.seconds.get(s, 0.0) for s in states)


BUSY_STATES = ("ringing", "on-call", "wrap-up")  # reserved for, talking on, or working after a call
IDLE_STATES = ("available",)
LOGGED_IN_STATES = BUSY_STATES + IDLE_STATES + ("not-ready",)


def logged_in_seconds(t: AgentTime) -> float:
    """Staffed time = seconds in any state but logged-out (available, ringing, on-call, wrap-up, not-ready)."""
    return t.of(*LOGGED_IN_STATES)


def occupancy(t: AgentTime) -> float | None:
    """Occupancy = busy ÷ (busy + available), busy = ringing + on-call + wrap-up seconds (not-ready excluded)."""
    busy = t.of(*BUSY_STATES)
    return ratio(busy, busy + t.of(*IDLE_STATES))


def utilisation(t: AgentTime) -> float | None:
    """Utilisation = busy ÷ logged-in seconds (not-ready counts in the denominator)."""
    return ratio(t.of(*BUSY_STATES), logged_in_seconds(t))


def first_contact_resolution(resolved_first: int, eligible: int) -> float | None:
    """FCR = answered inbound calls with a disposition, from a caller who did not call again within the FCR
    window (7 days by default, `--fcr-days`), and whose disposition is not in category "unresolved" ÷
    answered inbound calls with a disposition (calls without one cannot be judged and are left out)."""
    return ratio(resolved_first, eligible)


@dataclass
class IvrCounts:
    """Inbound calls that ran an IVR flow."""

    entered: int = 0  # calls that started the flow
    contained: int = 0  # ended in the IVR by the flow (never queued, not transferred, not a caller hang-up)
    hung_up_in_ivr: int = 0  # the caller hung up in the IVR before reaching a queue
    to_queue: int = 0  # reached an ACD queue
    transferred: int = 0  # left by a transfer node to the dialplan


def ivr_containment(c: IvrCounts) -> float | None:
    """IVR containment = calls the flow finished itself (self-service: never queued, not transferred, not
    ended by the caller hanging up) ÷ calls that entered the flow."""
    return ratio(c.contained, c.entered)


def callbacks_kept(made: int, kept: int) -> float | None:
    """Callback kept rate = callbacks closed "done" (the customer was reached) ÷ callbacks made (requested)."""
    return ratio(kept, made)


@dataclass
class CampaignCounts:
    """Finished dial attempts of a campaign (or of one agent or disposition in it)."""

    attempts: int = 0  # finished dial attempts (in-flight ones are left out)
    live_answers: int = 0  # a person answered (not busy, no answer, machine, failed, invalid)
    connected: int = 0  # a live answer bridged to an agent
    abandoned: int = 0  # a live answer that no agent took (dropped / silent call)
    right_party: int = 0  # connected and the disposition says the intended person was reached
    successes: int = 0  # connected with a success disposition (is_success)
    talk_s: float = 0.0

    def add(self, other: "CampaignCounts") -> "CampaignCounts":
        for name in _CAMPAIGN_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


_QUEUE_FIELDS = tuple(f.name for f in fields(QueueCounts))
_CAMPAIGN_FIELDS = tuple(f.name for f in fields(CampaignCounts))


def contact_rate(c: CampaignCounts) -> float | None:
    """Contact rate = live answers ÷ finished dial attempts."""
    return ratio(c.live_answers, c.attempts)


def right_party_contact_rate(c: CampaignCounts) -> float | None:
    """RPC rate = right-party contacts ÷ finished dial attempts (a connected call whose disposition is not in
    category "wrong-party" or "no-contact")."""
    return ratio(c.right_party, c.attempts)


def conversion_rate(c: CampaignCounts) -> float | None:
    """Conversion = connected calls with a success disposition ÷ right-party contacts."""
    return ratio(c.successes, c.right_party)


def outbound_abandon_rate(c: CampaignCounts) -> float | None:
    """Abandon rate of live answers = abandoned (no agent took the answered call) ÷ live answers; reported per
    day of the center's zone (Ofcom's 24 h rule) and per rolling 30 days (US FTC TSR); limit 3 %."""
    return ratio(c.abandoned, c.live_answers)


def csat_average(scores: dict[int, int]) -> float | None:
    """CSAT average = Σ score ÷ answers, over survey answers 1..5 ({score: count})."""
    total = sum(scores.values())
    return ratio(sum(score * n for score, n in scores.items()), total)


def csat_top2_box(scores: dict[int, int]) -> float | None:
    """CSAT top-2-box = answers scoring 4 or 5 ÷ all answers (the ACSI/industry "satisfied" share)."""
    total = sum(scores.values())
    return ratio(scores.get(4, 0) + scores.get(5, 0), total)
