"""An engine killed mid-traffic (kill -9) and a new one started on the same store (issue 12.2): queued callers
are re-adopted with their place in line and served, a bridged conversation stays up with its agent on call
until it ends, and every interaction is completed."""
from __future__ import annotations

import time

import pytest

from engine.acd.models import AgentState
from engine.config import load_config
from engine.daemon import build_engine
from engine.esl import commands
from engine.sim import FreeSwitchSim
from engine.store.database import open_store
from engine.store.repos.agents import AgentRepository
from engine.store.repos.interactions import InteractionRepository

from .helpers import DID, PASSWORD, cli, env, free_port, kill9, write_config


@pytest.fixture
def sim(tmp_path):
    s = FreeSwitchSim(password=PASSWORD, time_scale=0.05, sounds_dir=str(tmp_path))
    s.start()
    yield s
    s.stop()


def until(sim, predicate, timeout=30.0, what="condition") -> None:
    assert sim.wait_until(predicate, timeout), f"{what} not reached within {timeout}s"


def agent_leg(sim, ext: str):
    legs = [ch for ch in sim.channels.values() if ch.variables.get(commands.VAR_AGENT_ID) == ext]
    return legs[0] if legs else None


def queued(sim, call) -> bool:
    channel = sim.channels.get(call.uuid)
    return call.hung_up or bool(channel is not None and channel.variables.get(commands.VAR_QUEUED_AT))


def bridged(sim, caller_uuid: str, ext: str) -> bool:
    leg = agent_leg(sim, ext)
    caller = sim.channels.get(caller_uuid)
    return leg is not None and caller is not None and caller.bridged_to is leg


def test_a_killed_engines_calls_are_rebuilt_by_the_next_engine(tmp_path, sim):
    port = free_port()
    config_path = write_config(tmp_path, sim.address[1], port)
    assert cli(config_path, "db", "upgrade").wait(60) == 0
    store = open_store(f"sqlite:///{tmp_path / 'jq.db'}")
    agents = AgentRepository(store)
    agents.add("1001", extension="1001")
    agents.record_state_change("1001", "available", "login", time.time() - 60)  # logged in before the start
    store.dispose()
    sim.add_endpoint("1001", answer_after=0.2, hangup_after=None)  # answers at once, talks until told
    sim.set_sound(commands.MUSIC_ON_HOLD, 3600)
    sim.route(DID, socket=f"127.0.0.1:{port} async full", after=[("park", "")])

    # Given a first engine (its own process) with caller A talking to agent 1001 and B then C queued
    first = cli(config_path, "serve")
    try:
        until(sim, lambda: any(line.startswith("auth") for line in sim.command_log), what="first engine connected")
        a = sim.place_call(DID, "13800000001")
        until(sim, lambda: bridged(sim, a.uuid, "1001"), what="A bridged to 1001")
        b = sim.place_call(DID, "13800000002")
        until(sim, lambda: queued(sim, b), what="B queued")
        assert not b.hung_up, (b.hangup_cause, b.apps, b.events)
        c = sim.place_call(DID, "13800000003")
        until(sim, lambda: queued(sim, c), what="C queued")
        b_since = float(sim.channels[b.uuid].variables[commands.VAR_QUEUED_AT])
    finally:
        # When the engine is killed without any cleanup
        kill9(first)
    # (socket_resume: the switch keeps them; the dialplan parks them once the dead engine's music ends)
    assert not b.hung_up and not c.hung_up, (c.hangup_cause, c.apps, c.variables.get("socket_resume"))
    assert not a.hung_up and bridged(sim, a.uuid, "1001")

    # And a new engine starts on the same store
    engine = build_engine(load_config(str(config_path), environ=env()))
    try:
        engine.start()
        service = engine.acd.service
        # Then the bridged conversation is kept: its agent is on that call, not offered anything
        until(sim, lambda: service.distributor.agents["1001"].state is AgentState.ON_CALL, what="1001 on call")
        a_call = sim.channels[a.uuid].variables[commands.VAR_CALL_ID]
        assert service.distributor.agents["1001"].current_call == a_call
        # And B and C are back in line, B first with its original entry time
        b_call = sim.channels[b.uuid].variables[commands.VAR_CALL_ID]
        c_call = sim.channels[c.uuid].variables[commands.VAR_CALL_ID]
        until(sim, lambda: {b_call, c_call} <= set(service.distributor.waiting), what="B and C re-adopted")
        assert service.distributor.waiting[b_call].enqueued_at == pytest.approx(b_since, abs=0.01)
        assert sim.channels[b.uuid].variables.get(commands.VAR_QUEUE_PRIORITY) == "0"
        assert service.distributor.position(b_call, time.time()) == 1
        assert not a.hung_up and bridged(sim, a.uuid, "1001")

        # When the agent ends the kept conversation
        sim.channels[agent_leg(sim, "1001").uuid].hangup("NORMAL_CLEARING")
        # Then A's call ends, the agent is freed and takes B (the first in line), then C
        until(sim, lambda: a.hung_up, what="A hung up after its agent")
        until(sim, lambda: bridged(sim, b.uuid, "1001"), what="B served by 1001")
        assert c_call in service.distributor.waiting
        sim.channels[agent_leg(sim, "1001").uuid].hangup("NORMAL_CLEARING")
        until(sim, lambda: bridged(sim, c.uuid, "1001"), what="C served by 1001")
        sim.channels[agent_leg(sim, "1001").uuid].hangup("NORMAL_CLEARING")
        until(sim, lambda: b.hung_up and c.hung_up, what="B and C done")
        until(sim, lambda: service.distributor.agents["1001"].state is AgentState.AVAILABLE, what="1001 free")
        assert engine.acd.writes.flush(10)
        # And every interaction is complete: who hung up, the agent, B's original entry time
        interactions = InteractionRepository(engine.store)
        rows = {k: interactions.by_call_id(k) for k in (a_call, b_call, c_call)}
        assert rows[a_call].hangup_by == "agent" and rows[a_call].talk_seconds
        for k in (b_call, c_call):
            assert rows[k].agent_id == "1001" and rows[k].answered_at is not None, k
        assert rows[b_call].queue_entered_at.timestamp() == pytest.approx(b_since, abs=1)
        assert engine.acd.rebuild.rounds >= 1
    finally:
        engine.stop()


def test_an_esl_reconnect_rebuilds_nothing_the_engine_still_tracks_and_calls_go_on(tmp_path, sim):
    port = free_port()
    config_path = write_config(tmp_path, sim.address[1], port)
    assert cli(config_path, "db", "upgrade").wait(60) == 0
    store = open_store(f"sqlite:///{tmp_path / 'jq.db'}")
    AgentRepository(store).add("1001", extension="1001")
    AgentRepository(store).record_state_change("1001", "available", "login", time.time() - 60)
    store.dispose()
    sim.add_endpoint("1001", answer_after=0.2, hangup_after=None)
    sim.set_sound(commands.MUSIC_ON_HOLD, 3600)
    sim.route(DID, socket=f"127.0.0.1:{port} async full", after=[("park", "")])
    engine = build_engine(load_config(str(config_path), environ=env())).start()
    try:
        service, rebuild = engine.acd.service, engine.acd.rebuild
        until(sim, lambda: rebuild.rounds == 1, what="the first rebuild round")
        # Given A talking to 1001 and B queued
        a = sim.place_call(DID, "13800000001")
        until(sim, lambda: bridged(sim, a.uuid, "1001"), what="A bridged")
        b = sim.place_call(DID, "13800000002")
        until(sim, lambda: queued(sim, b), what="B queued")
        # When FreeSWITCH drops the control connection and the engine reconnects
        for listener in list(sim.switch.listeners):
            if not listener.outbound:
                listener.close_after_flush()
        until(sim, lambda: rebuild.rounds == 2, what="the rebuild round after the reconnect")
        # Then nothing the engine still tracks is rebuilt (no transfer, no second handler)
        assert rebuild.last_plan is not None and rebuild.last_plan.empty
        assert not any(line.startswith("uuid_transfer") or " uuid_transfer " in line for line in sim.command_log)
        assert service.distributor.agents["1001"].state is AgentState.ON_CALL
        # And the calls go on: when 1001 hangs up on A, B is served once
        sim.channels[agent_leg(sim, "1001").uuid].hangup("NORMAL_CLEARING")
        until(sim, lambda: bridged(sim, b.uuid, "1001"), what="B served")
        originates = [line for line in sim.command_log if "originate" in line and "user/1001" in line]
        assert len(originates) == 2  # one offer per caller: no duplicate handling after the reconnect
    finally:
        engine.stop()
