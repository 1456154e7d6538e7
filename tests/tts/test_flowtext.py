"""Finding the static prompt texts in flow YAML for pre-rendering."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tts.flowtext import flow_files, prompts_in_file, static_prompts

FLOW = """
name: hotline
language: zh
nodes:
  welcome:
    type: play
    tts: 您好，欢迎致电金桥物流。
  english:
    type: play
    language: en
    tts: Welcome to Jinqiao Logistics.
  readout:
    type: play
    tts: "您的运单 {{ vars.waybill }} 目前在{{ customer.city }}"
  loop:
    type: play
    tts: "{% for x in vars.items %}{{ x }}{% endfor %}"
  menu:
    type: menu
    prompt: {tts: {text: "For English press nine", language: en}}
    invalid_prompt: {tts: {zh: 输入有误, en: Invalid choice}}
    timeout_prompt: [查询运单请按一, 查询运单请按一]
  say:
    type: say
    value: "{{ vars.balance }}"
    before: 您的余额为
  not_tts:
    type: play
    file: sounds/hold.wav
    text: this is not a tts field
"""


def test_static_prompts_are_found_with_their_language_and_templates_skipped():
    prompts = static_prompts(yaml.safe_load(FLOW), "hotline.yaml:")

    assert [(p.text, p.language) for p in prompts] == [
        ("您好，欢迎致电金桥物流。", "zh"),
        ("Welcome to Jinqiao Logistics.", "en"),
        ("For English press nine", "en"),
        ("输入有误", "zh"),
        ("Invalid choice", "en"),
        ("查询运单请按一", "zh"),
    ]
    assert prompts[0].source == "hotline.yaml:nodes.welcome.tts"


def test_language_is_guessed_from_the_text_when_nothing_says_it():
    prompts = static_prompts({"a": {"tts": "您好"}, "b": {"tts": "Hello"}})
    assert [(p.text, p.language) for p in prompts] == [("您好", "zh"), ("Hello", "en")]


def test_non_string_and_empty_tts_values_are_ignored():
    assert static_prompts({"tts": 5, "n": [{"tts": ""}, {"tts": None}, {"tts": {"text": 3}}]}) == []


def test_flow_files_expands_directories_to_sorted_yaml_files(tmp_path):
    (tmp_path / "b.yaml").write_text("tts: b\n")
    (tmp_path / "a.yml").write_text("tts: a\n")
    (tmp_path / "notes.txt").write_text("tts: no\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yaml").write_text("tts: c\n")

    assert [p.rsplit("/", 1)[-1] for p in flow_files([str(tmp_path)])] == ["a.yml", "b.yaml", "c.yaml"]


def test_prompts_in_file_names_the_file(tmp_path):
    path = tmp_path / "hotline.yaml"
    path.write_text(FLOW, encoding="utf-8")
    assert prompts_in_file(str(path))[1].source == "hotline.yaml:nodes.english.tts"


SHIPPED = sorted((Path(__file__).resolve().parents[2] / "ivr_flows").glob("*.yaml"))


def ivr_static_texts(obj: object, out: set[str], seen: set[int]) -> set[str]:
    """Static TTS texts of a loaded Flow, found by walking its objects (say's before/after excluded)."""
    from engine.ivr.fields import LocalText

    if id(obj) in seen:
        return out
    seen.add(id(obj))
    if isinstance(obj, LocalText):
        out.update(t.source.strip() for t in obj.texts.values() if t.is_static)
    elif isinstance(obj, dict):  # node fields live in a dict (`Node.f`)
        for name, value in obj.items():
            if name not in ("before", "after"):
                ivr_static_texts(value, out, seen)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            ivr_static_texts(value, out, seen)
    elif type(obj).__module__.startswith("engine.ivr") and hasattr(obj, "__dict__"):
        for value in vars(obj).values():
            ivr_static_texts(value, out, seen)
    return out


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_prerender_finds_exactly_the_static_prompts_the_ivr_loader_sees(path):
    from engine.ivr.flow import load_flow

    flow, errors = load_flow(path)
    assert flow is not None and not errors

    assert {p.text for p in prompts_in_file(str(path))} == ivr_static_texts(flow, set(), set())


def test_prompt_mappings_with_a_file_have_no_text():
    assert static_prompts({"prompt": {"file": "sounds/hi.wav"}, "fallback": {"file": {"zh": "a.wav"}}}) == []


def test_any_key_ending_in_prompt_is_a_prompt():
    prompts = static_prompts({"language": "en", "n": {"busy_prompt": "All agents are busy"}})
    assert [(p.text, p.language) for p in prompts] == [("All agents are busy", "en")]
