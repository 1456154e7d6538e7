"""Typed field declarations for flow nodes and the parser that checks YAML values against them.

How it works: every node class declares `FIELDS: dict[str, Field]`. `FieldParser.parse_fields` checks a
node's YAML mapping against those declarations, converts values (templates compiled, prompts built,
regexes compiled, ...) and appends every problem as a located `SourceError` instead of stopping at the
first. References to other nodes, flows and queues are collected as `Ref`s so the flow loader can check
them once all nodes are known. The JSON Schema for editors is generated from the same declarations.
"""
from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.ivr.templates import Expression, Template, TemplateCompileError, TemplateEngine
from engine.yamlsrc import LocatedYaml, PathKey, SourceError, dotted

LANGUAGES = ("zh", "en")
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
DTMF_KEY = re.compile(r"^[0-9*#]$")


class Kind(enum.Enum):
    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    IDENT = "ident"  # a variable name
    NODE = "node"  # id of a node in this flow
    NODE_MAP = "node_map"  # DTMF key -> node id (menu options)
    TEMPLATE = "template"
    TEMPLATE_LIST = "template_list"
    TEXT = "text"  # template, or {language: template}
    PROMPT = "prompt"
    EXPRESSION = "expression"
    VALUE_MAP = "value_map"  # variable name -> template or literal (set)
    CONDITIONS = "conditions"  # [{if: expression, next: node}]
    WEEKLY = "weekly"  # {"mon-fri": "09:00-18:00" | [..]}
    DATE_LIST = "date_list"
    REGEX = "regex"
    FLOW = "flow"  # name of another flow
    QUEUE = "queue"  # name of an ACD queue
    AUDIO = "audio"  # audio file path, relative to the flow file


@dataclass(frozen=True)
class Field:
    """One allowed key of a node: its kind, whether it is required, its default and its documentation."""

    kind: Kind
    doc: str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Ref:
    """A reference from a node to another node, flow or queue, with its source location."""

    kind: Kind
    target: str
    path: PathKey
    from_node: str


@dataclass(frozen=True)
class LocalText:
    """Text in one or more languages: {language: Template}; "*" is the any-language text."""

    texts: dict[str, Template]

    def pick(self, language: str) -> Template:
        return self.texts.get(language) or self.texts.get("*") or next(iter(self.texts.values()))


@dataclass(frozen=True)
class Prompt:
    """Something to play: an audio file (per language) or TTS text (per language)."""

    tts: LocalText | None = None
    files: dict[str, str] | None = None  # language or "*" -> absolute path
    language: str | None = None

    def file_for(self, language: str) -> str | None:
        if not self.files:
            return None
        return self.files.get(language) or self.files.get("*") or next(iter(self.files.values()))


@dataclass
class FieldParser:
    """Checks node fields of one flow file; collects errors and references."""

    source: LocatedYaml
    templates: TemplateEngine
    base_dir: Path
    errors: list[SourceError] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    current_node: str = ""

    graph_incomplete: bool = False  # a node reference is missing or broken: skip the reachability check

    def error(self, path: PathKey, message: str, field_name: str | None = None) -> None:
        err = self.source.error(path, message)
        if field_name is not None:
            err = SourceError(err.file, err.line, err.column, field_name, message)
        self.errors.append(err)

    def parse_fields(self, data: dict, fields: dict[str, Field], path: PathKey,
                     ignore: tuple[str, ...] = ()) -> dict[str, Any]:
        """Check a mapping against `fields`; return converted values (defaults filled in)."""
        values: dict[str, Any] = {}
        for key in data:
            if key not in fields and key not in ignore:
                self.error(path + (key,), f"unknown field (known: {', '.join(sorted(fields))})")
        for name, spec in fields.items():
            if name in data and data[name] is not None:
                values[name] = self.parse_value(data[name], spec, path + (name,))
            elif spec.required:
                self.error(path, f"missing required field '{name}'")
                if spec.kind in (Kind.NODE, Kind.NODE_MAP, Kind.CONDITIONS):
                    self.graph_incomplete = True
                values[name] = None
            else:
                values[name] = spec.default
        return values

    def parse_value(self, value: Any, spec: Field, path: PathKey) -> Any:
        method = getattr(self, "_" + spec.kind.value)
        return method(value, spec, path)

    # -- scalars ---------------------------------------------------------------------------------------
    def _str(self, value: Any, spec: Field, path: PathKey) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.error(path, f"expected text, got {type(value).__name__}")
            return None
        return str(value)

    def _number(self, value: Any, spec: Field, path: PathKey, kind: type) -> Any:
        ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
        if not ok:
            self.error(path, f"expected {'a number' if kind is float else 'a whole number'}, got {value!r}")
            return spec.default
        if spec.minimum is not None and value < spec.minimum:
            self.error(path, f"must be at least {spec.minimum:g}, got {value}")
        if spec.maximum is not None and value > spec.maximum:
            self.error(path, f"must be at most {spec.maximum:g}, got {value}")
        return kind(value)

    def _int(self, value: Any, spec: Field, path: PathKey) -> Any:
        return self._number(value, spec, path, int)

    def _float(self, value: Any, spec: Field, path: PathKey) -> Any:
        return self._number(value, spec, path, float)

    def _bool(self, value: Any, spec: Field, path: PathKey) -> bool:
        if not isinstance(value, bool):
            self.error(path, f"expected true or false, got {value!r}")
            return bool(spec.default)
        return value

    def _choice(self, value: Any, spec: Field, path: PathKey) -> Any:
        if value not in spec.choices:
            self.error(path, f"must be one of {', '.join(map(str, spec.choices))}, got {value!r}")
            return spec.default
        return value

    def _ident(self, value: Any, spec: Field, path: PathKey) -> str | None:
        if not isinstance(value, str) or not IDENT.fullmatch(value):
            self.error(path, f"expected a variable name (letters, digits, _), got {value!r}")
            return None
        return value

    def _regex(self, value: Any, spec: Field, path: PathKey) -> re.Pattern | None:
        text = self._str(value, spec, path)
        if text is None:
            return None
        try:
            return re.compile(text)
        except re.error as exc:
            self.error(path, f"invalid regular expression: {exc}")
            return None

    # -- references ------------------------------------------------------------------------------------
    def _ref(self, value: Any, kind: Kind, path: PathKey) -> str | None:
        if not isinstance(value, str) or not value:
            self.error(path, f"expected the name of a {kind.value}, got {value!r}")
            return None
        self.refs.append(Ref(kind, value, path, self.current_node))
        return value

    def _node(self, value: Any, spec: Field, path: PathKey) -> str | None:
        return self._ref(value, Kind.NODE, path)

    def _flow(self, value: Any, spec: Field, path: PathKey) -> str | None:
        return self._ref(value, Kind.FLOW, path)

    def _queue(self, value: Any, spec: Field, path: PathKey) -> str | None:
        return self._ref(value, Kind.QUEUE, path)

    def _node_map(self, value: Any, spec: Field, path: PathKey) -> dict[str, str]:
        if not isinstance(value, dict) or not value:
            self.error(path, "expected a mapping of keys (0-9, *, #) to node ids")
            return {}
        out: dict[str, str] = {}
        for key, target in value.items():
            digit = str(key)
            if not DTMF_KEY.fullmatch(digit):
                self.error(path + (key,), f"menu key must be one of 0-9, * or # (quote * and #), got {key!r}",
                           field_name=f"{dotted(path)}.{digit}")
                continue
            ref = self._ref(target, Kind.NODE, path + (key,))
            if ref:
                out[digit] = ref
        return out

    # -- templates -------------------------------------------------------------------------------------
    def _template(self, value: Any, spec: Field, path: PathKey) -> Template | None:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.error(path, f"expected text, got {type(value).__name__}")
            return None
        try:
            return self.templates.template(str(value))
        except TemplateCompileError as exc:
            self.error(path, str(exc))
            return None

    def _template_list(self, value: Any, spec: Field, path: PathKey) -> list[Template]:
        if not isinstance(value, list):
            self.error(path, "expected a list")
            return []
        out = [self._template(item, spec, path + (i,)) for i, item in enumerate(value)]
        return [t for t in out if t is not None]

    def _text(self, value: Any, spec: Field, path: PathKey) -> LocalText | None:
        if isinstance(value, dict):
            texts: dict[str, Template] = {}
            for lang, text in value.items():
                if lang not in LANGUAGES:
                    self.error(path + (lang,), f"unknown language (known: {', '.join(LANGUAGES)})")
                    continue
                compiled = self._template(text, spec, path + (lang,))
                if compiled is not None:
                    texts[lang] = compiled
            return LocalText(texts) if texts else None
        compiled = self._template(value, spec, path)
        return LocalText({"*": compiled}) if compiled is not None else None

    def _expression(self, value: Any, spec: Field, path: PathKey) -> Expression | None:
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, (str, int, float)):
            self.error(path, f"expected an expression, got {type(value).__name__}")
            return None
        try:
            return self.templates.expression(str(value))
        except TemplateCompileError as exc:
            self.error(path, str(exc))
            return None

    def _audio(self, value: Any, spec: Field, path: PathKey) -> dict[str, str] | None:
        items = value.items() if isinstance(value, dict) else [("*", value)]
        files: dict[str, str] = {}
        for lang, name in items:
            where = path + (lang,) if isinstance(value, dict) else path
            if lang != "*" and lang not in LANGUAGES:
                self.error(where, f"unknown language (known: {', '.join(LANGUAGES)})")
                continue
            if not isinstance(name, str) or not name:
                self.error(where, f"expected an audio file path, got {name!r}")
                continue
            if "{" in name or "://" in name:
                self.error(where, "audio file must be a plain path (no templates, no FreeSWITCH URLs)")
                continue
            resolved = (self.base_dir / name).resolve()
            if not resolved.is_file():
                self.error(where, f"audio file not found: {resolved}")
            files[lang] = str(resolved)
        return files or None

    def _prompt(self, value: Any, spec: Field, path: PathKey) -> Prompt | None:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = self._text(value, spec, path)
            return Prompt(tts=text) if text else None
        if not isinstance(value, dict):
            self.error(path, "expected TTS text or a mapping with 'tts' or 'file'")
            return None
        parts = self.parse_fields(value, PROMPT_FIELDS, path)
        if (parts["tts"] is None) == (parts["file"] is None):
            if "tts" in value and "file" in value:
                self.error(path, "a prompt has either 'tts' or 'file', not both")
            elif "tts" not in value and "file" not in value:
                self.error(path, "a prompt needs 'tts' or 'file'")
            return None
        return Prompt(tts=parts["tts"], files=parts["file"], language=parts["language"])

    # -- structured ------------------------------------------------------------------------------------
    def _value_map(self, value: Any, spec: Field, path: PathKey) -> dict[str, Any]:
        if not isinstance(value, dict) or not value:
            self.error(path, "expected a mapping of variable names to values")
            return {}
        out: dict[str, Any] = {}
        for name, item in value.items():
            if self._ident(name, spec, path + (name,)) is None:
                continue
            if isinstance(item, str):
                out[name] = self._template(item, spec, path + (name,))
            elif item is None or isinstance(item, (bool, int, float)):
                out[name] = item
            else:
                self.error(path + (name,), f"expected text, a number or true/false, got {type(item).__name__}")
        return out

    def _conditions(self, value: Any, spec: Field, path: PathKey) -> list[tuple[Expression | None, str | None]]:
        if not isinstance(value, list) or not value:
            self.error(path, "expected a list of {if: <expression>, next: <node>}")
            return []
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                self.error(path + (i,), "expected a mapping with 'if' and 'next'")
                continue
            parts = self.parse_fields(item, CONDITION_FIELDS, path + (i,))
            out.append((parts["if"], parts["next"]))
        return out

    def _weekly(self, value: Any, spec: Field, path: PathKey) -> Any:
        from engine.ivr.hours import parse_weekly

        if not isinstance(value, dict) or not value:
            self.error(path, "expected a mapping like {mon-fri: '09:00-18:00', sat: ['10:00-12:00']}")
            return None
        week, problems = parse_weekly(value)
        for key, message in problems:
            self.error(path + (key,), message)
        return week

    def _date_list(self, value: Any, spec: Field, path: PathKey) -> frozenset[dt.date]:
        if not isinstance(value, list):
            self.error(path, "expected a list of dates (YYYY-MM-DD)")
            return frozenset()
        out = set()
        for i, item in enumerate(value):
            if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
                out.add(item)
                continue
            try:
                out.add(dt.date.fromisoformat(str(item)))
            except ValueError:
                self.error(path + (i,), f"expected a date YYYY-MM-DD, got {item!r}")
        return frozenset(out)


PROMPT_FIELDS = {
    "tts": Field(Kind.TEXT, "Text to speak (a template), or {zh: ..., en: ...}."),
    "file": Field(Kind.AUDIO, "Audio file (relative to the flow file), or {zh: ..., en: ...}."),
    "language": Field(Kind.CHOICE, "Speak in this language instead of the call's.", choices=LANGUAGES),
}

CONDITION_FIELDS = {
    "if": Field(Kind.EXPRESSION, "Condition over customer, call, vars, now.", required=True),
    "next": Field(Kind.NODE, "Node to go to when the condition holds.", required=True),
}
