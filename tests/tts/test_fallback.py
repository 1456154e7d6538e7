"""Failures never leave a caller in silence: timeouts and missing programs raise TtsError or give the fallback."""
from __future__ import annotations

import time

import pytest

from tts import RenderedPrompt, TtsError, TtsService


def test_hanging_backend_is_killed_at_the_timeout_with_tts_error(tmp_path, hanging_espeak):
    service = TtsService(str(tmp_path / "cache"), timeout=0.3, espeak_path=hanging_espeak)

    started = time.monotonic()
    with pytest.raises(TtsError, match="did not finish within 0.3 s"):
        service.render("您的运单正在查询中", language="zh")

    assert time.monotonic() - started < 3.0
    assert service.stats().failures == 1 and service.stats().files == 0


def test_render_or_fallback_returns_fallback_when_backend_hangs(tmp_path, hanging_espeak, fallback_wav):
    service = TtsService(str(tmp_path / "cache"), timeout=0.2, espeak_path=hanging_espeak)

    assert service.render_or_fallback("您好", language="zh", fallback_path=fallback_wav) == fallback_wav


def test_prompt_with_fallback_reports_fallback_duration(tmp_path, hanging_espeak, fallback_wav):
    service = TtsService(str(tmp_path / "cache"), timeout=0.2, espeak_path=hanging_espeak)

    assert service.prompt("您好", language="zh", fallback_path=fallback_wav) == RenderedPrompt(fallback_wav, 1.0, False)


def test_prompt_without_fallback_raises(tmp_path, hanging_espeak):
    service = TtsService(str(tmp_path / "cache"), timeout=0.2, espeak_path=hanging_espeak)
    with pytest.raises(TtsError):
        service.prompt("您好", language="zh")


def test_missing_espeak_is_an_error_naming_the_package(tmp_path, fallback_wav):
    service = TtsService(str(tmp_path / "cache"), espeak_path=str(tmp_path / "no-such-espeak"))

    with pytest.raises(TtsError, match="not installed"):
        service.render("hello", language="en")
    assert service.render_or_fallback("hello", language="en", fallback_path=fallback_wav) == fallback_wav


@pytest.mark.parametrize("text", ["", None, 42])
def test_render_or_fallback_never_raises_on_bad_text(service, fallback_wav, text):
    assert service.render_or_fallback(text, language="zh", fallback_path=fallback_wav) == fallback_wav


def test_render_or_fallback_never_raises_on_unknown_language(service, fallback_wav):
    assert service.render_or_fallback("hola", language="es", fallback_path=fallback_wav) == fallback_wav


def test_prerender_collects_failures_and_counts_the_rest(service):
    summary = service.prerender([("您好", "zh"), ("Hello", "en"), ("您好", "zh"), ("", "zh"), ("salut", "fr")])

    assert (summary.rendered, summary.cached, summary.failed, summary.total) == (2, 0, 2, 4)
    assert {f.language for f in summary.failures} == {"zh", "fr"}
    assert summary.audio_s > 0.5
    assert service.prerender([("您好", "zh")]).cached == 1


def test_freeswitch_backend_prompt_with_bad_text_gives_fallback(tmp_path, fallback_wav):
    service = TtsService(str(tmp_path / "cache"), backend="freeswitch")
    assert service.prompt("  ", language="zh", fallback_path=fallback_wav).path == fallback_wav
