"""Fixtures for the TTS tests: a service on a fresh cache dir, and stand-ins for a hanging espeak-ng."""
from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from tts import TtsService


@pytest.fixture
def espeak() -> str:
    path = shutil.which("espeak-ng")
    if not path:
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng; scripts/system-deps.sh installs it)")
    return path


@pytest.fixture
def service(espeak: str, tmp_path: Path) -> TtsService:
    return TtsService(str(tmp_path / "cache"))


@pytest.fixture
def hanging_espeak(tmp_path: Path) -> str:
    """An 'espeak-ng' that answers --version but never finishes speaking."""
    script = tmp_path / "espeak-ng-hangs"
    script.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "fake espeak 0.0"; exit 0; fi\nexec sleep 60\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture
def fallback_wav(tmp_path: Path) -> str:
    """A one-second 8 kHz silent prompt, like the shipped 'sorry, please hold' recordings."""
    import wave

    path = tmp_path / "fallback.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 8000)
    return str(path)
