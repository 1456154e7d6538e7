"""`jinqiao report agents|queues|campaigns|hourly|ivr-funnel|csat --from --to [--csv]` and `report rollup`."""
from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click

from engine.reports import builders
from engine.reports.metrics import DEFAULT_FCR_WINDOW_DAYS, DEFAULT_SERVICE_LEVEL_S, DEFAULT_SHORT_ABANDON_S
from engine.store.cliutil import center_zone, config_of, fail, open_cli_store, parse_local_time, store_errors


@click.group()
@click.option("--database-url", metavar="URL", help="SQLAlchemy URL (default: the config's database).")
def report(database_url: str | None) -> None:
    """Call-center reports over a period in the center's time zone (engine.timezone); see docs/metrics.md."""


def _period(ctx: click.Context, start: str, end: str | None) -> tuple[Any, dt.datetime, dt.datetime]:
    zone = center_zone(config_of(ctx))
    since = parse_local_time(start, zone, "--from")
    until = parse_local_time(end or start, zone, "--to", end_of_day=True)
    if until <= since:
        fail("--to must be after --from")
    return zone, since, until


def _report_command(name: str) -> click.Command:
    build = builders.REPORTS[name]

    @click.option("--from", "start", required=True, metavar="TIME",
                  help="Start (a date, or 'YYYY-MM-DD HH:MM'; center time).")
    @click.option("--to", "end", metavar="TIME", help="End, exclusive; a bare date includes that whole day "
                                                      "(default: the end of the --from day).")
    @click.option("--csv", "as_csv", is_flag=True, help="Write CSV (one header row per section, then the checks).")
    @click.option("--sl-seconds", type=click.FloatRange(min=0), default=DEFAULT_SERVICE_LEVEL_S, show_default=True,
                  help="Service-level threshold T: answered within T seconds.")
    @click.option("--short-abandon-seconds", type=click.FloatRange(min=0), default=DEFAULT_SHORT_ABANDON_S,
                  show_default=True, help="Abandons with a shorter wait are short abandons.")
    @click.option("--raw", is_flag=True, help="Recompute everything from raw rows (ignore the daily rollup).")
    @click.option("--fcr-days", type=click.FloatRange(min=0, max=365), default=DEFAULT_FCR_WINDOW_DAYS,
                  show_default=True, help="First-contact resolution: a repeat call from the number within this "
                                          "many days means the first did not resolve the matter.")
    @click.pass_context
    def command(ctx: click.Context, start: str, end: str | None, as_csv: bool, sl_seconds: float,
                short_abandon_seconds: float, raw: bool, fcr_days: float) -> None:
        zone, since, until = _period(ctx, start, end)
        settings = builders.Settings(service_level_s=sl_seconds, short_abandon_s=short_abandon_seconds,
                                     use_rollup=not raw, fcr_window_days=fcr_days)
        store = open_cli_store(ctx)
        with store_errors(), store.connection() as conn:
            result = build(conn, since, until, zone, dt.datetime.now(dt.timezone.utc), settings)
        from engine.reports.render import text_lines, write_csv

        if as_csv:
            write_csv(result, sys.stdout)
        else:
            for line in text_lines(result):
                click.echo(line)

    command.__doc__ = (build.__doc__ or name).splitlines()[0]
    return click.command(name)(command)


for _name in builders.REPORTS:
    report.add_command(_report_command(_name))


@report.command("rollup")
@click.option("--from", "start", required=True, metavar="DATE", help="First local day to (re)build.")
@click.option("--to", "end", metavar="DATE", help="Last local day (default: the --from day); days not over are skipped.")
@click.option("--sl-seconds", type=click.FloatRange(min=0), default=DEFAULT_SERVICE_LEVEL_S, show_default=True,
              help="Service-level threshold the day's counts are cut with (reports with another one read raw rows).")
@click.option("--short-abandon-seconds", type=click.FloatRange(min=0), default=DEFAULT_SHORT_ABANDON_S,
              show_default=True, help="Short-abandon threshold the day's counts are cut with.")
@click.pass_context
def rollup(ctx: click.Context, start: str, end: str | None, sl_seconds: float, short_abandon_seconds: float) -> None:
    """Rebuild the daily pre-aggregates (agent time, call counts) from raw rows; reports use them for whole days."""
    from engine.reports.queries import Thresholds
    from engine.reports.rollup import build as build_rollup

    zone = center_zone(config_of(ctx))
    try:
        first = dt.date.fromisoformat(start)
        last = dt.date.fromisoformat(end or start)
    except ValueError:
        fail("--from/--to: expected dates like 2026-11-25")
    store = open_cli_store(ctx)
    with store_errors(), store.engine.begin() as conn:
        days = build_rollup(conn, first, last, zone, dt.datetime.now(dt.timezone.utc),
                            Thresholds(sl_seconds, short_abandon_seconds))
    click.echo(f"rolled up {days} day(s) ({zone.key})")
