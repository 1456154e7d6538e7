"""Prompt templates run bounded: size, steps, time and recursion limits; any failure plays the fallback."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.ivr.templates import (MAX_OUTPUT_CHARS, MAX_RENDERED_CHARS, RenderLimits, TemplateCompileError,
                                  TemplateEngine, TemplateLimitError, TemplateRenderError)

CONTEXT = {"vars": {"s": "x" * 1000, "n": "100000", "nums": list(range(50))}, "customer": {"name": "张伟"},
           "call": {"caller_number": "13812345678"}, "language": "zh", "now": None}


def render(source: str, context: dict | None = None, limits: RenderLimits | None = None) -> str:
    return TemplateEngine(limits).template(source).render(context or CONTEXT)


@pytest.mark.timeout(20)
def test_a_huge_string_product_with_caller_digits_is_refused_before_it_is_built():
    with pytest.raises(TemplateLimitError, match="repeated value would be too large"):
        render("{{ vars.s * (vars.n|int) }}")


@pytest.mark.timeout(20)
def test_a_recursive_macro_is_stopped_by_the_depth_limit():
    with pytest.raises(TemplateLimitError, match="macros nested more than"):
        render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")


def test_a_moderately_recursive_macro_still_works():
    out = render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}")
    assert out == "54321"


@pytest.mark.timeout(20)
def test_nested_loops_stop_at_the_step_budget():
    with pytest.raises(TemplateLimitError, match="stopped after 100000 steps"):
        render("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")


def test_a_slow_render_stops_at_the_time_budget():
    ticks = iter(range(0, 10**9, 1))  # each clock read is one second later

    limits = RenderLimits(max_steps=10**9, max_seconds=5, clock=lambda: float(next(ticks)))
    with pytest.raises(TemplateLimitError, match="stopped after 5 s"):
        render("{% for i in range(10000) %}{% for c in vars.s %}{% endfor %}{% endfor %}", limits=limits)


@pytest.mark.parametrize("source", [
    "{% set x %}{% for i in range(5000) %}{{ vars.s }}{% endfor %}{% endset %}{{ x|length }}",
    "{% for i in range(5000) %}" + "y" * 100 + "{% endfor %}",
])
def test_total_output_is_bounded_while_rendering(source):
    with pytest.raises(TemplateLimitError, match=f"output over {MAX_OUTPUT_CHARS}"):
        render(source)


def test_long_output_under_the_bound_is_cut_for_the_prompt():
    assert len(render("{% for i in range(100) %}{{ vars.s[:100] }}{% endfor %}")) == MAX_RENDERED_CHARS


@pytest.mark.parametrize("source, message", [
    ("{{ 'x'|center(1000000000) }}", "padded string"),
    ("{{ vars.s.center(10 ** 9) }}", "padded string"),
    ("{{ vars.s.ljust(10 ** 9) }}", "padded string"),
    ("{{ '{:>99999999}'.format(1) }}", "format spec"),
    ("{{ '%99999999d'|format(1) }}", "format width"),
    ("{{ '%*d' % (99999999, 1) }}", "format width"),
    ("{{ range(10000)|join(vars.s) }}", "joined string"),
    ("{{ vars.s|replace('', vars.s) }}", "replaced string"),
    ("{{ [1]|batch(1000000000, 'x')|list }}", "batch"),
    ("{{ vars.nums|slice(1000000000)|list }}", "slices"),
    ("{{ vars.s|indent(1000000000) }}", "indented string"),
    ("{{ range(100000)|list }}", "range"),
    ("{{ 10 ** 100000 }}", "number"),
    ("{{ (vars.n|int) ** 5000 }}", "number"),
    ("{{ vars.nums * 100000 }}", "repeated value"),
])
def test_operations_that_would_allocate_too_much_are_refused_first(source, message):
    with pytest.raises(TemplateLimitError, match=message):
        render(source)


def test_templates_cannot_change_the_calls_variables():
    with pytest.raises(TemplateRenderError):
        render("{{ vars.update({'s': 'y'}) }}")
    assert CONTEXT["vars"]["s"] == "x" * 1000


def test_lipsum_is_not_available_and_deep_nesting_is_a_compile_error():
    with pytest.raises(TemplateCompileError, match="unknown name lipsum"):
        TemplateEngine().template("{{ lipsum(100000) }}")
    with pytest.raises(TemplateCompileError):
        TemplateEngine().template("{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}")
    with pytest.raises(TemplateCompileError):
        TemplateEngine().expression("(" * 2000 + "1" + ")" * 2000)


def test_ordinary_templates_render_as_before():
    assert render("{{ '%.2f'|format(3.14159) }} {{ customer.name }} {{ vars.nums|join(',')|length }}") == "3.14 张伟 139"
    assert render("{% for i in vars.nums[:3] %}{{ i ~ '-' }}{% endfor %}") == "0-1-2-"
    assert render("{{ '{}:{}'.format(1, 2) }}") == "1:2"
    assert TemplateEngine().expression("vars.n|int > 3 and customer.name == '张伟'").evaluate(CONTEXT) is True


@pytest.mark.timeout(60)
def test_a_prompt_that_blows_a_bound_plays_the_fallback(harness):
    # Given a flow that multiplies a string by the digits the caller typed
    harness.write("main", "start: c\nfallback: 系统繁忙\nnodes:\n"
                  "  c: {type: collect, prompt: 请输入, into: n, max_digits: 9, next: p, on_failure: bye}\n"
                  '  p: {type: play, tts: "{{ (\'x\' * 1000) * (vars.n|int) }}", fallback: 请稍候, next: r}\n'
                  '  r: {type: play, tts: "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", next: bye}\n'
                  "  bye: {type: hangup}\n")
    # When the caller types a big number
    channel, record = harness.call(["999999999"])
    # Then the node's fallback and the flow's fallback are played and the call goes on
    assert channel.played[-2:] == ["tts:zh:请稍候", "tts:zh:系统繁忙"]
    assert record.outcome == "completed" and record.path == ["c", "p", "r", "bye"]


# -- fuzzing -------------------------------------------------------------------------------------------------
_PIECES = st.sampled_from([
    "{{ ", " }}", "{% ", " %}", "vars.s", "vars.n", "vars.nums", "customer.name", "call.caller_number", "language",
    " * ", " ** ", " + ", " ~ ", " % ", " // ", "(", ")", "[", "]", "[:3]", ",", "|int", "|string", "|length", "|join",
    "|center(", "|format(", "|replace(", "|batch(", "|list", "|indent(", "|first", "|number", "|digits", "'%s'", "'{}'",
    ".format(", "for i in range(", "endfor", "if ", "endif", "else", "macro f(n)", "endmacro", "f(", "set x = ",
    "100000", "9", "0", "-1", "'ab'", "'中文'", "10 ** 9", "==", " and ", " not ", "is defined", "x", "i", "n",
    "{# c #}", "raw", "endraw", "lipsum(", "namespace(", "dict(", "loop.index",
])
_SOURCES = st.lists(_PIECES, min_size=1, max_size=25).map("".join)
_VALUES = st.one_of(st.text(max_size=50), st.integers(), st.lists(st.integers(), max_size=20),
                    st.text(alphabet="0123456789", min_size=1, max_size=30))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=_SOURCES, s=_VALUES, n=_VALUES)
def test_fuzz_templates_compile_or_refuse_and_render_or_fail_as_render_errors(source, s, n):
    engine = TemplateEngine()
    try:
        template = engine.template(source)
    except TemplateCompileError:
        return
    context = {**CONTEXT, "vars": {"s": s, "n": n, "nums": [1, 2, 3]}}
    try:
        out = template.render(context)
    except TemplateRenderError:
        return
    assert isinstance(out, str) and len(out) <= MAX_RENDERED_CHARS


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=_SOURCES, n=_VALUES)
def test_fuzz_expressions_compile_or_refuse_and_evaluate_or_fail_as_render_errors(source, n):
    engine = TemplateEngine()
    try:
        expression = engine.expression(source)
    except TemplateCompileError:
        return
    try:
        expression.evaluate({**CONTEXT, "vars": {"s": "ab", "n": n, "nums": [1]}})
    except TemplateRenderError:
        pass
