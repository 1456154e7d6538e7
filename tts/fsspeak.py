"""The `freeswitch` backend: no file is rendered; the caller side runs FreeSWITCH's own `speak` app."""
from __future__ import annotations

from tts.model import SpeakInstruction

DEFAULT_SPEAK_ENGINE = "tts_commandline"


class FreeswitchSpeakBackend:
    """Turns a prompt into a SpeakInstruction (engine, voice, text) for engine/esl/commands.py to format."""

    name = "freeswitch"

    def __init__(self, engine: str = DEFAULT_SPEAK_ENGINE) -> None:
        self.engine = engine

    def instruction(self, text: str, *, voice: str) -> SpeakInstruction:
        return SpeakInstruction(engine=self.engine, voice=voice, text=text)
