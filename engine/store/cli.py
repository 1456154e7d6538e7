"""The store's command groups: `jinqiao db`, `jinqiao customers`, and (from cli_admin) dnc, agents, dispositions."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from engine.clicontext import progress
from engine.store.cli_admin import agents, dispositions, dnc
from engine.store.database import open_private
from engine.store.cliutil import database_url, fail, open_cli_store, store_errors

log = logging.getLogger(__name__)
__all__ = ["agents", "customers", "db", "dispositions", "dnc"]


@click.group()
@click.option("--database-url", metavar="URL", help="SQLAlchemy URL (default: the config's database).")
def db(database_url: str | None) -> None:
    """Database schema: upgrade, inspect, downgrade."""


@db.command()
@click.argument("revision", default="head")
@click.pass_context
def upgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the schema up to REVISION (default: the newest)."""
    from engine.store import migrate

    store = open_cli_store(ctx, check_schema=False)
    before = migrate.current_revision(store.engine)
    with store_errors():
        migrate.upgrade(store.engine, revision)
    after = migrate.current_revision(store.engine)
    click.echo(f"schema: {before or 'empty'} -> {after}" if before != after else f"schema already at {after}")


@db.command(context_settings={"ignore_unknown_options": True})
@click.argument("revision", default="-1")
@click.option("--yes", is_flag=True, help="Do not ask: a downgrade can drop tables and the data in them.")
@click.pass_context
def downgrade(ctx: click.Context, revision: str, yes: bool) -> None:
    """Migrate the schema down to REVISION (default -1: one step). Asks first: data can be lost."""
    from engine.store import migrate

    store = open_cli_store(ctx, check_schema=False)
    before = migrate.current_revision(store.engine)
    if before is None:
        fail("the database has no schema to downgrade")
    if not yes:
        try:
            confirmed = click.confirm(f"Downgrade {database_url(ctx)} from {before} to {revision}? Tables dropped "
                                      "by the downgrade lose their data", default=False, err=True)
        except click.Abort:  # no terminal to answer on
            confirmed = False
        if not confirmed:
            fail("downgrade not confirmed (pass --yes to skip the question)")
    with store_errors():
        migrate.downgrade(store.engine, revision)
    click.echo(f"schema: {before} -> {migrate.current_revision(store.engine) or 'empty'}")


@db.command()
@click.pass_context
def current(ctx: click.Context) -> None:
    """Show the schema revision of the database and whether it is current."""
    from engine.store import migrate

    store = open_cli_store(ctx, check_schema=False)
    now, head = migrate.current_revision(store.engine), migrate.head_revision()
    state = "current" if now == head else "outdated: run `jinqiao db upgrade`"
    click.echo(f"{now or 'empty'} (head {head}, {state})")
    if now != head:
        sys.exit(1)  # scripts can test for a schema that is not current


def _one_char(value: str | None) -> str | None:
    if value is not None and len(value.replace("\\t", "\t")) != 1:
        raise click.BadParameter(f"must be one character, got {value!r}", param_hint="--delimiter")
    return value.replace("\\t", "\t") if value is not None else None


@click.group()
@click.option("--database-url", metavar="URL", help="SQLAlchemy URL (default: the config's database).")
def customers(database_url: str | None) -> None:
    """Customer records: import from CSV, show, export."""


@customers.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--map", "mappings", multiple=True, metavar="FIELD=COLUMN",
              help="Read FIELD (name, phone, segment, value_tier, arpu, tags, language, timezone, account_no, "
                   "owner_agent_id, marketing_consent, do_not_disturb, attr.KEY) from COLUMN. Repeatable.")
@click.option("--extra-columns", type=click.Choice(["error", "ignore", "attributes"]), default="error",
              show_default=True, help="What to do with columns that match no field.")
@click.option("--encoding", default=None, help="Force the file encoding (default: detect UTF-8, UTF-8-BOM, UTF-16, GBK).")
@click.option("--delimiter", default=None, callback=lambda _c, _p, v: _one_char(v),
              help="Field separator (default: detect , tab ; |).")
@click.option("--batch-rows", default=50000, show_default=True, type=click.IntRange(1, 200000),
              help="Rows per transaction.")
@click.pass_context
def import_customers(ctx: click.Context, file: str, mappings: tuple[str, ...], extra_columns: str,
                     encoding: str | None, delimiter: str | None, batch_rows: int) -> None:
    """Import (upsert by phone number) customers from FILE.csv; bad rows go to FILE.csv.errors.csv.

    Running the same import again is safe: it updates nothing that did not change, and an import that
    was interrupted resumes after its last committed batch.
    """
    from engine.store.errors import StoreError
    from engine.store.importer import CustomerImport, ImportOptions

    mapping = {}
    for item in mappings:
        target, sep, column = item.partition("=")
        if not sep or not target.strip() or not column.strip():
            fail(f"--map {item!r}: expected FIELD=COLUMN")
        mapping[target.strip()] = column.strip()
    if delimiter == "\\t":
        delimiter = "\t"
    store = open_cli_store(ctx)
    options = ImportOptions(mapping=mapping, extra_columns=extra_columns, encoding=encoding, delimiter=delimiter,
                            batch_rows=batch_rows)
    try:
        facts = CustomerImport(store, options).check(file)
        with progress(max(facts.lines - 1, 1), "importing") as bar:
            summary = CustomerImport(store, options, progress=bar.update).run(file, facts)
    except StoreError as exc:  # ImportFileError names file, line and field; others are database errors
        fail(str(exc))
    except LookupError as exc:  # unknown --encoding name
        fail(f"{file}: {exc}")
    if summary.resumed_from_line:
        click.echo(f"resumed at line {summary.resumed_from_line} (an earlier import of this file was interrupted)")
    click.echo(f"{summary.file} ({summary.encoding}): {summary.inserted} inserted, {summary.updated} updated, "
               f"{summary.unchanged} unchanged, {summary.rejected} rejected in {summary.seconds:.1f} s")
    if summary.errors_file:
        click.echo(f"rejected rows with line numbers and reasons: {summary.errors_file}")


@customers.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Print the context as JSON.")
@click.pass_context
def show_customer(ctx: click.Context, number: str, as_json: bool) -> None:
    """Show what the screen-pop shows for a caller NUMBER (any format)."""
    from engine.store.screenpop import ScreenPop

    store = open_cli_store(ctx)
    context = ScreenPop(store).lookup(number)
    if context is None:
        from engine.store.phones import lookup_variants

        if not lookup_variants(number, store.region):
            fail(f"{number!r} is not a phone number")
        fail(f"no customer with number {number}")
    c = context.customer
    if as_json:
        import dataclasses

        click.echo(json.dumps(dataclasses.asdict(context), default=str, ensure_ascii=False, indent=2))
        return
    click.echo(f"customer {c.id}: {c.name or '(no name)'}  segment={c.segment.value}  tier={_dash(c.value_tier)}  "
               f"arpu={_dash(c.arpu)}")
    click.echo(f"  phones:   {', '.join(c.phones)}  (matched {context.matched_number})")
    click.echo(f"  tags:     {', '.join(c.tags) or '-'}   language={_dash(c.language)}  timezone={_dash(c.timezone)}")
    click.echo(f"  agents:   owner={_dash(c.owner_agent_id)}  last={_dash(c.last_agent_id)}  "
               f"last contact={_dash(c.last_contact_at)}")
    click.echo(f"  consent:  marketing={_dash(c.marketing_consent)}  do-not-disturb={c.do_not_disturb}")
    for i in context.recent_interactions:
        click.echo(f"  call {i.id}: {i.arrived_at:%Y-%m-%d %H:%M} {i.direction} queue={_dash(i.queue)} "
                   f"agent={_dash(i.agent_id)} talk={_dash(i.talk_seconds)}s disposition={_dash(i.disposition_code)}"
                   f"{' ABANDONED' if i.abandoned else ''}")
    for cb in context.open_callbacks:
        click.echo(f"  callback {cb.id}: due {cb.due_at:%Y-%m-%d %H:%M} UTC, {cb.reason} ({cb.requests} requests)")


@customers.command("export")
@click.option("--output", "-o", default="-", type=click.Path(dir_okay=False, allow_dash=True),
              help="CSV file to write (default: standard output).")
@click.option("--encoding", default="utf-8-sig", show_default=True, help="utf-8-sig opens cleanly in Excel.")
@click.option("--raw", is_flag=True,
              help="Write cells unchanged, for a file that goes back into `customers import`. Without it, a cell "
                   "starting with = + - @ (which Excel/WPS would run as a formula) gets a leading apostrophe.")
@click.pass_context
def export_customers(ctx: click.Context, output: str, encoding: str, raw: bool) -> None:
    """Export every customer as CSV (the same columns `customers import` reads back)."""
    from engine.store.csvexport import CsvExport
    from engine.store.repos.customers import CustomerRepository

    repo = CustomerRepository(open_cli_store(ctx))
    attribute_keys = sorted({key for c in repo.iter_all() for key in c.attributes})
    out = sys.stdout if output == "-" else open_private(output, encoding=encoding, newline="")
    count = 0
    try:
        writer = CsvExport(out, raw=raw)
        writer.writerow(["name", "phone", "segment", "value_tier", "arpu", "tags", "language", "timezone", "account_no",
                         "owner_agent_id", "marketing_consent", "do_not_disturb", *(f"attr.{k}" for k in attribute_keys)])
        for c in repo.iter_all():
            writer.writerow([c.name, ";".join(c.phones), c.segment.value, _blank(c.value_tier), _blank(c.arpu),
                             ";".join(c.tags), _blank(c.language), _blank(c.timezone), _blank(c.account_no),
                             _blank(c.owner_agent_id), _blank(c.marketing_consent), "yes" if c.do_not_disturb else "no",
                             *(_blank(c.attributes.get(k)) for k in attribute_keys)])
            count += 1
    finally:
        if out is not sys.stdout:
            out.close()
    if output != "-":
        click.echo(f"{count} customers written to {Path(output)}", err=True)


def _dash(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _blank(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
