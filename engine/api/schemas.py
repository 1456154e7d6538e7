"""JSON Schemas of request bodies, parameters and responses, written once: used to validate and in OpenAPI."""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

SAFE_TEXT = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"
MAX_ID = 2 ** 31 - 1


def text(limit: int, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "maxLength": limit, "pattern": SAFE_TEXT, **extra}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), closed: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    return out


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    return obj({"items": {"type": "array", "items": item}, "limit": {"type": "integer"},
                "offset": {"type": "integer"}}, ("items", "limit", "offset"), closed=False)


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
TIME = {"type": "string", "format": "date-time"}
OPT_TIME = {"type": ["string", "null"], "format": "date-time"}
OPT_TEXT = {"type": ["string", "null"]}
PHONE = text(40, minLength=1)
LIMIT = {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
OFFSET = {"type": "integer", "minimum": 0, "maximum": 100_000, "default": 0}
WHEN = text(40, minLength=1, description="A date (2026-11-25, a whole day in the center's time zone) or an "
                                          "ISO 8601 time; without an offset it is center time.")
SEGMENTS = ["prospect", "new", "loyal", "vip"]
ERROR = obj({"error": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}},
            ("error", "message"), closed=False)

_CUSTOMER_FIELDS: dict[str, Any] = {
    "name": text(200), "segment": {"type": "string", "enum": SEGMENTS},
    "value_tier": nullable({"type": "integer", "minimum": 0, "maximum": 9}),
    "arpu": nullable({"type": "number", "minimum": 0, "maximum": 1e12}),
    "tags": {"type": "array", "items": text(64, minLength=1), "maxItems": 50},
    "language": text(16), "timezone": text(64), "account_no": text(64), "owner_agent_id": text(32),
    "marketing_consent": {"type": ["boolean", "null"]}, "do_not_disturb": {"type": "boolean"},
    "attributes": {"type": "object", "maxProperties": 50},
}
PHONES = {"type": "array", "items": PHONE, "minItems": 1, "maxItems": 10}
CUSTOMER_CREATE = obj({"phones": PHONES, **_CUSTOMER_FIELDS}, ("phones",))
CUSTOMER_UPDATE = obj({"phones": {**PHONES, "description": "numbers to add"}, **_CUSTOMER_FIELDS})
CUSTOMER = obj({
    "id": {"type": "integer"}, "name": {"type": "string"}, "phones": {"type": "array", "items": {"type": "string"}},
    "segment": {"type": "string", "enum": SEGMENTS}, "value_tier": {"type": ["integer", "null"]},
    "arpu": {"type": ["number", "null"]}, "tags": {"type": "array", "items": {"type": "string"}},
    "language": OPT_TEXT, "timezone": OPT_TEXT, "account_no": OPT_TEXT, "owner_agent_id": OPT_TEXT,
    "last_agent_id": OPT_TEXT, "last_contact_at": OPT_TIME, "marketing_consent": {"type": ["boolean", "null"]},
    "do_not_disturb": {"type": "boolean"}, "attributes": {"type": "object"},
}, ("id", "name", "phones", "segment"), closed=False)

INTERACTION = obj({
    "id": {"type": "integer"}, "direction": {"type": "string", "enum": ["inbound", "outbound"]},
    "arrived_at": TIME, "call_id": OPT_TEXT, "caller": OPT_TEXT, "callee": OPT_TEXT, "did": OPT_TEXT,
    "customer_id": {"type": ["integer", "null"]}, "campaign_id": {"type": ["integer", "null"]}, "queue": OPT_TEXT,
    "agent_id": OPT_TEXT, "ivr_flow": OPT_TEXT, "ivr_path": {"type": "array"}, "ivr_digits": {"type": "array"},
    "ivr_outcome": OPT_TEXT, "queue_entered_at": OPT_TIME, "offered_at": OPT_TIME, "answered_at": OPT_TIME,
    "bridged_at": OPT_TIME, "hangup_at": OPT_TIME, "wrap_up_until": OPT_TIME,
    "wait_seconds": {"type": ["number", "null"]}, "talk_seconds": {"type": ["number", "null"]},
    "hangup_cause": OPT_TEXT, "sip_status": {"type": ["integer", "null"]}, "disposition_code": OPT_TEXT,
    "abandoned": {"type": "boolean"}, "notes": OPT_TEXT,
}, ("id", "direction", "arrived_at", "abandoned"), closed=False)

RECORDING = obj({"id": {"type": "integer"}, "interaction_id": {"type": ["integer", "null"]},
                 "duration": {"type": "number"}, "size_bytes": {"type": "integer"}, "sha256": {"type": "string"},
                 "created_at": TIME, "download": {"type": "string"}},
                ("id", "duration", "size_bytes", "sha256", "created_at", "download"), closed=False)

AGENT = obj({"id": {"type": "string"}, "name": {"type": "string"}, "extension": OPT_TEXT, "team": OPT_TEXT,
             "active": {"type": "boolean"}, "skills": {"type": "object", "additionalProperties": {"type": "integer"}},
             "state": {"type": "string"}, "reason": OPT_TEXT, "registered": {"type": ["boolean", "null"]},
             "call_id": OPT_TEXT, "queues": {"type": "array", "items": {"type": "string"}},
             "seconds_in_state": {"type": ["integer", "null"]}},
            ("id", "name", "state", "queues"), closed=False)
QUEUE = obj({"name": {"type": "string"}, "waiting": {"type": "integer"}, "longest_wait": {"type": ["number", "null"]},
             "service_level": {"type": ["number", "null"]}, "abandon_rate": {"type": ["number", "null"]},
             "answered": {"type": "integer"}, "abandoned": {"type": "integer"},
             "agents": {"type": "object", "additionalProperties": {"type": "integer"}}},
            ("name", "waiting", "agents"), closed=False)

CALLBACK_CREATE = obj({"number": PHONE, "due_at": text(40, minLength=1), "reason": text(200),
                       "customer_id": ID, "interaction_id": ID}, ("number", "due_at"))
CALLBACK = obj({"id": {"type": "integer"}, "number": {"type": "string"}, "day": {"type": "string", "format": "date"},
                "due_at": TIME, "status": {"type": "string", "enum": ["open", "done", "cancelled", "failed"]},
                "reason": {"type": "string"}, "source": {"type": "string"}, "requests": {"type": "integer"},
                "attempts": {"type": "integer"}, "customer_id": {"type": ["integer", "null"]},
                "interaction_id": {"type": ["integer", "null"]}, "agent_id": OPT_TEXT},
               ("id", "number", "due_at", "status"), closed=False)

DNC_CREATE = obj({"number": PHONE, "list": {"type": "string", "enum": ["black", "grey"], "default": "black"},
                  "reason": text(200), "expires_at": text(40, minLength=1)}, ("number",))
DNC_ENTRY = obj({"number": {"type": "string"}, "list_kind": {"type": "string", "enum": ["black", "grey"]},
                 "reason": {"type": "string"}, "source": {"type": "string"}, "created_at": TIME,
                 "expires_at": OPT_TIME}, ("number", "list_kind"), closed=False)
DNC_CHECK = obj({"number": {"type": "string"}, "blocked": {"type": "boolean"},
                 "entry": {"anyOf": [DNC_ENTRY, {"type": "null"}]}}, ("number", "blocked", "entry"), closed=False)
DELETED = obj({"deleted": {"type": "boolean"}}, ("deleted",), closed=False)

CAMPAIGN = obj({"id": {"type": "integer"}, "name": {"type": "string"}, "mode": {"type": "string"},
                "status": {"type": "string"}, "queue": OPT_TEXT, "max_attempts": {"type": "integer"},
                "retry_delay_s": {"type": "integer"}, "created_at": OPT_TIME},
               ("id", "name", "mode", "status"), closed=False)
_ANY: dict[str, Any] = {}
CAMPAIGN_CREATE = obj({
    "name": text(100, minLength=1), "description": text(500), "mode": text(16), "purpose": text(16),
    "queue": text(64), "agents": {"type": "array", "maxItems": 1000}, "ivr_flow": text(64),
    "script": {"type": "string", "maxLength": 20000}, "caller_id": text(21), "source": {"type": "object"},
    "calling_windows": _ANY, "retry": {"type": "object"}, "max_attempts": {"type": "integer"},
    "abandon": {"type": "object"}, "ring_timeout": {"type": ["string", "number"]}, "safe_harbour": {"type": "object"},
    "answering_machine": {"type": "object"}, "strategy": {"type": "array"}, "priority": {"type": "integer"},
})
FIGURES = obj({"attempts": {"type": "integer"}, "in_flight": {"type": "integer"},
               "live_answers": {"type": "integer"}, "abandoned": {"type": "integer"},
               "abandon_rate": {"type": "number"}, "outcomes": {"type": "object"}}, closed=False)
CAMPAIGN_STATUS = obj({"campaign": CAMPAIGN, "contacts": {"type": "object", "additionalProperties": {"type": "integer"}},
                       "due_now": {"type": "integer"}, "leased": {"type": "integer"}, "today": FIGURES,
                       "period": FIGURES, "live": {"type": ["object", "null"]}},
                      ("campaign", "contacts", "today", "period", "live"), closed=False)
STATUS_CHANGE = obj({"campaign": CAMPAIGN, "before": {"type": "string"}, "after": {"type": "string"}},
                    ("campaign", "before", "after"), closed=False)
IMPORT_RESULT = obj({"enrolled": {"type": "integer"}, "already_there": {"type": "integer"},
                     "customers": {"type": "object"}, "rejected": {"type": "array", "items": obj(
                         {"line": {"type": "integer"}, "field": {"type": "string"}, "error": {"type": "string"}},
                         closed=False)}}, ("enrolled", "already_there", "rejected"), closed=False)

REPORT = obj({"name": {"type": "string"}, "since": TIME, "until": TIME, "zone": {"type": "string"},
              "tables": {"type": "array", "items": obj({"name": {"type": "string"},
                                                        "columns": {"type": "array", "items": {"type": "string"}},
                                                        "rows": {"type": "array", "items": {"type": "object"}}},
                                                       ("name", "columns", "rows"), closed=False)},
              "footer": {"type": "array", "items": {"type": "string"}}},
             ("name", "since", "until", "tables", "footer"), closed=False)


def plain(value: Any) -> Any:
    """A record (frozen dataclass) or value as JSON-ready data: times in ISO 8601, enums by value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value
