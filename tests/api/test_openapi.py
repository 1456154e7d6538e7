"""The OpenAPI 3.1 document matches the Flask routes under /api/v1 exactly, and is a valid document."""
from __future__ import annotations

import re

from jsonschema import Draft202012Validator


def _flask_routes(app) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            out.update((method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"})
    return out


def test_every_route_is_documented_and_every_documented_route_exists(sqlite_api):
    document = sqlite_api.client().get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    routes = _flask_routes(sqlite_api.app)
    assert routes, "no API routes registered"
    assert routes == documented


def test_schemas_are_valid_json_schema_and_every_operation_names_its_scope(sqlite_api):
    document = sqlite_api.client().get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["x-scope"] in operation["security"][0]["bearer"], (method, path)
            for param in operation["parameters"]:
                Draft202012Validator.check_schema(param["schema"])
            for media in operation.get("requestBody", {}).get("content", {}).values():
                Draft202012Validator.check_schema(media["schema"])
            for response in operation["responses"].values():
                for media in response.get("content", {}).values():
                    Draft202012Validator.check_schema(media["schema"])
