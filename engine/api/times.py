"""Times in API inputs: a date (a whole day in the center's zone) or an ISO 8601 time (center time without offset)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from engine.api.errors import ApiError


def parse_when(text: str, zone: Any, field: str, end_of_day: bool = False) -> dt.datetime:
    """UTC time of `text`; a bare date as an end (`end_of_day`) means the end of that day."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            start = dt.datetime.combine(day + dt.timedelta(days=1 if end_of_day else 0), dt.time(), zone)
            return start.astimezone(dt.timezone.utc)
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        raise ApiError(422 if field.startswith("$") else 400, "invalid",
                       f"expected a date like 2026-11-25 or a time like 2026-11-25T09:30:00+08:00, got {value[:40]!r}",
                       field) from None


def period(query: dict[str, Any], zone: Any, default_days: int | None = None, now: dt.datetime | None = None
           ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[from, to) from the `from` and `to` query parameters; `to` defaults to the end of the `from` day."""
    since = parse_when(query["from"], zone, "query.from") if "from" in query else None
    if "to" in query:
        until = parse_when(query["to"], zone, "query.to", end_of_day=True)
    elif since is not None and "from" in query and len(query["from"].strip()) == 10:
        until = parse_when(query["from"], zone, "query.from", end_of_day=True)
    else:
        until = None
    if since is not None and until is not None and until <= since:
        raise ApiError(400, "invalid", "must be after from", "query.to")
    return since, until
