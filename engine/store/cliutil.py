"""Shared plumbing of the store's CLI commands: config and store from the click context, one-line errors."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from engine.store.database import Store

REGION_ENV = "JINQIAO_PHONE_REGION"


def config_of(ctx: click.Context) -> Any:
    """The engine Config of this command (see engine.clicontext: one error line and exit 2 when it is bad)."""
    from engine.clicontext import current_config

    return current_config()


def phone_region(config: Any) -> str:
    """Default region for numbers without a country code: $JINQIAO_PHONE_REGION, else database.phone_region (CN)."""
    return (os.environ.get(REGION_ENV) or getattr(getattr(config, "database", None), "phone_region", "") or "CN").upper()


def database_url(ctx: click.Context) -> str:
    """--database-url given to any enclosing group, else the config's URL."""
    probe: click.Context | None = ctx
    while probe is not None:
        url = probe.params.get("database_url")
        if url:
            return str(url)
        probe = probe.parent
    return str(config_of(ctx).database_url)


def open_cli_store(ctx: click.Context, check_schema: bool = True) -> "Store":
    """Open the configured store; refuse (exit 2) when its schema is not current."""
    from engine.store.database import open_store
    from engine.store.errors import StoreError
    from engine.store.migrate import check_schema_current

    try:
        store = open_store(database_url(ctx), region=phone_region(config_of(ctx)))
        if check_schema:
            check_schema_current(store.engine)
        else:
            with store.engine.connect():
                pass
    except StoreError as exc:
        fail(str(exc))
    except Exception as exc:  # driver errors: cannot connect, permission denied, ...
        fail(f"cannot open the database: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return store


def fail(message: str) -> NoReturn:
    """Print one line to stderr and exit with code 2."""
    click.echo(f"jinqiao: {message}", err=True)
    sys.exit(2)


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """Turn store and validation errors into one line on stderr and exit code 2."""
    from engine.store.errors import StoreError

    try:
        yield
    except (StoreError, ValueError) as exc:
        fail(str(exc))
