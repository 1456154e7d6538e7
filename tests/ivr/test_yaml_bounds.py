"""The YAML loader's bounds: no aliases, bounded depth, size and numbers; every failure is one located line."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import ConfigError, load_config
from engine.ivr.flow import MAX_FLOW_BYTES, load_flow
from engine.ivr.registry import FlowRegistry, run_inline
from engine.ivr.validate import validate_paths
from engine.yamlsrc import MAX_DEPTH, SourceError, load_file, load_text

REPO = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])


def refused(text: str) -> SourceError:
    with pytest.raises(SourceError) as info:
        load_text(text, "f.yaml")
    return info.value


def test_aliases_are_refused_with_their_position():
    error = refused("a: &x [1, 2]\nb: *x\n")
    assert str(error) == "f.yaml:2:4: b: aliases (*x) are not allowed; write the value out"


@pytest.mark.timeout(20)
def test_a_billion_laughs_file_is_refused_without_expanding_it(tmp_path):
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"{c}: &{c} [{', '.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError, match=r"bomb.yaml:2:\d+: b\[0\]: aliases \(\*a\) are not allowed"):
        load_file(path)


@pytest.mark.parametrize("text", ["[" * 5000 + "]" * 5000, "a:\n" + "".join("  " * i + "- \n" for i in range(1, 200)),
                                  "{a: " * 100 + "1" + "}" * 100])
def test_deep_nesting_is_a_located_error_not_a_recursion_error(text):
    error = refused(text)
    assert ("nested more than" in str(error) or "maximum nesting depth" in str(error)) and error.line >= 1


def test_nesting_up_to_the_limit_loads():
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert load_text(text).data is not None


@pytest.mark.parametrize("text, message", [
    ("? [a, b]\n: c\n", "f.yaml:1:3: complex mapping keys"),
    ("? {a: 1}\n: c\n", "f.yaml:1:3: complex mapping keys"),
    ("day: 2024-02-30\n", "f.yaml:1:6: day: invalid timestamp value '2024-02-30': day is out of range"),
    ("n: " + "9" * 5000 + "\n", "f.yaml:1:4: n: number too long (5000 characters"),
    ("n: " + ":".join(["1"] * 2000) + "\n", "f.yaml:1:4: n: number too long"),
    ("n: !!int twelve\n", "f.yaml:1:4: n: invalid int value 'twelve'"),
    ("n: !!float x\n", "f.yaml:1:4: n: invalid float value 'x'"),
    ("x: !!python/object/apply:os.system ls\n", "f.yaml:1:4: x: invalid YAML value: could not determine"),
    ("x: !!python/object/apply:os.system [ls]\n", "f.yaml:1:4: x: tag tag:yaml.org,2002:python/object/apply:os.system"
                                                    " is not supported here"),
    ("b: !!binary 'a'\n", "f.yaml:1:4: b: invalid YAML value"),
    ("a: 1\n---\nb: 2\n", "f.yaml:2:1: invalid YAML: expected a single document"),
    ("a: \x07\n", "f.yaml:1:4: invalid YAML: control characters are not allowed (character U+0007)"),
    ("a:\n  b: 1\n  b: 2\n", "f.yaml:3:3: a.b: duplicate key"),
])
def test_values_the_loader_cannot_build_are_located_errors(text, message):
    assert str(refused(text)).startswith(message)


def test_an_oversized_file_is_refused_unread(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * (2 << 20) + "\n")
    with pytest.raises(SourceError, match="big.yaml:1:1: file too large"):
        load_file(path)
    flow = tmp_path / "main.yaml"
    flow.write_text("start: a\nnodes:\n  a: {type: hangup}\n" + "#" * MAX_FLOW_BYTES + "\n")
    _, errors = load_flow(flow)
    assert [str(e) for e in errors] == [f"{flow}:1:1: file too large (more than {MAX_FLOW_BYTES // 1024} KiB)"]


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes("a: 1\nb: 中文\n".encode("gbk"))
    with pytest.raises(SourceError, match="gbk.yaml:2:1: not UTF-8 text"):
        load_file(path)


def test_the_loader_reads_the_shipped_files_as_before():
    for path in [*(REPO / "ivr_flows").glob("*.yaml"), REPO / "conf" / "jinqiao.example.yaml"]:
        source = load_file(path)
        assert source.data == yaml.safe_load(path.read_text(encoding="utf-8")), path


def test_config_with_an_alias_or_bad_date_is_one_located_config_error(tmp_path):
    path = tmp_path / "jinqiao.yaml"
    path.write_text("engine: &e {log_level: info}\nivr: *e\n")
    with pytest.raises(ConfigError, match=r"jinqiao.yaml:2:6: ivr: aliases \(\*e\) are not allowed"):
        load_config(str(path), environ={})
    path.write_text("engine:\n  data_dir: 2024-13-01\n")
    with pytest.raises(ConfigError, match=r"jinqiao.yaml:2:13: engine.data_dir: invalid timestamp value"):
        load_config(str(path), environ={})


# -- fuzzing: whatever the bytes, a located error or a value, never an exception escaping ------------------------
_YAML_PIECES = st.sampled_from(["a", "b", "start", "nodes", "type", "hangup", "play", "next", ": ", ":", "- ", "-",
                                "[", "]", "{", "}", ",", "&x ", "*x", "!!int ", "!!timestamp ", "!!binary ", "? ",
                                "'", '"', "|", ">", "#", "%YAML 1.1", "---", "...", "\n", "\n  ", "\t", " ",
                                "2024-02-30", "9" * 120, "1:2:3", "0x1F", ".inf", "~", "\\", "\x00", "\ufeff",
                                "中文", "{{ vars.x }}", "<<: "])
_TEXT = st.one_of(st.lists(_YAML_PIECES, max_size=40).map("".join), st.text(max_size=200))
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
                     st.dates())
_DATA = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                     max_leaves=30)
SHIPPED_FLOW = (REPO / "ivr_flows" / "telecom_service.yaml").read_text(encoding="utf-8")


@st.composite
def _mutated_flow(draw) -> str:
    text = SHIPPED_FLOW
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 30))
        text = text[:at] + draw(_TEXT) + text[at + cut:]
    return text


_ANY_YAML = st.one_of(_TEXT, _DATA.map(lambda d: yaml.safe_dump(d, allow_unicode=True)), _mutated_flow())


@FUZZ
@given(text=_ANY_YAML)
def test_fuzz_flow_loader_gives_located_errors_only(tmp_path, text):
    path = tmp_path / "main.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    report = validate_paths([path])
    for error in report.errors:
        assert isinstance(error, SourceError) and error.line >= 1 and error.column >= 1
        assert str(error).startswith(f"{path}:")
    registry = FlowRegistry(tmp_path, default_flow="main", background=run_inline)
    registry.reload()  # never raises, whatever the file holds


@FUZZ
@given(text=_ANY_YAML)
def test_fuzz_config_loader_gives_a_config_or_a_located_config_error(tmp_path, text):
    path = tmp_path / "jinqiao.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        load_config(str(path), environ={})
    except ConfigError as exc:
        assert str(exc).startswith(f"{path}:")
