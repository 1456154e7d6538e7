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
