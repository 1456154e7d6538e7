"""Whisper settings: audio files are played as they are, text templates are rendered per call."""
from __future__ import annotations

import pytest

from engine.acd.ports import CustomerInfo
from engine.acd.whisper import Whisper, WhisperError, is_audio, whisper_context


@pytest.mark.parametrize("setting, audio", [
    ("/sounds/vip.wav", True), ("http_cache://http://x/vip.mp3", True), ("vip.wav", True),
    ("VIP 客户 {{ customer.name }}", False), ("重要客户", False),
])
def test_audio_files_are_told_apart_from_text(setting, audio):
    assert is_audio(setting) is audio


def test_template_renders_customer_queue_and_wait():
    whisper = Whisper.parse("{{ customer.segment | upper }} 客户 {{ customer.name }}，{{ queue }}，等了 {{ waited }} 秒")
    info = CustomerInfo(customer_id="7", name="王芳", segment="vip")
    assert whisper.text(whisper_context(info, "support", "13800138000", 42.7)) == "VIP 客户 王芳，support，等了 42 秒"


def test_an_unknown_caller_gets_the_fixed_words_without_blanks_or_errors():
    assert Whisper.parse("VIP 客户 {{ customer.name }}").text(whisper_context(None, "q", "", 0)) == "VIP 客户"


def test_caller_data_is_never_evaluated_as_a_template():
    info = CustomerInfo(name="{{ 7 * 7 }}")
    assert Whisper.parse("{{ customer.name }}").text(whisper_context(info, "q", "", 0)) == "{{ 7 * 7 }}"


def test_bad_settings_are_refused_with_the_reason():
    with pytest.raises(WhisperError, match="unknown variable 'call'"):
        Whisper.parse("{{ call.uuid }}")
