"""Typed engine configuration: loaded from YAML, overridden by JINQIAO_<SECTION>_<KEY>, validated with located errors.

How it works: each section is a dataclass whose field types drive validation and conversion. A YAML
value that has the wrong type, or an unknown key, raises `SourceError` naming file:line:column and the
field. Environment variables override any scalar setting (`JINQIAO_FREESWITCH_PASSWORD`,
`JINQIAO_DATABASE_URL`, ...); a bad environment value names the variable. Sections that belong to a
feature package (`acd`, `dialer`, `recording`) are kept as raw mappings plus their source locations, and
validated by that package.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import typing
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from engine.yamlsrc import LocatedYaml, SourceError, load_file

ENV_PREFIX = "JINQIAO_"
CONFIG_ENV = "JINQIAO_CONFIG"


def default_data_dir() -> str:
    """Where an engine without a configured data dir keeps its store and caches: $XDG_DATA_HOME/jinqiao."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "jinqiao")


@dataclass(frozen=True)
class EngineSection:
    """Process-wide settings."""

    data_dir: str = field(default_factory=lambda: default_data_dir())
    log_level: str = "info"
    log_format: str = "text"  # text | json
    timezone: str = "Asia/Shanghai"  # the center's time zone: times shown by the CLI (IANA name)


@dataclass(frozen=True)
class FreeswitchSection:
    """How to reach FreeSWITCH's inbound event socket."""

    host: str = "127.0.0.1"
    port: int = 8021
    password: str = ""
    event_format: str = "json"  # json | plain
    connect_timeout: float = 5.0
    heartbeat_timeout: float = 60.0  # FreeSWITCH sends HEARTBEAT every 20 s; silence this long = dead socket
    reconnect_min_delay: float = 0.2
    reconnect_max_delay: float = 2.0  # backoff cap: back within ~2 s of FreeSWITCH accepting again
    handshake_timeout: float = 10.0  # auth/request, auth reply and subscription replies, each
    event_queue_mb: int = 32  # events received but not yet handled; when full, reading pauses
    node_lost_after: float = 5.0  # a node whose connection stays down this long is lost: its calls are closed
    nodes: tuple = ()  # several FreeSWITCH nodes (FreeswitchNode); empty: the one node at host:port above

    def node_list(self) -> tuple["FreeswitchNode", ...]:
        """The nodes this engine controls; the single `host`/`port` form is one node named "main"."""
        if self.nodes:
            return self.nodes
        return (FreeswitchNode(name=SINGLE_NODE, host=self.host, port=self.port, password=self.password),)


SINGLE_NODE = "main"
_NODE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,31}\Z")


@dataclass(frozen=True)
class FreeswitchNode:
    """One FreeSWITCH node of `freeswitch.nodes`: its event socket, password and SIP address."""

    name: str
    host: str = "127.0.0.1"
    port: int = 8021
    password_file: str = ""  # empty: freeswitch.password (JINQIAO_FREESWITCH_PASSWORD)
    weight: float = 1.0  # relative share of new calls when nodes are equally loaded
    sip_host: str = ""  # where other nodes reach this node's SIP profile; empty: host
    sip_port: int = 5060
    password: str = field(default="", repr=False, compare=False)  # read from password_file at load

    @property
    def sip_address(self) -> str:
        return f"{self.sip_host or self.host}:{self.sip_port}"


@dataclass(frozen=True)
class OutboundSection:
    """Where the engine listens for FreeSWITCH `socket` application connections."""

    host: str = "127.0.0.1"
    port: int = 8084
    linger_seconds: int = 10
    max_calls: int = 5000  # lowered to what the open-file limit allows
    connect_timeout: float = 5.0  # a connection must deliver its channel data (and take myevents) this fast
    execute_timeout: float = 3600.0  # an application that has not completed after this hangs the call up
    bridge_timeout: float = 86400.0  # the same for bridge, which lasts as long as the conversation


@dataclass(frozen=True)
class DatabaseSection:
    """The SQL store; empty url means a SQLite file in the data dir."""

    url: str = ""
    echo: bool = False
    phone_region: str = "CN"  # how national numbers (no country code) are read: ISO 3166 region code


@dataclass(frozen=True)
class WebSection:
    """The agent console and supervisor wallboard (engine/web), served in the engine process."""

    enabled: bool = True
    host: str = "127.0.0.1"  # localhost only unless configured
    port: int = 8080
    secret_key_file: str = ""  # signs session cookies; empty: <data_dir>/web-secret (created 0600)
    cookie_secure: bool = True  # set false only for plain-http on localhost
    cookie_samesite: str = "Strict"  # Strict | Lax
    session_hours: float = 12.0
    login_attempts: int = 5  # failed logins per user id and per address ...
    login_window: float = 300.0  # ... within this many seconds before logins are refused for the window
    max_push_clients: int = 5000  # open server-sent-event streams
    disposition_queues: str = "*"  # queues whose calls need a disposition before ready: "*", "" or "a,b"
    sla_seconds: float = 20.0  # service level: answered within this many seconds


@dataclass(frozen=True)
class IvrSection:
    """Where IVR flows live and which DID runs which flow."""

    flows_dir: str = "ivr_flows"
    dids: dict = field(default_factory=dict)
    default_flow: str = ""


@dataclass(frozen=True)
class TtsSection:
    """Text-to-speech rendering and its audio cache."""

    backend: str = "espeak"  # espeak | freeswitch
    cache_dir: str = ""  # empty: <data_dir>/tts-cache
    cache_max_mb: int = 512
    sample_rate: int = 8000
    render_timeout: float = 5.0
    voice_zh: str = "cmn"
    voice_en: str = "en"
    speak_engine: str = "tts_commandline"  # FreeSWITCH's TTS module, for backend: freeswitch


@dataclass(frozen=True)
class Config:
    """The whole engine configuration."""

    engine: EngineSection = field(default_factory=EngineSection)
    freeswitch: FreeswitchSection = field(default_factory=FreeswitchSection)
    outbound: OutboundSection = field(default_factory=OutboundSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    web: WebSection = field(default_factory=WebSection)
    ivr: IvrSection = field(default_factory=IvrSection)
    tts: TtsSection = field(default_factory=TtsSection)
    acd: dict = field(default_factory=dict)
    dialer: dict = field(default_factory=dict)
    recording: dict = field(default_factory=dict)
    webhooks: dict = field(default_factory=dict)  # validated by engine.webhooks.config
    source: LocatedYaml | None = field(default=None, compare=False, repr=False)

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL, defaulting to a SQLite file under the data dir."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{Path(self.engine.data_dir).resolve() / 'jinqiao.db'}"

    @property
    def tts_cache_dir(self) -> str:
        return self.tts.cache_dir or str(Path(self.engine.data_dir) / "tts-cache")


class ConfigError(SourceError):
    """A configuration problem; the CLI prints it as one line and exits with code 2."""


class EnvironmentConfigError(ConfigError):
    """A bad value in a JINQIAO_* environment variable; the message names the variable."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__("environment", 0, 0, variable, message)

    def __str__(self) -> str:
        return f"{self.field_name}: {self.message}"


def _convert(value: Any, kind: Any, where: str) -> Any:
    """Check/convert one scalar value to the declared type; raise ValueError with a readable reason."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ValueError(f"expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise ValueError(f"expected a whole number, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise ValueError(f"expected a whole number, got {value!r}")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"expected a number, got {value!r}")
    if kind is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"expected text, got {type(value).__name__}")
    if kind is tuple:
        if isinstance(value, list):
            return tuple(value)
        raise ValueError(f"expected a list, got {type(value).__name__}")
    if kind is dict:
        if isinstance(value, dict):
            return value
        raise ValueError(f"expected a mapping, got {type(value).__name__}")
    raise ValueError(f"unsupported setting type {kind!r} at {where}")


_CHOICES = {
    ("engine", "log_level"): ("debug", "info", "warning", "error"),
    ("engine", "log_format"): ("text", "json"),
    ("freeswitch", "event_format"): ("json", "plain"),
    ("tts", "backend"): ("espeak", "freeswitch"),
    ("tts", "sample_rate"): (8000, 16000),
    ("web", "cookie_samesite"): ("Strict", "Lax"),
}


_FINITE_SECONDS = {("freeswitch", "reconnect_min_delay"), ("freeswitch", "node_lost_after"), ("freeswitch", "reconnect_max_delay"),
                   ("freeswitch", "handshake_timeout"), ("outbound", "connect_timeout"),
                   ("outbound", "execute_timeout"), ("outbound", "bridge_timeout")}


_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*|[A-Za-z0-9.\-]{1,253})\Z")
PATH_SETTINGS = (("engine", "data_dir"), ("ivr", "flows_dir"), ("tts", "cache_dir"))  # relative to the config file
RAW_PATH_SETTINGS = (("acd", "recordings_dir"),)


def check_password(value: str) -> str:
    """Why an ESL password is not usable ("" when it is): it is written into event_socket.conf.xml, where
    FreeSWITCH expands `$${…}`, and sent on the one-line `auth` command."""
    if any(unicodedata.category(c) == "Cc" for c in value):
        return "must not contain control characters (CR, LF, tab, NUL): FreeSWITCH would never accept it"
    if "$" in value:
        return "must not contain '$' (FreeSWITCH expands $${...} in its config files)"
    if value != value.strip():
        return "must not start or end with a blank"
    if len(value) > 128:
        return "must be at most 128 characters"
    return ""


def _check_value(section: str, key: str, value: Any) -> str:
    """Why a converted value is not acceptable ("" when it is)."""
    if (section, key) in _FINITE_SECONDS and not (math.isfinite(value) and value > 0):
        return f"must be a finite number of seconds above 0, got {value}"
    if (section, key) == ("freeswitch", "event_queue_mb") and value < 1:
        return f"must be at least 1, got {value}"
    choices = _CHOICES.get((section, key))
    if choices and value not in choices:
        return f"must be one of {', '.join(map(str, choices))}, got {value!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if key == "port" and not 1 <= value <= 65535:
        return f"must be a TCP port 1..65535, got {value}"
    if key == "host" and not _HOST_RE.match(value):
        return f"must be a host name or IP address, got {value[:60]!r}"
    if key == "password" and value:
        return check_password(value)
    if key.endswith(("_timeout", "_delay")) and value <= 0:
        return f"must be more than 0 seconds, got {value}"
    if key == "linger_seconds" and not 0 <= value <= 3600:
        return f"must be 0..3600 seconds, got {value}"
    if key in ("cache_max_mb", "max_calls") and value < 1:
        return f"must be at least 1, got {value}"
    if isinstance(value, str) and key.endswith(("_dir", "url")) and any(unicodedata.category(c) == "Cc" for c in value):
        return "must not contain control characters"
    if section == "web" and key in ("session_hours", "login_window", "sla_seconds") and not (
            math.isfinite(value) and value > 0):
        return f"must be a finite number above 0, got {value}"
    if section == "web" and key in ("login_attempts", "max_push_clients") and value < 1:
        return f"must be at least 1, got {value}"
    if (section, key) == ("engine", "timezone") and not _is_time_zone(value):
        return f"must be an IANA time zone such as Asia/Shanghai, got {value!r}"
    return ""


def _is_time_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, or a malformed key (ValueError)
        return False
    return True


def _resolve_paths(source: LocatedYaml, sections: dict[str, Any]) -> None:
    """Relative paths written in a config file are relative to that file, not to the working directory."""
    if source.file.startswith("<"):
        return
    base = Path(source.file).resolve().parent
    data = source.data if isinstance(source.data, dict) else {}
    for name, key in PATH_SETTINGS:
        written = (data.get(name) or {}).get(key) if isinstance(data.get(name), dict) else None
        value = getattr(sections[name], key)
        if written is not None and value and str(value) == str(written) and not Path(value).is_absolute():
            sections[name] = dataclasses.replace(sections[name], **{key: str(base / value)})
    for name, key in RAW_PATH_SETTINGS:
        raw = sections.get(name)
        if isinstance(raw, dict) and isinstance(raw.get(key), str) and raw[key] and not Path(raw[key]).is_absolute():
            sections[name] = {**raw, key: str(base / raw[key])}


def _section_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def build_config(source: LocatedYaml, environ: Mapping[str, str] | None = None) -> Config:
    """Validate located YAML data (plus environment overrides) into a Config."""
    environ = os.environ if environ is None else environ
    data = source.data if source.data is not None else {}
    if not isinstance(data, dict):
        raise _error(source, (), "the configuration must be a mapping of sections")
    top_types = _section_types(Config)
    sections: dict[str, Any] = {}
    for name in data:
        if name not in top_types or name == "source":
            raise _error(source, (name,), f"unknown section (known: {', '.join(n for n in top_types if n != 'source')})")
    for name, kind in top_types.items():
        if name == "source":
            continue
        raw = data.get(name, {}) or {}
        if not isinstance(raw, dict):
            raise _error(source, (name,), "expected a mapping")
        if kind is dict:
            sections[name] = raw
            continue
        field_types = _section_types(kind)
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in field_types:
                raise _error(source, (name, key), f"unknown setting (known: {', '.join(field_types)})")
            try:
                values[key] = _convert(value, field_types[key], f"{name}.{key}")
            except ValueError as exc:
                raise _error(source, (name, key), str(exc)) from None
        from_env: dict[str, str] = {}
        for key, ftype in field_types.items():
            env_name = f"{ENV_PREFIX}{name}_{key}".upper()
            if env_name in environ and ftype not in (dict, tuple):
                from_env[key] = env_name
                try:
                    values[key] = _convert(environ[env_name], ftype, env_name)
                except ValueError as exc:
                    raise EnvironmentConfigError(env_name, str(exc)) from None
        for key, value in values.items():
            problem = _check_value(name, key, value)
            if problem:
                if key in from_env:
                    raise EnvironmentConfigError(from_env[key], problem)
                raise _error(source, (name, key), problem)
        if name == "freeswitch" and values.get("nodes"):
            values["nodes"] = _parse_nodes(source, values["nodes"], values.get("password", ""))
        sections[name] = kind(**values)
    _resolve_paths(source, sections)
    return Config(**sections, source=source)


_NODE_TYPES = {"name": str, "host": str, "port": int, "password_file": str, "weight": float, "sip_host": str,
               "sip_port": int}


def _parse_nodes(source: LocatedYaml, raw: tuple, shared_password: str) -> tuple[FreeswitchNode, ...]:
    """`freeswitch.nodes`: each entry checked (located errors), its password read from its password_file."""
    base = Path(source.file).resolve().parent if not source.file.startswith("<") else Path.cwd()
    nodes: list[FreeswitchNode] = []
    seen_names: dict[str, int] = {}
    seen_sockets: dict[tuple[str, int], int] = {}
    for index, entry in enumerate(raw):
        where = ("freeswitch", "nodes", index)
        if not isinstance(entry, dict):
            raise _error(source, where, "expected a mapping with name, host, port, password_file")
        values: dict[str, Any] = {}
        for key, value in entry.items():
            if key not in _NODE_TYPES:
                raise _error(source, where + (key,), f"unknown setting (known: {', '.join(_NODE_TYPES)})")
            try:
                values[key] = _convert(value, _NODE_TYPES[key], f"freeswitch.nodes[{index}].{key}")
            except ValueError as exc:
                raise _error(source, where + (key,), str(exc)) from None
            problem = _node_problem(key, values[key])
            if problem:
                raise _error(source, where + (key,), problem)
        if "name" not in values:
            raise _error(source, where, "a node needs a name")
        name = values["name"]
        if name in seen_names:
            raise _error(source, where + ("name",), f"duplicate node name {name!r} (also nodes[{seen_names[name]}])")
        seen_names[name] = index
        socket = (values.get("host", "127.0.0.1"), values.get("port", 8021))
        if socket in seen_sockets:
            raise _error(source, where + ("port",), f"{socket[0]}:{socket[1]} is also nodes[{seen_sockets[socket]}]")
        seen_sockets[socket] = index
        password = shared_password
        if values.get("password_file"):
            path = Path(values["password_file"])
            path = path if path.is_absolute() else base / path
            values["password_file"] = str(path)
            try:
                password = path.read_text(encoding="utf-8").strip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                raise _error(source, where + ("password_file",), f"cannot read {path}: {exc}") from None
            problem = check_password(password) or ("" if password else "the file is empty")
            if problem:
                raise _error(source, where + ("password_file",), f"{path}: {problem}")
        nodes.append(FreeswitchNode(**values, password=password))
    return tuple(nodes)


def _node_problem(key: str, value: Any) -> str:
    if key == "name" and not _NODE_NAME_RE.match(value):
        return f"must be a letter then letters, digits, _ or - (at most 32), got {value[:40]!r}"
    if key == "weight" and not (math.isfinite(value) and value > 0):
        return f"must be a finite number above 0, got {value}"
    if key in ("port", "sip_port") and not 1 <= value <= 65535:
        return f"must be a TCP port 1..65535, got {value}"
    if key in ("host", "sip_host") and value and not _HOST_RE.match(value):
        return f"must be a host name or IP address, got {value[:60]!r}"
    if key == "password_file" and any(unicodedata.category(c) == "Cc" for c in value):
        return "must not contain control characters"
    return ""


def _error(source: LocatedYaml, path: tuple, message: str) -> ConfigError:
    err = source.error(path, message)
    return ConfigError(err.file, err.line, err.column, err.field_name, err.message)


def find_config_path(explicit: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The config file to read: --config, else $JINQIAO_CONFIG, else none (built-in defaults)."""
    environ = os.environ if environ is None else environ
    return explicit or environ.get(CONFIG_ENV) or None


def load_config(path: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load the config from a file (or defaults when path is None) and apply environment overrides."""
    if path is None:
        source = LocatedYaml("<defaults>", {}, {(): (1, 1)})
    else:
        try:
            source = load_file(path)
        except SourceError as exc:
            raise ConfigError(exc.file, exc.line, exc.column, exc.field_name, exc.message) from None
    return build_config(source, environ)


def replace(config: Config, **sections: Any) -> Config:
    """A copy of config with some sections replaced (used by the demo and tests)."""
    return dataclasses.replace(config, **sections)
