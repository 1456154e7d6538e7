"""Campaign configuration: YAML files validated with file:line errors, retry rules, strategy table, agent script."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.dialer.campaigns import load_campaign, parse_campaign
from engine.ivr.templates import TemplateRenderError
from engine.yamlsrc import SourceError, load_text

ROOT = Path(__file__).resolve().parents[2]
FLOWS = {p.stem for p in (ROOT / "ivr_flows").glob("*.yaml")}
T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)
BASE = "name: c\nmode: predictive\nqueue: sales\n"


def parse(text: str, flows: set[str] | None = None):
    return parse_campaign(load_text(text, "c.yaml"), flows)


def error_of(text: str, flows: set[str] | None = None) -> SourceError:
    with pytest.raises(SourceError) as caught:
        parse(text, flows)
    return caught.value


@pytest.mark.parametrize("path", sorted((ROOT / "campaigns").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_campaigns_load(path: Path) -> None:
    config = load_campaign(path, FLOWS)
    assert config.name == path.stem
    assert config.ring_timeout_s >= 15 and config.safe_harbour_within_s <= 2


def test_defaults_are_a_3_percent_abandon_target_over_30_days_and_a_25s_ring() -> None:
    config = parse(BASE)
    assert config.abandon.rate == 0.03 and config.abandon.window == dt.timedelta(days=30)
    assert config.ring_timeout_s == 25 and config.marketing
    assert set(config.retry) == {"busy", "no_answer", "machine", "failed", "invalid", "dropped", "interrupted"}


def test_ofcom_style_24h_abandon_window_and_percent_target() -> None:
    config = parse(BASE + "abandon: {target: 1.5%, window: 24h}\n")
    assert config.abandon.rate == pytest.approx(0.015) and config.abandon.window == dt.timedelta(hours=24)


@pytest.mark.parametrize("extra, line, field, words", [
    ("ring_timeout: 10s\n", 4, "ring_timeout", "15s to 120s"),
    ("safe_harbour: {message: hi, within: 3s}\n", 4, "safe_harbour.within", "within 2s"),
    ("colour: blue\n", 4, "colour", "unknown setting"),
    ("retry:\n  busy: {delay: soon}\n", 5, "retry.busy.delay", "duration"),
    ("retry:\n  busy: {delay: 10s, max_attempts: 2}\n", 5, "retry.busy.delay", "at least 1m"),
    ("calling_windows:\n  mon-fri: 9-5\n", 5, "calling_windows.mon-fri", "HH:MM-HH:MM"),
    ("strategy:\n  - segment: gold\n    mode: preview\n", 5, "strategy[0].segment", "segments among"),
    ("strategy:\n  - segment: vip\n    mode: preview\n    offer: [boss]\n", 7, "strategy[0].offer", "unknown offer"),
    ("abandon: {target: 60%}\n", 4, "abandon.target", "0% to 50%"),
    ("caller_id: '123,456'\n", 4, "caller_id", "phone number"),
    ("source: {segment: gold}\n", 4, "source.segment", "unknown segment"),
])
def test_bad_settings_are_reported_at_their_line(extra: str, line: int, field: str, words: str) -> None:
    error = error_of(BASE + extra)
    assert (error.file, error.line, error.field_name) == ("c.yaml", line, field)
    assert words in error.message


def test_agentless_needs_a_known_ivr_flow_and_agent_modes_need_agents() -> None:
    assert "needs ivr_flow" in str(error_of("name: s\nmode: agentless\n"))
    error = error_of("name: s\nmode: agentless\nivr_flow: nope\n", FLOWS)
    assert error.line == 3 and "no IVR flow named 'nope'" in error.message
    assert parse("name: s\nmode: agentless\nivr_flow: demo_welcome\n", FLOWS).ivr_flow == "demo_welcome"
    assert "needs a queue or agents" in str(error_of("name: s\nmode: preview\n"))
    assert parse("name: s\nmode: preview\nagents: [1001, '1002']\n").agents == ("1001", "1002")


def test_script_is_sandboxed_jinja_checked_at_load_with_the_line_inside_the_file() -> None:
    error = error_of(BASE + "script: |\n  Hello\n  {{ customer.name }\n")
    assert error.field_name == "script" and error.line == 6
    assert "unknown name" in str(error_of(BASE + "script: '{{ secrets }}'\n"))
    config = parse(BASE + "script: '您好{{ customer.name }}, {{ customer.segment }}'\n")
    assert config.render_script({"name": "张伟", "segment": "vip"}, T0) == "您好张伟, vip"
    sneaky = parse(BASE + "script: \"{{ customer.__class__.__mro__ }}\"\n")
    with pytest.raises(TemplateRenderError):
        sneaky.render_script({"name": "x"}, T0)


def test_retry_rules_per_outcome_then_exhausted_and_invalid_never_retried() -> None:
    config = parse(BASE + "max_attempts: 4\nretry:\n  busy: {delay: 10m, max_attempts: 2}\n"
                   "  no_answer: {delay: 2h, max_attempts: 5}\n  invalid: {max_attempts: 0}\n")
    assert config.next_step("busy", 1, 1, T0) == ("pending", T0 + dt.timedelta(minutes=10))
    assert config.next_step("busy", 2, 2, T0) == ("exhausted", None)
    assert config.next_step("no_answer", 3, 4, T0) == ("exhausted", None)  # campaign-wide max_attempts
    assert config.next_step("invalid", 1, 1, T0) == ("failed", None)
    assert config.next_step("sale", 1, 1, T0) == ("done", None)
    assert config.shortest_retry == dt.timedelta(minutes=10)


def test_strategy_offers_vips_to_owner_then_last_agent_then_the_group_and_prospects_go_predictive() -> None:
    config = parse("name: c\nmode: progressive\nqueue: sales\nstrategy:\n"
                   "  - {segment: vip, mode: preview, offer: [owner, last_agent, group]}\n"
                   "  - {segment: [prospect, new], mode: predictive}\n")
    vip = config.route_for({"segment": "vip", "owner_agent_id": "1001", "last_agent_id": "1002"})
    assert vip.mode == "preview"
    assert [(t.kind, t.agent_id, t.because) for t in vip.targets] == [
        ("agent", "1001", "owner"), ("agent", "1002", "last_agent"), ("group", None, "group")]
    same = config.route_for({"segment": "vip", "owner_agent_id": "1001", "last_agent_id": "1001"})
    assert [t.agent_id for t in same.targets] == ["1001", None]
    assert config.route_for({"segment": "prospect"}).mode == "predictive"
    loyal = config.route_for({"segment": "loyal"})
    assert loyal.mode == "progressive" and loyal.rule_index is None
    assert config.route_for(None).mode == "progressive"


def test_a_csv_source_is_resolved_next_to_the_campaign_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE + "source: {csv: people.csv}\n", encoding="utf-8")
    config = load_campaign(path)
    assert config.source is not None and config.source.csv == str(tmp_path / "people.csv")
    assert config.raw["source"] == {"csv": str(tmp_path / "people.csv")}


def test_a_campaign_stored_without_a_configuration_gets_the_defaults_of_its_mode() -> None:
    from engine.dialer.campaigns import from_stored

    config = from_stored("old", {}, "preview", "sales")
    assert (config.name, config.mode, config.queue, config.abandon.rate) == ("old", "preview", "sales", 0.03)
    stored = parse(BASE + "ring_timeout: 30s\n")
    again = from_stored("c", {"config": stored.raw})
    assert again.ring_timeout_s == 30 and again.mode == "predictive"
