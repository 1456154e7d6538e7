"""Config loading (located errors, env overrides) and the CLI skeleton, run as a user would."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import ConfigError, load_config

JINQIAO = [sys.executable, "-m", "engine.cli"]


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "jinqiao.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults_bind_to_loopback_and_use_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, f"engine:\n  data_dir: {tmp_path}\n"), environ={})
    assert config.freeswitch.host == "127.0.0.1"
    assert config.outbound.host == "127.0.0.1"
    assert config.web.host == "127.0.0.1"
    assert config.database_url == f"sqlite:///{tmp_path.resolve()}/jinqiao.db"


def test_environment_overrides_any_setting(tmp_path: Path) -> None:
    path = write(tmp_path, "freeswitch:\n  port: 8021\n")
    config = load_config(path, environ={"JINQIAO_FREESWITCH_PORT": "9021", "JINQIAO_DATABASE_URL": "sqlite:///x.db",
                                        "JINQIAO_FREESWITCH_PASSWORD": "s3cret"})
    assert config.freeswitch.port == 9021
    assert config.freeswitch.password == "s3cret"
    assert config.database_url == "sqlite:///x.db"


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JINQIAO_OUTBOUND_PORT: expected a whole number"):
        load_config(None, environ={"JINQIAO_OUTBOUND_PORT": "many"})


@pytest.mark.parametrize("text, where", [
    ("freeswitch:\n  port: eighty\n", "2:3: freeswitch.port: expected a whole number"),
    ("freeswitch:\n  hots: 127.0.0.1\n", "2:3: freeswitch.hots: unknown setting"),
    ("engine:\n  log_level: loud\n", "2:3: engine.log_level: must be one of"),
    ("webb:\n  port: 1\n", "1:1: webb: unknown section"),
    ("engine: [1, 2\n", "invalid YAML"),
    ("outbound:\n  port: 1\noutbound:\n  port: 2\n", "3:1: outbound: duplicate key"),
])
def test_bad_config_names_file_line_and_field(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(info.value).startswith(path)
    assert where in str(info.value)


def test_cli_reports_a_bad_config_in_one_line_with_exit_code_2(tmp_path: Path) -> None:
    path = write(tmp_path, "freeswitch:\n  port: eighty\n")
    result = subprocess.run(JINQIAO + ["--config", path, "serve", "--check"], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{path}:2:3: freeswitch.port" in lines[0]


def test_cli_finds_the_config_through_the_environment_and_serve_check_passes_a_ready_setup(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    path = write(tmp_path, f"engine: {{data_dir: {tmp_path / 'data'}}}\noutbound:\n  port: 9999\n"
                          f"ivr: {{flows_dir: {root / 'ivr_flows'}, dids: {{'4000': demo_welcome}}}}\n")
    env = {"JINQIAO_CONFIG": path, "PATH": "/usr/bin:/bin", "JINQIAO_FREESWITCH_PASSWORD": "s3cret"}
    assert subprocess.run(JINQIAO + ["db", "upgrade"], capture_output=True, text=True, env=env).returncode == 0
    result = subprocess.run(JINQIAO + ["serve", "--check"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "outbound 127.0.0.1:9999" in result.stdout


def test_serve_check_lists_every_problem_that_would_stop_the_engine(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    path = write(tmp_path, f"engine: {{data_dir: {tmp_path / 'data'}}}\n"
                          f"ivr: {{flows_dir: {root / 'ivr_flows'}, dids: {{'4000': no_such_flow}}}}\n"
                          "acd:\n  queues:\n    support: {strategy: random-ish}\n")
    env = {"JINQIAO_CONFIG": path, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(JINQIAO + ["serve", "--check"], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert any("freeswitch.password: not set" in line for line in lines)
    assert any(f"{path}:" in line and "acd.queues.support.strategy" in line for line in lines)
    assert any("ivr.dids.4000: no flow named 'no_such_flow'" in line for line in lines)
    assert any("jinqiao db upgrade" in line for line in lines)
    assert "Traceback" not in result.stderr


def test_cli_version_and_help() -> None:
    result = subprocess.run(JINQIAO + ["version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("jinqiao ")
    result = subprocess.run(JINQIAO + ["--help"], capture_output=True, text=True)
    for command in ("serve", "demo", "version"):
        assert command in result.stdout


def test_shipped_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "conf" / "jinqiao.example.yaml"
    config = load_config(str(example), environ={"JINQIAO_FREESWITCH_PASSWORD": "from-env"})
    assert config.freeswitch.password == "from-env"
    from engine.acd.queue_config import load_queues

    queues = load_queues(config.acd, config.source)
    assert {"vip_service", "general_service", "sales", "complaints", "consultation"} <= set(queues)


def test_shipped_flows_validate_against_the_example_config_queues() -> None:
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(JINQIAO + ["--config", str(root / "conf" / "jinqiao.example.yaml"), "flows", "validate",
                                       str(root / "ivr_flows")], capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "queue names not checked" not in result.stdout


@pytest.mark.parametrize("text, where", [
    ("freeswitch:\n  heartbeat_timeout: .nan\n", "2:3: freeswitch.heartbeat_timeout: must be a finite number"),
    ("freeswitch:\n  connect_timeout: .inf\n", "2:3: freeswitch.connect_timeout: must be a finite number"),
    ("outbound:\n  port: 0\n", "2:3: outbound.port: must be a TCP port 1..65535"),
    ("outbound:\n  linger_seconds: -1\n", "2:3: outbound.linger_seconds: must be 0..3600"),
    ("freeswitch:\n  password: \"a\\nb\"\n", "2:3: freeswitch.password: must not contain control characters"),
    ("freeswitch:\n  password: \"x$${hostname}\"\n", "2:3: freeswitch.password: must not contain '$'"),
    ("freeswitch:\n  host: \"127.0.0.1\\\" /><x\"\n", "2:3: freeswitch.host: must be a host name"),
])
def test_values_that_would_silently_break_the_engine_are_refused(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert where in str(info.value)


def test_a_password_with_a_newline_from_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="JINQIAO_FREESWITCH_PASSWORD: must not contain control"):
        load_config(None, environ={"JINQIAO_FREESWITCH_PASSWORD": "abc\n"})
    with pytest.raises(ConfigError, match="JINQIAO_FREESWITCH_HEARTBEAT_TIMEOUT: must be a finite number"):
        load_config(None, environ={"JINQIAO_FREESWITCH_HEARTBEAT_TIMEOUT": "nan"})


def test_relative_paths_in_a_config_file_are_relative_to_that_file(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    path = write(etc, "engine: {data_dir: data}\nivr: {flows_dir: flows}\ntts: {cache_dir: cache}\n"
                      "acd: {recordings_dir: rec}\n")
    config = load_config(path, environ={})
    assert config.engine.data_dir == str(etc / "data") and config.ivr.flows_dir == str(etc / "flows")
    assert config.tts.cache_dir == str(etc / "cache") and config.acd["recordings_dir"] == str(etc / "rec")
    from_env = load_config(path, environ={"JINQIAO_IVR_FLOWS_DIR": "elsewhere"})
    assert from_env.ivr.flows_dir == "elsewhere"  # the environment is read relative to the working directory


def test_a_bad_flows_dir_names_the_config_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, f"engine: {{data_dir: {tmp_path / 'data'}}}\nivr:\n  flows_dir: no/such/dir\n")
    env = {"JINQIAO_CONFIG": path, "PATH": "/usr/bin:/bin", "JINQIAO_FREESWITCH_PASSWORD": "s3cret",
           "JINQIAO_FREESWITCH_PORT": "1"}
    result = subprocess.run(JINQIAO + ["serve", "--check"], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert f"{path}:3:3: ivr.flows_dir: {tmp_path / 'no/such/dir'} is not a directory" in result.stderr


def test_the_store_and_exports_are_private(tmp_path: Path) -> None:
    import stat

    env = {"PATH": "/usr/bin:/bin", "JINQIAO_ENGINE_DATA_DIR": str(tmp_path / "data")}
    assert subprocess.run(JINQIAO + ["db", "upgrade"], capture_output=True, text=True, env=env).returncode == 0
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) & 0o007 == 0  # 0750: FreeSWITCH's group reads prompts
    assert stat.S_IMODE((tmp_path / "data" / "jinqiao.db").stat().st_mode) == 0o600
    out = tmp_path / "customers.csv"
    result = subprocess.run(JINQIAO + ["customers", "export", "-o", str(out)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    bad = tmp_path / "bad.csv"
    bad.write_text("phone,name\nnot-a-number,=HYPERLINK(1)\n", encoding="utf-8")
    subprocess.run(JINQIAO + ["customers", "import", str(bad)], capture_output=True, text=True, env=env)
    errors = tmp_path / "bad.csv.errors.csv"
    assert stat.S_IMODE(errors.stat().st_mode) == 0o600  # rejected rows hold customer data too


def test_the_systemd_unit_matches_the_example_config_and_the_install_layout() -> None:
    root = Path(__file__).resolve().parents[1]
    unit = (root / "conf" / "systemd" / "jinqiao.service").read_text(encoding="utf-8")
    settings = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    config = load_config(str(root / "conf" / "jinqiao.example.yaml"), environ={"JINQIAO_FREESWITCH_PASSWORD": "x"})
    state_dir = "/var/lib/" + settings["StateDirectory"]
    assert config.engine.data_dir == state_dir and settings["ReadWritePaths"] == state_dir
    assert config.acd["recordings_dir"].startswith(state_dir + "/")
    assert settings["Environment"] == "JINQIAO_CONFIG=/etc/jinqiao/jinqiao.yaml"
    assert settings["ExecStart"] == "/opt/jinqiao/.venv/bin/jinqiao serve"
    assert config.ivr.flows_dir.startswith("/opt/jinqiao/")
    assert settings["PrivateTmp"] == "true" and settings["UMask"] == "0027"  # espeak needs a writable /tmp


@pytest.mark.parametrize("args, message", [
    (["agents", "add", "1001", "--skill", "a=²"], "--skill 'a=²': expected NAME=LEVEL with LEVEL 1..10"),
    (["agents", "add", "10\x0001"[:2] + "\x01"], "not an agent id"),
    (["agents", "add", "1001", "--extension", "1001,user/9"], "--extension"),
    (["agent", "not-ready", "1001", "--reason", "lunch\rX"], "--reason"),
    (["agent", "ready", "10\x01"], "not an agent id"),
])
def test_hostile_cli_arguments_are_one_line_errors(tmp_path: Path, args, message) -> None:
    env = {"PATH": "/usr/bin:/bin", "JINQIAO_ENGINE_DATA_DIR": str(tmp_path / "data"),
           "JINQIAO_FREESWITCH_PASSWORD": "x", "JINQIAO_FREESWITCH_PORT": "1"}
    assert subprocess.run(JINQIAO + ["db", "upgrade"], capture_output=True, text=True, env=env).returncode == 0
    result = subprocess.run(JINQIAO + args, capture_output=True, text=True, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
