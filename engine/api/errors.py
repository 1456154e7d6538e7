"""API errors: one JSON shape `{"error": code, "message": text, "field": where}` and the status each error gets."""
from __future__ import annotations

from typing import Any

from engine.store.errors import InvalidPhoneNumber, NotFound, StoreConflict, StoreError, StoreUnavailable


class ApiError(Exception):
    """An error answered as JSON with `status`; `field` is a JSON path (`$.phones[0]`) or `query.NAME`."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        return out


def from_store(exc: StoreError, field: str | None = None) -> ApiError:
    """The API error for a store error: 404 not found, 422 bad number, 503 database down, else 409."""
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", str(exc), field)
    if isinstance(exc, InvalidPhoneNumber):
        return ApiError(422, "invalid", str(exc), field)
    if isinstance(exc, StoreUnavailable):
        return ApiError(503, "unavailable", "the database is not available; try again")
    if isinstance(exc, StoreConflict):
        return ApiError(409, "conflict", str(exc), field)
    return ApiError(409, "conflict", str(exc), field)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what}")
