"""Shared plumbing of the CLI: config and store from the click context, one-line errors with one prefix,
a quiet stop when the reader of our output goes away (`| head`), and times in the center's time zone."""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from engine.store.database import Store

REGION_ENV = "JINQIAO_PHONE_REGION"
ERROR_PREFIX = "jinqiao: "  # every error line of every command starts with it
DEFAULT_TIME_ZONE = "Asia/Shanghai"


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


def error(message: str) -> None:
    """Print one error line to stderr, with the one prefix."""
    click.echo(f"{ERROR_PREFIX}{message}", err=True)


def fail(message: str) -> NoReturn:
    """Print one line to stderr and exit with code 2."""
    error(message)
    sys.exit(2)


def is_broken_pipe(exc: BaseException) -> bool:
    """The reader of our output went away (e.g. `jinqiao calls list | head`): not an error to report."""
    return isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE)


def run_main(click_main: Callable[..., Any], *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
    """Run click's `main` so that its own errors (bad option, missing argument, ClickException) end as
    the usage and one `jinqiao: ...` line, like every other error, with click's exit codes."""
    if not standalone_mode:
        return click_main(*args, standalone_mode=False, **kwargs)
    try:
        result = click_main(*args, standalone_mode=False, **kwargs)
    except click.ClickException as exc:
        show_click_error(exc)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        error("aborted")
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


def show_click_error(exc: click.ClickException) -> None:
    no_args_is_help = getattr(click.exceptions, "NoArgsIsHelpError", None)
    if no_args_is_help is not None and isinstance(exc, no_args_is_help):
        exc.show()  # a group run without a command: its help, not an error line
        return
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        ctx = exc.ctx
        hint = ""
        if ctx.command.get_help_option(ctx) is not None:
            hint = f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.\n"
        click.echo(f"{ctx.get_usage()}\n{hint}", err=True)
    error(exc.format_message())


def center_zone(config: Any) -> Any:
    """The center's time zone (engine.timezone in the config)."""
    from zoneinfo import ZoneInfo

    name = getattr(getattr(config, "engine", None), "timezone", "") or DEFAULT_TIME_ZONE
    return ZoneInfo(name)


def local_time(value: dt.datetime | None, zone: Any, seconds: bool = True) -> str:
    """`2026-11-25 11:00:03` in the center's zone ("-" for no time); naive values are UTC."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def parse_local_time(text: str, zone: Any, option: str, end_of_day: bool = False) -> dt.datetime:
    """A date (`2026-11-25`) or date-time (`2026-11-25 09:30`, `2026-11-25T09:30:00`) in the center's zone
    unless it names its own offset; a bare date as an end (`end_of_day`) means the end of that day."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            start = dt.datetime.combine(day + dt.timedelta(days=1 if end_of_day else 0), dt.time(), zone)
            return start.astimezone(dt.timezone.utc)
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected a date like 2026-11-25 or a time like '2026-11-25 09:30', "
                                 f"got {text!r}", param_hint=option) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(dt.timezone.utc)


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """Turn store and validation errors into one line on stderr and exit code 2."""
    from engine.store.errors import StoreError

    try:
        yield
    except (StoreError, ValueError) as exc:
        fail(str(exc))
