"""`jinqiao serve` as an operator runs it: refuses an unmigrated store, serves calls, stops cleanly on SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import gevent
import pytest

from engine.sim import FreeSwitchSim, Press

ROOT = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, sim_port: int, outbound_port: int) -> Path:
    path = tmp_path / "jinqiao.yaml"
    path.write_text(f"""
engine: {{data_dir: {tmp_path / 'data'}, log_format: json}}
freeswitch: {{host: 127.0.0.1, port: {sim_port}}}
outbound: {{host: 127.0.0.1, port: {outbound_port}, linger_seconds: 1}}
ivr: {{flows_dir: {ROOT / 'ivr_flows'}, dids: {{"4000": demo_welcome}}}}
tts: {{cache_dir: {tmp_path / 'tts'}}}
""", encoding="utf-8")
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "engine.cli", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture
def sim():
    simulator = FreeSwitchSim(password="serve-test", time_scale=0.05)
    simulator.start()
    yield simulator
    simulator.stop()


def test_serve_refuses_an_unmigrated_store_and_names_the_command(tmp_path, sim) -> None:
    config = write_config(tmp_path, sim.address[1], free_port())
    env = {**os.environ, "JINQIAO_FREESWITCH_PASSWORD": "serve-test"}
    proc = run(["--config", str(config), "serve"], env)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "jinqiao db upgrade" in err


def test_serve_without_a_password_says_so_and_exits(tmp_path, sim) -> None:
    config = write_config(tmp_path, sim.address[1], free_port())
    env = {k: v for k, v in os.environ.items() if k != "JINQIAO_FREESWITCH_PASSWORD"}
    assert run(["--config", str(config), "db", "upgrade"], env).wait(60) == 0
    proc = run(["--config", str(config), "serve"], env)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "password" in err


def test_serve_handles_calls_and_stops_cleanly_on_sigterm(tmp_path, sim) -> None:
    outbound_port = free_port()
    config = write_config(tmp_path, sim.address[1], outbound_port)
    env = {**os.environ, "JINQIAO_FREESWITCH_PASSWORD": "serve-test"}
    assert run(["--config", str(config), "db", "upgrade"], env).wait(60) == 0
    proc = run(["--config", str(config), "serve"], env)
    try:
        sim.route("4000", socket=f"127.0.0.1:{outbound_port} async full")
        # Wait until the engine has connected to the switch (its inbound control connection).
        assert sim.wait_until(lambda: any(line.startswith("auth") for line in sim.command_log), 30)
        call = sim.place_call("4000", "13800138000", script=[Press("3", during="play_and_get_digits")])
        assert call.wait_hangup(60)
        assert ("play_and_get_digits" in [app for app, _ in call.apps]) and call.hangup_cause == "NORMAL_CLEARING"
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert '"msg": "stopping"' in err  # structured (JSON) logs, as configured


def test_serve_check_logs_in_and_reports_a_refused_password(tmp_path, sim) -> None:
    config = write_config(tmp_path, sim.address[1], free_port())
    env = {**os.environ, "JINQIAO_FREESWITCH_PASSWORD": "not-the-password"}
    assert run(["--config", str(config), "db", "upgrade"], env).wait(timeout=60) == 0
    proc = run(["--config", str(config), "serve", "--check"], env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "config OK" not in out
    assert f"FreeSWITCH event socket 127.0.0.1:{sim.address[1]} refused the ESL password" in err
    env["JINQIAO_FREESWITCH_PASSWORD"] = "serve-test"
    proc = run(["--config", str(config), "serve", "--check"], env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "config OK" in out and "warning" not in err


def test_serve_check_warns_when_the_switch_is_not_reachable(tmp_path) -> None:
    config = write_config(tmp_path, free_port(), free_port())
    env = {**os.environ, "JINQIAO_FREESWITCH_PASSWORD": "whatever"}
    assert run(["--config", str(config), "db", "upgrade"], env).wait(timeout=60) == 0
    proc = run(["--config", str(config), "serve", "--check"], env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "config OK" in out
    assert "jinqiao: warning: FreeSWITCH event socket" in err and "not reachable" in err
