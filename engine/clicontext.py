"""The engine config of the command being run, for every command group (one error line, exit code 2)."""
from __future__ import annotations

import sys
from typing import Any

import click


def current_config() -> Any:
    """The config the `jinqiao` group loaded (from --config / $JINQIAO_CONFIG), else loaded here."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx else None
    if obj is not None and hasattr(obj, "config"):
        return obj.config
    from engine.config import ConfigError, find_config_path, load_config

    try:
        return load_config(find_config_path(None))
    except ConfigError as exc:
        click.echo(f"jinqiao: config error: {exc}", err=True)
        sys.exit(2)


class _Silent:
    """A progress bar for a stderr that is not a terminal (a pipe, a log, cron): nothing is drawn."""

    def __enter__(self) -> "_Silent":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int, *_: object) -> None:
        return None


def progress(length: int, label: str, *, show_pos: bool = True) -> Any:
    """A progress bar on stderr when it is a terminal; silent otherwise (no stray labels in logs and pipes)."""
    if not sys.stderr.isatty():
        return _Silent()
    return click.progressbar(length=length, label=label, file=sys.stderr, show_pos=show_pos)
