"""The TTS service takes every setting from the engine config, FreeSWITCH speak engine included."""
from __future__ import annotations

from engine.config import load_config
from tts import TtsService


def test_speak_engine_and_voices_come_from_the_config(tmp_path) -> None:
    config = load_config(None, environ={"JINQIAO_TTS_BACKEND": "freeswitch", "JINQIAO_TTS_SPEAK_ENGINE": "flite",
                                        "JINQIAO_TTS_VOICE_EN": "slt", "JINQIAO_TTS_CACHE_DIR": str(tmp_path)})
    service = TtsService.from_config(config)
    instruction = service.prompt("Hello", language="en")
    assert (instruction.engine, instruction.voice, instruction.text) == ("flite", "slt", "Hello")
