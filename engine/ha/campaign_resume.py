"""Campaign calls placed before an engine restart, re-attached from the switch so none is lost or dialled twice.

How it works: on every connection to the switch (the first one after a start included), every live channel the
dialer tagged (`jq_campaign_id`, `jq_attempt_id`, `jq_contact_id`) whose contact still waits on that attempt and
that this dialer does not track becomes an `OutboundCall` of its campaign's loop again, and its contact's lease
passes to this dialer (so `recover()` does not conclude it and the hopper does not lease it). A ringing call that
is then answered reaches this engine's socket and is handled as if this engine had placed it; a call that ends
(unanswered, or after a conversation the ACD rebuild kept) is concluded here from its hang-up cause. Running
campaigns come back running by themselves (the dialer's supervisor reads their state from the store); contacts a
dead dialer leased but never dialled become due again when that lease ends, and attempts whose channel is gone
are concluded by `recover()`, with the campaign's retry rules.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from engine.dialer.hopper import load_handle
from engine.dialer.outcomes import outcome_for_cause
from engine.dialer.service import CampaignLoop, OutboundCall
from engine.esl import commands
from engine.ha.rebuild import VAR
from engine.store.repos.campaigns import CampaignRepository

log = logging.getLogger(__name__)
ANSWERED = "answered"


@dataclass(frozen=True)
class LiveAttempt:
    """A campaign leg still on the switch."""

    uuid: str
    campaign_id: int
    attempt_id: int
    contact_id: int
    answered: bool


def live_attempt(dump: dict[str, Any]) -> LiveAttempt | None:
    """A LiveAttempt from `uuid_dump <uuid> json`; None for a channel that is not a campaign leg."""
    try:
        return LiveAttempt(uuid=dump.get(commands.H_UNIQUE_ID, ""),
                           campaign_id=int(dump.get(VAR + commands.VAR_CAMPAIGN_ID, "")),
                           attempt_id=int(dump.get(VAR + commands.VAR_ATTEMPT_ID, "")),
                           contact_id=int(dump.get(VAR + commands.VAR_CONTACT_ID, "")),
                           answered=dump.get(commands.H_ANSWER_STATE, "") == "answered")
    except (TypeError, ValueError):
        return None


class CampaignResume:
    """Re-attaches a dead dialer's campaign calls to this one; also the event handler that ends them."""

    def __init__(self, dialer: Any, control: Any) -> None:
        self.dialer = dialer
        self.control = control
        self.campaigns = CampaignRepository(dialer.store)
        self.adopted: dict[str, OutboundCall] = {}
        self.answered_before: set[str] = set()
        self.rounds = 0

    def live_attempts(self) -> list[LiveAttempt]:
        rows = json.loads(self.control.api(commands.show_channels_json())).get("rows", []) or []
        found = []
        for uuid in sorted({row.get("uuid", "") for row in rows if isinstance(row, dict)} - {""}):
            if uuid in self.dialer.calls:
                continue
            try:
                dump = json.loads(self.control.api(commands.uuid_dump(uuid)))
            except ValueError:  # it ended between the two commands
                continue
            attempt = live_attempt(dump) if isinstance(dump, dict) else None
            if attempt is not None and attempt.uuid:
                found.append(attempt)
        return found

    def run(self) -> int:
        """One round; logs and returns 0 when the switch cannot be asked now."""
        try:
            return self.resume()
        except Exception as exc:
            log.warning("re-attaching campaign calls from the switch failed (%s)", exc)
            self.rounds += 1
            return 0

    def resume(self) -> int:
        d = self.dialer
        adopted = 0
        for live in self.live_attempts():
            if live.uuid in d.calls:
                continue
            contact = self.campaigns.contact(live.contact_id)
            handle = load_handle(d.store, live.campaign_id)
            if contact is None or handle is None or contact.attempt_id != live.attempt_id:
                continue  # already concluded (by recover() or elsewhere): nothing to re-attach
            if not self.campaigns.take_over(live.contact_id, live.attempt_id, d.hopper.holder, d.now(),
                                            d.hopper.lease_seconds):
                continue
            loop = d.loops.get(live.campaign_id)
            if loop is None:
                loop = CampaignLoop(d, handle)
                d.loops[live.campaign_id] = loop
                if handle.record.status == "running":
                    loop.start()
            now = d.clock()
            call = OutboundCall(live.uuid, loop.handle, contact, live.attempt_id, now,
                                answered_at=now if live.answered else None)
            call.handled = live.answered  # an answered call's socket belonged to the dead engine
            loop.calls[live.uuid] = call
            d.calls[live.uuid] = (loop, call)
            self.adopted[live.uuid] = call
            if live.answered:
                self.answered_before.add(live.uuid)
            adopted += 1
            log.info("campaign %s: attempt %s re-attached after a restart (%s)", handle.config.name, live.attempt_id,
                     "answered" if live.answered else "ringing")
        self.rounds += 1
        return adopted

    def __call__(self, event: Any) -> None:
        """Event handler (control connection): conclude a re-attached call when its leg ends."""
        if event.name != commands.EV_CHANNEL_HANGUP:
            return
        uuid = event.get(commands.H_UNIQUE_ID) or ""
        call = self.adopted.pop(uuid, None)
        if call is None or call.done:
            self.answered_before.discard(uuid)
            return
        tracked = self.dialer.calls.get(uuid)
        if tracked is None:
            return
        loop = tracked[0]
        answered = (event.get(commands.H_CALLER_ANSWERED_TIME) or "0").strip("0") != ""
        if uuid in self.answered_before:  # its conversation was kept by the ACD rebuild
            loop.conclude(call, ANSWERED)
        elif not answered:
            loop.conclude(call, outcome_for_cause(event.get(commands.H_HANGUP_CAUSE) or ""))
        elif not call.handled:  # answered, but hung up before it reached this engine
            loop.conclude(call, "dropped", abandoned=True)
        # else: answered after the restart and handled by this engine (answered.py concludes it)
        self.answered_before.discard(uuid)


def attach_campaign_resume(dialer: Any, control: Any) -> CampaignResume:
    """Re-attach campaign calls on every (re)connect of `control`, and end the ones re-attached."""
    import gevent

    resume = CampaignResume(dialer, control)
    control.add_handler(resume)
    control.on_reconnect(lambda: gevent.spawn(resume.run))
    return resume
