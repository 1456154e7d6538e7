"""A real `jinqiao serve` process (killed with SIGKILL in the tests) and an in-process engine on the same store."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "prod-test"
DID = "6000"

FLOW = """\
name: support_line
start: to_queue
nodes:
  to_queue:
    type: queue
    queue: support
    timeout_s: 600
    on_failure: bye
  bye:
    type: hangup
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path: Path, sim_port: int, outbound_port: int, database_url: str | None = None,
                 extra: str = "") -> Path:
    flows = tmp_path / "flows"
    flows.mkdir(exist_ok=True)
    (flows / "support_line.yaml").write_text(FLOW, encoding="utf-8")
    db = database_url or f"sqlite:///{tmp_path / 'jq.db'}"
    path = tmp_path / "jinqiao.yaml"
    path.write_text(f"""
engine: {{data_dir: {tmp_path / 'data'}, log_format: json}}
database: {{url: "{db}"}}
freeswitch: {{host: 127.0.0.1, port: {sim_port}, reconnect_min_delay: 0.05}}
outbound: {{host: 127.0.0.1, port: {outbound_port}, linger_seconds: 1}}
ivr: {{flows_dir: {flows}, dids: {{"{DID}": support_line}}}}
tts: {{cache_dir: {tmp_path / 'tts'}}}
acd:
  reconcile_every: 3600
  queues:
    support: {{strategy: longest-idle, wrap_up_seconds: 0, offer_timeout: 20}}
{extra}""", encoding="utf-8")
    return path


def env() -> dict[str, str]:
    return {**os.environ, "JINQIAO_FREESWITCH_PASSWORD": PASSWORD}


def cli(config: Path, *args: str, log_name: str = "engine.log", **kw) -> subprocess.Popen:
    """`jinqiao <args>` in its own process; its log goes to `log_name` next to the config (read on failure)."""
    log = open(config.parent / log_name, "ab")
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "--config", str(config), *args], env=env(),
                            cwd=ROOT, stdout=log, stderr=log, **kw)


def kill9(proc: subprocess.Popen) -> None:
    """The engine dies without any cleanup (no hang-ups, no goodbyes, sockets closed by the kernel)."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
