"""The Flask blueprint: one view per operation of the route table (auth, scope, input checks, JSON errors)."""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from engine.api.auth import identify
from engine.api.errors import ApiError, from_store
from engine.api.openapi import document
from engine.api.operation import Call, Operation
from engine.api.table import OPERATIONS, PREFIX
from engine.api.validation import check, query_schema, query_values
from engine.store.errors import StoreError

log = logging.getLogger(__name__)
MAX_CSV_BYTES = 16 * 1024 * 1024
_YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}
_ROUTE_PARAM = re.compile(r"\{(\w+)\}")

api = Blueprint("api", __name__)
_document: dict[str, Any] = {}


def flask_rule(op: Operation) -> str:
    kinds = {p.name: p.schema.get("type") for p in op.params if p.where == "path"}
    return PREFIX + _ROUTE_PARAM.sub(lambda m: f"<int:{m[1]}>" if kinds.get(m[1]) == "integer" else f"<{m[1]}>",
                                     op.path)


def _error(error: ApiError) -> Response:
    response = jsonify(error.body())
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="jinqiao"'
    return response


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _body(op: Operation) -> tuple[Any, bytes, str]:
    if not op.accepts:
        return None, b"", ""
    if "text/csv" in op.accepts:
        request.max_content_length = MAX_CSV_BYTES
    kind = request.mimetype or ""
    if kind in _YAML_TYPES and "application/yaml" in op.accepts:
        kind = "application/yaml"
    raw = request.get_data(cache=False)
    if not raw and op.body_required:
        raise ApiError(400, "invalid", "a request body is required", "$")
    if kind not in op.accepts:
        raise ApiError(415, "unsupported_media_type", f"send {' or '.join(op.accepts)}, not {kind or 'nothing'}")
    if kind != "application/json":
        return None, raw, kind
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid", f"the body is not valid JSON: {str(exc)[:200]}", "$") from None
    if op.body is not None:
        check(op.body, data)
    return data, raw, kind


def _view(op: Operation) -> Any:
    path_params = [p for p in op.params if p.where == "path"]
    queries = query_schema([p.openapi() for p in op.params if p.where == "query"])

    def view(**path: Any) -> Any:
        services = current_app.extensions["jinqiao"]
        store = services.console.store
        now = dt.datetime.now(dt.timezone.utc)
        principal = None
        try:
            principal = identify(request.headers, g.get("user"), store, now)
            principal.require(op.scope)
            for param in path_params:
                check(param.schema, path[param.name], f"path.{param.name}", status=400)
            query = query_values(queries, request.args)
            body, raw, kind = _body(op)
            call = Call(principal, services, store, path, query, body, raw, kind, now,
                        current_app.config.get("JINQIAO_API", {}))
            result = op.handler(call)
        except ApiError as exc:
            if exc.status in (401, 403):
                log.info("API %s refused (%s) for %s", op.name, exc.status, principal.name if principal else "anonymous")
            return _error(exc)
        except StoreError as exc:
            return _error(from_store(exc))
        except HTTPException:
            raise
        except ValueError as exc:
            return _error(ApiError(422, "invalid", str(exc)[:300]))
        except Exception:
            log.exception("API %s failed", op.name)  # the path may hold a phone number: not logged
            return _error(ApiError(500, "internal", "the request failed inside the engine; see its log"))
        if isinstance(result, Response):
            return result
        status = op.status
        if isinstance(result, tuple):
            result, status = result
        if op.method != "GET":
            log.info("API %s by %s: %s", op.name, principal.name, status)
        response = jsonify(result)
        response.status_code = status
        return response

    view.__name__ = op.name
    return view


for _op in OPERATIONS:
    api.add_url_rule(flask_rule(_op), endpoint=_op.name, view_func=_view(_op), methods=[_op.method])


@api.get("/api/openapi.json")
def openapi_document() -> Any:
    if not _document:
        _document.update(document())
    return jsonify(_document)


@api.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> Any:
    """JSON errors for anything under /api/v1 (unknown route, wrong method, body too large)."""
    if not request.path.startswith(PREFIX + "/") and request.path != PREFIX:
        return error
    code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(error.code or 500, "error")
    return _error(ApiError(error.code or 500, code, error.description or code))
