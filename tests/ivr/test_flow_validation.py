"""Loading and validating flow files: every kind of problem is reported with file:line:column."""
from __future__ import annotations

import json
import textwrap
from types import SimpleNamespace
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from engine.config import load_config
from engine.ivr.cli import flows
from engine.ivr.schema import flow_schema
from engine.ivr.validate import validate_paths

REPO = Path(__file__).resolve().parents[2]
SHIPPED_QUEUES = {"complaints", "consultation", "vip_service", "sales", "general_service"}

GOOD = """\
start: hello
nodes:
  hello:
    type: play
    tts: 你好
    next: bye
  bye:
    type: hangup
"""


def write(tmp_path: Path, text: str, name: str = "main") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, queues: set[str] | None = None) -> list[str]:
    path = write(tmp_path, text)
    return [str(e) for e in validate_paths([path], queues).errors]


def only(tmp_path: Path, text: str, queues: set[str] | None = None) -> str:
    found = problems(tmp_path, text, queues)
    assert len(found) == 1, found
    return found[0]


def test_a_good_flow_has_no_problems(tmp_path):
    report = validate_paths([write(tmp_path, GOOD)])
    assert report.ok and list(report.flows) == ["main"]


def test_invalid_yaml_is_located(tmp_path):
    error = only(tmp_path, "start: a\nnodes:\n  a: {type: play\n")
    assert ":4:1:" in error or ":3:" in error
    assert "invalid YAML" in error


def test_unknown_node_type_names_the_known_types(tmp_path):
    error = only(tmp_path, GOOD.replace("type: hangup", "type: hangupp"))
    assert error.startswith(f"{tmp_path / 'main.yaml'}:8:5: nodes.bye.type: unknown node type 'hangupp'")
    assert "hangup" in error.split("known:")[1]


def test_unknown_field_is_located_at_the_key(tmp_path):
    error = only(tmp_path, GOOD.replace("    next: bye", "    nxt: bye\n    next: bye"))
    assert ":6:5: nodes.hello.nxt: unknown field" in error


def test_wrong_type_is_reported(tmp_path):
    text = GOOD.replace("type: hangup", "type: hangup\n    outcome: [1, 2]")
    assert "nodes.bye.outcome: expected a variable name" in only(tmp_path, text)
    text = """\
    start: m
    nodes:
      m: {type: menu, prompt: hi, options: {1: m}, retries: three, on_failure: m}
    """
    assert "nodes.m.retries: expected a whole number, got 'three'" in only(tmp_path, text)


def test_missing_required_field_is_reported(tmp_path):
    error = only(tmp_path, GOOD.replace("    next: bye\n", ""))
    assert "nodes.hello: missing required field 'next'" in error


def test_dangling_reference_is_located_at_the_reference(tmp_path):
    error = only(tmp_path, GOOD.replace("next: bye", "next: byebye").replace("  bye:\n    type: hangup\n", "")
                 + "  bye:\n    type: hangup\n")
    assert ":6:5: nodes.hello.next: no node called 'byebye'" in error


def test_unreachable_node_is_reported(tmp_path):
    error = only(tmp_path, GOOD + "  orphan:\n    type: hangup\n")
    assert ":9:3: nodes.orphan: node is unreachable from the start node" in error


def test_loop_without_input_is_reported(tmp_path):
    text = """\
    start: a
    nodes:
      a: {type: play, tts: hi, next: b}
      b: {type: set, vars: {x: 1}, next: c}
      c: {type: goto, target: a}
    """
    error = only(tmp_path, text)
    assert "nodes.a: loop that never waits for the caller: a -> b -> c -> a" in error


def test_loop_through_a_menu_is_allowed(tmp_path):
    text = """\
    start: a
    nodes:
      a: {type: play, tts: hi, next: m}
      m: {type: menu, prompt: 'again?', options: {1: a, 2: bye}, on_failure: a}
      bye: {type: hangup}
    """
    assert problems(tmp_path, text) == []


def test_missing_audio_file_is_reported_and_present_one_accepted(tmp_path):
    (tmp_path / "sounds").mkdir()
    (tmp_path / "sounds" / "hi.wav").write_bytes(b"RIFF")
    text = GOOD.replace("tts: 你好", "file: sounds/hi.wav")
    assert problems(tmp_path, text) == []
    error = only(tmp_path, GOOD.replace("tts: 你好", "file: {zh: sounds/hi.wav, en: sounds/missing.wav}"))
    assert "nodes.hello.file.en: audio file not found" in error


def test_template_syntax_error_is_reported(tmp_path):
    error = only(tmp_path, GOOD.replace("tts: 你好", "tts: '你好 {{ customer.name '"))
    assert "nodes.hello.tts: template syntax error" in error


def test_template_with_unknown_name_or_filter_is_reported(tmp_path):
    assert "unknown name custmer" in only(tmp_path, GOOD.replace("tts: 你好", "tts: '{{ custmer.name }}'"))
    assert "No filter named 'monee'" in only(tmp_path, GOOD.replace("tts: 你好", "tts: '{{ vars.x|monee }}'"))


def test_branch_expression_errors_are_reported(tmp_path):
    text = """\
    start: b
    nodes:
      b: {type: branch, conditions: [{if: "vars.x ==", next: bye}], else: bye}
      bye: {type: hangup}
    """
    assert "nodes.b.conditions[0].if: expression syntax error" in only(tmp_path, text)


def test_unknown_queue_is_reported_when_queues_are_known(tmp_path):
    text = """\
    start: q
    nodes:
      q: {type: queue, queue: complaint, on_failure: bye}
      bye: {type: hangup}
    """
    error = only(tmp_path, text, {"complaints", "sales"})
    assert "nodes.q.queue: unknown queue 'complaint' (acd.queues: complaints, sales)" in error
    assert problems(tmp_path, text, None) == []  # no acd.queues configured: not checked


def test_missing_subflow_is_reported_and_existing_one_accepted(tmp_path):
    text = """\
    start: c
    nodes:
      c: {type: call, flow: shared_goodbye, next: bye}
      bye: {type: hangup}
    """
    assert "nodes.c.flow: subflow 'shared_goodbye' not found" in only(tmp_path, text)
    write(tmp_path, "start: r\nnodes:\n  r: {type: return}\n", "shared_goodbye")
    assert validate_paths([tmp_path]).ok


def test_bad_pattern_menu_key_hours_and_digit_bounds_are_reported(tmp_path):
    text = """\
    start: c
    nodes:
      c: {type: collect, prompt: hi, into: x, min_digits: 5, max_digits: 3, pattern: "[0-9", next: m, on_failure: m}
      m: {type: menu, prompt: hi, options: {10: h}, on_failure: h}
      h: {type: hours, timezone: Mars/Olympus, weekly: {mon-fri: "9-18", funday: "10:00-12:00"}, open: bye, closed: bye}
      bye: {type: hangup}
    """
    found = "\n".join(problems(tmp_path, text))
    assert "nodes.c.min_digits: min_digits (5) is more than max_digits (3)" in found
    assert "nodes.c.pattern: invalid regular expression" in found
    assert "nodes.m.options.10: menu key must be one of 0-9" in found
    assert "nodes.h.timezone: unknown time zone 'Mars/Olympus'" in found
    assert "nodes.h.weekly.mon-fri: expected 'HH:MM-HH:MM'" in found
    assert "nodes.h.weekly.funday: unknown day range" in found


def test_lookup_sources_need_their_fields(tmp_path):
    text = """\
    start: l
    nodes:
      l: {type: lookup, source: table, table: nowhere, key: "{{ vars.x }}", into: row, next: bye, on_not_found: bye}
      h: {type: lookup, source: http, next: bye, on_not_found: bye}
      bye: {type: hangup}
    """
    found = "\n".join(problems(tmp_path, text))
    assert "nodes.l.table: data table not found" in found
    assert "nodes.h: an http lookup needs 'url'" in found
    assert "nodes.h: a http lookup needs 'into'" in found


def test_flow_name_must_match_the_file(tmp_path):
    assert "name: flow name 'other' does not match the file name 'main'" in only(tmp_path, "name: other\n" + GOOD)


def test_every_problem_of_a_file_is_reported_in_line_order(tmp_path):
    text = GOOD.replace("type: hangup", "type: hangup\n    colour: red") + "  orphan:\n    type: nope\n"
    text = text.replace("next: bye", "next: nowhere")
    found = validate_paths([write(tmp_path, text)]).errors
    assert len(found) >= 3
    assert [e.line for e in found] == sorted(e.line for e in found)


def test_shipped_flows_are_valid_with_their_queues():
    report = validate_paths([REPO / "ivr_flows"], SHIPPED_QUEUES)
    assert report.ok, "\n".join(map(str, report.errors))
    assert {"logistics_hotline", "telecom_service", "demo_welcome"} <= set(report.flows)


def test_cli_prints_located_errors_and_exits_non_zero(tmp_path):
    bad = write(tmp_path, GOOD.replace("next: bye", "next: nowhere"))
    result = CliRunner().invoke(flows, ["validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:6:5: nodes.hello.next: no node called 'nowhere' in this flow" in result.output.splitlines()


def test_cli_accepts_good_flows_and_checks_given_queues(tmp_path):
    flows_dir = REPO / "ivr_flows"
    args = ["validate", str(flows_dir)] + [f"--queue={q}" for q in SHIPPED_QUEUES]
    assert CliRunner().invoke(flows, args).exit_code == 0
    result = CliRunner().invoke(flows, ["validate", str(flows_dir), "--queue", "complaints"])
    assert result.exit_code == 1 and "unknown queue 'vip_service'" in result.output


def test_cli_reads_queue_names_from_the_config(tmp_path):
    config = tmp_path / "jinqiao.yaml"
    config.write_text("acd:\n  queues:\n    complaints: {}\n", encoding="utf-8")
    flow = write(tmp_path, "start: q\nnodes:\n  q: {type: queue, queue: sales, on_failure: b}\n  b: {type: hangup}\n")
    app = SimpleNamespace(config=load_config(str(config)))  # what `jinqiao --config` puts in ctx.obj
    result = CliRunner().invoke(flows, ["validate", str(flow)], obj=app)
    assert result.exit_code == 1 and "unknown queue 'sales' (acd.queues: complaints)" in result.output


@pytest.mark.parametrize("name", ["logistics_hotline", "telecom_service", "demo_welcome"])
def test_shipped_flows_match_the_published_json_schema(name):
    schema = json.loads((REPO / "docs" / "flow.schema.json").read_text(encoding="utf-8"))
    data = yaml.safe_load((REPO / "ivr_flows" / f"{name}.yaml").read_text(encoding="utf-8"))
    data = json.loads(json.dumps(data, default=str))  # dates as text, as an editor sees them
    jsonschema.Draft202012Validator(schema).validate(data)


def test_published_json_schema_is_up_to_date_and_rejects_unknown_fields():
    published = json.loads((REPO / "docs" / "flow.schema.json").read_text(encoding="utf-8"))
    assert published == json.loads(json.dumps(flow_schema(), ensure_ascii=False))
    bad = {"start": "a", "nodes": {"a": {"type": "hangup", "colour": "red"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(published).validate(bad)


def test_node_reference_in_the_docs_is_generated_from_the_node_classes():
    from engine.ivr.schema import node_reference_markdown

    docs = (REPO / "docs" / "flows.md").read_text(encoding="utf-8")
    section = docs.split("BEGIN NODE REFERENCE")[-1].split("-->", 1)[-1].split("<!-- END NODE REFERENCE -->")[0]
    assert section.strip() == node_reference_markdown().strip()


def test_loop_through_a_subflow_that_never_waits_for_input_is_reported(tmp_path):
    text = """\
    start: news
    nodes:
      news: {type: call, flow: announcements, next: again}
      again: {type: goto, target: news}
    """
    write(tmp_path, "start: p\nnodes:\n  p: {type: play, tts: 公告, next: r}\n  r: {type: return}\n", "announcements")
    error = only(tmp_path, text)
    assert "nodes.news: loop that never waits for the caller: news -> again -> news (subflow announcements" in error
    write(tmp_path, "start: m\nnodes:\n  m: {type: menu, prompt: 再听请按1, options: {1: r}, on_failure: r}\n"
                    "  r: {type: return}\n", "announcements")
    assert problems(tmp_path, text) == []
