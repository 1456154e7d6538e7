"""One API operation as data: method, path, scope, parameters, body and response schemas, and its handler."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.api.auth import Principal


@dataclass(frozen=True)
class Param:
    """A path or query parameter with its JSON Schema."""

    name: str
    where: str  # "path" | "query"
    schema: dict[str, Any]
    description: str = ""
    required: bool = False

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "in": self.where, "required": self.where == "path" or self.required,
                               "schema": self.schema}
        if self.schema.get("type") == "array":
            out.update(style="form", explode=True)
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class Call:
    """What a handler gets: the caller, the store, the web services, and the checked inputs."""

    principal: Principal
    services: Any  # engine.web.app.WebServices
    store: Any
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any
    raw: bytes
    content_type: str
    now: dt.datetime
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """A route of the API; the Flask rule and the OpenAPI entry are both made from this."""

    method: str
    path: str  # OpenAPI form under /api/v1, e.g. /customers/{customer_id}
    name: str  # operationId
    scope: str
    summary: str
    handler: Callable[[Call], Any]
    response: dict[str, Any] | None  # JSON Schema of the success body; None: a file download
    params: tuple[Param, ...] = ()
    body: dict[str, Any] | None = None  # JSON Schema of a JSON body
    body_types: tuple[str, ...] = ("application/json",)
    body_required: bool = True
    status: int = 200
    produces: str = "application/json"
    tag: str = ""
    errors: tuple[int, ...] = (400, 401, 403, 404, 409, 413, 415, 422)

    @property
    def accepts(self) -> tuple[str, ...]:
        """The media types of the request body (none for an operation without a body)."""
        return self.body_types if self.body is not None else ()
