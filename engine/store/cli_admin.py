"""Admin command groups: `jinqiao dnc`, `jinqiao agents`, `jinqiao dispositions`."""
from __future__ import annotations

import datetime as dt
import re
import sys

import click

from engine.clicontext import progress
from engine.store.cliutil import fail, open_cli_store, store_errors


def _parse_when(text: str, where: str) -> dt.datetime | None:
    """A date or ISO date-time (local times are taken as UTC); empty means never."""
    text = text.strip()
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{where}: expected a date like 2026-12-31 or 2026-12-31T18:00, got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


@click.group()
@click.option("--database-url", metavar="URL", help="SQLAlchemy URL (default: the config's database).")
def dnc(database_url: str | None) -> None:
    """Do-not-call lists: black (never call) and grey (restricted)."""


@dnc.command("add")
@click.argument("number")
@click.option("--grey", is_flag=True, help="Put the number on the grey list instead of the black list.")
@click.option("--reason", default="", help="Why (shown to supervisors).")
@click.option("--source", default="cli", show_default=True)
@click.option("--expires", default="", metavar="DATE", help="When the entry stops applying (default: never).")
@click.option("--replace", is_flag=True, help="Allow changing the list or reason of a number already listed.")
@click.pass_context
def dnc_add(ctx: click.Context, number: str, grey: bool, reason: str, source: str, expires: str,
            replace: bool) -> None:
    """Add NUMBER to a do-not-call list (an existing entry is only changed with --replace)."""
    from engine.store.repos.dnc import DncRepository

    until = _parse_when(expires, "--expires")
    now = dt.datetime.now(dt.timezone.utc)
    if until is not None and until <= now:
        fail(f"--expires: {expires} is in the past; the entry would never apply")
    repo = DncRepository(open_cli_store(ctx))
    with store_errors():
        existing = repo.is_blocked(number, now)
        wanted = "grey" if grey else "black"
        if existing is not None and not replace:
            if existing.list_kind.value == wanted:
                click.echo(f"{existing.number} is already on the {wanted} list"
                           + (f" ({existing.reason})" if existing.reason else ""))
                return
            fail(f"{existing.number} is on the {existing.list_kind.value} list"
                 + (f" ({existing.reason})" if existing.reason else "")
                 + f"; pass --replace to move it to the {wanted} list")
        entry = repo.add(number, wanted, reason, source, until)
    click.echo(f"{entry.number} on the {entry.list_kind.value} list"
               + (f" until {entry.expires_at:%Y-%m-%d %H:%M} UTC" if entry.expires_at else ""))


@dnc.command("remove")
@click.argument("number")
@click.pass_context
def dnc_remove(ctx: click.Context, number: str) -> None:
    """Take NUMBER off the do-not-call lists."""
    from engine.store.repos.dnc import DncRepository

    if not DncRepository(open_cli_store(ctx)).remove(number):
        fail(f"{number} is not on a do-not-call list")
    click.echo(f"{number} removed")


@dnc.command("check")
@click.argument("number")
@click.pass_context
def dnc_check(ctx: click.Context, number: str) -> None:
    """Say whether NUMBER may be called now (exit 0 either way; 2 for a bad number)."""
    from engine.store.phones import normalize
    from engine.store.repos.dnc import DncRepository

    store = open_cli_store(ctx)
    with store_errors():
        e164 = normalize(number, store.region)
    entry = DncRepository(store).is_blocked(e164, dt.datetime.now(dt.timezone.utc))
    if entry is None:
        click.echo(f"{e164}: not on a do-not-call list")
    else:
        until = f" until {entry.expires_at:%Y-%m-%d %H:%M} UTC" if entry.expires_at else ""
        click.echo(f"{e164}: {entry.list_kind.value} list{until} ({entry.reason or 'no reason'}, source {entry.source})")


@dnc.command("list")
@click.option("--list", "list_kind", type=click.Choice(["black", "grey"]), default=None, help="Only one list.")
@click.option("--all", "include_expired", is_flag=True, help="Include entries that have expired.")
@click.pass_context
def dnc_list(ctx: click.Context, list_kind: str | None, include_expired: bool) -> None:
    """List the do-not-call entries by number (times in the center's time zone)."""
    from engine.store.cliutil import center_zone, config_of, local_time
    from engine.store.repos.dnc import DncRepository

    zone = center_zone(config_of(ctx))
    now = dt.datetime.now(dt.timezone.utc)
    entries = DncRepository(open_cli_store(ctx)).list(list_kind, None if include_expired else now)
    click.echo(f"{'NUMBER':<16} {'LIST':<5} {'ADDED':<16} {'EXPIRES':<16} {'SOURCE':<10} REASON")
    for e in entries:
        expired = e.expires_at is not None and e.expires_at <= now
        click.echo(f"{e.number:<16} {e.list_kind.value:<5} {local_time(e.created_at, zone, seconds=False):<16} "
                   f"{local_time(e.expires_at, zone, seconds=False) if e.expires_at else 'never':<16} "
                   f"{e.source or '-':<10} {e.reason or '-'}{' (expired)' if expired else ''}")
    click.echo(f"{len(entries)} number(s)", err=True)


@dnc.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--grey", is_flag=True, help="Default list for rows without a list column: grey instead of black.")
@click.option("--source", default="import", show_default=True)
@click.option("--encoding", default=None, help="Force the file encoding (default: detect).")
@click.pass_context
def dnc_import(ctx: click.Context, file: str, grey: bool, source: str, encoding: str | None) -> None:
    """Import numbers from FILE: one per line, or a CSV with a number column (and optional list, reason,
    expires columns). Bad rows go to FILE.errors.csv; good rows are kept."""
    from engine.store.csvsource import inspect
    from engine.store.dncimport import import_dnc
    from engine.store.errors import ImportFileError

    store = open_cli_store(ctx)
    try:
        facts = inspect(file, encoding)
        with progress(max(facts.lines, 1), "importing", show_pos=False) as bar:
            summary = import_dnc(store, facts, grey=grey, source=source, parse_when=_parse_when, progress=bar.update)
    except ImportFileError as exc:
        fail(str(exc))
    except LookupError as exc:  # unknown --encoding name
        fail(f"{file}: {exc}")
    click.echo(f"{facts.path}: {summary.added} added, {summary.replaced} replaced, {summary.rejected} rejected")
    if summary.errors_file:
        click.echo(f"rejected rows with line numbers and reasons: {summary.errors_file}")
        if not summary.added and not summary.replaced:
            fail(f"{facts.path}: no valid row: is this a do-not-call list (a number per row, optional list and "
                 "reason columns)?")


AGENT_ID = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}\Z")  # the ids `jinqiao agent` and the engine accept
EXTENSION = re.compile(r"^[A-Za-z0-9_.+*#@-]{1,64}\Z")
SKILL = re.compile(r"^[\w.-]{1,64}\Z")


@click.group()
@click.option("--database-url", metavar="URL", help="SQLAlchemy URL (default: the config's database).")
def agents(database_url: str | None) -> None:
    """Agent records and skills (log in/out is `jinqiao agent`)."""


@agents.command("add")
@click.argument("agent_id")
@click.option("--name", default="", help="Display name.")
@click.option("--extension", default=None, help="Dial string or SIP user of the agent's phone.")
@click.option("--team", default=None)
@click.option("--skill", "skills", multiple=True, metavar="NAME=LEVEL", help="Skill with proficiency 1..10. Repeatable.")
@click.pass_context
def agents_add(ctx: click.Context, agent_id: str, name: str, extension: str | None, team: str | None,
               skills: tuple[str, ...]) -> None:
    """Add (or update and re-activate) agent AGENT_ID."""
    from engine.store.repos.agents import AgentRepository

    if not AGENT_ID.match(agent_id):
        fail(f"not an agent id: {agent_id[:40]!r} (letters, digits, . _ @ + -; up to 64)")
    if extension is not None and not EXTENSION.match(extension):
        fail(f"--extension {extension[:40]!r}: expected a SIP user or extension (letters, digits, . _ @ + * # -)")
    parsed = []
    for item in skills:
        skill, sep, level = item.partition("=")
        level = level.strip()
        if not sep or not SKILL.match(skill.strip()) or not re.fullmatch(r"[0-9]{1,2}", level) \
                or not 1 <= int(level) <= 10:
            fail(f"--skill {item[:40]!r}: expected NAME=LEVEL with LEVEL 1..10")
        parsed.append((skill.strip(), int(level)))
    repo = AgentRepository(open_cli_store(ctx))
    with store_errors():
        agent = repo.add(agent_id, name, extension, team)
        for skill, level in parsed:
            agent = repo.set_skill(agent.id, skill, level)
    click.echo(f"agent {agent.id} ({agent.name or 'no name'}): {_skills(agent.skills)}")


@agents.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Include removed agents.")
@click.pass_context
def agents_list(ctx: click.Context, include_inactive: bool) -> None:
    """List agents with their skills and the state the engine stored last (and how long ago)."""
    from engine.store.repos.agents import AgentRepository

    repo = AgentRepository(open_cli_store(ctx))
    rows = repo.list(include_inactive)
    states = repo.latest_states()
    now = dt.datetime.now(dt.timezone.utc)
    for a in rows:
        change = states.get(a.id)
        state = "-" if change is None else change.state + (f" ({change.reason})" if change.reason else "")
        age = "" if change is None else f" for {_age(now - change.at)}"
        click.echo(f"{a.id:<10} {a.name or '-':<20} {a.extension or '-':<24} {a.team or '-':<12} "
                   f"{state + age:<28} {'' if a.active else '(removed) '}{_skills(a.skills)}")
    click.echo(f"{len(rows)} agents", err=True)


def _age(delta: dt.timedelta) -> str:
    """`42s`, `5m`, `3h05m`, `2d04h`: how long an agent has been in its state."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


@agents.command("set-skill")
@click.argument("agent_id")
@click.argument("skill")
@click.argument("level", type=int)
@click.pass_context
def agents_set_skill(ctx: click.Context, agent_id: str, skill: str, level: int) -> None:
    """Give AGENT_ID the SKILL at proficiency LEVEL (1..10; 0 removes the skill)."""
    from engine.store.repos.agents import AgentRepository

    repo = AgentRepository(open_cli_store(ctx))
    with store_errors():
        agent = repo.remove_skill(agent_id, skill) if level == 0 else repo.set_skill(agent_id, skill, level)
    click.echo(f"agent {agent.id}: {_skills(agent.skills)}")


@agents.command("remove")
@click.argument("agent_id")
@click.pass_context
def agents_remove(ctx: click.Context, agent_id: str) -> None:
    """Remove AGENT_ID (deactivated; their call history is kept)."""
    from engine.store.repos.agents import AgentRepository

    if not AgentRepository(open_cli_store(ctx)).remove(agent_id):
        fail(f"no active agent {agent_id!r}")
    click.echo(f"agent {agent_id} removed")


def _skills(skills: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in skills.items()) or "no skills"


@click.group()
@click.option("--database-url", metavar="URL", help="SQLAlchemy URL (default: the config's database).")
def dispositions(database_url: str | None) -> None:
    """The catalogue of call outcomes agents choose from."""


@dispositions.command("add")
@click.argument("code")
@click.argument("label")
@click.option("--category", default=None, help="Grouping for reports (e.g. sale, service, no-contact).")
@click.option("--success", is_flag=True, help="Counts as a successful outcome in reports and campaigns.")
@click.pass_context
def dispositions_add(ctx: click.Context, code: str, label: str, category: str | None, success: bool) -> None:
    """Add or update disposition CODE with LABEL."""
    from engine.store.repos.agents import DispositionRepository

    with store_errors():
        d = DispositionRepository(open_cli_store(ctx)).add(code, label, category, success)
    click.echo(f"{d.code}: {d.label}{' (success)' if d.is_success else ''}")


@dispositions.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Include removed codes.")
@click.pass_context
def dispositions_list(ctx: click.Context, include_inactive: bool) -> None:
    """List disposition codes."""
    from engine.store.repos.agents import DispositionRepository

    for d in DispositionRepository(open_cli_store(ctx)).list(include_inactive):
        click.echo(f"{d.code:<16} {d.label:<30} {d.category or '-':<12} {'success' if d.is_success else ''}"
                   f"{'' if d.active else ' (removed)'}")


@dispositions.command("remove")
@click.argument("code")
@click.pass_context
def dispositions_remove(ctx: click.Context, code: str) -> None:
    """Remove disposition CODE from the choices (interactions that used it keep it)."""
    from engine.store.repos.agents import DispositionRepository

    if not DispositionRepository(open_cli_store(ctx)).remove(code):
        fail(f"no disposition {code!r}")
    click.echo(f"{code} removed")
