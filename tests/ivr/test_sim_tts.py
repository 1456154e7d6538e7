"""Scenario tests on the simulator with the real TTS service: FreeSWITCH's own TTS, and TTS that is too slow."""
from __future__ import annotations

import shutil
import stat
import wave
from pathlib import Path

import pytest

from engine.ivr.ports import MemoryDirectory
from engine.sim import FreeSwitchSim
from tests.ivr.simharness import SimEngine
from tts import TtsService

REPO = Path(__file__).resolve().parents[2]
DIDS = {"4008001234": "logistics_hotline", "10086": "telecom_service", "6000": "greeting"}
GREETING = """\
start: hello
nodes:
  hello:
    type: play
    tts: "您好 {{ call.caller_number }}，欢迎来电。"
    fallback: {file: sounds/sorry.wav}
    next: amount
  amount:
    type: say
    kind: money
    value: "12.5"
    fallback: {file: sounds/sorry.wav}
    next: bye
  bye: {type: hangup}
"""


@pytest.fixture
def sim():
    sim = FreeSwitchSim("ClueCon", time_scale=0.01)
    sim.start()
    yield sim
    sim.stop()


def start_engine(sim: FreeSwitchSim, tmp_path: Path, tts: TtsService,
                 directory: MemoryDirectory | None = None) -> SimEngine:
    flows = tmp_path / "flows"
    shutil.copytree(REPO / "ivr_flows", flows)
    (flows / "greeting.yaml").write_text(GREETING, encoding="utf-8")
    (flows / "sounds").mkdir()
    with wave.open(str(flows / "sounds" / "sorry.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 4000)
    return SimEngine(sim, flows, tmp_path, DIDS, tts=tts, directory=directory or MemoryDirectory()).start()


def press_during(engine: SimEngine, call, text: str, keys: str) -> None:
    """Press `keys` once the prompt speaking `text` has started."""
    assert engine.sim.wait_until(lambda: call.hung_up or any(text in p for p in call.played), 10), call.played
    call.press(keys)


@pytest.fixture
def freeswitch_engine(sim, tmp_path):
    engine = start_engine(sim, tmp_path, TtsService(str(tmp_path / "cache"), backend="freeswitch",
                                                    voices={"zh": "xiaoyan", "en": "kal"}))
    yield engine
    engine.stop()


def test_freeswitch_tts_speaks_english_menus_and_collects_a_waybill_through_the_channel(freeswitch_engine):
    engine = freeswitch_engine
    call = engine.sim.place_call("4008001234", "13900000009")
    press_during(engine, call, "For English, press 2", "2")
    press_during(engine, call, "To track a waybill press 1", "1")
    # the spoken prompt is one play_and_get_digits field: the caller keys the number in over it
    press_during(engine, call, "Please enter your 12-digit waybill number", "880087654321#")
    press_during(engine, call, "for another waybill press 2", "7")
    (record,) = engine.finished()
    assert ("ask_waybill", "880087654321") in record.digits and record.outcome == "completed"
    said = engine.said(call)
    assert any("Waybill" in t and "the Beijing Chaoyang depot" in t for t in said), said
    assert all(p.startswith("say:") for p in call.played if not p.startswith("silence_stream://")), call.played
    assert ("set", "tts_engine=tts_commandline") in call.apps and ("set", "tts_voice=kal") in call.apps


def test_freeswitch_tts_vip_caller_is_queued_and_rates_the_call_by_barging_in(sim, tmp_path):
    directory = MemoryDirectory(by_phone={"13800000001": {"id": 1, "name": "张伟", "segment": "vip", "tags": []}})
    engine = start_engine(sim, tmp_path, TtsService(str(tmp_path / "cache"), backend="freeswitch"), directory)
    try:
        call = engine.sim.place_call("10086", "13800000001")
        press_during(engine, call, "For English, press 2", "2")
        press_during(engine, call, "rate", "5")
        (record,) = engine.finished()
        assert engine.queues.requests[0].queue == "vip_service" and engine.queues.requests[0].skills == ("vip", "english")
        assert engine.log.surveys == [(call.uuid, "telecom_satisfaction", 5)] and record.path[-2:] == ["survey", "goodbye"]
    finally:
        engine.stop()


def test_freeswitch_tts_key_that_ended_one_spoken_menu_is_not_taken_for_the_next(freeswitch_engine):
    engine = freeswitch_engine
    call = engine.sim.place_call("4008001234", "13900000009")
    press_during(engine, call, "For English, press 2", "2")  # then the caller presses nothing more
    (record,) = engine.finished(timeout=20)
    assert record.digits == [("language_menu", "2")]
    assert record.path == ["welcome", "language_menu", "use_english", "identify", "main_menu", "goodbye"]


def test_freeswitch_tts_prompt_keeps_caller_data_from_variable_expansion(freeswitch_engine):
    engine = freeswitch_engine
    call = engine.sim.place_call("6000", "${system(reboot)}")
    engine.finished()
    (greeting,) = [p for p in call.played if "欢迎来电" in p]
    # The switch expands app data (the simulator too): unescaped, this would have become "say:您好 ，…".
    assert greeting == "say:您好 ${system(reboot)}，欢迎来电。"
    assert any(p.startswith("say:") and "十二元五角" in p for p in call.played)


@pytest.fixture
def hanging_espeak(tmp_path: Path) -> str:
    """An 'espeak-ng' that answers --version but never finishes speaking."""
    script = tmp_path / "espeak-ng-hangs"
    script.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "fake espeak 0.0"; exit 0; fi\nexec sleep 60\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_dynamic_tts_not_rendered_in_time_plays_the_node_fallback_not_silence(sim, tmp_path, hanging_espeak):
    tts = TtsService(str(tmp_path / "cache"), timeout=0.3, espeak_path=hanging_espeak)
    engine = start_engine(sim, tmp_path, tts)
    try:
        call = engine.sim.place_call("6000", "13800138000")
        (record,) = engine.finished()
        sorry = str(engine.flows_dir / "sounds" / "sorry.wav")
        assert call.played == [sorry, sorry] and record.path == ["hello", "amount", "bye"]
        assert record.outcome == "completed" and tts.stats().failures == 2
    finally:
        engine.stop()
