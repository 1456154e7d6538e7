"""Compliance: may this number be dialed now? One pure decision, consulted before every dial, with its rule.

How it works: `decide(request, facts, policy, now)` walks the rules in a fixed order and returns the
first that refuses, or "ok". Permanent refusals (DNC black list, grey list for marketing, do-not-disturb,
no marketing consent, an invalid number) are `final`: the contact is blocked. Temporary ones (outside the
callee's calling hours or the campaign's windows, a frequency cap, the number in flight or worked by
another campaign) carry `retry_at`, when the contact may be tried again. Facts come from the store
(`engine.store.repos.compliance.NumberFacts`); time is passed in. The same function answers for
campaign contacts (at lease time and again right before the dial), manual dials and callbacks.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from engine.ivr.hours import WeeklySchedule, parse_weekly, zone as find_zone
from engine.store.phones import timezone_for
from engine.store.repos.compliance import NumberFacts

DIAL_KINDS = ("campaign", "manual", "callback")
FINAL_RULES = ("invalid_number", "dnc_black", "dnc_grey", "do_not_disturb", "no_consent")


@dataclass(frozen=True)
class CompliancePolicy:
    """Rules that hold for every dial, whatever campaign or agent places it."""

    calling_hours: WeeklySchedule = field(default_factory=lambda: parse_weekly({"daily": "08:00-21:00"})[0])
    holidays: frozenset[dt.date] = frozenset()
    max_attempts_per_24h: int = 3
    max_marketing_contacts_per_7d: int = 2
    require_marketing_consent: bool = False
    default_timezone: str = "Asia/Shanghai"
    in_flight_retry: dt.timedelta = dt.timedelta(minutes=5)
    claimed_retry: dt.timedelta = dt.timedelta(minutes=10)
    cap_retry: dt.timedelta = dt.timedelta(hours=1)


@dataclass(frozen=True)
class DialRequest:
    """One intended dial. `windows` are the campaign's calling windows (callee-local), if any."""

    number: str
    kind: str = "campaign"  # campaign | manual | callback
    marketing: bool = False
    campaign_id: int | None = None
    contact_id: int | None = None
    timezone: str | None = None
    windows: WeeklySchedule | None = None


@dataclass(frozen=True)
class Decision:
    """The answer: allowed or not, by which rule, why; when a refused contact may be tried again."""

    allowed: bool
    rule: str
    reason: str
    final: bool = False
    retry_at: dt.datetime | None = None


OK = "ok"


def refuse(rule: str, reason: str, retry_at: dt.datetime | None = None) -> Decision:
    return Decision(False, rule, reason, final=rule in FINAL_RULES, retry_at=retry_at)


def callee_zone(request: DialRequest, facts: NumberFacts, policy: CompliancePolicy) -> ZoneInfo:
    """The callee's time zone: the contact's, else the customer's, else the number's, else the default."""
    for name in (request.timezone, facts.timezone):
        found = _zone(name) if name else None
        if found is not None:
            return found
    for name in (_number_zone(request.number), policy.default_timezone):  # parsing the number costs: last
        found = _zone(name) if name else None
        if found is not None:
            return found
    return ZoneInfo("UTC")


@functools.lru_cache(maxsize=4096)
def _number_zone(number: str) -> str | None:
    return timezone_for(number) if number.startswith("+") else None


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    return find_zone(name)


def decide(request: DialRequest, facts: NumberFacts | None, policy: CompliancePolicy, now: dt.datetime) -> Decision:
    """May `request` be dialed at `now`? The first rule that refuses wins."""
    if facts is None or not request.number.startswith("+"):
        return refuse("invalid_number", "not a valid E.164 number")
    if facts.dnc_list == "black":
        return refuse("dnc_black", f"on the do-not-call black list ({facts.dnc_reason or 'no reason given'})")
    if facts.dnc_list == "grey" and request.marketing:
        return refuse("dnc_grey", f"on the grey list: no marketing calls ({facts.dnc_reason or 'no reason given'})")
    if facts.do_not_disturb and request.kind != "callback":
        return refuse("do_not_disturb", "the customer asked not to be disturbed")
    if request.marketing and (facts.marketing_consent is False
                              or (facts.marketing_consent is None and policy.require_marketing_consent)):
        return refuse("no_consent", "no consent to marketing calls"
                      + (" (withdrawn)" if facts.marketing_consent is False else " (never given)"))
    if facts.claimed_by is not None:
        return refuse("other_campaign", f"campaign {facts.claimed_by} is working this number",
                      now + policy.claimed_retry)
    if facts.in_flight:
        return refuse("in_flight", "an attempt on this number is in progress", now + policy.in_flight_retry)
    tz = callee_zone(request, facts, policy)
    windows = request.windows if request.kind == "campaign" else None
    local = now.astimezone(tz)
    if not policy.calling_hours.is_open(local, policy.holidays):
        return refuse("calling_hours", f"{local:%a %H:%M} in {tz.key} is outside the legal calling hours",
                      next_open(now, tz, policy.calling_hours, policy.holidays, windows))
    if windows is not None and not windows.is_open(local):
        return refuse("campaign_window", f"{local:%a %H:%M} in {tz.key} is outside the campaign's calling windows",
                      next_open(now, tz, policy.calling_hours, policy.holidays, windows))
    if facts.attempts_24h >= policy.max_attempts_per_24h:
        return refuse("attempts_24h", f"{facts.attempts_24h} attempts in the last 24 h "
                      f"(at most {policy.max_attempts_per_24h})", now + policy.cap_retry)
    if request.marketing and facts.marketing_contacts_7d >= policy.max_marketing_contacts_per_7d:
        return refuse("marketing_7d", f"{facts.marketing_contacts_7d} marketing contacts in the last 7 days "
                      f"(at most {policy.max_marketing_contacts_per_7d})", now + dt.timedelta(days=1))
    return Decision(True, OK, f"allowed ({local:%a %H:%M} {tz.key})")


def next_open(now: dt.datetime, tz: ZoneInfo, hours: WeeklySchedule, holidays: frozenset[dt.date],
              windows: WeeklySchedule | None = None, horizon_days: int = 14) -> dt.datetime | None:
    """The first instant at or after `now` when both the legal hours and the campaign windows are open
    in zone `tz` (None if never within `horizon_days`)."""
    local = now.astimezone(tz)
    schedules = [s for s in (hours, windows) if s is not None]

    def open_at(t: dt.datetime) -> bool:
        return hours.is_open(t, holidays) and (windows is None or windows.is_open(t))

    if open_at(local):
        return now
    starts: set[int] = set()
    for schedule in schedules:
        for day in (*schedule.days, *schedule.spill):
            starts.update(start for start, _end in day)
    ordered = sorted(starts)
    for offset in range(horizon_days + 1):
        day = local.date() + dt.timedelta(days=offset)
        for minute in ordered:
            candidate = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=tz)
            if candidate > local and open_at(candidate):
                return candidate.astimezone(dt.timezone.utc)
    return None


def policy_from_config(section: Any, source: Any = None, path: tuple = ("dialer", "compliance")) -> CompliancePolicy:
    """The policy from the config's `dialer.compliance` mapping; errors name file, line and field when
    `source` (the config's LocatedYaml) is given, else raise ValueError."""
    data = section or {}

    def error(key: str, message: str) -> Exception:
        if source is not None:
            return source.error(path + (key,), message)
        return ValueError(f"{'.'.join(path + (key,))}: {message}")

    if not isinstance(data, dict):
        raise error("", "expected a mapping")
    known = {"calling_hours", "holidays", "max_attempts_per_24h", "max_marketing_contacts_per_7d",
             "require_marketing_consent", "default_timezone"}
    for key in data:
        if key not in known:
            raise error(str(key), f"unknown setting (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    if "calling_hours" in data:
        if not isinstance(data["calling_hours"], dict):
            raise error("calling_hours", "expected a mapping of days to HH:MM-HH:MM")
        schedule, problems = parse_weekly(data["calling_hours"])
        if problems:
            raise error("calling_hours", problems[0][1])
        values["calling_hours"] = schedule
    if "holidays" in data:
        days = data["holidays"]
        if not isinstance(days, list) or not all(isinstance(d, dt.date) for d in days):
            raise error("holidays", "expected a list of dates like 2026-10-01")
        values["holidays"] = frozenset(days)
    for key in ("max_attempts_per_24h", "max_marketing_contacts_per_7d"):
        if key in data:
            if not isinstance(data[key], int) or isinstance(data[key], bool) or data[key] < 1:
                raise error(key, f"expected a whole number of at least 1, got {data[key]!r}")
            values[key] = data[key]
    if "require_marketing_consent" in data:
        if not isinstance(data["require_marketing_consent"], bool):
            raise error("require_marketing_consent", "expected true or false")
        values["require_marketing_consent"] = data["require_marketing_consent"]
    if "default_timezone" in data:
        if _zone(str(data["default_timezone"])) is None:
            raise error("default_timezone", f"unknown time zone {data['default_timezone']!r}")
        values["default_timezone"] = str(data["default_timezone"])
    return CompliancePolicy(**values)
