"""A surge of calls at once into the IVR and a bounded queue (issue 12, surge): none is lost; each one is
served by an agent or told the line is busy, and every one is recorded. (The 1,000-call figure is in
benchmarks/surge.py; this bounded run checks the outcomes.)"""
from __future__ import annotations

import time

import pytest

from engine.config import load_config
from engine.daemon import build_engine
from engine.esl import commands
from engine.sim import FreeSwitchSim
from engine.store.database import open_store
from engine.store.repos.agents import AgentRepository
from engine.store.repos.interactions import InteractionRepository

from .helpers import PASSWORD, cli, env, free_port, write_config

CALLS = 120
AGENTS = 8
SURGE_DID = "7000"
FLOW = """\
name: surge_line
start: welcome
nodes:
  welcome: {type: play, tts: 欢迎致电。, next: to_queue}
  to_queue: {type: queue, queue: support, timeout_s: 600, on_failure: busy}
  busy: {type: hangup, prompt: 线路繁忙，请稍后再拨。, outcome: line_busy}
"""


@pytest.fixture
def sim(tmp_path):
    # Real time: the switch waits 25 s for the engine to take each socket, as FreeSWITCH does.
    s = FreeSwitchSim(password=PASSWORD, time_scale=1.0, sounds_dir=str(tmp_path))
    s.start()
    yield s
    s.stop()


def test_a_surge_is_served_or_told_busy_and_every_call_is_recorded(tmp_path, sim):
    port = free_port()
    config_path = write_config(tmp_path, sim.address[1], port)
    (tmp_path / "flows" / "surge_line.yaml").write_text(FLOW, encoding="utf-8")
    text = config_path.read_text().replace('dids: {"6000": support_line}', f'dids: {{"{SURGE_DID}": surge_line}}')
    text = text.replace("offer_timeout: 20}", "offer_timeout: 20, max_length: 40}")
    config_path.write_text(text)
    assert cli(config_path, "db", "upgrade").wait(60) == 0
    store = open_store(f"sqlite:///{tmp_path / 'jq.db'}")
    for i in range(AGENTS):
        agent = str(3000 + i)
        AgentRepository(store).add(agent, extension=agent)
        AgentRepository(store).record_state_change(agent, "available", "login", time.time() - 60)
        sim.add_endpoint(agent, answer_after=0.2, hangup_after=2)
    store.dispose()
    sim.set_sound(commands.MUSIC_ON_HOLD, 3600)
    sim.route(SURGE_DID, socket=f"127.0.0.1:{port} async full", after=[("park", "")])
    engine = build_engine(load_config(str(config_path), environ=env())).start()
    try:
        assert engine.inbound.wait_connected(10)
        # Given every call arriving at once
        calls = [sim.place_call(SURGE_DID, str(13900000000 + i)) for i in range(CALLS)]
        # Then every call ends (served, or told the line is busy), none stays stuck
        assert sim.wait_until(lambda: all(c.hung_up for c in calls), 240), \
            f"{sum(1 for c in calls if not c.hung_up)} calls still up"
        assert engine.acd.writes.flush(30)
        repo = InteractionRepository(engine.store)
        rows = {c.uuid: repo.by_call_id(c.uuid) for c in calls}
        missing = [u for u, row in rows.items() if row is None or not row.ivr_outcome]
        assert missing == [], f"{len(missing)} calls without a record"
        served = [u for u, row in rows.items() if row.agent_id and row.bridged_at]
        busy = [u for u, row in rows.items()
                if row.ivr_outcome in ("line_busy", "queue_callback", "callback_requested")]
        assert len(served) + len(busy) == CALLS, {row.ivr_outcome for row in rows.values()}
        assert busy and served  # the queue was full for some, and agents served the others
        # And every caller heard the welcome before anything else
        assert all(c.played and c.played[0] != commands.MUSIC_ON_HOLD for c in calls)
    finally:
        engine.stop()
