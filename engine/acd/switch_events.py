"""Translate FreeSWITCH events into QueueService calls: agent-leg answer/hang-up, caller hang-up,
SIP registration, and agent control events (from the CLI or phone feature codes)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from engine.acd.distributor import AcdError
from engine.esl.commands import H_AGENT_ACTION, H_AGENT_ID, H_AGENT_QUEUES, H_AGENT_REASON, SUBCLASS_AGENT_CONTROL
from engine.esl import commands
from engine.esl.hangup import hangup_facts

if TYPE_CHECKING:  # pragma: no cover
    from engine.acd.service import QueueService

log = logging.getLogger(__name__)



class SwitchEvents:
    """An event handler for `InboundConnection.add_handler`; never blocks."""

    def __init__(self, service: "QueueService") -> None:
        self.service = service

    def __call__(self, event: Any) -> None:
        name = event.name
        uid = event.get(commands.H_UNIQUE_ID) or ""
        service = self.service
        if name == commands.EV_CHANNEL_ANSWER and uid in service.agent_legs:
            service.leg_answered(uid)
        elif name in (commands.EV_CHANNEL_HANGUP, commands.EV_CHANNEL_HANGUP_COMPLETE):
            facts = hangup_facts(event)
            cause = facts.cause or "NORMAL_CLEARING"
            if uid in service.agent_legs:
                service.leg_hung_up(uid, cause, facts.sip_status)
            call = service.by_caller_uuid.get(uid)
            if call is not None:
                service.caller_gone(call.call_id, facts)
        elif name == commands.EV_CHANNEL_EXECUTE_COMPLETE and uid in service.agent_legs:
            if event.get(commands.H_APPLICATION) == commands.APP_PLAYBACK:
                service.agent_legs[uid].played.set()
        elif name == commands.EV_RECORD_STOP:
            service.recording_stopped(event.get(commands.H_RECORD_FILE_PATH) or "")
        elif name == commands.EV_CUSTOM:
            self._custom(event)

    def _custom(self, event: Any) -> None:
        subclass = event.get(commands.H_SUBCLASS) or ""
        if subclass == commands.SUBCLASS_SOFIA_REGISTER:
            user = event.get(commands.H_REG_USERNAME) or event.get(commands.H_REG_USER) or ""
            if user:
                self.service.set_registered(user, True)
        elif subclass in (commands.SUBCLASS_SOFIA_UNREGISTER, commands.SUBCLASS_SOFIA_EXPIRE):
            user = event.get(commands.H_REG_USERNAME) or event.get(commands.H_REG_USER) or ""
            if user:
                self.service.set_registered(user, False)
        elif subclass == SUBCLASS_AGENT_CONTROL:
            self._agent_control(event)

    def _agent_control(self, event: Any) -> None:
        agent_id = (event.get(H_AGENT_ID) or "").strip()
        action = (event.get(H_AGENT_ACTION) or "").strip().lower()
        reason = (event.get(H_AGENT_REASON) or "").strip()
        queues = [q for q in (event.get(H_AGENT_QUEUES) or "").split(",") if q.strip()]
        service = self.service
        try:
            if action == "login":
                service.login(agent_id, [q.strip() for q in queues] or None)
            elif action == "logout":
                service.logout(agent_id)
            elif action == "ready":
                service.ready(agent_id)
            elif action == "not-ready":
                service.not_ready(agent_id, reason or "not ready")
            elif action == "wrap-up-done":
                service.end_wrap_up(agent_id)
            else:
                log.warning("agent control: unknown action %r for agent %s", action, agent_id)
        except AcdError as exc:
            log.warning("agent control %s for %s refused: %s", action, agent_id, exc)
