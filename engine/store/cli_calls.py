"""`jinqiao calls list|show` and `jinqiao callbacks list`: what happened to calls, without sqlite3.

Times are shown in the center's time zone (`engine.timezone`), ISO-like (`2026-11-25 11:00:03`). IVR keys
are shown as stored: digits a flow marks `mask: true` were masked before they reached the store.
"""
from __future__ import annotations

import csv
import re
import sys
from typing import Any

import click

from engine.store.cliutil import (center_zone, config_of, fail, local_time, open_cli_store, parse_local_time,
                                  store_errors)

_NUMERIC = re.compile(r"[+-]?[0-9][0-9 .]*")
LIST_COLUMNS = ("id", "arrived", "direction", "number", "did", "queue", "agent", "wait_s", "talk_s", "outcome",
                "hangup_cause", "sip_status", "hangup_by")


def outcome_of(call: Any) -> str:
    """One word for how a call ended: its disposition, else abandoned / answered / the IVR outcome."""
    if call.disposition_code:
        return str(call.disposition_code)
    if call.abandoned:
        return "abandoned"
    if call.bridged_at is not None:
        return "answered"
    if call.ivr_outcome:
        return str(call.ivr_outcome)
    return "in progress" if call.hangup_at is None else "ended"


def _number(call: Any) -> str:
    return (call.caller if call.direction == "inbound" else call.callee) or "-"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _dash(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


@click.group()
@click.option("--database-url", metavar="URL", help="SQLAlchemy URL (default: the config's database).")
def calls(database_url: str | None) -> None:
    """Calls (interactions): list them with filters, show one in full."""


@calls.command("list")
@click.option("--since", metavar="TIME", help="Arrived at or after TIME (a date, or 'YYYY-MM-DD HH:MM'; center time).")
@click.option("--until", metavar="TIME", help="Arrived before TIME (a bare date includes that whole day).")
@click.option("--number", metavar="NUMBER", help="Caller or called number, any format.")
@click.option("--queue", metavar="NAME", help="Only calls of this queue.")
@click.option("--agent", metavar="ID", help="Only calls handled by this agent.")
@click.option("--outcome", metavar="WORD",
              help="answered, abandoned, an IVR outcome (completed, caller_hangup, error, ...) or a disposition code.")
@click.option("--abandoned", is_flag=True, help="Only calls abandoned in a queue.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Newest calls shown at most.")
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV (UTC ISO times) instead of a table.")
@click.pass_context
def calls_list(ctx: click.Context, since: str | None, until: str | None, number: str | None, queue: str | None,
               agent: str | None, outcome: str | None, abandoned: bool, limit: int, as_csv: bool) -> None:
    """List calls, newest first."""
    from engine.store.repos.interactions import InteractionRepository

    zone = center_zone(config_of(ctx))
    start = parse_local_time(since, zone, "--since") if since else None
    end = parse_local_time(until, zone, "--until", end_of_day=True) if until else None
    if start is not None and end is not None and end <= start:
        raise click.BadParameter("must be after --since", param_hint="--until")
    with store_errors():
        found = InteractionRepository(open_cli_store(ctx)).search(
            since=start, until=end, number=number, queue=queue, agent_id=agent, outcome=outcome,
            abandoned=True if abandoned else None, limit=limit)
    if as_csv:
        _write_csv(found)
        return
    click.echo(f"{'ID':>7} {'ARRIVED':<19} {'DIR':<3} {'NUMBER':<16} {'QUEUE':<16} {'AGENT':<8} "
               f"{'WAIT_S':>6} {'TALK_S':>6} {'OUTCOME':<16} CAUSE (SIP)")
    for c in found:
        cause = _dash(c.hangup_cause) + (f" ({c.sip_status})" if c.sip_status is not None else "")
        click.echo(f"{c.id:>7} {local_time(c.arrived_at, zone):<19} {c.direction[:3]:<3} {_number(c):<16} "
                   f"{_dash(c.queue):<16} {_dash(c.agent_id):<8} {_seconds(c.wait_seconds):>6} "
                   f"{_seconds(c.talk_seconds):>6} {outcome_of(c):<16} {cause}")
    click.echo(f"{len(found)} call(s), times in {zone.key}" + (" (--limit reached)" if len(found) == limit else ""),
               err=True)


def _write_csv(found: list[Any]) -> None:
    """One row per call, UTC ISO times. Caller IDs and dialled numbers come from the network, so a cell a
    spreadsheet would run as a formula is written as text (a leading '); plain numbers like +8613... stay."""
    writer = csv.writer(sys.stdout)
    writer.writerow(LIST_COLUMNS)
    for c in found:
        writer.writerow([_cell(v) for v in (
            c.id, c.arrived_at.isoformat(), c.direction, _number(c), c.did, c.queue, c.agent_id, c.wait_seconds,
            c.talk_seconds, outcome_of(c), c.hangup_cause, c.sip_status, c.hangup_by)])


def _cell(value: object) -> str:
    text = "" if value is None or value == "-" else str(value)
    if text[:1] in ("=", "@", "\t", "\r") or (text[:1] in ("+", "-") and not _NUMERIC.fullmatch(text)):
        return "'" + text
    return text


@calls.command("show")
@click.argument("call_id", type=int, metavar="ID")
@click.pass_context
def calls_show(ctx: click.Context, call_id: int) -> None:
    """Show call ID: IVR path and keys, queue, agent, each time, hang-up cause, recordings, surveys."""
    from engine.store.repos.customers import CustomerRepository
    from engine.store.repos.interactions import InteractionRepository, RecordingRepository, SurveyRepository

    zone = center_zone(config_of(ctx))
    store = open_cli_store(ctx)
    c = InteractionRepository(store).get(call_id)
    if c is None:
        fail(f"no call with id {call_id}")
    customer = CustomerRepository(store).get(c.customer_id) if c.customer_id is not None else None
    line = click.echo
    line(f"call {c.id}  {c.direction}  from {_dash(c.caller)} to {_dash(c.callee or c.did)}"
         f"  (times in {zone.key})")
    if c.call_id:
        line(f"  {'switch uuid':<15} {c.call_id}")
    if c.customer_id is not None:
        line(f"  {'customer':<15} {c.customer_id}" + (f" {customer.name}" if customer and customer.name else ""))
    if c.ivr_flow or c.ivr_path:
        line(f"  {'ivr':<15} flow {_dash(c.ivr_flow)}: {' > '.join(c.ivr_path) or '-'}")
        line(f"  {'ivr outcome':<15} {_dash(c.ivr_outcome)}, left at {_dash(c.ivr_exit_node)}")
    if c.ivr_digits:
        line(f"  {'keys':<15} {'  '.join(c.ivr_digits)}")
    line(f"  {'queue':<15} {_dash(c.queue)}")
    line(f"  {'agent':<15} {_dash(c.agent_id)}")
    times = [("arrived", c.arrived_at), ("answered", c.answered_at), ("queue entered", c.queue_entered_at),
             ("offered", c.offered_at), ("bridged", c.bridged_at), ("hung up", c.hangup_at),
             ("wrap-up until", c.wrap_up_until)]
    # in the order they happened (an agent's answer comes after the offer; the IVR's before the queue)
    for label, value in sorted(times, key=lambda t: (t[1] is None, t[1] or c.arrived_at)):
        line(f"  {label:<15} {local_time(value, zone)}")
    line(f"  {'wait / talk':<15} {_seconds(c.wait_seconds)} s / {_seconds(c.talk_seconds)} s".replace("- s", "-"))
    sip = f", SIP {c.sip_status}" if c.sip_status is not None else ""
    line(f"  {'hang-up':<15} {_dash(c.hangup_cause)}{sip}, by {_dash(c.hangup_by)}")
    line(f"  {'outcome':<15} {outcome_of(c)}" + ("  (abandoned)" if c.abandoned and c.disposition_code else ""))
    if c.transferred_from_id is not None:
        line(f"  {'transferred':<15} from call {c.transferred_from_id}")
    for r in RecordingRepository(store).for_interaction(c.id):
        line(f"  {'recording':<15} {r.path} ({r.duration:.1f} s, {r.size_bytes} bytes, sha256 {r.sha256[:12]})")
    for s in SurveyRepository(store).for_interaction(c.id):
        line(f"  {'survey':<15} {s.question}: {s.score}/5 at {local_time(s.at, zone)}")
    if c.notes:
        line(f"  {'notes':<15} {c.notes}")


@click.group()
@click.option("--database-url", metavar="URL", help="SQLAlchemy URL (default: the config's database).")
def callbacks(database_url: str | None) -> None:
    """Callback requests (from the IVR, the queue or agents)."""


@callbacks.command("list")
@click.option("--status", type=click.Choice(["open", "done", "failed", "cancelled", "all"]), default="open",
              show_default=True)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1_000_000))
@click.pass_context
def callbacks_list(ctx: click.Context, status: str, limit: int) -> None:
    """List callbacks, soonest due first."""
    from engine.store.repos.callbacks import CallbackRepository

    zone = center_zone(config_of(ctx))
    with store_errors():
        found = CallbackRepository(open_cli_store(ctx)).list(None if status == "all" else status, limit)
    click.echo(f"{'ID':>6} {'DUE':<16} {'NUMBER':<16} {'STATUS':<9} {'REQ':>3} {'TRIES':>5} "
               f"{'AGENT':<8} {'SOURCE':<8} REASON")
    for cb in found:
        click.echo(f"{cb.id:>6} {local_time(cb.due_at, zone, seconds=False):<19} {cb.number:<16} "
                   f"{cb.status.value:<9} {cb.requests:>3} {cb.attempts:>5} {_dash(cb.agent_id):<8} "
                   f"{_dash(cb.source):<8} {cb.reason or '-'}")
    click.echo(f"{len(found)} callback(s), times in {zone.key}", err=True)
