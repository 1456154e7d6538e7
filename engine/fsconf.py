"""Render the FreeSWITCH side (dialplan and event-socket config) from the engine's config: `jinqiao fs render`.

Every value put into the XML is checked against an allow-list and XML-escaped. Files are written mode 0600
(they hold the ESL password or a token derived from it) in directories created 0700; an existing file that
differs is not overwritten without `--force`, and the command says what would change.
"""
from __future__ import annotations

import difflib
import os
import re
import sys
from pathlib import Path

import click
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from engine.acd import agent_control
from engine.config import Config, check_password
from engine.esl import commands

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = {
    "dialplan/public/jinqiao.xml": ROOT / "dialplans" / "jinqiao_public.xml.j2",
    "dialplan/default/jinqiao_features.xml": ROOT / "dialplans" / "jinqiao_features.xml.j2",
    "autoload_configs/event_socket.conf.xml": ROOT / "conf" / "freeswitch" / "event_socket.conf.xml.j2",
}
_DID_RE = re.compile(r"^\+?[0-9*#]{1,32}$")
_FLOW_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
# Softphone feature codes: (code, agent action, reason), dialled as *21 ... *24.
AGENT_FEATURE_CODES = (("21", "login", ""), ("22", "logout", ""), ("23", "ready", ""), ("24", "not-ready", "break"))
FILE_MODE = 0o600
DIR_MODE = 0o700


def _xml_attr(value: object) -> str:
    return (str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def render_all(config: Config) -> dict[str, str]:
    """Every FreeSWITCH file, by its path under FreeSWITCH's conf dir."""
    dids = []
    for did, flow in sorted(config.ivr.dids.items()):
        if not _DID_RE.match(str(did)):
            raise click.UsageError(f"ivr.dids: {did!r} is not a dialled number (digits, *, #, optional leading +)")
        if not _FLOW_RE.match(str(flow)):
            raise click.UsageError(f"ivr.dids.{did}: {str(flow)[:40]!r} is not a flow name (letters, digits, _ . -)")
        dids.append((str(did).lstrip("+"), _xml_attr(flow)))
    problem = check_password(config.freeswitch.password)
    if problem:
        raise click.UsageError(f"freeswitch.password: {problem}")
    try:
        socket = commands.socket_arg(config.outbound.host, config.outbound.port)
    except ValueError as exc:
        raise click.UsageError(f"outbound: {exc}") from None
    if not re.match(r"^[A-Za-z0-9.:\[\]\-]{1,253}$", config.freeswitch.host):
        raise click.UsageError(f"freeswitch.host: {config.freeswitch.host[:40]!r} is not a host name or address")
    env = Environment(loader=FileSystemLoader(str(ROOT)), undefined=StrictUndefined, autoescape=False,
                      keep_trailing_newline=True)
    env.filters["regex_escape"] = lambda text: re.sub(r"([*#+])", r"\\\1", str(text))
    key = agent_control.control_key(config.freeswitch.password)
    values = {
        "dids": dids,
        "socket": _xml_attr(socket),
        "esl_host": _xml_attr(config.freeswitch.host),
        "esl_port": int(config.freeswitch.port),
        "esl_password": _xml_attr(config.freeswitch.password),
        "feature_codes": AGENT_FEATURE_CODES,
        "subclass": commands.SUBCLASS_AGENT_CONTROL,
        "h_action": commands.H_AGENT_ACTION, "h_reason": commands.H_AGENT_REASON,
        "h_extension": agent_control.H_EXTENSION, "h_token": agent_control.H_TOKEN,
        "token": agent_control.feature_code_token(key),
        "extension_pattern": _xml_attr(agent_control.EXTENSION_PATTERN),
    }
    out = {}
    for target, template in TEMPLATES.items():
        out[target] = env.get_template(str(template.relative_to(ROOT))).render(**values)
    return out


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (0600), in directories created 0700."""
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, FILE_MODE)  # an existing file keeps its old mode through O_CREAT


def _changes(old: str, new: str, name: str) -> str:
    """A unified diff of what rendering would change, with the password masked."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), f"{name} (on disk)", f"{name} (rendered)",
                                 lineterm="", n=1)
    masked = [re.sub(r'(name="password" value=")[^"]*(")', r"\1********\2", line) for line in lines]
    masked = [re.sub(rf"({agent_control.H_TOKEN}=)[0-9a-f]+", r"\1********", line) for line in masked]
    return "\n".join(masked)


@click.group("fs")
def fs() -> None:
    """The FreeSWITCH side: dialplan and event-socket configuration for this engine."""


@fs.command("render")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Write the files under this FreeSWITCH conf dir (/etc/freeswitch for packages, "
                   "/usr/local/freeswitch/etc/freeswitch for source installs).")
@click.option("--force", is_flag=True, help="Overwrite files that exist and differ (they are shown otherwise).")
@click.pass_obj
def render(app, out_dir: str | None, force: bool) -> None:
    """Render the dialplan and event_socket.conf.xml from the engine config."""
    config = app.config
    if not config.freeswitch.password:
        click.echo("jinqiao: freeswitch.password: not set (set it in the config or JINQIAO_FREESWITCH_PASSWORD); "
                   "there is no default", err=True)
        sys.exit(2)
    rendered = render_all(config)
    if not out_dir:
        for target, text in rendered.items():
            click.echo(f"<!-- {target} -->\n{text}")
        return
    kept = []
    for target, text in rendered.items():
        path = Path(out_dir) / target
        if path.exists():
            old = path.read_text(encoding="utf-8", errors="replace")
            if old == text:
                os.chmod(path, FILE_MODE)
                click.echo(f"unchanged {path}")
                continue
            if not force:
                kept.append(path)
                click.echo(f"not overwriting {path} (exists and differs); it would change:\n"
                           f"{_changes(old, text, target)}", err=True)
                continue
        write_private(path, text)
        click.echo(f"wrote {path} (mode 0600)")
    if kept:
        click.echo("jinqiao: kept {} existing file(s); run again with --force to overwrite".format(len(kept)), err=True)
        sys.exit(1)
    click.echo("next: in fs_cli run `reloadxml`, and `reload mod_event_socket` if event_socket.conf.xml changed")
