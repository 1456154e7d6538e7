"""How long a sound lasts: WAV headers, tone/silence streams, registered sim durations, TTS text."""
from __future__ import annotations

import os
import re
import wave
from functools import lru_cache

_TONE = re.compile(r"%\(([\d.]+),([\d.]+)")


@lru_cache(maxsize=4096)
def _wav_seconds(path: str, mtime: float) -> float:
    with wave.open(path, "rb") as w:
        return w.getnframes() / float(w.getframerate() or 8000)


class SoundLibrary:
    """Resolves a playback argument to a duration in (unscaled) seconds, or None for FILE NOT FOUND."""

    def __init__(self, sounds_dir: str | None = None) -> None:
        self.sounds_dir = sounds_dir
        self.durations: dict[str, float] = {}

    def register(self, path: str, seconds: float) -> None:
        """Give a (possibly nonexistent) file an explicit simulated duration."""
        self.durations[path] = seconds

    def duration(self, path: str) -> float | None:
        if path in self.durations:
            return self.durations[path]
        if path.startswith("file_string://"):
            parts = [self.duration(p) for p in path[14:].split("!") if p]
            known = [p for p in parts if p is not None]
            return sum(known) if known else None
        if path.startswith("silence_stream://"):
            ms = path[17:].split(",")[0]
            try:
                value = int(ms)
            except ValueError:
                value = 0
            return float("inf") if value < 0 else value / 1000.0
        if path.startswith("tone_stream://"):
            spec = path[14:]
            cycle = sum(float(a) + float(b) for a, b in _TONE.findall(spec)) / 1000.0 or 1.0
            m = re.search(r"loops=(-?\d+)", spec)
            loops = int(m.group(1)) if m else 1
            return float("inf") if loops < 0 else cycle * max(1, loops)
        if path.startswith("local_stream://"):
            return float("inf")  # music on hold plays until something breaks it
        if path.startswith(("say:", "phrase:")):
            return 2.0
        full = path
        if not os.path.isabs(path) and self.sounds_dir:
            full = os.path.join(self.sounds_dir, path)
        try:
            st = os.stat(full)
        except OSError:
            return None
        if full.lower().endswith(".wav"):
            try:
                return _wav_seconds(full, st.st_mtime)
            except (wave.Error, EOFError, OSError):
                return st.st_size / 16000.0
        return st.st_size / 16000.0


def speech_seconds(text: str) -> float:
    """Simulated TTS length: 0.07 s per Latin character, 0.25 s per CJK character, at least 0.5 s."""
    total = 0.0
    for ch in text:
        total += 0.25 if ord(ch) > 0x2E80 else 0.07
    return max(0.5, total)


def write_silence_wav(path: str, seconds: float, rate: int = 8000) -> None:
    """Write a 16-bit mono WAV of silence lasting `seconds`."""
    frames = int(max(0.0, seconds) * rate)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        chunk = b"\x00\x00" * min(frames, rate)
        left = frames
        while left > 0:
            n = min(left, rate)
            w.writeframes(chunk[:n * 2])
            left -= n
