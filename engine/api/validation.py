"""Check request bodies and query parameters against the operation's JSON Schemas; errors name the field."""
from __future__ import annotations

import re
from typing import Any, Iterable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from engine.api.errors import ApiError

_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_INTEGER = re.compile(r"^-?[0-9]{1,15}\Z")
_NUMBER = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,15})?\Z")
_VALIDATORS: dict[int, Draft202012Validator] = {}


def json_path(parts: Iterable[Any], root: str = "$") -> str:
    out = root
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    key = id(schema)
    if key not in _VALIDATORS:
        Draft202012Validator.check_schema(schema)
        _VALIDATORS[key] = Draft202012Validator(schema)
    return _VALIDATORS[key]


def _located(error: ValidationError, root: str) -> tuple[str, str]:
    """(field path, message) of a schema error; unknown and missing properties are named themselves."""
    path = list(error.absolute_path)
    instance, schema = error.instance, error.schema
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in known)
        if extra:
            return json_path([*path, extra[0]], root), f"unknown field (known: {', '.join(sorted(known)) or 'none'})"
    if error.validator == "required" and isinstance(instance, dict):
        missing = [k for k in schema.get("required", []) if k not in instance]
        if missing:
            return json_path([*path, missing[0]], root), "required field missing"
    message = error.message if len(error.message) <= 300 else error.message[:300] + "..."
    return json_path(path, root), message


def check(schema: dict[str, Any], value: Any, root: str = "$", status: int = 422) -> None:
    """Raise ApiError naming the first field that breaks `schema`, or holding control characters."""
    errors = sorted(_validator(schema).iter_errors(value), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        where, message = _located(errors[0], root)
        raise ApiError(status, "invalid", message, where)
    bad = _unsafe_text(value, [])
    if bad is not None:
        raise ApiError(status, "invalid", "control characters or lone surrogates are not allowed", json_path(bad, root))


def _unsafe_text(value: Any, path: list[Any]) -> list[Any] | None:
    if isinstance(value, str):
        return path if _UNSAFE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _unsafe_text(key, [*path, key]) if isinstance(key, str) else None
            found = found or _unsafe_text(item, [*path, key])
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _unsafe_text(item, [*path, index])
            if found is not None:
                return found
    return None


def query_schema(params: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON Schema of an operation's query parameters (OpenAPI parameter objects) as one object."""
    return {"type": "object", "properties": {p["name"]: p["schema"] for p in params},
            "required": [p["name"] for p in params if p.get("required")], "additionalProperties": False}


def query_values(schema: dict[str, Any], args: Any) -> dict[str, Any]:
    """Query parameters converted by their schema type, then checked (unknown ones refused with 400)."""
    known = schema["properties"]
    for name in args:
        if name not in known:
            raise ApiError(400, "invalid", f"unknown query parameter (known: {', '.join(sorted(known)) or 'none'})",
                           f"query.{name}")
    values: dict[str, Any] = {}
    for name, param in known.items():
        if name not in args:
            continue
        if param.get("type") == "array":
            values[name] = [_convert(name, param["items"], v) for v in args.getlist(name)]
            continue
        raw = args.getlist(name)
        if len(raw) > 1:
            raise ApiError(400, "invalid", "given more than once", f"query.{name}")
        values[name] = _convert(name, param, raw[0])
    check(schema, values, "query", status=400)
    return values


def _convert(name: str, schema: dict[str, Any], raw: str) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        if not _INTEGER.match(raw):
            raise ApiError(400, "invalid", f"expected a whole number, got {raw[:40]!r}", f"query.{name}")
        return int(raw)
    if kind == "number":
        if not _NUMBER.match(raw):
            raise ApiError(400, "invalid", f"expected a number, got {raw[:40]!r}", f"query.{name}")
        return float(raw)
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise ApiError(400, "invalid", f"expected true or false, got {raw[:40]!r}", f"query.{name}")
        return raw == "true"
    return raw
