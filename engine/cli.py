"""The `jinqiao` command line: global options, config loading, and registration of every command group."""
from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field

import click

from engine import __version__
from engine.config import Config, ConfigError, find_config_path, load_config

# Command groups owned by feature packages, as "module:attribute". A group whose module is not part of
# this installation is left out of `--help` (so a partial checkout still works).
PLUGIN_GROUPS = (
    "engine.sim.cli:sim",
    "engine.store.cli:db",
    "engine.store.cli:customers",
    "engine.store.cli:dnc",
    "engine.store.cli:agents",
    "engine.store.cli:dispositions",
    "engine.store.cli_calls:calls",
    "engine.store.cli_calls:callbacks",
    "engine.ivr.cli:flows",
    "tts.cli:tts",
    "engine.acd.cli:agent",
    "engine.dialer.campaign_cli:campaign",
    "engine.dialer.campaign_cli:call_command",
    "engine.fsconf:fs",
    "engine.web.cli:users",
    "engine.dialer.sim_cli:dialer",
    "engine.reports.cli:report",
    "engine.webhooks.cli:webhooks",
    "engine.api.cli:tokens",
)


@dataclass
class AppContext:
    """What every command receives as `ctx.obj`: the config path and the config, loaded on first use."""

    config_path: str | None = None
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                click.echo(f"jinqiao: config error: {exc}", err=True)
                sys.exit(2)
        return self._config


class JinqiaoGroup(click.Group):
    """The top-level group: an operator's mistake (a path that cannot be written, a store that is not
    there, an unknown encoding) ends as one line and exit code 2, not a traceback."""

    def main(self, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        from engine.store.cliutil import run_main  # click's own errors get the same one-line prefix

        return run_main(super().main, *args, **kwargs)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        from engine.store.cliutil import is_broken_pipe
        from engine.store.errors import StoreError

        try:
            return super().invoke(ctx)
        except OSError as exc:
            if is_broken_pipe(exc):
                raise  # `| head` stopped reading: click ends quietly
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            _fail(f"{where}{exc.strerror or exc}")
        except StoreError as exc:
            _fail(f"store: {exc}")
        except (UnicodeError, LookupError) as exc:
            _fail(f"encoding: {exc}")
        except Exception as exc:
            if type(exc).__module__.startswith("alembic"):
                _fail(f"migrations: {exc}")
            raise


def _fail(message: str) -> None:
    click.echo(f"jinqiao: {message}", err=True)
    sys.exit(2)


@click.group(cls=JinqiaoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="FILE", help="Config file (default: $JINQIAO_CONFIG, else built-in defaults).")
@click.version_option(__version__, prog_name="jinqiao")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Jinqiao (金桥): a call-center engine for FreeSWITCH."""
    if not isinstance(ctx.obj, AppContext) or config_path:  # a caller (or test) may pass its own context
        ctx.obj = AppContext(find_config_path(config_path))


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"jinqiao {__version__}")


@main.command()
@click.option("--check", is_flag=True, help="Validate the config and exit.")
@click.option("--standby", is_flag=True, help="Run as one engine of an active/standby pair on PostgreSQL: "
              "serve only while holding the lease, else wait to take over.")
@click.pass_obj
def serve(app: AppContext, check: bool, standby: bool) -> None:
    """Run the engine: connect to FreeSWITCH and serve calls until stopped."""
    config = app.config
    if check:
        from engine.daemon import check_switch_login, preflight

        problems = preflight(config)
        refused, warning = check_switch_login(config)
        if refused:
            problems.append(refused)
        if warning:
            click.echo(f"jinqiao: warning: {warning}", err=True)
        for problem in problems:
            click.echo(f"jinqiao: {problem}", err=True)
        if problems:
            sys.exit(2)
        click.echo(f"config OK: FreeSWITCH {config.freeswitch.host}:{config.freeswitch.port}, "
                   f"outbound {config.outbound.host}:{config.outbound.port}, database {config.database_url.split('://')[0]}, "
                   f"flows in {config.ivr.flows_dir}, {len((config.acd or {}).get('queues') or {})} queue(s)")
        return
    from engine.daemon import run_forever

    sys.exit(run_forever(config, standby=standby))


@main.command()
@click.option("--calls", default=4, show_default=True, type=click.IntRange(min=1),
              help="How many simulated callers to run.")
@click.option("--time-scale", default=None, type=click.FloatRange(min=0.001),
              help="Simulated-time factor of the scripted batch (1 = real time; default 0.05).")
@click.option("--data-dir", default=None, help="Where the demo keeps its SQLite store and audio (default: a temp dir).")
@click.option("--serve", is_flag=True, help="Serve the agent console and wallboard (demo logins printed) and keep "
              "simulated callers coming in real time until Ctrl-C, after the scripted batch.")
@click.option("--web-port", type=click.IntRange(0, 65535), default=None, help="Web port for --serve (default web.port).")
@click.pass_obj
def demo(app: AppContext, calls: int, time_scale: float | None, data_dir: str | None, serve: bool,
         web_port: int | None) -> None:
    """Start the simulated FreeSWITCH and the engine, run a few calls through a flow, print what happened."""
    from engine.demo import run_demo

    scale = time_scale if time_scale is not None else 0.05
    sys.exit(run_demo(app.config, calls=calls, time_scale=scale, data_dir=data_dir, serve=serve, web_port=web_port))


def _register_plugins(group: click.Group) -> None:
    for spec in PLUGIN_GROUPS:
        module_name, _, attribute = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that package is not in this installation
            raise
        command = getattr(module, attribute, None)
        if command is not None:
            group.add_command(command)


_register_plugins(main)

if __name__ == "__main__":
    main()
