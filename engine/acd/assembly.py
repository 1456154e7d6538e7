"""Build the running ACD from the engine config, the store and the control connection (one call for the daemon)."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

from engine.acd.announce import SilentAnnouncer
from engine.acd.announcer import TtsAnnouncer
from engine.acd.bus import Bus
from engine.acd.legs import SwitchLegs
from engine.acd.queue_config import AcdSettings, load_queues, load_settings
from engine.acd.reconciler import Reconciler
from engine.acd.restore import last_states
from engine.acd.service import QueueService
from engine.acd.store_adapters import (StoreAgentDirectory, StoreAgentLog, StoreCallbacks, StoreCustomers,
                                       StoreInteractions, StoreRecordings, agents_from_store)
from engine.acd.write_behind import WriteBehind, WriteBehindAgentLog, WriteBehindInteractions
from engine.esl import commands

log = logging.getLogger(__name__)
# The switch events the ACD acts on (acd/switch_events.py, the job results of its originates): a control
# connection that subscribes to these instead of ALL spares FreeSWITCH and the engine most of the event traffic.
# CUSTOM events are named by subclass (`commands.subscribe` puts them after the word CUSTOM, last: FreeSWITCH
# reads every word after CUSTOM as a subclass, so a bare CUSTOM in the middle would swallow BACKGROUND_JOB).
ACD_EVENTS = (commands.EV_CHANNEL_ANSWER, commands.EV_CHANNEL_HANGUP, commands.EV_CHANNEL_HANGUP_COMPLETE,
              commands.EV_CHANNEL_EXECUTE_COMPLETE, commands.EV_RECORD_STOP, commands.EV_BACKGROUND_JOB,
              commands.SUBCLASS_SOFIA_REGISTER, commands.SUBCLASS_SOFIA_UNREGISTER, commands.SUBCLASS_SOFIA_EXPIRE,
              commands.SUBCLASS_AGENT_CONTROL)
JOURNAL_NAME = "acd-writes.journal"  # under engine.data_dir: store writes not yet applied (write_behind.py)


@dataclass
class RunningAcd:
    """What `start_acd` built; `stop()` undoes `start`."""

    service: QueueService
    reconciler: Reconciler
    settings: AcdSettings
    writes: WriteBehind | None = None
    rebuild: Any = None  # engine.ha.adopt.SwitchRebuild, attached by the daemon

    def stop(self) -> None:
        self.service.stop()
        self.reconciler.stop()
        if self.writes is not None and not self.writes.stop():
            log.warning("ACD stopped with %d store writes still queued; they are in the journal for the next start",
                        self.writes.pending)


def start_acd(config: Any, *, store: Any, control: Any, bus: Bus | None = None, tts: Any = None,
              clock: Callable[[], float] = time.time, outbox: Any = None) -> RunningAcd:
    """Validate `config.acd`, build the QueueService over the store, attach it to `control` and start it.

    Raises AcdConfigError (located in the YAML) for a bad `acd` section. The returned service is the IVR's
    QueueGateway (`services.queues`). With `outbox` (engine.webhooks), call events are journaled with the
    interaction writes they come from and stored in the outbox in that order.
    """
    from engine.store.repos.agents import AgentRepository
    from engine.store.repos.callbacks import CallbackRepository
    from engine.store.repos.customers import CustomerRepository
    from engine.store.repos.interactions import InteractionRepository, RecordingRepository
    from engine.store.screenpop import ScreenPop

    queues = load_queues(config.acd, config.source)
    settings = load_settings(config.acd, config.source)
    agents = AgentRepository(store)
    # Store writes leave the call path: journaled, queued, applied in order when the engine is idle.
    writes = WriteBehind(os.path.join(config.engine.data_dir, JOURNAL_NAME))
    agent_log = WriteBehindAgentLog(writes, StoreAgentLog(agents))
    interactions = WriteBehindInteractions(writes, StoreInteractions(InteractionRepository(store)))
    if outbox is not None:
        from engine.webhooks.acd_events import EmittingInteractions

        writes.register("webhooks", outbox)
        interactions = EmittingInteractions(
            interactions, lambda event: writes.submit("webhooks", "enqueue", event.as_dict()))
    writes.replay()  # what a crash left queued goes in first
    writes.start()
    gateway = settings.callback_gateway
    service = QueueService(
        queues, agents_from_store(agents), legs=SwitchLegs(control, domain=settings.agent_domain or None),
        clock=clock, bus=bus or Bus(), agent_log=agent_log, interactions=interactions,
        callbacks=StoreCallbacks(CallbackRepository(store), interactions),
        recordings=StoreRecordings(RecordingRepository(store), interactions),
        customers=StoreCustomers(ScreenPop(store), CustomerRepository(store)),
        announcer=TtsAnnouncer(tts) if tts is not None else SilentAnnouncer(),
        # Absolute: FreeSWITCH resolves a relative path against its own directories, not the engine's.
        recording_root=os.path.abspath(settings.recordings_dir or os.path.join(config.engine.data_dir, "recordings")),
        agent_directory=StoreAgentDirectory(agents),
        dial_customer=(lambda number: commands.sofia_gateway_endpoint(gateway, number)) if gateway else None,
        bridge_on_answer=True)  # FreeSWITCH bridges on the agent's answer (see docs/architecture.md, ACD)
    try:
        service.restore_agents(last_states(agents.latest_states()))
    except Exception:  # a store that cannot be read leaves every agent logged out, as before
        log.exception("could not restore the agents' state from the store; they start logged out")
    reconciler = service.attach(control, reconcile_every=settings.reconcile_every)
    service.start()
    return RunningAcd(service, reconciler, settings, writes)
