"""Build the running dialer from the engine config (one call for the daemon): hopper, dialing service, and the
handler of answered campaign calls plugged into the IVR runner."""
from __future__ import annotations

import logging
import os
import socket
from typing import Any, Callable

from engine.dialer.answered import CampaignCalls
from engine.dialer.agent_first import AgentFirstDialer
from engine.dialer.compliance import policy_from_config
from engine.dialer.control import DialerControl, control_key
from engine.dialer.hopper import ComplianceGate, Hopper
from engine.esl import commands
from engine.dialer.service import DialerService, DialerSettings
from engine.store.repos.campaigns import CampaignRepository

log = logging.getLogger(__name__)


def wanted(config: Any, store: Any) -> bool:
    """A dialer runs when the config has a `dialer:` section or the store has campaigns."""
    return bool(getattr(config, "dialer", None)) or bool(CampaignRepository(store).list())


def build_dialer(config: Any, *, store: Any, control: Any, runner: Any, acd_service: Any = None, tts: Any = None,
                 socket_address: Callable[[], tuple[str, int]], customers: Any = None) -> DialerService:
    """Validate `config.dialer`, build the service and route answered campaign calls to it (start it after the
    outbound server listens)."""
    from engine.acd.announcer import TtsAnnouncer

    section = getattr(config, "dialer", None) or {}
    source = getattr(config, "source", None)
    settings = DialerSettings.from_mapping(section, source)
    policy = policy_from_config(section.get("compliance"), source)
    hopper = Hopper(store, policy, holder=f"{socket.gethostname()}:{os.getpid()}"[-64:])
    dialer = DialerService(store, control, hopper, socket_address=socket_address, queues=acd_service,
                           settings=settings)
    calls = CampaignCalls(dialer, runner=runner, announcer=TtsAnnouncer(tts) if tts is not None else None,
                          customers=customers)
    runner.campaign_calls = calls.handle
    if acd_service is not None:
        dialer.agent_first = AgentFirstDialer(dialer, ComplianceGate(store, policy))
        fs = getattr(config, "freeswitch", None)
        password = getattr(fs, "password", "") or ""
        if not password and getattr(fs, "nodes", None):  # several nodes: the key derives from the first one's
            password = fs.node_list()[0].password
        if password:
            control.add_handler(DialerControl(dialer.agent_first, control_key(password), _acker(control)))
    dialer.attach(control)
    return dialer


def _acker(control: Any) -> Callable[[dict[str, str], str], None]:
    import gevent

    def send_ack(headers: dict[str, str], body: str) -> None:
        gevent.spawn(control.sendevent, commands.EV_CUSTOM, headers, body or None)
    return send_ack
