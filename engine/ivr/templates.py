"""Prompt templates and branch conditions: Jinja2 in a sandbox, strict about missing variables.

How it works: one `TemplateEngine` per flow registry holds a `SandboxedEnvironment` with
`StrictUndefined`; templates and expressions are compiled when a flow is loaded (so syntax errors and
unknown names are load-time errors) and rendered per call over `customer`, `call`, `vars`, `language`
and `now`. Rendering never evaluates caller data as a template: caller numbers and digits are only ever
values in the context. Filters `number`, `money`, `date`, `digits` give spoken forms via `tts.spoken` in
the call's language.

Bounds (a template runs with caller data, so it must not be able to stall or exhaust the engine): every
render gets a budget of steps (loop iterations, attribute lookups, calls, operators, outputs) and of
time; strings and lists built while rendering are limited to `MAX_VALUE_CHARS` (checked before `*`,
`center`, `join`... allocate), integers to `MAX_INT_BITS`, macro calls to `MAX_MACRO_DEPTH` levels,
and the text written to `MAX_OUTPUT_CHARS` in all (the prompt itself is cut at `MAX_RENDERED_CHARS`).
The checks are put into the compiled template: `for` loops iterate through a counting filter, `~` joins
through a measuring one, and every output passes a counter. Any failure while rendering, whatever its
kind, is a `TemplateRenderError`, so the node plays its fallback.
"""
from __future__ import annotations

import contextvars
import datetime
import re
import string
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from jinja2 import filters as jinja_filters
from jinja2 import meta, nodes
from jinja2.environment import TemplateExpression
from jinja2.parser import Parser
from jinja2.runtime import Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

CONTEXT_NAMES = frozenset({"customer", "call", "vars", "language", "now"})
MAX_RENDERED_CHARS = 2000     # a prompt is cut here
MAX_OUTPUT_CHARS = 64 * 1024  # text written while rendering (captured blocks included); more is an error
MAX_VALUE_CHARS = 64 * 1024   # any string, list or mapping built while rendering
MAX_INT_BITS = 4096           # about 1,200 digits
MAX_MACRO_DEPTH = 16
MAX_RANGE = 10_000            # items of range()
MAX_STEPS = 100_000
MAX_RENDER_SECONDS = 0.5


class TemplateRenderError(Exception):
    """A template could not be rendered for this call (missing variable, bad value, sandbox refusal)."""


class TemplateLimitError(TemplateRenderError):
    """A render went past one of the bounds (steps, time, sizes, recursion)."""


class TemplateCompileError(Exception):
    """A template is invalid; `line` is the line inside the template text (1-based)."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


def _spoken(kind: str) -> Callable[..., str]:
    @jinja2.pass_context
    def render(ctx: Any, value: Any, *args: Any, language: str | None = None) -> str:
        from tts import spoken  # imported late: loading and validating flows does not need tts

        lang = language or ctx.get("language") or "zh"
        _tick()
        if len(str(value)) > 200:
            raise TemplateLimitError(f"{kind}: value too long to speak ({len(str(value))} characters)")
        return getattr(spoken, kind)(value, *args, language=lang)

    render.__name__ = kind
    return render


def localtime(value: Any, zone: str = "Asia/Shanghai") -> datetime.datetime:
    """`now|localtime('Europe/Berlin')`: an aware datetime in another time zone (naive is taken as UTC)."""
    if not isinstance(value, datetime.datetime):
        raise ValueError(f"localtime needs a date and time, got {type(value).__name__}")
    try:
        tz = ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(tz)


# -- render budget -------------------------------------------------------------------------------------
@dataclass
class RenderLimits:
    """The bounds of one render; `clock` measures the time budget."""

    max_steps: int = MAX_STEPS
    max_seconds: float = MAX_RENDER_SECONDS
    clock: Callable[[], float] = time.monotonic


class _Budget:
    __slots__ = ("limits", "steps", "deadline", "output", "depth")

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.steps = self.output = self.depth = 0
        self.deadline = limits.clock() + limits.max_seconds

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise TemplateLimitError(f"template stopped after {self.limits.max_steps} steps")
        if not self.steps & 127 and self.limits.clock() > self.deadline:
            raise TemplateLimitError(f"template stopped after {self.limits.max_seconds} s")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("jinqiao_template_budget", default=None)


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()


def _too_big(what: str, size: int, limit: int = MAX_VALUE_CHARS) -> None:
    if size > limit:
        raise TemplateLimitError(f"{what} would be too large ({size} > {limit})")


def _checked(value: Any) -> Any:
    """Refuse a value built while rendering that is over the size bounds."""
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
        _too_big(type(value).__name__, len(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        _too_big("number", value.bit_length(), MAX_INT_BITS)
    return value


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else 1


def _check_binop(operator: str, left: Any, right: Any) -> None:
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "*":
        if ints:
            _too_big("number", left.bit_length() + right.bit_length(), MAX_INT_BITS)
        elif isinstance(right, int) and isinstance(left, (str, bytes, list, tuple)):
            _too_big("repeated value", len(left) * max(right, 0))
        elif isinstance(left, int) and isinstance(right, (str, bytes, list, tuple)):
            _too_big("repeated value", len(right) * max(left, 0))
    elif operator == "**" and ints and right > 0 and abs(left) > 1:
        _too_big("number", left.bit_length() * right, MAX_INT_BITS)
    elif operator == "+" and not ints:
        _too_big("joined value", _size(left) + _size(right))
    elif operator == "%" and isinstance(left, str):
        _check_percent_format(left)


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_percent_format(fmt: str) -> None:
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for number in (width, precision):
            if number == "*" or (number and int(number) > MAX_VALUE_CHARS):
                raise TemplateLimitError(f"format width {number!r} is not allowed")


def _check_format_spec(fmt: str) -> None:
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise TemplateRenderError(f"bad format string: {exc}") from None
    for _, _, spec, _ in parsed:
        if spec and ("{" in spec or any(int(n) > MAX_VALUE_CHARS for n in re.findall(r"\d+", spec))):
            raise TemplateLimitError(f"format spec {spec!r} is not allowed")


_STR_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def _check_call(obj: Any, args: tuple, kwargs: dict) -> None:
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if isinstance(owner, str):
        if name in _STR_WIDTH_METHODS and args and isinstance(args[0], int):
            _too_big("padded string", args[0])
        elif name == "expandtabs":
            size = args[0] if args else kwargs.get("tabsize", 8)
            _too_big("expanded string", len(owner) + owner.count("\t") * max(int(size), 0))
        elif name == "replace" and len(args) >= 2:
            _check_replace(owner, str(args[0]), str(args[1]))
        elif name == "join" and args:
            _check_join(list(args[0]) if not isinstance(args[0], (list, tuple)) else args[0], owner)


def _check_replace(text: str, old: str, new: str) -> None:
    hits = len(text) + 1 if old == "" else text.count(old)
    _too_big("replaced string", len(text) + hits * len(new))


def _check_join(items: Any, separator: str) -> None:
    _too_big("joined string", sum(len(str(i)) for i in items) + len(separator) * max(len(items) - 1, 0))


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    _too_big("range", len(numbers), MAX_RANGE)
    return numbers


# -- filters: the stock ones, checked before they can allocate, and the counters the compiled template calls
def _center(value: Any, width: int = 80) -> str:
    _too_big("padded string", int(width))
    return jinja_filters.do_center(value, width)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    per_line = len(width) if isinstance(width, str) else int(width)
    _too_big("indented string", len(str(s)) + (str(s).count("\n") + 1) * max(per_line, 0))
    return jinja_filters.do_indent(s, width, first, blank)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_percent_format(str(value))
    return jinja_filters.do_format(value, *args, **kwargs)


@jinja2.pass_eval_context
def _replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
    _check_replace(str(s), str(old), str(new))
    return jinja_filters.do_replace(eval_ctx, s, old, new, count)


@jinja2.pass_eval_context
def _join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = list(value)
    _too_big("joined list", len(items))
    if attribute is None:
        _check_join(items, str(d))
    return _checked(jinja_filters.do_join(eval_ctx, items, d, attribute))


def _batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    _too_big("batch", int(linecount), MAX_RANGE)
    return jinja_filters.do_batch(value, linecount, fill_with)


@jinja2.pass_eval_context
def _slice(eval_ctx: Any, value: Any, slices: int, fill_with: Any = None) -> Any:
    _too_big("slices", int(slices), MAX_RANGE)
    return jinja_filters.do_slice(eval_ctx, value, slices, fill_with)


def _counted(filter_fn: Callable[..., Any]) -> Callable[..., Any]:
    """A stock filter that counts as a step and whose result is size-checked."""
    def run(*args: Any, **kwargs: Any) -> Any:
        _tick()
        return _checked(filter_fn(*args, **kwargs))

    pass_arg = getattr(filter_fn, "jinja_pass_arg", None)
    if pass_arg is not None:
        run.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    run.__name__ = getattr(filter_fn, "__name__", "filter")
    return run


@jinja2.pass_context
def _steps(ctx: Any, iterable: Any) -> Iterator[Any]:
    """What a `for` loop iterates through: one step per item."""
    for item in iterable:
        _tick()
        yield item


@jinja2.pass_context
def _concat(ctx: Any, parts: list[Any]) -> str:
    """`a ~ b`: measured before it is joined."""
    _tick()
    texts = [str(p) for p in parts]
    _too_big("joined string", sum(map(len, texts)))
    return "".join(texts)


@jinja2.pass_context
def _out(ctx: Any, value: Any) -> Any:
    """Every piece of output: counted against MAX_OUTPUT_CHARS."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()
        budget.output += len(str(value))
        if budget.output > MAX_OUTPUT_CHARS:
            raise TemplateLimitError(f"template output over {MAX_OUTPUT_CHARS} characters")
    return value


_INTERNAL_FILTERS = {"jq_steps": _steps, "jq_concat": _concat, "jq_out": _out}


class _Instrument(NodeTransformer):
    """Routes loops, `~` and output of a parsed template through the counting filters."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "jq_steps", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return nodes.Filter(nodes.List(list(node.nodes), lineno=node.lineno), "jq_concat", [], [], None, None,
                            lineno=node.lineno)

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        node = self.generic_visit(node)
        node.nodes = [nodes.Filter(child, "jq_out", [], [], None, None, lineno=child.lineno) for child in node.nodes]
        return node


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox plus the bounds: operators, lookups and calls count as steps and are size-checked."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "/", "//", "-"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        _check_binop(operator, left, right)
        return _checked(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format_spec(fmt)
            return _checked(wrapper(*args, **kwargs))

        return checked

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = _BUDGET.get()
        if budget is not None:
            budget.tick()
        _check_call(__obj, args, kwargs)
        if isinstance(__obj, Macro) and budget is not None:
            if budget.depth >= MAX_MACRO_DEPTH:
                raise TemplateLimitError(f"macros nested more than {MAX_MACRO_DEPTH} deep")
            budget.depth += 1
            try:
                return _checked(super().call(__context, __obj, *args, **kwargs))
            finally:
                budget.depth -= 1
        return _checked(super().call(__context, __obj, *args, **kwargs))


def _make_env() -> _BoundedEnvironment:
    env = _BoundedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters = {name: _counted(fn) for name, fn in env.filters.items()}
    env.filters.update(center=_counted(_center), indent=_counted(_indent), format=_counted(_format),
                       replace=_counted(_replace), join=_join, batch=_counted(_batch), slice=_counted(_slice))
    for kind in ("number", "money", "date", "digits"):
        env.filters[kind] = _spoken(kind)
    env.filters["localtime"] = _counted(localtime)
    env.filters.update(_INTERNAL_FILTERS)
    env.globals = {"range": _bounded_range, "dict": env.globals["dict"], "namespace": env.globals["namespace"],
                   "cycler": env.globals["cycler"], "joiner": env.globals["joiner"]}  # no lipsum
    return env


def _render_error(exc: BaseException) -> TemplateRenderError:
    if isinstance(exc, TemplateRenderError):
        return exc
    if isinstance(exc, jinja2.UndefinedError):
        return TemplateRenderError(f"missing value: {exc.message}")
    if isinstance(exc, jinja2.TemplateError):  # includes sandbox SecurityError
        return TemplateRenderError(str(exc))
    if isinstance(exc, RecursionError):
        return TemplateLimitError("template recursion too deep")
    return TemplateRenderError(f"{type(exc).__name__}: {str(exc)[:200]}")


def _run_bounded(limits: RenderLimits, work: Callable[[], Any]) -> Any:
    token = _BUDGET.set(_Budget(limits))
    try:
        return work()
    except Exception as exc:  # whatever goes wrong, the caller plays the fallback
        raise _render_error(exc) from None
    finally:
        _BUDGET.reset(token)


@dataclass(frozen=True)
class Template:
    """A compiled prompt/value template; `source` is the text as written in the flow."""

    source: str
    _compiled: jinja2.Template
    is_static: bool
    limits: RenderLimits = field(default_factory=RenderLimits, compare=False, repr=False)

    def render(self, context: Mapping[str, Any]) -> str:
        """The text for this call (cut at MAX_RENDERED_CHARS); raises TemplateRenderError, never anything else."""
        if self.is_static:
            return self.source
        out = _run_bounded(self.limits, lambda: self._compiled.render(**context))
        return out[:MAX_RENDERED_CHARS]


@dataclass(frozen=True)
class Expression:
    """A compiled boolean/value expression (branch conditions)."""

    source: str
    _compiled: Callable[..., Any]
    limits: RenderLimits = field(default_factory=RenderLimits, compare=False, repr=False)

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        """The value for this call; raises TemplateRenderError, never anything else."""
        return _run_bounded(self.limits, lambda: self._compiled(**context))


class TemplateEngine:
    """Compiles flow templates and expressions in one sandboxed Jinja2 environment."""

    def __init__(self, limits: RenderLimits | None = None) -> None:
        self.env = _make_env()
        self.limits = limits or RenderLimits()

    def _check_names(self, source: str, what: str = "template") -> None:
        try:
            ast = self.env.parse(source)
            names = meta.find_undeclared_variables(ast)  # compiles: also catches unknown filters/tests
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateCompileError(f"{what} syntax error: {exc.message}", exc.lineno or 1) from None
        except Exception as exc:  # nesting too deep for the parser, a value too big to fold...
            raise TemplateCompileError(f"{what} cannot be compiled ({type(exc).__name__})") from None
        unknown = sorted(names - CONTEXT_NAMES)
        if unknown:
            raise TemplateCompileError(
                f"unknown name {', '.join(unknown)} ({what}s can use: {', '.join(sorted(CONTEXT_NAMES))})")

    def template(self, source: str) -> Template:
        """Compile `source`; raise TemplateCompileError for syntax errors, unknown filters or names."""
        if "{" not in source:
            return Template(source, None, True, self.limits)  # type: ignore[arg-type]
        self._check_names(source)
        try:
            ast = _Instrument().visit(self.env.parse(source))
            compiled = self.env.from_string(ast)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateCompileError(f"template syntax error: {exc.message}", exc.lineno or 1) from None
        except Exception as exc:
            raise TemplateCompileError(f"template cannot be compiled ({type(exc).__name__}: {str(exc)[:100]})") from None
        return Template(source, compiled, False, self.limits)

    def expression(self, source: str) -> Expression:
        """Compile a Jinja2 expression such as `customer.segment == 'vip' and vars.tries|int < 3`."""
        if "{{" in source or "{%" in source:
            raise TemplateCompileError("write the condition without {{ }} (it is an expression)")
        self._check_names("{{ (" + source + ") }}", "expression")
        try:
            parser = Parser(self.env, source, state="variable")
            expr = parser.parse_expression()
            if not parser.stream.eos:
                raise jinja2.TemplateSyntaxError("chunk after expression", parser.stream.current.lineno)
            body = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)], lineno=1)
            body.set_environment(self.env)
            compiled = TemplateExpression(self.env.from_string(_Instrument().visit(body)), False)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateCompileError(f"expression syntax error: {exc.message}") from None
        except Exception as exc:
            raise TemplateCompileError(f"expression cannot be compiled ({type(exc).__name__}: {str(exc)[:100]})") from None
        return Expression(source, compiled, self.limits)
