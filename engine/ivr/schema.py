"""JSON Schema of flow files, generated from the node classes' field declarations (for editor completion)."""
from __future__ import annotations

from typing import Any

from engine.ivr.fields import CONDITION_FIELDS, IDENT, LANGUAGES, PROMPT_FIELDS, Field, Kind
from engine.ivr.flow import FLOW_FIELDS, NODE_ID
from engine.ivr.nodes import NODE_TYPES

SCHEMA_ID = "https://jinqiao.example/flow.schema.json"
_TEXT = {"type": ["string", "number"]}


def _localized(item: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [item, {"type": "object", "properties": {lang: item for lang in LANGUAGES},
                             "additionalProperties": False, "minProperties": 1}]}


def _object(fields: dict[str, Field]) -> dict[str, Any]:
    return {"type": "object", "properties": {name: field_schema(spec) for name, spec in fields.items()},
            "required": [name for name, spec in fields.items() if spec.required], "additionalProperties": False}


def field_schema(spec: Field) -> dict[str, Any]:
    """The JSON Schema of one declared field."""
    kind = spec.kind
    out: dict[str, Any]
    if kind in (Kind.STR, Kind.TEMPLATE):
        out = dict(_TEXT)
    elif kind in (Kind.INT, Kind.FLOAT):
        out = {"type": "integer" if kind is Kind.INT else "number"}
        if spec.minimum is not None:
            out["minimum"] = spec.minimum
        if spec.maximum is not None:
            out["maximum"] = spec.maximum
    elif kind is Kind.BOOL:
        out = {"type": "boolean"}
    elif kind is Kind.CHOICE:
        out = {"enum": list(spec.choices)}
    elif kind is Kind.IDENT:
        out = {"type": "string", "pattern": IDENT.pattern}
    elif kind in (Kind.NODE, Kind.FLOW, Kind.QUEUE, Kind.REGEX):
        out = {"type": "string", "minLength": 1}
    elif kind is Kind.NODE_MAP:
        out = {"type": "object", "propertyNames": {"pattern": "^[0-9*#]$"},
               "additionalProperties": {"type": "string"}, "minProperties": 1}
    elif kind is Kind.TEMPLATE_LIST:
        out = {"type": "array", "items": _TEXT}
    elif kind is Kind.TEXT:
        out = _localized(_TEXT)
    elif kind is Kind.AUDIO:
        out = _localized({"type": "string"})
    elif kind is Kind.PROMPT:
        prompt = _object(PROMPT_FIELDS)
        prompt["minProperties"] = 1
        out = {"anyOf": [_TEXT, prompt]}
    elif kind is Kind.EXPRESSION:
        out = {"type": ["string", "boolean", "number"]}
    elif kind is Kind.VALUE_MAP:
        out = {"type": "object", "propertyNames": {"pattern": IDENT.pattern},
               "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}
    elif kind is Kind.CONDITIONS:
        out = {"type": "array", "minItems": 1, "items": _object(CONDITION_FIELDS)}
    elif kind is Kind.WEEKLY:
        out = {"type": "object", "additionalProperties": {"anyOf": [{"type": "string"},
                                                                    {"type": "array", "items": {"type": "string"}}]}}
    elif kind is Kind.DATE_LIST:
        out = {"type": "array", "items": {"type": "string", "format": "date"}}
    else:  # pragma: no cover - every Kind is handled above
        raise ValueError(kind)
    out["description"] = spec.doc
    if spec.default not in (None, [], frozenset()):
        out["default"] = spec.default
    return out


def node_schema(type_name: str) -> dict[str, Any]:
    cls = NODE_TYPES[type_name]
    schema = _object(cls.all_fields())
    schema["properties"]["type"] = {"const": type_name, "description": cls.DOC}
    schema["description"] = cls.DOC
    return schema


def flow_schema() -> dict[str, Any]:
    """The whole flow-file schema (draft 2020-12)."""
    top = {name: spec for name, spec in FLOW_FIELDS.items() if name != "nodes"}
    schema = _object(top)
    schema["required"] = ["start", "nodes"]
    schema["properties"]["nodes"] = {
        "type": "object", "description": "Node id -> node.", "minProperties": 1,
        "propertyNames": {"pattern": NODE_ID.pattern},
        "additionalProperties": {"$ref": "#/$defs/node"},
    }
    defs: dict[str, Any] = {f"node_{name}": node_schema(name) for name in sorted(NODE_TYPES)}
    defs["node"] = {
        "type": "object", "required": ["type"],
        "properties": {"type": {"enum": sorted(NODE_TYPES)}},
        "allOf": [{"if": {"properties": {"type": {"const": name}}},
                   "then": {"$ref": f"#/$defs/node_{name}"}} for name in sorted(NODE_TYPES)],
    }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "Jinqiao IVR flow", **schema, "$defs": defs}


def _kind_text(spec: Field) -> str:
    if spec.kind is Kind.CHOICE:
        return " \\| ".join(f"`{c}`" for c in spec.choices)
    return {Kind.NODE: "node id", Kind.NODE_MAP: "key → node id", Kind.TEMPLATE: "template",
            Kind.TEMPLATE_LIST: "list of templates", Kind.TEXT: "text (template) or {zh, en}",
            Kind.PROMPT: "prompt", Kind.EXPRESSION: "expression", Kind.VALUE_MAP: "name → value",
            Kind.CONDITIONS: "list of {if, next}", Kind.WEEKLY: "day range → intervals",
            Kind.DATE_LIST: "list of dates", Kind.REGEX: "regex", Kind.FLOW: "flow name",
            Kind.QUEUE: "queue name", Kind.AUDIO: "audio file or {zh, en}", Kind.IDENT: "variable name",
            }.get(spec.kind, spec.kind.value)


def node_reference_markdown() -> str:
    """The node reference section of docs/flows.md, generated from the node classes."""
    lines = []
    for name in sorted(NODE_TYPES):
        cls = NODE_TYPES[name]
        lines += [f"### `{name}`", "", cls.DOC, "",
                  "| field | type | required / default | meaning |", "|---|---|---|---|"]
        for field_name, spec in cls.FIELDS.items():
            need = "required" if spec.required else ("" if spec.default in (None, [], frozenset()) else
                                                      f"default `{spec.default}`")
            lines.append(f"| `{field_name}` | {_kind_text(spec)} | {need} | {spec.doc} |")
        lines.append("")
    return "\n".join(lines)
