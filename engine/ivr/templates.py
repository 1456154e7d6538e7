"""Prompt templates and branch conditions: Jinja2 in a sandbox, strict about missing variables.

How it works: one `TemplateEngine` per flow registry holds a `SandboxedEnvironment` with
`StrictUndefined`; templates and expressions are compiled when a flow is loaded (so syntax errors and
unknown names are load-time errors) and rendered per call over `customer`, `call`, `vars`, `language`
and `now`. Rendering never evaluates caller data as a template: caller numbers and digits are only ever
values in the context. Filters `number`, `money`, `date`, `digits` give spoken forms via `tts.spoken` in
the call's language.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

CONTEXT_NAMES = frozenset({"customer", "call", "vars", "language", "now"})
MAX_RENDERED_CHARS = 2000


class TemplateRenderError(Exception):
    """A template could not be rendered for this call (missing variable, bad value, sandbox refusal)."""


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


def _make_env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                               keep_trailing_newline=False)
    for kind in ("number", "money", "date", "digits"):
        env.filters[kind] = _spoken(kind)
    env.filters["localtime"] = localtime
    return env


@dataclass(frozen=True)
class Template:
    """A compiled prompt/value template; `source` is the text as written in the flow."""

    source: str
    _compiled: jinja2.Template
    is_static: bool

    def render(self, context: Mapping[str, Any]) -> str:
        if self.is_static:
            return self.source
        try:
            out = self._compiled.render(**context)
        except jinja2.UndefinedError as exc:
            raise TemplateRenderError(f"missing value: {exc.message}") from None
        except jinja2.TemplateError as exc:  # includes sandbox SecurityError
            raise TemplateRenderError(str(exc)) from None
        except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
            raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from None
        return out[:MAX_RENDERED_CHARS]


@dataclass(frozen=True)
class Expression:
    """A compiled boolean/value expression (branch conditions)."""

    source: str
    _compiled: Callable[..., Any]

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        try:
            return self._compiled(**context)
        except jinja2.UndefinedError as exc:
            raise TemplateRenderError(f"missing value: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise TemplateRenderError(str(exc)) from None
        except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
            raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from None


class TemplateEngine:
    """Compiles flow templates and expressions in one sandboxed Jinja2 environment."""

    def __init__(self) -> None:
        self.env = _make_env()

    def _check_names(self, source: str, what: str = "template") -> None:
        try:
            ast = self.env.parse(source)
            names = meta.find_undeclared_variables(ast)  # compiles: also catches unknown filters/tests
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateCompileError(f"{what} syntax error: {exc.message}", exc.lineno or 1) from None
        unknown = sorted(names - CONTEXT_NAMES)
        if unknown:
            raise TemplateCompileError(
                f"unknown name {', '.join(unknown)} ({what}s can use: {', '.join(sorted(CONTEXT_NAMES))})")

    def template(self, source: str) -> Template:
        """Compile `source`; raise TemplateCompileError for syntax errors, unknown filters or names."""
        if "{" not in source:
            return Template(source, None, True)  # type: ignore[arg-type]
        self._check_names(source)
        try:
            compiled = self.env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateCompileError(f"template syntax error: {exc.message}", exc.lineno or 1) from None
        return Template(source, compiled, False)

    def expression(self, source: str) -> Expression:
        """Compile a Jinja2 expression such as `customer.segment == 'vip' and vars.tries|int < 3`."""
        if "{{" in source or "{%" in source:
            raise TemplateCompileError("write the condition without {{ }} (it is an expression)")
        self._check_names("{{ (" + source + ") }}", "expression")
        try:
            compiled = self.env.compile_expression(source, undefined_to_none=False)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateCompileError(f"expression syntax error: {exc.message}") from None
        return Expression(source, compiled)
