"""Recording file names from a path template, and the metadata (size, duration, sha256) stored for each file."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import wave
from dataclasses import dataclass

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@+-]")


def _safe(value: str) -> str:
    """One path component with nothing that could escape the directory or break a FreeSWITCH argument."""
    cleaned = _UNSAFE.sub("_", value or "") or "_"
    return "_" if cleaned in (".", "..") else cleaned


def recording_path(root: str, template: str, *, call_id: str, queue: str = "", agent: str = "", caller: str = "",
                   at: float = 0.0) -> str:
    """Render `template` (placeholders: date, time, queue, call_id, agent, caller) under `root`.

    Placeholder values are sanitised (no spaces, no `..`, no separators), so a caller ID cannot choose
    where the file goes.
    """
    when = dt.datetime.fromtimestamp(at, dt.timezone.utc)
    relative = template.format(date=when.strftime("%Y-%m-%d"), time=when.strftime("%H%M%S"), queue=_safe(queue),
                               call_id=_safe(call_id), agent=_safe(agent), caller=_safe(caller))
    parts = [p for p in relative.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return os.path.join(root, *parts)


@dataclass(frozen=True)
class RecordingFacts:
    """What we store about a finished recording file."""

    path: str
    size: int
    sha256: str
    duration: float


def describe(path: str) -> RecordingFacts:
    """Size, SHA-256 and (for WAV files) duration of a recording; raises FileNotFoundError when absent."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
            size += len(chunk)
    duration = 0.0
    try:
        with wave.open(path, "rb") as wav:
            duration = wav.getnframes() / float(wav.getframerate() or 1)
    except (wave.Error, EOFError, OSError):
        pass
    return RecordingFacts(path, size, digest.hexdigest(), duration)
