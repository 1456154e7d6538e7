"""A small call center for the fault tests: the FreeSWITCH simulator and the real engine (`build_engine`, as
`jinqiao serve` wires it) in this process, agents with phones, a queue that records, and the books to check."""
from __future__ import annotations

import time
from pathlib import Path

from engine.acd.models import AgentState
from engine.config import load_config
from engine.daemon import build_engine
from engine.esl import commands
from engine.sim import FreeSwitchSim
from engine.sim.control import SimCall
from engine.store import migrate
from engine.store.database import open_store
from engine.store.repos.agents import AgentRepository
from engine.store.repos.interactions import InteractionRepository, RecordingRepository
from tests.prod.helpers import free_port

PASSWORD = "faults-test"
DID = "6000"
RECONCILE_S = 1.0
LEG_GRACE_S = 5.0  # the reconciler leaves an agent leg this long before it trusts its absence
FLOW = """\
name: support_line
start: to_queue
nodes:
  to_queue: {type: queue, queue: support, timeout_s: 600, on_failure: bye}
  bye: {type: hangup}
"""


def handlers() -> str:
    """Where the engine's call handlers wait (for a failure message)."""
    import gc
    import traceback

    import greenlet
    stacks = ["".join(traceback.format_stack(g.gr_frame)) for g in gc.get_objects()
              if isinstance(g, greenlet.greenlet) and g.gr_frame is not None]
    return "\n".join("--- handler:\n" + s for s in stacks if "run_flow" in s)


class Center:
    """The engine and the switch; `close()` stops both."""

    def __init__(self, tmp_path: Path, agents: tuple[str, ...] = ("1001", "1002"), database_url: str | None = None,
                 time_scale: float = 0.05, talk_s: float | None = None) -> None:
        self.tmp_path = tmp_path
        self.sim = FreeSwitchSim(password=PASSWORD, time_scale=time_scale, sounds_dir=str(tmp_path))
        self.sim.start()
        self.sim.set_sound(commands.MUSIC_ON_HOLD, 3600)
        self.port = free_port()
        self.database_url = database_url or f"sqlite:///{tmp_path / 'jq.db'}"
        store = open_store(self.database_url)
        migrate.upgrade(store.engine)
        repo = AgentRepository(store)
        for agent in agents:
            repo.add(agent, extension=agent)
            repo.record_state_change(agent, "available", "login", time.time() - 60)
            self.sim.add_endpoint(agent, answer_after=0.2, hangup_after=talk_s)
        store.dispose()
        self.agents = agents
        self.sim.route(DID, socket=f"127.0.0.1:{self.port} async full", after=[("park", "")])
        config = self._write_config()
        environ = {"JINQIAO_FREESWITCH_PASSWORD": PASSWORD}
        self.engine = build_engine(load_config(str(config), environ=environ)).start()
        assert self.engine.inbound.wait_connected(10), "the engine never connected to the switch"
        self.service = self.engine.acd.service
        self.calls: list[SimCall] = []

    def _write_config(self) -> Path:
        flows = self.tmp_path / "flows"
        flows.mkdir(exist_ok=True)
        (flows / "support_line.yaml").write_text(FLOW, encoding="utf-8")
        path = self.tmp_path / "jinqiao.yaml"
        path.write_text(f"""
engine: {{data_dir: {self.tmp_path / 'data'}, log_format: json}}
database: {{url: "{self.database_url}"}}
freeswitch: {{host: 127.0.0.1, port: {self.sim.address[1]}, reconnect_min_delay: 0.05, reconnect_max_delay: 0.2}}
outbound: {{host: 127.0.0.1, port: {self.port}, linger_seconds: 1}}
ivr: {{flows_dir: {flows}, dids: {{"{DID}": support_line}}}}
tts: {{cache_dir: {self.tmp_path / 'tts'}}}
acd:
  reconcile_every: {RECONCILE_S}
  recordings_dir: {self.tmp_path / 'recordings'}
  queues:
    support: {{strategy: longest-idle, wrap_up_seconds: 0, offer_timeout: 20, record: always}}
""", encoding="utf-8")
        return path

    # -- the switch side --------------------------------------------------------------------------
    def call(self, number: str) -> SimCall:
        call = self.sim.place_call(DID, number)
        self.calls.append(call)
        return call

    def until(self, predicate, timeout: float = 20.0, what: str = "condition") -> None:
        assert self.sim.wait_until(predicate, timeout), f"{what} not reached within {timeout}s"

    def agent_leg(self, ext: str):
        legs = [ch for ch in self.sim.channels.values()
                if ch.up and ch.variables.get(commands.VAR_AGENT_ID) == ext]
        return legs[0] if legs else None

    def bridged(self, call: SimCall, ext: str) -> bool:
        leg = self.agent_leg(ext)
        return leg is not None and not call.hung_up and call.channel.bridged_to is leg

    def bridged_any(self, call: SimCall) -> str | None:
        return next((ext for ext in self.agents if self.bridged(call, ext)), None)

    def queued(self, call: SimCall) -> bool:
        return call.hung_up or bool(call.variables.get(commands.VAR_QUEUED_AT))

    # -- the engine side --------------------------------------------------------------------------
    def state(self, ext: str) -> AgentState:
        return self.service.distributor.agents[ext].state

    def stuck_agents(self) -> list[str]:
        """Agents the engine holds ringing or on a call while the switch has no leg for them."""
        return [ext for ext in self.agents if self.state(ext) in (AgentState.RINGING, AgentState.ON_CALL)
                and self.agent_leg(ext) is None]

    def settle(self, timeout: float) -> None:
        """Every call over on the switch, every agent back (within `timeout`, the reconciler's time)."""
        if not self.sim.wait_until(lambda: all(c.hung_up for c in self.calls), timeout):
            raise AssertionError("calls still up: " + repr([(c.uuid, c.channel.current_app, c.apps[-2:])
                                                            for c in self.calls if not c.hung_up]) + handlers())
        self.until(lambda: all(self.state(ext) is AgentState.AVAILABLE for ext in self.agents)
                   and not self.service.calls, timeout,
                   "every agent available and no call tracked: "
                   + repr({ext: self.state(ext).value for ext in self.agents}))
        assert self.engine.acd.writes.flush(30), "store writes still pending"

    def books(self, timeout: float = 10.0) -> dict[str, object]:
        """The stored interaction of every call placed (by its engine call id), each finished (the IVR closes
        it when its handler ends, which can be after the ACD let the agent go: waited up to `timeout`)."""
        repo = InteractionRepository(self.engine.store)
        ids = {}
        for call in self.calls:
            call_id = call.variables.get(commands.VAR_CALL_ID)
            assert call_id, f"call {call.uuid} never reached the engine ({call.apps})"
            ids[call_id] = call

        def finished() -> bool:
            return all((row := repo.by_call_id(k)) is not None and row.hangup_at is not None for k in ids)
        self.sim.wait_until(finished, timeout)
        rows = {k: repo.by_call_id(k) for k in ids}
        assert all(row is not None for row in rows.values()), \
            f"no interaction stored for {[k for k, row in rows.items() if row is None]}"
        assert all(row.hangup_at is not None for row in rows.values()), \
            f"interactions never finished: {[k for k, row in rows.items() if row.hangup_at is None]}"
        return rows

    def recordings(self, rows: dict, timeout: float = 12.0) -> dict[str, int]:
        """Recordings stored per interaction, once each has one or after `timeout` (the engine catalogues a
        file when FreeSWITCH reports it closed, or after 10 s without that event)."""
        repo = RecordingRepository(self.engine.store)
        self.sim.wait_until(lambda: all(repo.for_interaction(row.id) for row in rows.values()), timeout)
        return {k: len(repo.for_interaction(row.id)) for k, row in rows.items()}

    def close(self) -> None:
        try:
            self.engine.stop()
        finally:
            self.sim.stop()
