"""Fuzzing the campaign file and the `acd` queue section (issue 12): whatever the text, the loader returns a
config or raises a SourceError naming the file, line and column (never a bare exception). Bounded: 60 examples
each, well under 5 s."""
from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.acd.queue_config import AcdConfigError, load_queues, load_settings
from engine.dialer.campaigns import parse_campaign
from engine.yamlsrc import SourceError, load_text

REPO = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CAMPAIGN = (REPO / "campaigns" / "broadband_upsell.yaml").read_text(encoding="utf-8")
_example = (REPO / "conf" / "jinqiao.example.yaml").read_text(encoding="utf-8")
ACD = _example[_example.index("\nacd:") + 1:]

_PIECES = st.sampled_from(["queue", "mode", "predictive", "progressive", "strategy", "skills", "retry", "ring_timeout",
                           "wrap_up_seconds", "overflow", "after", "max_attempts", "10m", "-5s", "1e9", "nan", ".inf",
                           ": ", ":", "- ", "[", "]", "{", "}", ",", "&x ", "*x", "!!int ", "'", '"', "\n", "\n  ",
                           "\n    ", "\t", " ", "~", "0", "-1", "9" * 40, "\x00", "\ufeff", "中文", "true"])
_TEXT = st.one_of(st.lists(_PIECES, max_size=40).map("".join), st.text(max_size=120))


def _mutated(base: str):
    @st.composite
    def build(draw) -> str:
        text = base
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(text)))
            cut = draw(st.integers(0, 20))
            text = text[:at] + draw(_TEXT) + text[at + cut:]
        return text
    return build()


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
_DATA = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=10), inner, max_size=5)),
                     max_leaves=25)


def _located(error: SourceError, file: str) -> None:
    assert error.file == file and error.line >= 1 and error.column >= 1, error
    assert str(error).startswith(f"{file}:"), str(error)


@FUZZ
@given(text=st.one_of(_mutated(CAMPAIGN), _TEXT, _DATA.map(lambda d: yaml.safe_dump(d, allow_unicode=True))))
def test_fuzz_campaign_files_give_a_config_or_a_located_error(text):
    try:
        parse_campaign(load_text(text, "campaign.yaml"), known_flows={"delivery_survey"})
    except SourceError as exc:
        _located(exc, "campaign.yaml")


@FUZZ
@given(text=st.one_of(_mutated(ACD), _DATA.map(lambda d: yaml.safe_dump({"acd": d}, allow_unicode=True))))
def test_fuzz_queue_config_gives_queues_or_a_located_error(text):
    try:
        doc = load_text(text, "jinqiao.yaml")
    except SourceError as exc:
        _located(exc, "jinqiao.yaml")
        return
    acd = doc.data.get("acd") if isinstance(doc.data, dict) else doc.data
    try:
        load_queues(acd, doc)
        load_settings(acd, doc)
    except AcdConfigError as exc:
        _located(exc, "jinqiao.yaml")


def test_the_unmutated_examples_load():
    assert parse_campaign(load_text(CAMPAIGN, "campaign.yaml"), known_flows={"delivery_survey"}).name
    doc = load_text(ACD, "jinqiao.yaml")
    assert load_queues(doc.data["acd"], doc)
