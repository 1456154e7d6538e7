"""The webhook event kinds and their JSON body (one envelope for every kind)."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping

CALL_OFFERED = "call.offered"
CALL_ANSWERED = "call.answered"
CALL_ENDED = "call.ended"
CALL_ABANDONED = "call.abandoned"
CAMPAIGN_ATTEMPT_ENDED = "campaign.attempt_ended"
CALLBACK_DUE = "callback.due"
KINDS = (CALL_OFFERED, CALL_ANSWERED, CALL_ENDED, CALL_ABANDONED, CAMPAIGN_ATTEMPT_ENDED, CALLBACK_DUE)


@dataclass(frozen=True)
class WebhookEvent:
    """One fact for business systems: `key` orders delivery (events of one key go out one after another)."""

    kind: str
    key: str
    at: float  # epoch seconds when the fact happened
    data: Mapping[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def body(self) -> str:
        """The exact JSON text that is stored, signed and sent."""
        return json.dumps({"id": self.event_id, "type": self.kind,
                           "occurred_at": dt.datetime.fromtimestamp(self.at, dt.timezone.utc).isoformat(),
                           "data": dict(self.data)}, ensure_ascii=False, separators=(",", ":"), default=str)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (the write-behind journal keeps it until the outbox has it)."""
        return {"kind": self.kind, "key": self.key, "at": self.at, "data": dict(self.data), "event_id": self.event_id}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "WebhookEvent":
        return cls(raw["kind"], raw["key"], float(raw["at"]), dict(raw.get("data") or {}), raw["event_id"])
