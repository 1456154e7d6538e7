"""The engine as `jinqiao serve` builds it, against the simulator: agent control from the CLI, queue calls."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import AppContext, main
from engine.config import load_config
from engine.daemon import build_engine
from engine.sim import FreeSwitchSim, Press
from engine.store.database import open_store
from engine.store.migrate import upgrade
from engine.store.repos.interactions import InteractionRepository
from tests.telecom_engine import seed_agent, telecom_config

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "e2e-secret"


@pytest.fixture
def running(tmp_path):
    sim = FreeSwitchSim(password=PASSWORD, time_scale=0.02)
    sim.start()
    config = telecom_config(tmp_path, sim, PASSWORD)
    seed_agent(config)
    sim.add_endpoint("2001", answer_after=0.5, hangup_after=3.0)
    engine = build_engine(config).start()
    assert engine.inbound.wait_connected(10)
    host, port = engine.outbound.address
    sim.route("10086", socket=f"{host}:{port} async full")
    yield sim, engine, config
    engine.stop()
    sim.stop()


def agent_state(engine, agent_id: str) -> str:
    return engine.acd.service.snapshot()["agents"][agent_id]["state"]


def test_agent_cli_logs_in_through_freeswitch_and_the_agent_takes_a_queued_call(running) -> None:
    sim, engine, config = running
    cli = CliRunner()
    # Given the agent logs in from the command line (the CLI fires a CUSTOM event into FreeSWITCH) ...
    result = cli.invoke(main, ["agent", "login", "2001"], obj=AppContext(_config=config))
    assert result.exit_code == 0, result.output
    assert sim.wait_until(lambda: agent_state(engine, "2001") == "available", 10)
    # ... when an unknown caller asks for an agent (1: Mandarin, 0: agent) ...
    call = sim.place_call("10086", "13300000000", script=[Press("1", during="play_and_get_digits"),
                                                          Press("0", during="play_and_get_digits")])
    # ... then the agent's phone rings, the call is bridged, and the interaction names queue and agent.
    assert sim.wait_until(lambda: agent_state(engine, "2001") == "on-call", 20)
    assert sim.wait_until(lambda: agent_state(engine, "2001") in ("wrap-up", "available"), 20)
    call.hangup()
    assert call.wait_hangup(5)
    stored = InteractionRepository(engine.store)
    assert sim.wait_until(lambda: (stored.by_call_id(call.uuid) or None) is not None
                          and stored.by_call_id(call.uuid).ivr_outcome is not None, 10)
    interaction = stored.by_call_id(call.uuid)
    assert interaction.queue == "general_service" and interaction.agent_id == "2001"
    # And the agent can pause from the CLI too.
    result = cli.invoke(main, ["agent", "not-ready", "2001", "--reason", "lunch"], obj=AppContext(_config=config))
    assert result.exit_code == 0, result.output
    assert sim.wait_until(lambda: agent_state(engine, "2001") == "not-ready", 10)


def test_recording_paths_handed_to_freeswitch_are_absolute(tmp_path, monkeypatch) -> None:
    # Given a config with the default, relative data dir ...
    monkeypatch.chdir(tmp_path)
    base = load_config(None, environ={"JINQIAO_FREESWITCH_PASSWORD": "x", "JINQIAO_ENGINE_DATA_DIR": "var"})
    assert not Path(base.engine.data_dir).is_absolute()
    store_dir = tmp_path / base.engine.data_dir
    store_dir.mkdir()
    store = open_store(base.database_url)
    upgrade(store.engine)
    store.dispose()
    config = dataclasses.replace(base, acd={"queues": {"q": {}}},
                                 ivr=dataclasses.replace(base.ivr, flows_dir=str(ROOT / "ivr_flows")))
    engine = build_engine(config)  # not started: nothing connects
    try:
        # ... then what the IVR records and what the ACD asks FreeSWITCH to record are absolute paths.
        assert Path(engine.ivr.services.recordings_dir).is_absolute()
        assert Path(engine.acd.service.recording_root).is_absolute()
    finally:
        engine.acd.stop()
        engine.store.dispose()


def test_agent_cli_refuses_an_unknown_agent_or_queue_before_sending_anything(running) -> None:
    sim, engine, config = running
    cli = CliRunner()
    result = cli.invoke(main, ["agent", "login", "nobody"], obj=AppContext(_config=config))
    assert result.exit_code != 0 and "unknown agent 'nobody'" in result.output
    result = cli.invoke(main, ["agent", "login", "2001", "--queue", "nosuch"], obj=AppContext(_config=config))
    assert result.exit_code != 0 and "unknown queue(s) nosuch" in result.output
    assert agent_state(engine, "2001") == "logged-out"
