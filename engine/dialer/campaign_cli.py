"""`jinqiao campaign`: create, import, launch, pause, resume, stop, status [--watch], list, report, why.

The commands change and read the stored campaign; the running engine's dialer follows the stored state
(it leases only for running campaigns and re-checks the state before every dial) and publishes its live
figures (dial level, calls ringing, agents by state) for `status`.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from engine.clicontext import progress
from engine.store.cliutil import config_of, fail, open_cli_store, store_errors

LIVE_FRESH_S = 15
FLOW_SUFFIXES = (".yaml", ".yml")


@click.group()
@click.option("--database-url", metavar="URL", help="SQLAlchemy URL (default: the config's database).")
def campaign(database_url: str | None) -> None:
    """Outbound campaigns: configure, fill with contacts, run, watch, report, explain dial decisions."""


def _settings(ctx: click.Context) -> dict[str, Any]:
    section = getattr(config_of(ctx), "dialer", None) or {}
    return section if isinstance(section, dict) else {}


def _campaigns_dir(ctx: click.Context) -> Path:
    return Path(str(_settings(ctx).get("campaigns_dir") or "campaigns"))


def _known_flows(ctx: click.Context) -> set[str] | None:
    folder = Path(config_of(ctx).ivr.flows_dir)
    try:
        return {p.stem for p in folder.iterdir() if p.suffix in FLOW_SUFFIXES}
    except OSError:
        return None


def _policy(ctx: click.Context):  # type: ignore[no-untyped-def]
    from engine.dialer.compliance import policy_from_config

    config = config_of(ctx)
    try:
        return policy_from_config(_settings(ctx).get("compliance"), getattr(config, "source", None))
    except ValueError as exc:
        fail(f"config error: {exc}")


def _handle(ctx: click.Context, store, name: str):  # type: ignore[no-untyped-def]
    from engine.dialer.hopper import load_handle
    from engine.yamlsrc import SourceError

    try:
        handle = load_handle(store, int(name) if name.isdigit() else name)
    except SourceError as exc:
        fail(str(exc))
    if handle is None:
        fail(f"no campaign named {name!r} (see `jinqiao campaign list`)")
    return handle


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@campaign.command("create")
@click.argument("file", required=False)
@click.option("--name", default=None, help="Campaign name (default: the file's name).")
@click.option("--mode", default=None, help="manual, preview, progressive, predictive or agentless.")
@click.option("--queue", default=None, help="ACD queue whose agents take the answered calls.")
@click.option("--caller-id", default=None, help="Number presented to the callee.")
@click.option("--purpose", default=None, help="marketing (default), service, collections or survey.")
@click.option("--ivr-flow", default=None, help="Flow run on answer in agentless mode.")
@click.option("--replace", is_flag=True, help="Update the configuration of an existing campaign.")
@click.pass_context
def create(ctx: click.Context, file: str | None, name: str | None, mode: str | None, queue: str | None,
           caller_id: str | None, purpose: str | None, ivr_flow: str | None, replace: bool) -> None:
    """Create a campaign from FILE (a YAML file, or NAME of campaigns/NAME.yaml), or from the options alone;
    options override the file."""
    from engine.dialer.campaigns import parse_campaign
    from engine.store.repos.campaigns import CampaignRepository
    from engine.yamlsrc import LocatedYaml, SourceError, load_file

    overrides = {k: v for k, v in {"name": name, "mode": mode, "queue": queue, "caller_id": caller_id,
                                   "purpose": purpose, "ivr_flow": ivr_flow}.items() if v is not None}
    try:
        if file:
            path = Path(file)
            if not path.exists() and path.suffix not in FLOW_SUFFIXES and "/" not in file:
                path = _campaigns_dir(ctx) / f"{file}.yaml"
            doc = load_file(path)
            if isinstance(doc.data, dict):
                doc.data.update(overrides)
            config = parse_campaign(doc, _known_flows(ctx), default_name=path.stem)
        else:
            if not name:
                fail("give a campaign FILE, or --name with --mode and --queue")
            config = parse_campaign(LocatedYaml("command line", overrides, {}), _known_flows(ctx), default_name=name)
    except SourceError as exc:
        fail(str(exc))
    store = open_cli_store(ctx)
    with store_errors():
        record = CampaignRepository(store).save(config.name, config.mode, config.queue, config.max_attempts,
                                                int(config.shortest_retry.total_seconds()), {"config": config.raw},
                                                replace=replace)
        redue = CampaignRepository(store).recheck_window_deferrals(record.id) if replace else 0
    click.echo(f"campaign {record.name} ({record.mode}, {config.purpose}): {record.status}")
    if redue:
        click.echo(f"{redue} contact(s) held back by the previous calling windows are judged again now")


@campaign.command("import")
@click.argument("name")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--map", "mappings", multiple=True, metavar="FIELD=COLUMN", help="As for `customers import`.")
@click.option("--extra-columns", type=click.Choice(["error", "ignore", "attributes"]), default="error",
              show_default=True)
@click.option("--encoding", default=None)
@click.option("--delimiter", default=None)
@click.pass_context
def import_contacts(ctx: click.Context, name: str, file: str | None, mappings: tuple[str, ...], extra_columns: str,
                    encoding: str | None, delimiter: str | None) -> None:
    """Fill campaign NAME with contacts: from FILE.csv (imported as customers too; bad rows go to
    FILE.csv.errors.csv), else from the campaign's configured source (a CSV file or a segment query)."""
    from engine.dialer.contacts import enroll_query, import_csv
    from engine.store.csvsource import inspect
    from engine.store.errors import StoreError
    from engine.store.importer import ImportOptions

    store = open_cli_store(ctx)
    handle = _handle(ctx, store, name)
    source = handle.config.source
    path = file or (source.csv if source is not None else None)
    mapping = {}
    for item in mappings:
        target, sep, column = item.partition("=")
        if not sep:
            fail(f"--map {item!r}: expected FIELD=COLUMN")
        mapping[target.strip()] = column.strip()
    options = ImportOptions(mapping=mapping, extra_columns=extra_columns, encoding=encoding,
                            delimiter=delimiter.replace("\\t", "\t") if delimiter else None)
    priority = handle.config.priority
    try:
        if path:
            facts = inspect(path, encoding)
            total = max(facts.lines - 1, 1)
            with progress(total, "customers") as bar1:
                with progress(total, "contacts ") as bar2:
                    result = import_csv(store, handle.id, path, options, priority, bar1.update, bar2.update)
            c = result.customers
            assert c is not None
            click.echo(f"{c.file}: customers {c.inserted} inserted, {c.updated} updated, {c.unchanged} unchanged, "
                       f"{c.rejected} rejected")
            if c.errors_file:
                click.echo(f"rejected rows with line numbers and reasons: {c.errors_file}")
        elif source is not None:
            with progress(0, "contacts") as bar:
                result = enroll_query(store, handle.id, source, _now(), priority, bar.update)
        else:
            fail(f"campaign {handle.record.name} has no source: give a FILE.csv")
    except StoreError as exc:
        fail(str(exc))
    except LookupError as exc:
        fail(f"{path}: {exc}")
    click.echo(f"campaign {handle.record.name}: {result.enrolled} contacts added, "
               f"{result.already_there} already there")


def _change(ctx: click.Context, name: str, action: str) -> None:
    from engine.store.repos.campaigns import ACTIONS, CampaignRepository

    status, allowed_from = ACTIONS[action]
    store = open_cli_store(ctx)
    handle = _handle(ctx, store, name)
    with store_errors():
        before, after = CampaignRepository(store).change_status(handle.id, status, allowed_from)
    click.echo(f"campaign {handle.record.name}: {before} -> {after}" if before != after
               else f"campaign {handle.record.name} is already {after}")


@campaign.command("launch")
@click.argument("name")
@click.pass_context
def launch(ctx: click.Context, name: str) -> None:
    """Start dialing campaign NAME (the engine's dialer picks it up)."""
    _change(ctx, name, "launch")


@campaign.command("pause")
@click.argument("name")
@click.pass_context
def pause(ctx: click.Context, name: str) -> None:
    """Stop placing new calls for NAME (calls in progress finish)."""
    _change(ctx, name, "pause")


@campaign.command("resume")
@click.argument("name")
@click.pass_context
def resume(ctx: click.Context, name: str) -> None:
    """Resume a paused campaign."""
    _change(ctx, name, "resume")


@campaign.command("stop")
@click.argument("name")
@click.pass_context
def stop(ctx: click.Context, name: str) -> None:
    """Stop NAME for good (its history stays for reports)."""
    _change(ctx, name, "stop")


@campaign.command("list")
@click.pass_context
def list_campaigns(ctx: click.Context) -> None:
    """Every campaign with its mode, state and progress."""
    from engine.store.repos.campaigns import CampaignRepository

    repo = CampaignRepository(open_cli_store(ctx))
    rows = repo.list()
    for c in rows:
        counts = repo.counts(c.id)
        total = sum(counts.values())
        worked = total - counts.get("pending", 0)
        click.echo(f"{c.name:<24} {c.mode:<12} {c.status:<8} {c.queue or '-':<12} "
                   f"{worked}/{total} contacts worked")
    click.echo(f"{len(rows)} campaigns", err=True)


@campaign.command("status")
@click.argument("name")
@click.option("--watch", is_flag=True, help="Refresh until interrupted.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.2, 60))
@click.option("--iterations", default=0, hidden=True, type=int, help="Stop --watch after N refreshes.")
@click.pass_context
def status(ctx: click.Context, name: str, watch: bool, interval: float, iterations: int) -> None:
    """Progress, abandon rate today and over the period, and the engine's live figures for NAME."""
    store = open_cli_store(ctx)
    policy = _policy(ctx)
    shown = 0
    try:
        while True:
            handle = _handle(ctx, store, name)
            text = render_status(store, handle, _now(), ZoneInfo(policy.default_timezone))
            if watch and sys.stdout.isatty():
                click.clear()
            click.echo(text)
            shown += 1
            if not watch or (iterations and shown >= iterations):
                return
            click.echo("")
            time.sleep(interval)
    except KeyboardInterrupt:
        return


def render_status(store, handle, now: dt.datetime, zone: ZoneInfo) -> str:  # type: ignore[no-untyped-def]
    """The status view as text."""
    from engine.store.repos.campaigns import CampaignRepository
    from engine.store.repos.dial_attempts import DialAttemptRepository

    repo, attempts = CampaignRepository(store), DialAttemptRepository(store)
    record, config = repo.get(handle.id), handle.config
    counts = repo.counts(handle.id)
    due, leased = repo.due_and_leased(handle.id, now)
    total = sum(counts.values())
    worked = total - counts.get("pending", 0)
    midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    today = attempts.figures(handle.id, midnight)
    period = attempts.figures(handle.id, now - config.abandon.window)
    target = config.abandon.rate
    window = "24h" if config.abandon.window <= dt.timedelta(days=1) else "30d"
    lines = [
        f"campaign {record.name}  {record.mode}  {record.status}  queue={record.queue or '-'}  purpose={config.purpose}",
        f"progress   {worked}/{total} contacts worked ({100 * worked / total if total else 0:.1f}%)  "
        + "  ".join(f"{k}={v}" for k, v in sorted(counts.items())) + f"  due now={due}  leased={leased}",
        f"today      attempts={today.attempts} in flight={today.in_flight} live answers={today.live_answers} "
        f"abandoned={today.abandoned} abandon rate={100 * today.abandon_rate:.1f}%",
        f"{window:<10} attempts={period.attempts} live answers={period.live_answers} abandoned={period.abandoned} "
        f"abandon rate={100 * period.abandon_rate:.2f}% (target {100 * target:.1f}%"
        f"{', OVER' if period.abandon_rate > target else ''})",
    ]
    if record.live and record.live_at and (now - record.live_at).total_seconds() <= LIVE_FRESH_S:
        live = record.live
        agents = live.get("agents") or {}
        extra = "".join(f"  {label}={live[key]}" for key, label in (("waiting", "waiting for an agent"),
                                                                   ("pacing", "pacing")) if key in live)
        lines.append(f"live       dial level={live.get('dial_level', '-')} ringing={live.get('ringing', '-')} "
                     f"agents: " + (" ".join(f"{k}={v}" for k, v in sorted(agents.items())) or "-")
                     + f"{extra}  ({(now - record.live_at).total_seconds():.0f}s ago)")
    else:
        lines.append("live       no figures from a running dialer")
    return "\n".join(lines)


@campaign.command("report")
@click.argument("name")
@click.option("--since", default=None, metavar="DATE", help="From this date (default: the campaign's start).")
@click.option("--until", default=None, metavar="DATE", help="Up to this date (default: now).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def report(ctx: click.Context, name: str, since: str | None, until: str | None, as_json: bool) -> None:
    """Attempts, outcomes, contact rate, drops/abandon rate and talk time of NAME."""
    from engine.store.repos.dial_attempts import DialAttemptRepository

    store = open_cli_store(ctx)
    handle = _handle(ctx, store, name)
    start = _when(since, "--since") or handle.record.created_at or dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    end = _when(until, "--until")
    f = DialAttemptRepository(store).figures(handle.id, start, end)
    data = {"campaign": handle.record.name, "attempts": f.attempts, "in_flight": f.in_flight,
            "outcomes": f.outcomes, "live_answers": f.live_answers, "connected": f.connected,
            "abandoned": f.abandoned, "contact_rate": round(f.contact_rate, 4),
            "abandon_rate": round(f.abandon_rate, 4), "talk_seconds": round(f.talk_seconds, 1)}
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    for line in report_lines(handle, f):
        click.echo(line)


def report_lines(handle, f) -> list[str]:  # type: ignore[no-untyped-def]
    """`campaign report` as text lines (also printed by `jinqiao demo`)."""
    lines = [f"campaign {handle.record.name}: {f.attempts} attempts ({f.in_flight} in flight)"]
    for outcome, n in sorted(f.outcomes.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {outcome:<16} {n}")
    lines.append(f"contact rate {100 * f.contact_rate:.1f}%  live answers {f.live_answers}  connected {f.connected}")
    lines.append(f"drops {f.abandoned}  abandon rate {100 * f.abandon_rate:.2f}% of live answers "
                 f"(target {100 * handle.config.abandon.rate:.1f}%)")
    lines.append(f"talk time {f.talk_seconds / 60:.1f} min"
                 + (f" (average {f.talk_seconds / f.connected:.0f} s)" if f.connected else ""))
    return lines


@campaign.command("why")
@click.argument("number")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.pass_context
def why(ctx: click.Context, number: str, limit: int) -> None:
    """Why was (or wasn't) NUMBER dialed, when, by which rule: the compliance log and the attempts."""
    from engine.store.phones import lookup_variants
    from engine.store.repos.compliance import ComplianceRepository
    from engine.store.repos.dial_attempts import DialAttemptRepository

    store = open_cli_store(ctx)
    variants = lookup_variants(number, store.region)
    if not variants:
        fail(f"{number!r} is not a phone number")
    decisions = ComplianceRepository(store).history(number, limit)
    attempts = DialAttemptRepository(store).for_number(variants, limit)
    if not decisions and not attempts:
        click.echo(f"{variants[0]}: never considered for a dial")
        return
    click.echo(f"{variants[0]}:")
    for d in decisions:
        verdict = "dial allowed " if d.allowed else "NOT dialed   "
        where = f"campaign {d.campaign_name}" if d.campaign_name else d.stage
        click.echo(f"  {d.at:%Y-%m-%d %H:%M:%S} UTC  {verdict} {where:<24} {d.stage:<8} rule={d.rule}: {d.reason}"
                   + (f" (attempt {d.attempt_id})" if d.attempt_id else ""))
    for a in attempts:
        click.echo(f"  {a.at:%Y-%m-%d %H:%M:%S} UTC  attempt {a.id}: {a.outcome}"
                   + (" (abandoned)" if a.abandoned else "") + (f" agent {a.agent_id}" if a.agent_id else ""))


def _when(text: str | None, option: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: expected a date like 2026-12-31 or 2026-12-31T18:00, got {text!r}")
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _send(ctx: click.Context, fields: dict[str, str]) -> tuple[dict[str, str], str]:
    """Send a signed dialer request to the running engine (a test may put its own `dialer_sender` in ctx.obj)."""
    from engine.dialer import control

    problem = control.check_fields(fields)
    if problem:
        fail(problem)
    obj = ctx.obj
    custom = obj.get("dialer_sender") if isinstance(obj, dict) else getattr(obj, "dialer_sender", None)
    try:
        headers, body = (custom or (lambda f: control.send_request(config_of(ctx), f)))(fields)
    except RuntimeError as exc:
        fail(str(exc))
    if headers.get(control.H_RESULT) != "ok":
        fail(f"refused: {headers.get(control.H_DETAIL) or 'no reason given'}")
    return headers, body


@campaign.group("preview")
def preview() -> None:
    """Preview dialing: take the next contact of a preview campaign, then dial it or skip it with a reason."""


@preview.command("next")
@click.option("--agent", "agent", required=True, help="The agent the contact is reserved for.")
@click.option("--campaign", "campaign_name", required=True, help="A campaign in preview mode.")
@click.pass_context
def preview_next(ctx: click.Context, agent: str, campaign_name: str) -> None:
    """Reserve the next due contact for AGENT and show it with the agent script."""
    from engine.dialer import control

    _, body = _send(ctx, {control.H_ACTION: "preview-next", "Agent-ID": agent, control.H_CAMPAIGN: campaign_name})
    data = json.loads(body or "{}")
    click.echo(f"campaign {data.get('campaign')}: contact {data.get('contact_id')} {data.get('number')} "
               f"({data.get('attempts', 0)} attempts so far)")
    for key, value in sorted((data.get("data") or {}).items()):
        click.echo(f"  {key}: {value}")
    if data.get("script"):
        click.echo("script:\n" + str(data["script"]))
    click.echo(f"dial it: jinqiao campaign preview dial --agent {agent}   "
               f"skip it: jinqiao campaign preview skip --agent {agent} --reason TEXT")


@preview.command("dial")
@click.option("--agent", "agent", required=True)
@click.pass_context
def preview_dial(ctx: click.Context, agent: str) -> None:
    """Dial the contact reserved for AGENT: the agent's phone rings first, then the customer's."""
    from engine.dialer import control

    headers, _ = _send(ctx, {control.H_ACTION: "preview-dial", "Agent-ID": agent})
    click.echo(headers.get(control.H_DETAIL) or "dialing")


@preview.command("skip")
@click.option("--agent", "agent", required=True)
@click.option("--reason", required=True, help="Why the contact is not dialed now (kept on the contact).")
@click.pass_context
def preview_skip(ctx: click.Context, agent: str, reason: str) -> None:
    """Give the reserved contact back (due again in an hour) and free AGENT."""
    from engine.dialer import control

    _send(ctx, {control.H_ACTION: "preview-skip", "Agent-ID": agent, control.H_REASON: reason})
    click.echo("skipped")


@click.command("call")
@click.argument("number")
@click.option("--agent", "agent", required=True, help="The agent whose phone rings first.")
@click.pass_context
def call_command(ctx: click.Context, number: str, agent: str) -> None:
    """Manual call: ring AGENT's phone, then NUMBER (after the compliance check), and bridge them."""
    from engine.dialer import control

    headers, _ = _send(ctx, {control.H_ACTION: "call", "Agent-ID": agent, control.H_NUMBER: number})
    click.echo(headers.get(control.H_DETAIL) or "dialing")
