"""Opening hours: weekly intervals per weekday (overnight ones too), holidays and a time zone, at a given instant."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*\Z")


@dataclass(frozen=True)
class WeeklySchedule:
    """Open intervals (minutes since midnight, end exclusive) for each weekday, Monday = 0.

    `spill` holds the early-morning parts of overnight intervals, by the weekday they spill into:
    `fri: 22:00-06:00` is open Friday 22:00-24:00 (in `days[4]`) and Saturday 00:00-06:00 (`spill[5]`).
    """

    days: tuple[tuple[tuple[int, int], ...], ...]
    spill: tuple[tuple[tuple[int, int], ...], ...] = ((),) * 7

    def is_open(self, local: dt.datetime, holidays: frozenset[dt.date] = frozenset()) -> bool:
        """Open at this local time? A holiday is closed all day, and so is the night that starts on it."""
        today = local.date()
        if today in holidays:
            return False
        minute = local.hour * 60 + local.minute
        if any(start <= minute < end for start, end in self.days[local.weekday()]):
            return True
        if today - dt.timedelta(days=1) in holidays:
            return False
        return any(start <= minute < end for start, end in self.spill[local.weekday()])


def _days_of(spec: str) -> list[int] | None:
    spec = spec.strip().lower()
    if spec in ("daily", "everyday", "all"):
        return list(range(7))
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            first, _, last = part.partition("-")
            if first.strip() not in DAYS or last.strip() not in DAYS:
                return None
            a, b = DAYS.index(first.strip()), DAYS.index(last.strip())
            out.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif part in DAYS:
            out.append(DAYS.index(part))
        else:
            return None
    return out


def _interval(text: str) -> tuple[int, int] | None:
    """(start, end) in minutes; end < start for an interval that runs past midnight (22:00-06:00)."""
    if text.strip().lower() in ("24h", "all day"):
        return (0, 24 * 60)
    m = _INTERVAL.match(text)
    if not m:
        return None
    h1, m1, h2, m2 = map(int, m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or end > 24 * 60 or start == end:
        return None
    return (start, end)


def parse_weekly(value: dict[Any, Any]) -> tuple[WeeklySchedule, list[tuple[Any, str]]]:
    """Parse {"mon-fri": "09:00-18:00", "sat": ["10:00-12:00", "13:00-16:00"], "sun": "closed"}."""
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    spill: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    problems: list[tuple[Any, str]] = []
    for key, spec in value.items():
        which = _days_of(str(key))
        if which is None:
            problems.append((key, f"unknown day range {key!r} (use mon..sun, 'mon-fri', 'sat,sun' or 'daily')"))
            continue
        items = spec if isinstance(spec, list) else [spec]
        for item in items:
            if isinstance(item, str) and item.strip().lower() == "closed":
                continue
            interval = _interval(item) if isinstance(item, str) else None
            if interval is None:
                problems.append((key, f"expected 'HH:MM-HH:MM', '24h' or 'closed', got {item!r}"))
                continue
            start, end = interval
            for day in which:
                if start < end:
                    days[day].append(interval)
                else:  # overnight: the rest of this day, then the next morning
                    days[day].append((start, 24 * 60))
                    if end:
                        spill[(day + 1) % 7].append((0, end))
    schedule = WeeklySchedule(tuple(tuple(sorted(d)) for d in days), tuple(tuple(sorted(d)) for d in spill))
    return schedule, problems


def zone(name: str) -> ZoneInfo | None:
    """The time zone called `name`, or None if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def is_open(now: dt.datetime, tz: ZoneInfo, weekly: WeeklySchedule, holidays: frozenset[dt.date]) -> bool:
    """Whether the line is open at `now` (an aware datetime; naive is taken as UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    return weekly.is_open(now.astimezone(tz), holidays)
