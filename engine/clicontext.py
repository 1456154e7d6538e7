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
