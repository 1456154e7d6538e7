"""Announcement words, the estimated wait, and the TTS announcer's use of the engine's TtsService."""
from __future__ import annotations

import inspect

from engine.acd.announce import HandleTimes, announcement_text, estimated_wait
from engine.acd.announcer import TtsAnnouncer
from tts.service import TtsService


def test_position_and_wait_are_spoken_in_whole_minutes_rounded_up():
    assert announcement_text(1, 30, "zh") == "您是下一位，预计等待约1分钟。"
    assert announcement_text(3, 61, "zh") == "您前面还有2位客户，预计等待约2分钟。"
    assert announcement_text(2, 120, "en") == "You are number 2 in line. The estimated wait is about 2 minutes."


def test_estimated_wait_uses_the_moving_average_handle_time_per_working_agent():
    times = HandleTimes(default_seconds=180, weight=0.5)
    assert times.average("support") == 180
    times.add("support", 100)
    times.add("support", 200)
    assert times.average("support") == 150
    assert estimated_wait(4, 2, times.average("support")) == 300
    assert estimated_wait(1, 0, 60) == 60  # nobody serving yet: as if one agent


def test_tts_announcer_renders_with_the_tts_service_signature_and_plays_the_file():
    calls, played = [], []

    class Tts:
        def render_or_fallback(self, text, *, language="zh", fallback_path, rate=None):
            calls.append((text, language, fallback_path))
            return "/cache/abc.wav"

    real = inspect.signature(TtsService.render_or_fallback)
    assert list(real.parameters) == list(inspect.signature(Tts.render_or_fallback).parameters)

    class Channel:
        uuid = "c1"

        def play(self, path, *, terminators="none"):
            played.append(path)
            return ""

    TtsAnnouncer(Tts()).announce(Channel(), "您是下一位", "zh")
    assert calls == [("您是下一位", "zh", "silence_stream://500")] and played == ["/cache/abc.wav"]


def test_with_freeswitch_tts_the_announcement_is_spoken_by_the_channel_with_caller_data_unexpanded(tmp_path):
    from engine.config import load_config

    config = load_config(None, environ={"JINQIAO_TTS_BACKEND": "freeswitch", "JINQIAO_TTS_SPEAK_ENGINE": "flite",
                                        "JINQIAO_TTS_CACHE_DIR": str(tmp_path)})
    played, variables = [], {}

    class Channel:
        uuid = "c2"

        def __init__(self):
            self.variables = {}

        def set_variable(self, name, value):
            self.variables[name] = value
            variables[name] = value

        def play(self, path, *, terminators="none"):
            played.append(path)
            return ""

    TtsAnnouncer(TtsService.from_config(config)).announce(Channel(), "您前面还有 2 位 ${x}", "zh")
    assert variables == {"tts_engine": "flite", "tts_voice": "cmn"}
    assert played == ["say:您前面还有 2 位 \\${x}"]
