"""API resources: callbacks (list, create) and the do-not-call lists (add, remove, check)."""
from __future__ import annotations

from typing import Any

from engine.api import schemas as s
from engine.api.errors import ApiError, from_store
from engine.api.operation import Call, Operation, Param
from engine.api.times import parse_when
from engine.store.errors import InvalidPhoneNumber, StoreError
from engine.store.repos.callbacks import CallbackRepository
from engine.store.repos.dnc import DncRepository

NUMBER = Param("number", "path", s.PHONE)


def callbacks(call: Call) -> Any:
    rows = CallbackRepository(call.store).list(call.query.get("status", "open"), call.query.get("limit", 50))
    return {"items": [s.plain(c) for c in rows]}


def add_callback(call: Call) -> Any:
    body = call.body
    due = parse_when(body["due_at"], call.services.console.zone, "$.due_at")
    try:
        made = CallbackRepository(call.store).request(body["number"], body.get("reason") or "api", due, "api",
                                                      customer_id=body.get("customer_id"),
                                                      interaction_id=body.get("interaction_id"), now=call.now)
    except InvalidPhoneNumber as exc:
        raise ApiError(422, "invalid", str(exc), "$.number") from None
    except StoreError as exc:
        raise from_store(exc) from None
    return s.plain(made), 201


def add_dnc(call: Call) -> Any:
    body = call.body
    expires = parse_when(body["expires_at"], call.services.console.zone, "$.expires_at") if "expires_at" in body else None
    if expires is not None and expires <= call.now:
        raise ApiError(422, "invalid", "must be in the future", "$.expires_at")
    try:
        entry = DncRepository(call.store).add(body["number"], body.get("list", "black"), body.get("reason", ""),
                                              source="api", expires_at=expires, now=call.now)
    except InvalidPhoneNumber as exc:
        raise ApiError(422, "invalid", str(exc), "$.number") from None
    return s.plain(entry), 201


def remove_dnc(call: Call) -> Any:
    return {"deleted": DncRepository(call.store).remove(call.path["number"])}


def check_dnc(call: Call) -> Any:
    entry = DncRepository(call.store).is_blocked(call.path["number"], call.now)
    return {"number": call.path["number"], "blocked": entry is not None,
            "entry": s.plain(entry) if entry is not None else None}


OPERATIONS = (
    Operation("GET", "/callbacks", "listCallbacks", "callbacks:read", "Callbacks by due time.", callbacks,
              s.obj({"items": {"type": "array", "items": s.CALLBACK}}, ("items",), closed=False), params=(
                  Param("status", "query", {"type": "string", "enum": ["open", "done", "cancelled", "failed"]}),
                  Param("limit", "query", s.LIMIT)), tag="callbacks"),
    Operation("POST", "/callbacks", "createCallback", "callbacks:write",
              "Ask for a callback (a second request for the same number and day merges into the first).",
              add_callback, s.CALLBACK, body=s.CALLBACK_CREATE, status=201, tag="callbacks"),
    Operation("POST", "/dnc", "addDnc", "dnc:write", "Put a number on the black (never call) or grey list.",
              add_dnc, s.DNC_ENTRY, body=s.DNC_CREATE, status=201, tag="dnc"),
    Operation("GET", "/dnc/{number}", "checkDnc", "dnc:read", "Whether a number may be called now, and why not.",
              check_dnc, s.DNC_CHECK, params=(NUMBER,), tag="dnc"),
    Operation("DELETE", "/dnc/{number}", "removeDnc", "dnc:write", "Take a number off the lists.", remove_dnc,
              s.DELETED, params=(NUMBER,), tag="dnc"),
)
