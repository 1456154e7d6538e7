"""`jinqiao tts render` / `cache stats` / `cache clear` through click's CliRunner."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from engine.config import TtsSection, load_config, replace
from tts.cli import tts

FLOW = """
language: zh
nodes:
  welcome: {type: play, tts: 您好，欢迎致电金桥物流。}
  english: {type: play, tts: {text: Welcome to Jinqiao, language: en}}
  readout: {type: play, tts: "您的运单{{ vars.waybill }}已签收"}
"""


@pytest.fixture
def env(espeak, tmp_path) -> dict[str, str]:
    return {"JINQIAO_CONFIG": "", "JINQIAO_TTS_CACHE_DIR": str(tmp_path / "cache"), "JINQIAO_TTS_SAMPLE_RATE": "16000"}


@pytest.fixture
def flow(tmp_path) -> Path:
    path = tmp_path / "flows" / "hotline.yaml"
    path.parent.mkdir()
    path.write_text(FLOW, encoding="utf-8")
    return path


def test_render_prerenders_static_prompts_of_flow_files_then_finds_them_cached(env, flow, tmp_path):
    runner = CliRunner()

    first = runner.invoke(tts, ["render", str(flow)], env=env)
    second = runner.invoke(tts, ["render", str(flow.parent)], env=env)

    assert first.exit_code == 0, first.output
    assert f"{flow}: 2 static prompts" in first.output
    assert "prompts=2 rendered=2 cached=0 failed=0" in first.output
    assert "prompts=2 rendered=0 cached=2 failed=0" in second.output
    assert len(list((tmp_path / "cache").glob("??/*.wav"))) == 2


def test_render_text_prints_path_duration_and_state(env, tmp_path):
    result = CliRunner().invoke(tts, ["render", "--text", "--help me", "--language", "en"], env=env)

    assert result.exit_code == 0, result.output
    path, duration, state = result.output.strip().split("\t")
    assert Path(path).is_file() and path.startswith(str(tmp_path / "cache"))
    assert float(duration.rstrip("s")) > 0.3 and state == "rendered"


def test_render_without_files_uses_configured_flows_dir(env, flow):
    result = CliRunner().invoke(tts, ["render"], env={**env, "JINQIAO_IVR_FLOWS_DIR": str(flow.parent)})
    assert "prompts=2 rendered=2" in result.output


def test_unreadable_flow_file_fails_the_command(env, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("nodes: [unclosed\n")

    result = CliRunner().invoke(tts, ["render", str(broken)], env=env)

    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_cache_stats_and_clear(env, flow):
    runner = CliRunner()
    runner.invoke(tts, ["render", str(flow)], env=env)

    stats = runner.invoke(tts, ["cache", "stats"], env=env)
    cleared = runner.invoke(tts, ["cache", "clear"], env=env)
    after = runner.invoke(tts, ["cache", "stats"], env=env)

    assert "files=2 " in stats.output and "max_bytes=536870912" in stats.output
    assert cleared.output.startswith("removed 2 files")
    assert "files=0 bytes=0" in after.output


def test_config_on_the_click_context_takes_precedence(espeak, tmp_path):
    config = replace(load_config(None, environ={}), tts=TtsSection(cache_dir=str(tmp_path / "from-context")))

    result = CliRunner().invoke(tts, ["render", "--text", "你好"], obj=SimpleNamespace(config=config),
                                env={"JINQIAO_CONFIG": ""})

    assert result.exit_code == 0, result.output
    assert str(tmp_path / "from-context") in result.output


def test_freeswitch_backend_has_nothing_to_prerender(env, flow):
    result = CliRunner().invoke(tts, ["render", str(flow)], env={**env, "JINQIAO_TTS_BACKEND": "freeswitch"})
    assert result.exit_code == 1 and "renders no files" in result.output


def test_bad_config_is_reported_as_one_line(env):
    result = CliRunner().invoke(tts, ["cache", "stats"], env={**env, "JINQIAO_TTS_SAMPLE_RATE": "fast"})
    assert result.exit_code == 2 and "JINQIAO_TTS_SAMPLE_RATE" in result.output
