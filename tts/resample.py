"""Convert 16-bit mono PCM between sample rates: with sox when installed, else in pure Python.

How it works: the pure-Python path averages the input samples that fall inside each output sample's
period (a box low-pass filter computed from prefix sums) when downsampling, and interpolates linearly
when upsampling. It is cruder than sox's filter but good enough for telephone speech, and needs
nothing outside the standard library. sox is run with an argument list on raw PCM files.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
from array import array
from itertools import accumulate
from typing import Protocol

from tts.model import TtsError
from tts.process import run_command, scratch_dir

log = logging.getLogger(__name__)


class Resampler(Protocol):
    """Converts little-endian signed 16-bit mono PCM from one rate to another."""

    name: str

    def __call__(self, pcm: bytes, src_rate: int, dst_rate: int, timeout: float) -> bytes: ...


def _samples(pcm: bytes) -> array:
    samples = array("h")
    samples.frombytes(pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _to_bytes(samples: array) -> bytes:
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


class PythonResampler:
    """Standard-library resampler: box-filter decimation, linear-interpolation upsampling."""

    name = "python"

    def __call__(self, pcm: bytes, src_rate: int, dst_rate: int, timeout: float = 0.0) -> bytes:
        if src_rate == dst_rate or not pcm:
            return pcm
        samples = _samples(pcm)
        n = len(samples)
        out_n = n * dst_rate // src_rate
        step = src_rate / dst_rate
        out = array("h", bytes(2 * out_n))
        if step > 1:
            prefix = [0, *accumulate(samples)]
            for i in range(out_n):
                lo = int(i * step)
                hi = min(max(int((i + 1) * step), lo + 1), n)
                out[i] = round((prefix[hi] - prefix[lo]) / (hi - lo))
        else:
            last = n - 1
            for i in range(out_n):
                pos = i * step
                lo = int(pos)
                hi = lo + 1 if lo < last else last
                frac = pos - lo
                out[i] = round(samples[lo] + (samples[hi] - samples[lo]) * frac)
        return _to_bytes(out)


class SoxResampler:
    """Resample with the sox program (a proper anti-aliasing filter); dither off so output is deterministic."""

    name = "sox"

    def __init__(self, executable: str = "sox") -> None:
        self.executable = executable

    def __call__(self, pcm: bytes, src_rate: int, dst_rate: int, timeout: float) -> bytes:
        if src_rate == dst_rate or not pcm:
            return pcm
        raw = ["-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-L"]
        with scratch_dir() as work:
            src, dst = os.path.join(work, "in.raw"), os.path.join(work, "out.raw")
            with open(src, "wb") as handle:
                handle.write(pcm)
            argv = [self.executable, "-V1", "-D", *raw, "-r", str(src_rate), src, *raw, "-r", str(dst_rate), dst]
            done = run_command(argv, timeout=timeout, workdir=work)
            if done.returncode != 0:
                raise TtsError(f"sox failed with code {done.returncode}: {done.stderr[:200]}")
            with open(dst, "rb") as handle:
                return handle.read()


def choose_resampler(preference: str = "auto") -> Resampler:
    """`auto`: sox if it is on PATH, else pure Python; `sox` or `python` force one."""
    if preference == "python":
        return PythonResampler()
    if preference not in ("auto", "sox"):
        raise ValueError(f"unknown resampler {preference!r} (auto, sox, python)")
    sox = shutil.which("sox")
    if sox:
        return SoxResampler(os.path.abspath(sox))
    if preference == "sox":
        raise TtsError("resampler 'sox' requested but sox is not installed")
    log.info("sox not found; resampling TTS audio in pure Python")
    return PythonResampler()
