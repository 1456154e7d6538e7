"""Only calls a known switch has: an outbound-socket connection runs its flow once a switch confirms the channel.

The outbound-socket port accepts TCP from anyone who can reach it; a local process could connect, claim to be
a call, and walk the IVR (lookups, callbacks, queue places). Before any flow runs, the channel's Unique-ID is
checked with `uuid_exists` on the control connection of each known FreeSWITCH node; a connection no switch
confirms is closed without running anything, and logged (rate-limited, so a flood cannot fill the log).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from engine.esl import commands
from engine.logs import RateLimitedLog

log = logging.getLogger(__name__)
VERIFY_TIMEOUT = 5.0  # also how long a call waits for a control connection that is reconnecting


class VerifiedCalls:
    """An OutboundServer handler that runs `handler(channel)` only for channels a known switch confirms."""

    def __init__(self, handler: Callable[[Any], Any], controls: Sequence[Any], timeout: float = VERIFY_TIMEOUT) -> None:
        self.handler = handler
        self.controls = list(controls)  # each node's inbound control connection (InboundConnection.api)
        self.timeout = timeout
        self.refused = 0
        self._log = RateLimitedLog(log)

    def confirmed(self, uuid: str) -> tuple[bool, str]:
        """(True, "") when a switch has this channel, else (False, why)."""
        try:
            command = commands.uuid_exists(uuid)
        except ValueError:
            return False, "not a channel id"
        why = "no switch has this channel"
        for control in self.controls:
            try:
                if control.api(command, timeout=self.timeout).strip() == "true":
                    return True, ""
            except Exception as exc:  # that node cannot be asked now: the others may still confirm it
                why = f"the switch could not be asked ({exc})"
        return False, why

    def __call__(self, channel: Any) -> Any:
        uuid = str(getattr(channel, "uuid", "") or "")
        ok, why = self.confirmed(uuid)
        if ok:
            return self.handler(channel)
        self.refused += 1
        self._log.warning("unverified call", "outbound connection refused before any flow: %s (claimed channel "
                          "%.40r; %d refused so far)", why, uuid, self.refused)
        return None
