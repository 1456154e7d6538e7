"""Render text to PCM with the espeak-ng program: argument list, text in a file, never through a shell.

How it works: argv is fixed (`espeak-ng -b 1 -v VOICE [-s RATE] -f TEXT_FILE -w WAV_FILE`) with paths we
chose; the text reaches espeak-ng only as file content, so a text beginning with `-`, or containing `;`,
`$(...)`, quotes or `{{ }}`, is only ever spoken. espeak-ng's inline phoneme syntax `[[...]]` is broken
apart so it too is read as text.
"""
from __future__ import annotations

import logging
import os
import re
import time

from tts.model import TtsError
from tts.process import resolve, run_command, scratch_dir
from tts.wav import Pcm, parse_wav

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2000
MIN_RATE, MAX_RATE = 80, 450  # words per minute accepted by espeak-ng -s
_VOICE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*\Z")


def speakable_text(text: object) -> str:
    """The text as espeak-ng should receive it; TtsError if it is empty, too long or not a string."""
    if not isinstance(text, str):
        raise TtsError(f"prompt text must be a string, got {type(text).__name__}")
    cleaned = "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in text)
    cleaned = cleaned.replace("[[", "[ [").replace("]]", "] ]").strip()
    if not cleaned:
        raise TtsError("prompt text is empty")
    if len(cleaned) > MAX_TEXT_CHARS:
        raise TtsError(f"prompt text is {len(cleaned)} characters; the limit is {MAX_TEXT_CHARS}")
    return cleaned


class EspeakBackend:
    """Runs espeak-ng; `version()` identifies its output for cache keys."""

    name = "espeak"

    def __init__(self, executable: str = "espeak-ng") -> None:
        self.executable = executable
        self._version: str | None = None

    def version(self, timeout: float = 5.0) -> str:
        """`espeak-ng --version` output (asked once), e.g. 'eSpeak NG text-to-speech: 1.51'."""
        if self._version is None:
            with scratch_dir() as work:
                out = os.path.join(work, "version.txt")
                done = run_command([resolve(self.executable), "--version"], timeout=timeout, workdir=work,
                                   stdout_path=out)
                if done.returncode != 0:
                    raise TtsError(f"{self.executable} --version failed with code {done.returncode}")
                with open(out, encoding="utf-8", errors="replace") as handle:
                    self._version = handle.read().split(" Data at:")[0].strip()
        return self._version

    def synthesize(self, text: str, *, voice: str, rate: int | None, timeout: float) -> Pcm:
        """Speak `text` (already passed through speakable_text) with `voice`; PCM at espeak's native rate."""
        if not _VOICE_NAME.match(voice):
            raise TtsError(f"invalid espeak-ng voice name {voice!r}")
        if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
            raise TtsError(f"speaking rate {rate} is outside {MIN_RATE}..{MAX_RATE} words per minute")
        started = time.monotonic()
        with scratch_dir() as work:
            text_path, wav_path = os.path.join(work, "text.txt"), os.path.join(work, "speech.wav")
            with open(text_path, "w", encoding="utf-8") as handle:
                handle.write(text)
            argv = [resolve(self.executable), "-b", "1", "-v", voice]
            if rate is not None:
                argv += ["-s", str(int(rate))]
            argv += ["-f", text_path, "-w", wav_path]
            done = run_command(argv, timeout=timeout, workdir=work)
            if done.returncode != 0:
                raise TtsError(f"espeak-ng failed with code {done.returncode}: {done.stderr[:200]}")
            try:
                with open(wav_path, "rb") as handle:
                    pcm = parse_wav(handle.read())
            except FileNotFoundError:
                raise TtsError(f"espeak-ng wrote no audio: {done.stderr[:200]}") from None
        if pcm.frames == 0:
            raise TtsError("espeak-ng produced no audio for this text")
        log.debug("espeak-ng voice=%s chars=%d audio=%.2fs in %.0f ms", voice, len(text), pcm.duration_s,
                  (time.monotonic() - started) * 1000)
        return pcm
