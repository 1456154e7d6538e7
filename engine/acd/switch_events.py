"""Translate FreeSWITCH events into QueueService calls: agent-leg answer/hang-up, caller hang-up and SIP
registration. Agent control (`jinqiao::agent`) is authenticated and applied by `agent_control.AgentControl`."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

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
