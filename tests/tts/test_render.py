"""Rendering real prompts with espeak-ng: WAV format, caching by content, bad text, injection attempts."""
from __future__ import annotations

import os
import wave
from pathlib import Path

import pytest

from tts import RenderedPrompt, SpeakInstruction, TtsError, TtsService


def wav_params(path: str) -> wave._wave_params:
    with wave.open(path, "rb") as wav_in:
        return wav_in.getparams()


@pytest.mark.parametrize("sample_rate", [8000, 16000])
@pytest.mark.parametrize("text,language", [("您好，欢迎致电金桥物流。", "zh"), ("Welcome to Jinqiao logistics.", "en")])
def test_prompt_is_mono_16bit_wav_at_configured_rate(espeak, tmp_path, sample_rate, text, language):
    service = TtsService(str(tmp_path / "cache"), sample_rate=sample_rate)

    prompt = service.render(text, language=language)

    params = wav_params(prompt.path)
    assert (params.nchannels, params.sampwidth, params.framerate, params.comptype) == (1, 2, sample_rate, "NONE")
    assert params.nframes > sample_rate // 2  # at least half a second of speech
    assert prompt.duration_s == pytest.approx(params.nframes / sample_rate)
    assert os.path.getsize(prompt.path) == 44 + 2 * params.nframes  # header sizes match the data
    assert prompt.cached is False and os.path.isabs(prompt.path)


def test_8k_and_16k_renders_of_same_text_last_equally_long(espeak, tmp_path):
    narrow = TtsService(str(tmp_path / "cache"), sample_rate=8000).render("请稍候", language="zh")
    wide = TtsService(str(tmp_path / "cache"), sample_rate=16000).render("请稍候", language="zh")

    assert narrow.path != wide.path
    assert narrow.duration_s == pytest.approx(wide.duration_s, abs=0.01)


def test_second_render_of_same_text_is_served_from_cache(service):
    first = service.render("您的快递已到达上海转运中心", language="zh")
    second = service.render("您的快递已到达上海转运中心", language="zh")

    assert second == RenderedPrompt(first.path, first.duration_s, cached=True)
    stats = service.stats()
    assert (stats.hits, stats.misses, stats.files) == (1, 1, 1)
    assert stats.bytes == os.path.getsize(first.path)


def test_cache_file_is_named_by_content_hash_under_two_letter_shard(service):
    prompt = service.render("Hello", language="en")

    path = Path(prompt.path)
    assert path.suffix == ".wav" and len(path.stem) == 64
    assert path.parent.name == path.stem[:2]
    assert path.parent.parent == Path(service.cache.cache_dir)


def test_voice_rate_and_language_each_get_their_own_file(service):
    paths = {
        service.render("123", language="zh").path,
        service.render("123", language="en").path,
        service.render("123", language="en", rate=120).path,
    }
    assert len(paths) == 3


def test_slower_rate_gives_longer_audio(service):
    normal = service.render("Please hold while we connect you to an agent.", language="en")
    slow = service.render("Please hold while we connect you to an agent.", language="en", rate=100)
    assert slow.duration_s > normal.duration_s * 1.3


def test_language_tags_with_region_use_the_base_language_voice(service):
    assert service.render("你好", language="zh-CN").path == service.render("你好", language="zh").path


def test_unknown_language_is_an_error_naming_the_configured_ones(service):
    with pytest.raises(TtsError, match="no voice configured for language 'fr'.*en, zh"):
        service.render("bonjour", language="fr")


@pytest.mark.parametrize("text", ["", "   \n ", "\x00\x07"])
def test_empty_text_is_an_error(service, text):
    with pytest.raises(TtsError, match="empty"):
        service.render(text, language="zh")


def test_overlong_text_is_an_error(service):
    with pytest.raises(TtsError, match="limit is 2000"):
        service.render("很" * 2001, language="zh")


def test_rate_outside_espeak_range_is_an_error(service):
    with pytest.raises(TtsError, match="outside 80..450"):
        service.render("hello", language="en", rate=5)


@pytest.mark.parametrize(
    "text",
    [
        "--help",
        "-v en -w MARKER hello",
        "; touch MARKER",
        "$(touch MARKER)",
        "`touch MARKER` && touch MARKER | cat",
        "{{ config.__class__ }} {% for x in y %}",
        "<speak>hello</speak> [[h@l@U]]",
    ],
)
def test_shell_option_and_template_syntax_in_text_is_spoken_not_executed(service, tmp_path, text):
    marker = tmp_path / "pwned"
    text = text.replace("MARKER", str(marker))

    prompt = service.render(text, language="en")

    assert not marker.exists()
    assert prompt.duration_s > 0.3  # the characters were read out, not swallowed as options


def test_freeswitch_backend_gives_speak_instruction_with_configured_voice(tmp_path):
    service = TtsService(str(tmp_path / "cache"), backend="freeswitch", voices={"zh": "xiaoyan", "en": "kal"})

    assert service.prompt("您好", language="zh") == SpeakInstruction("tts_commandline", "xiaoyan", "您好")
    assert service.prompt("Hi", language="en") == SpeakInstruction("tts_commandline", "kal", "Hi")
    assert not (tmp_path / "cache").exists()


def test_freeswitch_backend_refuses_to_render_files_and_fallback_is_used(tmp_path, fallback_wav):
    service = TtsService(str(tmp_path / "cache"), backend="freeswitch")

    with pytest.raises(TtsError, match="renders no files"):
        service.render("您好")
    assert service.render_or_fallback("您好", language="zh", fallback_path=fallback_wav) == fallback_wav


def test_prompt_with_espeak_backend_is_a_rendered_file(service):
    prompt = service.prompt("Goodbye", language="en")
    assert isinstance(prompt, RenderedPrompt) and os.path.exists(prompt.path)


@pytest.mark.parametrize("kwargs", [{"backend": "polly"}, {"sample_rate": 44100}, {"timeout": 0}])
def test_invalid_service_settings_are_rejected_at_construction(tmp_path, kwargs):
    with pytest.raises(ValueError):
        TtsService(str(tmp_path), **kwargs)


def test_service_from_engine_config_uses_tts_section(tmp_path):
    from engine.config import TtsSection, load_config, replace

    config = replace(load_config(None, environ={}), tts=TtsSection(
        cache_dir=str(tmp_path / "c"), cache_max_mb=3, sample_rate=16000, render_timeout=2.5, voice_en="en-us"))

    service = TtsService.from_config(config)

    assert (service.cache.cache_dir, service.cache.max_bytes) == (str(tmp_path / "c"), 3 * 2**20)
    assert (service.sample_rate, service.timeout, service.voices) == (16000, 2.5, {"zh": "cmn", "en": "en-us"})
