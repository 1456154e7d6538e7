"""Queue configuration: valid YAML becomes QueueConfig values; mistakes are reported at file:line:column."""
from __future__ import annotations

import pytest

from engine.acd.models import ExitAction, RecordPolicy, Strategy
from engine.acd.queue_config import AcdConfigError, load_queues
from engine.yamlsrc import load_text

GOOD = """\
acd:
  queues:
    support:
      strategy: skills-by-proficiency
      skills: {mandarin: 3, billing: 2}
      priority_rules:
        - {segment: vip, priority: 10}
        - {tags: [complaint, churn-risk], priority: 5}
      sticky: {mode: owner, max_wait: 30}
      overflow:
        - {after: 60, drop_skills: [billing]}
        - {after: 120, add_queues: [general]}
        - {after: 300, action: callback}
      max_wait: 600
      max_length: 40
      moh: local_stream://moh
      announce_every: 45
      exit_keys: {1: callback}
      wrap_up_seconds: 20
      record: {policy: always, path: "{date}/{queue}/{call_id}.wav"}
    general: {}
"""


def _load(text: str):
    source = load_text(text, "engine.yaml")
    return load_queues(source.data["acd"], source)


def test_full_queue_definition_is_loaded():
    queues = _load(GOOD)
    support = queues["support"]
    assert support.strategy is Strategy.SKILLS_BY_PROFICIENCY
    assert support.skills == {"mandarin": 3, "billing": 2}
    assert support.base_priority({"segment": "vip"}) == 10
    assert support.base_priority({"tags": ["churn-risk"]}) == 5
    assert support.base_priority({"segment": "normal"}) == 0
    assert support.sticky.mode == "owner" and support.sticky.max_wait == 30
    assert [s.after for s in support.overflow] == [60, 120, 300]
    assert support.overflow[2].action is ExitAction.CALLBACK
    assert support.exit_keys == {"1": ExitAction.CALLBACK}
    assert support.record.policy is RecordPolicy.ALWAYS
    assert queues["general"].strategy is Strategy.LONGEST_IDLE


@pytest.mark.parametrize("bad, where, words", [
    ("strategy: fastest", "support.strategy", "must be one of longest-idle"),
    ("skills: {mandarin: high}", "support.skills.mandarin", "expected a whole number"),
    ("overflow: [{after: 60, add_queues: [nowhere]}]", "support.overflow[0].add_queues", "unknown queue 'nowhere'"),
    ("overflow: [{after: 60, action: callback}, {after: 90, drop_skills: [x]}]", "support.overflow[1]", "no step can follow"),
    ("overflow: [{after: 90, drop_skills: [x]}, {after: 60, drop_skills: [y]}]", "support.overflow[1].after", "increasing"),
    ("exit_keys: {12: callback}", "support.exit_keys[12]", "exit key"),
    ("record: {policy: always, path: /rec/x.wav}", "support.record.path", "{call_id}"),
    ("max_wiat: 60", "support.max_wiat", "unknown queue setting"),
    ("priority_rules: [{priority: 3}]", "support.priority_rules[0]", "needs a condition"),
    ('whisper: "VIP {{ customer.name "', "support.whisper", "template error on line 1"),
    ('whisper: "VIP {{ custmer.name }}"', "support.whisper", "unknown variable 'custmer'"),
    ("whisper: 3", "support.whisper", "text to say or an audio file"),
])
def test_mistakes_are_located_and_explained(bad, where, words):
    text = f"acd:\n  queues:\n    support:\n      {bad}\n"
    with pytest.raises(AcdConfigError) as info:
        _load(text)
    err = info.value
    assert err.file == "engine.yaml" and err.line == 4
    assert err.field_name == f"acd.queues.{where}"
    assert words in err.message


def test_config_without_source_still_names_the_field():
    with pytest.raises(AcdConfigError, match=r"acd.queues.q.max_length: expected a whole number"):
        load_queues({"queues": {"q": {"max_length": "lots"}}})


def test_whisper_is_text_to_speak_or_an_audio_file_to_play():
    queues = _load("acd:\n  queues:\n    vip: {whisper: 'VIP 客户 {{ customer.name }}'}\n"
                   "    gold: {whisper: /sounds/gold-customer.wav}\n")
    assert queues["vip"].whisper == "VIP 客户 {{ customer.name }}"
    assert queues["gold"].whisper == "/sounds/gold-customer.wav"
