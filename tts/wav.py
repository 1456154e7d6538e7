"""Read PCM from WAV bytes (including espeak-ng's streamed header), write 16-bit mono WAV, measure duration."""
from __future__ import annotations

import os
import struct
import wave
from dataclasses import dataclass

from tts.model import TtsError


@dataclass(frozen=True)
class Pcm:
    """Signed 16-bit little-endian mono samples at a sample rate."""

    data: bytes
    sample_rate: int

    @property
    def frames(self) -> int:
        return len(self.data) // 2

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def parse_wav(blob: bytes) -> Pcm:
    """Extract mono 16-bit PCM from WAV bytes.

    espeak-ng writing to a pipe cannot seek back, so its RIFF and data sizes are placeholders
    (0x7ffff...); the data chunk is therefore taken as "declared size or what is there, whichever is less".
    """
    if len(blob) < 12 or blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise TtsError("backend output is not a WAV file")
    pos, rate, fmt_ok = 12, 0, False
    while pos + 8 <= len(blob):
        chunk_id, size = blob[pos : pos + 4], struct.unpack_from("<I", blob, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            audio_format, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", blob, body)
            if audio_format != 1 or channels != 1 or bits != 16:
                raise TtsError(f"unsupported backend WAV: format={audio_format} channels={channels} bits={bits}")
            fmt_ok = True
        elif chunk_id == b"data":
            if not fmt_ok:
                raise TtsError("backend WAV has data before its fmt chunk")
            data = blob[body : body + min(size, len(blob) - body)]
            return Pcm(data[: len(data) - len(data) % 2], rate)
        pos = body + size + (size & 1)
    raise TtsError("backend WAV has no data chunk")


def write_wav(path: str, pcm: Pcm) -> None:
    """Write a canonical 16-bit mono PCM WAV file (the wave module computes correct header sizes)."""
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(pcm.sample_rate)
        out.writeframes(pcm.data)


def wav_duration(path: str | os.PathLike[str]) -> float:
    """Duration in seconds from a WAV file's header; raises TtsError if the file is not a readable WAV."""
    try:
        with wave.open(os.fspath(path), "rb") as wav_in:
            rate = wav_in.getframerate()
            return wav_in.getnframes() / rate if rate else 0.0
    except (OSError, EOFError, wave.Error) as exc:
        raise TtsError(f"cannot read WAV {path}: {exc}") from exc
