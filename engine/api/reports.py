"""API resource: the six reports (agents, queues, campaigns, hourly, ivr-funnel, csat) as JSON over [from, to)."""
from __future__ import annotations

from typing import Any

from engine.api import schemas as s
from engine.api.errors import ApiError
from engine.api.operation import Call, Operation, Param
from engine.api.times import period
from engine.reports import builders
from engine.reports.metrics import DEFAULT_SERVICE_LEVEL_S, DEFAULT_SHORT_ABANDON_S

MAX_DAYS = 400


def report(call: Call) -> Any:
    zone = call.services.console.zone
    since, until = period(call.query, zone)
    assert since is not None and until is not None  # `from` is required
    if (until - since).days > MAX_DAYS:
        raise ApiError(400, "invalid", f"a report covers at most {MAX_DAYS} days", "query.to")
    settings = builders.Settings(service_level_s=call.query.get("sl_seconds", DEFAULT_SERVICE_LEVEL_S),
                                 short_abandon_s=call.query.get("short_abandon_seconds", DEFAULT_SHORT_ABANDON_S),
                                 use_rollup=not call.query.get("raw", False))
    result = call.services.run_blocking(_build, call.store, call.path["name"], since, until, zone, call.now, settings)
    return {"name": result.name, "since": result.since.isoformat(), "until": result.until.isoformat(),
            "zone": str(zone), "tables": [{"name": t.name, "columns": list(t.columns), "rows": s.plain(t.rows)}
                                          for t in result.tables], "footer": list(result.footer)}


def _build(store: Any, name: str, since: Any, until: Any, zone: Any, now: Any, settings: Any) -> Any:
    """Run in a worker thread (a year's report is up to seconds of database work; calls must not wait)."""
    with store.connection() as conn:
        return builders.REPORTS[name](conn, since, until, zone, now, settings)


OPERATIONS = (
    Operation("GET", "/reports/{name}", "getReport", "reports:read",
              "A report over [from, to) in the center's time zone (docs/metrics.md defines every figure).", report,
              s.REPORT, params=(
                  Param("name", "path", {"type": "string", "enum": list(builders.REPORTS)}),
                  Param("from", "query", s.WHEN, "Start (a date or a time).", required=True),
                  Param("to", "query", s.WHEN, "End, exclusive; a bare date includes that day (default: the end of "
                                               "the from day)."),
                  Param("sl_seconds", "query", {"type": "number", "minimum": 0, "maximum": 3600}),
                  Param("short_abandon_seconds", "query", {"type": "number", "minimum": 0, "maximum": 3600}),
                  Param("raw", "query", {"type": "boolean"}, "Recompute from raw rows (ignore the daily rollup).")),
              tag="reports"),
)
