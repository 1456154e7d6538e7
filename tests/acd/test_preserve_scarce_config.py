"""The per-queue `preserve_scarce_agents` option: on by default, turned off per queue, checked at load."""
from __future__ import annotations

import pytest

from engine.acd.queue_config import AcdConfigError, load_queues
from engine.yamlsrc import load_text


def _load(text: str):
    source = load_text(text, "engine.yaml")
    return load_queues(source.data["acd"], source)


def test_sparing_is_on_unless_a_queue_turns_it_off():
    queues = _load("acd:\n  queues:\n    general: {}\n    sales: {preserve_scarce_agents: false}\n")
    assert queues["general"].preserve_scarce_agents is True
    assert queues["sales"].preserve_scarce_agents is False


def test_a_non_boolean_is_located():
    with pytest.raises(AcdConfigError) as info:
        _load("acd:\n  queues:\n    sales:\n      preserve_scarce_agents: sometimes\n")
    assert (info.value.line, info.value.field_name) == (4, "acd.queues.sales.preserve_scarce_agents")
    assert "true or false" in info.value.message
