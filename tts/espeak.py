"""Render text to PCM with the espeak-ng command, text on stdin, never through a shell.

How it works: argv is a fixed list (`espeak-ng -b 1 -v VOICE -s RATE --stdin --stdout`); the text goes
to stdin as UTF-8, so a text beginning with `-`, or containing `;`, `$(...)`, quotes or `{{ }}`, is
only ever spoken. espeak-ng's inline phoneme syntax `[[...]]` is broken apart so it is read as text.
"""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time

from tts.model import TtsError
from tts.wav import Pcm, parse_wav

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2000
MIN_RATE, MAX_RATE = 80, 450  # words per minute accepted by espeak-ng -s
_VOICE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*$")


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
    """Runs espeak-ng; `version()` identifies the output for cache keys."""

    name = "espeak"

    def __init__(self, executable: str = "espeak-ng") -> None:
        self.executable = executable
        self._version: str | None = None

    def _argv0(self) -> str:
        found = shutil.which(self.executable)
        if not found:
            raise TtsError(f"{self.executable} is not installed (Debian package espeak-ng)")
        return found

    def version(self, timeout: float = 5.0) -> str:
        """`espeak-ng --version` output (asked once), e.g. 'eSpeak NG text-to-speech: 1.51 ...'."""
        if self._version is None:
            try:
                done = subprocess.run(
                    [self._argv0(), "--version"], capture_output=True, timeout=timeout, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise TtsError(f"cannot run {self.executable} --version: {exc}") from exc
            if done.returncode != 0:
                raise TtsError(f"{self.executable} --version failed with code {done.returncode}")
            self._version = done.stdout.decode(errors="replace").split(" Data at:")[0].strip()
        return self._version

    def synthesize(self, text: str, *, voice: str, rate: int | None, timeout: float) -> Pcm:
        """Speak `text` (already passed through speakable_text) with `voice`; PCM at espeak's native rate."""
        if not _VOICE_NAME.match(voice):
            raise TtsError(f"invalid espeak-ng voice name {voice!r}")
        argv = [self._argv0(), "-b", "1", "-v", voice]
        if rate is not None:
            if not MIN_RATE <= rate <= MAX_RATE:
                raise TtsError(f"speaking rate {rate} is outside {MIN_RATE}..{MAX_RATE} words per minute")
            argv += ["-s", str(int(rate))]
        argv += ["--stdin", "--stdout"]
        started = time.monotonic()
        try:
            done = subprocess.run(argv, input=text.encode("utf-8"), capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise TtsError(f"espeak-ng did not finish within {timeout:.1f} s") from exc
        except OSError as exc:
            raise TtsError(f"cannot run espeak-ng: {exc}") from exc
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip()[:200]
            raise TtsError(f"espeak-ng failed with code {done.returncode}: {detail}")
        pcm = parse_wav(done.stdout)
        if pcm.frames == 0:
            raise TtsError("espeak-ng produced no audio for this text")
        log.debug("espeak-ng voice=%s chars=%d audio=%.2fs in %.0f ms", voice, len(text), pcm.duration_s,
                  (time.monotonic() - started) * 1000)
        return pcm
