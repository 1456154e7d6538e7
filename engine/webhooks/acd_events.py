"""Call events from the ACD's interaction writes: offered, answered, abandoned, ended (mapping + port decorator)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Mapping

from engine.webhooks.events import CALL_ABANDONED, CALL_ANSWERED, CALL_ENDED, CALL_OFFERED, WebhookEvent

_END_FIELDS = ("hangup_by", "talk_seconds", "hangup_cause", "sip_status")


class CallEvents:
    """Turns one interaction update into the webhook events it means; remembers each call's queue and caller
    (bounded) so that later events name them, and ends a call once per time it was offered."""

    def __init__(self, remember: int = 20_000) -> None:
        self.remember = remember
        self._calls: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def events(self, call_id: str, at: float, fields: Mapping[str, Any]) -> list[WebhookEvent]:
        call = self._calls.setdefault(call_id, {"queue": None, "caller": None, "agent_id": None, "ended": False})
        self._calls.move_to_end(call_id)
        while len(self._calls) > self.remember:
            self._calls.popitem(last=False)
        out: list[WebhookEvent] = []
        base = {"call_id": call_id}
        if "queue_entered_at" in fields:
            call.update(queue=fields.get("queue") or call["queue"], caller=fields.get("caller") or call["caller"],
                        ended=False, agent_id=None)
            out.append(WebhookEvent(CALL_OFFERED, call_id, at, {**base, "queue": call["queue"],
                                                               "caller": call["caller"],
                                                               "callback": call_id.startswith("cb-")}))
        if fields.get("answered_at") is not None:
            call["agent_id"] = fields.get("agent_id") or call["agent_id"]
            out.append(WebhookEvent(CALL_ANSWERED, call_id, at, {
                **base, "queue": call["queue"], "caller": call["caller"], "agent_id": call["agent_id"],
                "wait_seconds": fields.get("wait_seconds")}))
        if fields.get("abandoned"):
            out.append(WebhookEvent(CALL_ABANDONED, call_id, at, {
                **base, "queue": call["queue"], "caller": call["caller"], "wait_seconds": fields.get("wait_seconds"),
                "hangup_cause": fields.get("hangup_cause")}))
        left = str(fields.get("ivr_outcome") or "")
        if ("hangup_by" in fields or left.startswith("queue_")) and not call["ended"]:
            call["ended"] = True  # a caller who left the line (timeout, exit key, failure) ends here too
            out.append(WebhookEvent(CALL_ENDED, call_id, at, {
                **base, "queue": call["queue"], "caller": call["caller"], "agent_id": call["agent_id"],
                "abandoned": bool(fields.get("abandoned")), "left_queue": left[len("queue_"):] or None,
                **{k: fields.get(k) for k in _END_FIELDS}}))
        return out


class EmittingInteractions:
    """The ACD's InteractionLog with webhook events: each update is written, then its events are emitted
    (through the same write-behind journal, so they are stored in order after the fact and survive a crash)."""

    def __init__(self, inner: Any, emit: Callable[[WebhookEvent], None], calls: CallEvents | None = None) -> None:
        self.inner = inner
        self.emit = emit
        self.calls = calls or CallEvents()

    def queue_event(self, call_id: str, at: float, **fields: Any) -> None:
        self.inner.queue_event(call_id, at, **fields)
        for event in self.calls.events(call_id, at, fields):
            self.emit(event)

    def interaction_id(self, call_id: str, at: float | None = None, caller: str | None = None) -> int | None:
        return self.inner.interaction_id(call_id, at, caller)

    @property
    def interactions(self) -> Any:
        return self.inner.interactions
