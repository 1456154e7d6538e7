"""Speaks queue announcements to a waiting caller through the engine's TTS (files, or FreeSWITCH's own speak)."""
from __future__ import annotations

from typing import Any

from engine.esl import commands


class TtsAnnouncer:
    """Render the text with the engine's TtsService and play it to the caller."""

    def __init__(self, tts: Any, fallback_path: str = "silence_stream://500") -> None:
        self.tts = tts
        self.fallback_path = fallback_path

    def announce(self, channel: Any, text: str, language: str) -> None:
        if getattr(self.tts, "backend", "") == "freeswitch":  # FreeSWITCH speaks it with the channel's TTS
            instruction = self.tts.prompt(text, language=language)
            for name, value in ((commands.VAR_TTS_ENGINE, instruction.engine),
                                (commands.VAR_TTS_VOICE, instruction.voice)):
                if channel.variables.get(name) != value:
                    channel.set_variable(name, value)
            channel.play(commands.say_path(instruction.text))
            return
        path = self.tts.render_or_fallback(text, language=language, fallback_path=self.fallback_path)
        channel.play(path)

    def render(self, text: str, language: str) -> str | None:
        return self.tts.render_or_fallback(text, language=language, fallback_path="") or None
