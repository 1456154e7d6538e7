"""The OpenAPI 3.1 document, built from the route table (the same schemas the API validates with)."""
from __future__ import annotations

from typing import Any

from engine import __version__
from engine.api import schemas as s
from engine.api.auth import SCOPES
from engine.api.operation import Operation
from engine.api.table import OPERATIONS, PREFIX

_REASONS = {400: "Bad request: a malformed body or query parameter (the field is named).",
            401: "No credentials, or an unknown, expired or revoked token.",
            403: "The token lacks the scope, the role may not do this, or the CSRF token is missing (sessions).",
            404: "No such resource (also another agent's call or recording, for an agent).",
            409: "The change conflicts with what is stored.", 413: "The body is too large.",
            415: "The body's media type is not accepted.", 422: "The body is well-formed but a field is invalid.",
            503: "The database is not available."}


def _operation(op: Operation) -> dict[str, Any]:
    if op.response is None:
        success = {"description": "The file.", "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                           for t in (op.produces, "application/octet-stream")}}
    else:
        success = {"description": "OK", "content": {op.produces: {"schema": op.response}}}
    responses: dict[str, Any] = {str(op.status): success}
    for status in sorted({*op.errors, 401, 403, 503}):
        responses[str(status)] = {"description": _REASONS[status], "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    entry: dict[str, Any] = {
        "operationId": op.name, "summary": op.summary, "tags": [op.tag] if op.tag else [],
        "security": [{"bearer": [op.scope]}, {"session": []}], "x-scope": op.scope,
        "parameters": [p.openapi() for p in op.params], "responses": responses,
    }
    if op.accepts:
        entry["requestBody"] = {"required": op.body_required, "content": {
            kind: {"schema": op.body if kind == "application/json" else {"type": "string"}} for kind in op.accepts}}
    return entry


def document(operations: tuple[Operation, ...] = OPERATIONS) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Jinqiao call-center API", "version": __version__,
                 "description": "JSON over HTTP; see docs/api.md. Errors: {error, message, field}."},
        "paths": paths,
        "components": {
            "schemas": {"Error": s.ERROR},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An integration token from `jinqiao tokens create`. Scopes: "
                                          + ", ".join(SCOPES)},
                "session": {"type": "apiKey", "in": "cookie", "name": "jq_session",
                            "description": "A signed-in console session; state-changing calls need X-CSRF-Token."},
            },
        },
    }
