"""WAV parsing/writing and sample-rate conversion (pure Python and sox)."""
from __future__ import annotations

import math
import shutil
import struct
import wave
from array import array

import pytest

from tts import TtsError
from tts.resample import PythonResampler, SoxResampler, choose_resampler
from tts.wav import Pcm, parse_wav, wav_duration, write_wav


def tone(freq: float, rate: int, seconds: float = 0.5, amplitude: int = 10000) -> bytes:
    samples = array("h", (round(amplitude * math.sin(2 * math.pi * freq * i / rate)) for i in range(int(rate * seconds))))
    return samples.tobytes()


def peak_ratio(pcm: bytes, amplitude: int = 10000) -> float:
    """RMS amplitude relative to the original tone's, ignoring filter edges."""
    samples = array("h")
    samples.frombytes(pcm)
    middle = samples[len(samples) // 10 : -len(samples) // 10]
    rms = math.sqrt(sum(s * s for s in middle) / len(middle))
    return rms * math.sqrt(2) / amplitude


def streamed_wav(pcm: bytes, rate: int) -> bytes:
    """A WAV as espeak-ng writes it to a pipe: placeholder sizes it could not seek back to fix."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", 0x7FFFF024) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + \
        struct.pack("<I", 0x7FFFF000) + pcm


def test_streamed_wav_with_placeholder_sizes_parses_to_its_real_data():
    pcm = tone(440, 22050, 0.1)
    parsed = parse_wav(streamed_wav(pcm, 22050))
    assert parsed == Pcm(pcm, 22050)
    assert parsed.duration_s == pytest.approx(0.1, abs=1e-4)


@pytest.mark.parametrize("blob,reason", [(b"", "not a WAV"), (b"RIFF\0\0\0\0WAVE", "no data chunk"),
                                         (b"ID3\x04" + bytes(40), "not a WAV")])
def test_garbage_is_not_a_wav(blob, reason):
    with pytest.raises(TtsError, match=reason):
        parse_wav(blob)


def test_stereo_backend_output_is_rejected():
    fmt = struct.pack("<HHIIHH", 1, 2, 8000, 32000, 4, 16)
    blob = b"RIFF" + struct.pack("<I", 40) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 4) + bytes(4)
    with pytest.raises(TtsError, match="channels=2"):
        parse_wav(blob)


def test_written_wav_has_header_the_wave_module_reads_back(tmp_path):
    path = str(tmp_path / "p.wav")
    write_wav(path, Pcm(tone(440, 8000, 1.5), 8000))

    with wave.open(path) as wav_in:
        assert (wav_in.getnchannels(), wav_in.getsampwidth(), wav_in.getframerate(), wav_in.getnframes()) == (1, 2, 8000, 12000)
    assert wav_duration(path) == pytest.approx(1.5)


def test_duration_of_a_missing_file_is_a_tts_error(tmp_path):
    with pytest.raises(TtsError, match="cannot read WAV"):
        wav_duration(tmp_path / "missing.wav")


RESAMPLERS = [PythonResampler()] + ([SoxResampler(shutil.which("sox"))] if shutil.which("sox") else [])


@pytest.mark.parametrize("resampler", RESAMPLERS, ids=lambda r: r.name)
@pytest.mark.parametrize("dst", [8000, 16000])
def test_downsampling_keeps_length_and_speech_band_tone(resampler, dst):
    out = resampler(tone(440, 22050, 1.0), 22050, dst, 5.0)
    assert abs(len(out) // 2 - dst) <= 2
    assert peak_ratio(out) == pytest.approx(1.0, abs=0.06)


@pytest.mark.parametrize("resampler", RESAMPLERS, ids=lambda r: r.name)
def test_downsampling_attenuates_tone_above_new_nyquist(resampler):
    out = resampler(tone(6000, 22050, 1.0), 22050, 8000, 5.0)
    assert peak_ratio(out) < 0.4  # 6 kHz cannot exist at 8 kHz; unfiltered it would alias to 2 kHz at full level


def test_python_upsampling_doubles_length_and_keeps_tone():
    out = PythonResampler()(tone(300, 8000, 1.0), 8000, 16000)
    assert len(out) // 2 == 16000
    assert peak_ratio(out) == pytest.approx(1.0, abs=0.03)


def test_same_rate_and_empty_input_are_returned_unchanged():
    pcm = tone(440, 8000, 0.1)
    assert PythonResampler()(pcm, 8000, 8000) is pcm
    assert PythonResampler()(b"", 22050, 8000) == b""


def test_resampler_choice_prefers_sox_and_can_be_forced_to_python():
    assert choose_resampler("python").name == "python"
    assert choose_resampler("auto").name == ("sox" if shutil.which("sox") else "python")
    with pytest.raises(ValueError, match="unknown resampler"):
        choose_resampler("ffmpeg")
