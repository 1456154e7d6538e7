"""Render the FreeSWITCH side (dialplan and event-socket config) from the engine's config: `jinqiao fs render`.

Every value put into the XML is checked against an allow-list and XML-escaped. Files are written mode 0600
(they hold the ESL password or a token derived from it) in directories created 0700; an existing file that
differs is not overwritten without `--force`, and the command says what would change.
"""
from __future__ import annotations

import difflib
import functools
import os
import re
import sys
from pathlib import Path

import click
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from engine.acd import agent_control
from engine.config import Config, FreeswitchNode, check_password
from engine.esl import commands

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = {
    "dialplan/public/jinqiao.xml": ROOT / "dialplans" / "jinqiao_public.xml.j2",
    "dialplan/default/jinqiao_features.xml": ROOT / "dialplans" / "jinqiao_features.xml.j2",
    "autoload_configs/event_socket.conf.xml": ROOT / "conf" / "freeswitch" / "event_socket.conf.xml.j2",
    "autoload_configs/local_stream.conf.xml": ROOT / "conf" / "freeswitch" / "local_stream.conf.xml.j2",
}
NODES_TEMPLATE = ("dialplan/public/jinqiao_nodes.xml", ROOT / "dialplans" / "jinqiao_nodes.xml.j2")
DIRECTORY_TEMPLATE = ("directory/default/jinqiao_agents.xml", ROOT / "conf" / "freeswitch" / "directory_agents.xml.j2")
MOH_DIR = "jinqiao-moh"  # under FreeSWITCH's conf dir: the generated hold music, one folder per sample rate
MOH_RATES = (8000, 16000)
MIN_SIP_PASSWORD = 8
_DID_RE = re.compile(r"^\+?[0-9*#]{1,32}\Z")
_FLOW_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}\Z")
# Softphone feature codes: (code, agent action, reason), dialled as *21 ... *24.
AGENT_FEATURE_CODES = (("21", "login", ""), ("22", "logout", ""), ("23", "ready", ""), ("24", "not-ready", "break"))
FILE_MODE = 0o600
DIR_MODE = 0o700


def _xml_attr(value: object) -> str:
    return (str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def render_all(config: Config, node: FreeswitchNode | None = None) -> dict[str, str]:
    """Every FreeSWITCH file of one node (the only one by default), by its path under FreeSWITCH's conf dir."""
    nodes = config.freeswitch.node_list()
    node = node or nodes[0]
    dids = []
    for did, flow in sorted(config.ivr.dids.items()):
        if not _DID_RE.match(str(did)):
            raise click.UsageError(f"ivr.dids: {did!r} is not a dialled number (digits, *, #, optional leading +)")
        if not _FLOW_RE.match(str(flow)):
            raise click.UsageError(f"ivr.dids.{did}: {str(flow)[:40]!r} is not a flow name (letters, digits, _ . -)")
        dids.append((str(did).lstrip("+"), _xml_attr(flow)))
    where = "freeswitch.password" if not config.freeswitch.nodes else f"freeswitch.nodes ({node.name}) password"
    problem = check_password(node.password)
    if problem:
        raise click.UsageError(f"{where}: {problem}")
    try:
        socket = commands.socket_arg(config.outbound.host, config.outbound.port)
    except ValueError as exc:
        raise click.UsageError(f"outbound: {exc}") from None
    for other in nodes:
        for value in (other.host, other.sip_host or other.host):
            if not re.match(r"^[A-Za-z0-9.:\[\]\-]{1,253}\Z", value):
                raise click.UsageError(f"freeswitch.host: {value[:40]!r} is not a host name or address")
    key = agent_control.control_key(config.freeswitch.password or nodes[0].password)
    values = {
        "node_name": node.name,
        "esl_acl": _xml_attr(engine_acl(config.outbound.host)),
        "moh_rates": MOH_RATES, "moh_dir": MOH_DIR,
        "dids": dids,
        "socket": _xml_attr(socket),
        "esl_host": _xml_attr(node.host),
        "esl_port": int(node.port),
        "esl_password": _xml_attr(node.password),
        "feature_codes": AGENT_FEATURE_CODES,
        "subclass": commands.SUBCLASS_AGENT_CONTROL,
        "h_action": commands.H_AGENT_ACTION, "h_reason": commands.H_AGENT_REASON,
        "h_extension": agent_control.H_EXTENSION, "h_token": agent_control.H_TOKEN,
        "token": agent_control.feature_code_token(key),
        "extension_pattern": _xml_attr(agent_control.EXTENSION_PATTERN),
    }
    templates = dict(TEMPLATES)
    peers = [other for other in nodes if other.name != node.name]
    if peers:
        values["peers_pattern"] = _xml_attr("^(" + "|".join(re.escape(p.sip_host or p.host) for p in peers) + ")$")
        templates[NODES_TEMPLATE[0]] = NODES_TEMPLATE[1]
    out = {}
    for target, template in templates.items():
        out[target] = _environment().get_template(str(template.relative_to(ROOT))).render(**values)
    return out


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(ROOT)), undefined=StrictUndefined, autoescape=False,
                      keep_trailing_newline=True)
    env.filters["regex_escape"] = lambda text: re.sub(r"([*#+])", r"\\\1", str(text))
    return env


def engine_acl(outbound_host: str) -> str:
    """Who may use a node's event socket: the engine's host (the address its outbound socket listens on)."""
    if outbound_host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::"):
        return "loopback.auto"
    return f"{outbound_host}/128" if ":" in outbound_host else f"{outbound_host}/32"


def render_directory(agents: list[tuple[str, str, str]], passwords: dict[str, str]) -> dict[str, str]:
    """`directory/default/jinqiao_agents.xml`: a SIP user per (agent id, extension, name), each with the
    password the operator set; raises UsageError naming the agent whose password is missing or unfit."""
    users = []
    for agent_id, extension, name in agents:
        if not re.match(agent_control.EXTENSION_PATTERN, extension):
            raise click.UsageError(f"agent {agent_id}: extension {extension[:40]!r} cannot be a SIP user name")
        password = passwords.get(extension)
        if not password:
            raise click.UsageError(f"agent {agent_id}: no SIP password for extension {extension} (there is no default)")
        problem = sip_password_problem(password)
        if problem:
            raise click.UsageError(f"agent {agent_id}: SIP password {problem}")
        users.append({"agent_id": _xml_attr(agent_id), "extension": _xml_attr(extension),
                      "name": _xml_attr(" ".join((name or extension).split())[:80]),
                      "password": _xml_attr(password)})
    text = _environment().get_template(str(DIRECTORY_TEMPLATE[1].relative_to(ROOT))).render(users=users)
    return {DIRECTORY_TEMPLATE[0]: text}


def sip_password_problem(password: str) -> str:
    if len(password) < MIN_SIP_PASSWORD:
        return f"must be at least {MIN_SIP_PASSWORD} characters"
    return check_password(password)


def read_agent_passwords(path: str) -> dict[str, str]:
    """`extension password` per line (# comments); the file must be private (0600): it holds secrets."""
    file = Path(path)
    try:
        mode = file.stat().st_mode & 0o077
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"--agent-passwords: cannot read {path}: {exc}") from None
    if mode:
        raise click.UsageError(f"--agent-passwords: {path} is readable by others (mode {oct(file.stat().st_mode & 0o777)}); "
                               f"chmod 600 it")
    passwords: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        extension, _, password = text.partition(" ")
        if not password.strip():
            raise click.UsageError(f"{path}:{number}: expected `extension password`")
        passwords[extension] = password.strip()
    return passwords


@functools.lru_cache(maxsize=4)
def hold_music(rate: int, seconds: float = 8.0) -> bytes:
    """A soft three-note chime and its echo with silence between, as a 16-bit mono WAV at `rate` (no sound pack
    needed; local_stream loops it)."""
    import array
    import io
    import math
    import wave

    samples = [0.0] * int(seconds * rate)
    ring = int(1.2 * rate)
    for freq, start in ((523.25, 0.0), (659.25, 0.5), (783.99, 1.0), (659.25, 4.0), (523.25, 4.5)):
        step, decay = 2 * math.pi * freq / rate, math.exp(-3.5 / rate)
        first, level = int(start * rate), 0.25
        for i in range(min(ring, len(samples) - first)):
            samples[first + i] += math.sin(step * i) * level * min(1.0, i / 400)
            level *= decay
    pcm = array.array("h", (int(max(-1.0, min(1.0, value)) * 32767) for value in samples))
    if pcm.itemsize != 2 or array.array("h", [1]).tobytes()[0] != 1:  # WAV is little-endian
        pcm.byteswap()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def moh_files() -> dict[str, bytes]:
    return {f"{MOH_DIR}/{rate}/jinqiao-hold.wav": hold_music(rate) for rate in MOH_RATES}


def write_private(path: Path, text: str | bytes) -> None:
    """Write `text` to `path` readable by its owner only (0600), in directories created 0700."""
    for parent in reversed(path.parents):
        if not parent.exists():
            parent.mkdir(mode=DIR_MODE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(text.encode("utf-8") if isinstance(text, str) else text)
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
                   "/usr/local/freeswitch/etc/freeswitch for source installs); with several nodes, one folder "
                   "per node under it, each for that node's conf dir.")
@click.option("--force", is_flag=True, help="Overwrite files that exist and differ (they are shown otherwise).")
@click.option("--agents", "with_agents", is_flag=True,
              help="Also write a SIP user per agent of the agents table (directory/default/jinqiao_agents.xml).")
@click.option("--agent-passwords", type=click.Path(dir_okay=False),
              help="With --agents: a private (0600) file of `extension password` lines; without it each password "
                   "is asked for.")
@click.pass_obj
def render(app, out_dir: str | None, force: bool, with_agents: bool, agent_passwords: str | None) -> None:
    """Render the dialplan, event_socket.conf.xml and hold music (and agent SIP users) from the engine config."""
    config = app.config
    from engine.daemon import missing_password

    if missing_password(config):
        click.echo(f"jinqiao: {missing_password(config)}", err=True)
        sys.exit(2)
    shared: dict[str, str | bytes] = dict(moh_files()) if out_dir else {}
    if with_agents:
        shared.update(render_directory(*_agents_and_passwords(config, agent_passwords)))
    several = bool(config.freeswitch.nodes)
    folders = {(node.name if several else ""): {**render_all(config, node), **shared}
               for node in config.freeswitch.node_list()}
    if not out_dir:
        for folder, rendered in folders.items():
            for target, text in rendered.items():
                click.echo(f"<!-- {folder + '/' if folder else ''}{target} -->\n{text}")
        return
    kept = []
    for folder, rendered in folders.items():
        for target, text in rendered.items():
            path = Path(out_dir) / folder / target
            if path.exists():
                old = path.read_bytes()
                if old == (text.encode("utf-8") if isinstance(text, str) else text):
                    os.chmod(path, FILE_MODE)
                    click.echo(f"unchanged {path}")
                    continue
                if not force:
                    kept.append(path)
                    change = _changes(old.decode("utf-8", "replace"), text, target) if isinstance(text, str) else \
                        "(audio differs)"
                    click.echo(f"not overwriting {path} (exists and differs); it would change:\n{change}", err=True)
                    continue
            write_private(path, text)
            click.echo(f"wrote {path} (mode 0600)")
    if kept:
        click.echo("jinqiao: kept {} existing file(s); run again with --force to overwrite".format(len(kept)), err=True)
        sys.exit(1)
    if several:
        click.echo(f"each folder under {out_dir} is one node's conf dir: copy it there (chown -R freeswitch)")
    click.echo("next: in fs_cli run `reloadxml`, `reload mod_local_stream`, and `reload mod_event_socket` if "
               "event_socket.conf.xml changed")


def _agents_and_passwords(config: Config, passwords_file: str | None) -> tuple[list[tuple[str, str, str]],
                                                                                 dict[str, str]]:
    """The agents table as (agent id, extension, name), and their SIP passwords from the file or the operator."""
    from engine.store.database import open_store
    from engine.store.repos.agents import AgentRepository

    store = open_store(config.database_url, region=config.database.phone_region)
    try:
        agents = [(a.id, a.extension or a.id, a.name or "") for a in AgentRepository(store).list()]
    finally:
        store.dispose()
    passwords = read_agent_passwords(passwords_file) if passwords_file else {}
    for agent_id, extension, _ in agents:
        if extension in passwords:
            continue
        if passwords_file or not sys.stdin.isatty():
            raise click.UsageError(f"agent {agent_id}: no SIP password for extension {extension} "
                                   "(give it in --agent-passwords; there is no default)")
        while True:
            password = click.prompt(f"SIP password for agent {agent_id} (extension {extension})", hide_input=True,
                                    confirmation_prompt=True)
            problem = sip_password_problem(password)
            if not problem:
                break
            click.echo(f"that password {problem}", err=True)
        passwords[extension] = password
    return agents, passwords
