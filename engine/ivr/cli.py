"""`jinqiao flows ...`: validate IVR flow files, print the JSON Schema for editors."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine.ivr.validate import validate_paths


def _queues_from_config(ctx: click.Context) -> set[str] | None:
    config = getattr(ctx.obj, "config", None)
    acd = getattr(config, "acd", None) or {}
    queues = acd.get("queues") if isinstance(acd, dict) else None
    return set(queues) if isinstance(queues, dict) else None


def _flows_dir(ctx: click.Context) -> str:
    config = getattr(ctx.obj, "config", None)
    return getattr(getattr(config, "ivr", None), "flows_dir", "ivr_flows")


@click.group()
def flows() -> None:
    """IVR flows: validate them, get the schema for your editor."""


@flows.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--queue", "queues", multiple=True, metavar="NAME",
              help="A known ACD queue name (repeatable); default: the keys of acd.queues in the config.")
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...], queues: tuple[str, ...]) -> None:
    """Check flow files (default: ivr.flows_dir); print each problem as file:line:col: field: message."""
    targets = list(paths) or [_flows_dir(ctx)]
    for target in targets:
        if not Path(target).exists():
            click.echo(f"{target}:1:1: no such file or directory", err=False)
            sys.exit(1)
    known = set(queues) if queues else _queues_from_config(ctx)
    report = validate_paths(targets, known)
    for error in report.errors:
        click.echo(str(error))
    files = len(report.files)
    if not files and not report.errors:
        click.echo(f"jinqiao: no flow files (*.yaml) in {', '.join(map(str, targets))}", err=True)
        sys.exit(1)
    unchecked = "" if known is not None else " (queue names not checked: no acd.queues)"
    if report.errors:
        bad = len({e.file for e in report.errors})
        click.echo(f"{len(report.errors)} problem(s) in {bad} of {files} flow file(s){unchecked}", err=True)
        sys.exit(1)
    click.echo(f"{files} flow file(s) OK{unchecked}", err=True)


@flows.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def schema(output: str | None) -> None:
    """Print the JSON Schema of flow files (for YAML editor completion)."""
    from engine.ivr.schema import flow_schema

    text = json.dumps(flow_schema(), ensure_ascii=False, indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
