"""Render the FreeSWITCH side (dialplan and event-socket config) from the engine's config: `jinqiao fs render`."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import click
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from engine.config import Config
from engine.esl import commands

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = {
    "dialplan/public/jinqiao.xml": ROOT / "dialplans" / "jinqiao_public.xml.j2",
    "dialplan/default/jinqiao_features.xml": ROOT / "dialplans" / "jinqiao_features.xml.j2",
    "autoload_configs/event_socket.conf.xml": ROOT / "conf" / "freeswitch" / "event_socket.conf.xml.j2",
}
_DID_RE = re.compile(r"^\+?[0-9*#]{1,32}$")
# Softphone feature codes: (code, agent action, reason), dialled as *21 ... *24.
AGENT_FEATURE_CODES = (("21", "login", ""), ("22", "logout", ""), ("23", "ready", ""), ("24", "not-ready", "break"))


def _xml_attr(value: str) -> str:
    return (str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def render_all(config: Config) -> dict[str, str]:
    """Every FreeSWITCH file, by its path under FreeSWITCH's conf dir."""
    dids = []
    for did, flow in sorted(config.ivr.dids.items()):
        if not _DID_RE.match(str(did)):
            raise click.UsageError(f"ivr.dids: {did!r} is not a dialled number (digits, *, #, optional leading +)")
        dids.append((str(did).lstrip("+"), _xml_attr(flow)))
    env = Environment(loader=FileSystemLoader(str(ROOT)), undefined=StrictUndefined, autoescape=False,
                      keep_trailing_newline=True)
    env.filters["regex_escape"] = lambda text: re.sub(r"([*#+])", r"\\\1", str(text))
    values = {
        "dids": dids,
        "outbound_host": config.outbound.host,
        "outbound_port": config.outbound.port,
        "esl_host": config.freeswitch.host,
        "esl_port": config.freeswitch.port,
        "esl_password": _xml_attr(config.freeswitch.password),
        "feature_codes": AGENT_FEATURE_CODES,
        "subclass": commands.SUBCLASS_AGENT_CONTROL,
        "h_agent_id": commands.H_AGENT_ID, "h_action": commands.H_AGENT_ACTION, "h_reason": commands.H_AGENT_REASON,
    }
    out = {}
    for target, template in TEMPLATES.items():
        out[target] = env.get_template(str(template.relative_to(ROOT))).render(**values)
    return out


@click.group("fs")
def fs() -> None:
    """The FreeSWITCH side: dialplan and event-socket configuration for this engine."""


@fs.command("render")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write the files under this FreeSWITCH conf dir.")
@click.pass_obj
def render(app, out_dir: str | None) -> None:
    """Render the dialplan and event_socket.conf.xml from the engine config."""
    config = app.config
    if not config.freeswitch.password:
        click.echo("jinqiao: freeswitch.password: not set (set it in the config or JINQIAO_FREESWITCH_PASSWORD); "
                   "there is no default", err=True)
        sys.exit(2)
    for target, text in render_all(config).items():
        if out_dir:
            path = Path(out_dir) / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            click.echo(f"wrote {path}")
        else:
            click.echo(f"<!-- {target} -->\n{text}")
