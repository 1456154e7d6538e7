"""One engine, two FreeSWITCH nodes (two simulators on two ports): inbound calls on both served by one agent pool,
agent legs placed on the caller's node (over SIP to a phone registered with the other node), one node killed
mid-traffic (the other's calls go on, its queued caller is closed with a record, no agent stuck) and brought
back (used again)."""
from __future__ import annotations

import time

import gevent
import pytest

from engine.acd.models import AgentState
from engine.config import load_config
from engine.daemon import build_engine
from engine.esl import commands
from engine.esl.switchnodes import SwitchNodes
from engine.sim import FreeSwitchSim
from engine.sim.inbound import InboundServer
from engine.store.database import open_store
from engine.store.migrate import upgrade
from engine.store.repos.agents import AgentRepository
from engine.store.repos.interactions import InteractionRepository

from .helpers import DID, PASSWORD, env, free_port, write_config

SIP_PORTS = {"a": 5060, "b": 5062}


def start_sim(tmp_path, name: str, port: int = 0) -> FreeSwitchSim:
    sim = FreeSwitchSim(password=PASSWORD, time_scale=0.05, sounds_dir=str(tmp_path), port=port)
    sim.start()
    sim.set_sound(commands.MUSIC_ON_HOLD, 3600)
    return sim


def crash(sim: FreeSwitchSim) -> None:
    """The node's machine dies: every socket closes at once, no event or hang-up is sent, the port closes."""
    sim._server.server.stop(timeout=0)
    if sim._server._heartbeat is not None:
        sim._server._heartbeat.kill(block=False)
    for listener in list(sim.switch.listeners):
        sim.switch.remove_listener(listener)
        try:
            listener.sock.close()
        except OSError:
            pass
    sim.switch.channels.clear()


def restart(sim: FreeSwitchSim, port: int) -> None:
    """The node is back on the same port, with no channels (and its phones not registered until they do)."""
    sim._server = InboundServer(sim.switch, "127.0.0.1", port)
    sim._server.start()


def until(predicate, timeout=20.0, what="condition", why=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s {why()}"
        gevent.sleep(0.01)


def agent_leg(sim, agent: str):
    return next((ch for ch in sim.channels.values() if ch.variables.get(commands.VAR_AGENT_ID) == agent
                 and ch.up), None)


def serving(sim, caller_uuid: str) -> str | None:
    """The agent bridged to this caller on this node, if any."""
    caller = sim.channels.get(caller_uuid)
    other = caller.bridged_to if caller is not None else None
    return other.variables.get(commands.VAR_AGENT_ID) if other is not None else None


@pytest.fixture
def two_nodes(tmp_path):
    a, b = start_sim(tmp_path, "a"), start_sim(tmp_path, "b")
    yield a, b
    for sim in (a, b):
        try:
            sim.stop()
        except Exception:
            pass


def test_two_nodes_share_one_agent_pool_and_survive_losing_one(tmp_path, two_nodes):
    a, b = two_nodes
    b_port = b.address[1]
    outbound = free_port()
    nodes = f"""
  nodes:
    - {{name: a, host: 127.0.0.1, port: {a.address[1]}, sip_port: {SIP_PORTS['a']}}}
    - {{name: b, host: 127.0.0.1, port: {b_port}, sip_port: {SIP_PORTS['b']}}}
  node_lost_after: 0.5
"""
    path = write_config(tmp_path, a.address[1], outbound)
    text = path.read_text().replace(f"freeswitch: {{host: 127.0.0.1, port: {a.address[1]}, reconnect_min_delay: 0.05}}",
                                    "freeswitch:\n  reconnect_min_delay: 0.05\n  reconnect_max_delay: 0.1" + nodes)
    path.write_text(text)
    store = open_store(f"sqlite:///{tmp_path / 'jq.db'}")
    upgrade(store.engine)
    agents = AgentRepository(store)
    for agent in ("1001", "1002"):
        agents.add(agent, extension=agent)
        agents.record_state_change(agent, "available", "login", time.time() - 60)
    store.dispose()
    for sim in (a, b):
        sim.route(DID, socket=f"127.0.0.1:{outbound} async full", after=[("park", "")])
    # 1001's phone registered with node a, 1002's with node b; a leg from the other node reaches it over SIP
    a.add_endpoint("1001", answer_after=0.2, hangup_after=None)
    b.add_endpoint("1002", answer_after=0.2, hangup_after=None)
    a.set_destination("1002", "answer", after=0.2)
    b.set_destination("1001", "answer", after=0.2)
    for sim in (a, b):
        sim.switch.directory.destinations["1001" if sim is b else "1002"].hangup_after = None

    engine = build_engine(load_config(str(path), environ=env()))
    control = engine.inbound
    assert isinstance(control, SwitchNodes) and set(control.nodes) == {"a", "b"}
    engine.start()
    try:
        service = engine.acd.service
        until(lambda: all(node.connection.connected for node in control.nodes.values()), what="both nodes connected")
        a.register("1001")
        b.register("1002")
        until(lambda: control.registry.phone_node("1001") == "a" and control.registry.phone_node("1002") == "b",
              what="registrations seen per node")

        # Given 1002 on a break, a call on node b is served by 1001, whose phone is on node a
        service.not_ready("1002", "break")
        call_b = b.place_call(DID, "13800000002")
        until(lambda: serving(b, call_b.uuid) == "1001", what="caller on b served by 1001")
        service.ready("1002")
        # and a call on node a by 1002, whose phone is on node b
        call_a = a.place_call(DID, "13800000001")
        until(lambda: serving(a, call_a.uuid) == "1002", what="caller on a served by 1002")
        # Then each agent leg was placed on the caller's node (FreeSWITCH bridges only its own channels) and
        # reached the phone over SIP at the node it registered with
        for sim, agent, home in ((b, "1001", "a"), (a, "1002", "b")):
            originates = [line for line in sim.command_log if "originate" in line and f"jq_agent_id={agent}" in line]
            assert len(originates) == 1 and f"}}sofia/internal/{agent}@127.0.0.1:{SIP_PORTS[home]} " in originates[0]
        # The callers hang up; both agents are free again
        for call in (call_a, call_b):
            call.hangup("NORMAL_CLEARING")
        until(lambda: call_a.hung_up and call_b.hung_up, what="first calls over")
        until(lambda: all(ag.state is AgentState.AVAILABLE for ag in service.distributor.agents.values()),
              what="agents free")

        # Given one conversation on each node and one more caller queued on b
        talk_a = a.place_call(DID, "13800000003")
        until(lambda: serving(a, talk_a.uuid) is not None, what="second caller on a served")
        talk_b = b.place_call(DID, "13800000004")
        until(lambda: serving(b, talk_b.uuid) is not None, what="second caller on b served")
        agent_a, agent_b = serving(a, talk_a.uuid), serving(b, talk_b.uuid)
        queued_b = b.place_call(DID, "13800000005")
        until(lambda: b.channels.get(queued_b.uuid) is not None
              and b.channels[queued_b.uuid].variables.get(commands.VAR_QUEUED_AT), what="caller queued on b")
        queued_call_id = b.channels[queued_b.uuid].variables[commands.VAR_CALL_ID]
        talk_b_call_id = b.channels[talk_b.uuid].variables[commands.VAR_CALL_ID]

        # When node b dies
        crash(b)
        until(lambda: "b" in control.lost, what="node b declared lost")
        # Then the conversation on a goes on, its agent still on that call
        assert not talk_a.hung_up and serving(a, talk_a.uuid) == agent_a
        assert service.distributor.agents[agent_a].state is AgentState.ON_CALL
        # And b's agent is freed (no stuck agent); 1002, whose phone was on b, gets no offers
        until(lambda: service.distributor.agents[agent_b].state is not AgentState.ON_CALL, what="b's agent freed")
        until(lambda: not service.distributor.agents["1002"].registered, what="1002 unreachable")
        assert queued_call_id not in service.distributor.waiting
        assert engine.acd.writes.flush(10)
        interactions = InteractionRepository(engine.store)
        assert interactions.by_call_id(queued_call_id).hangup_cause == "NODE_LOST"
        assert interactions.by_call_id(talk_b_call_id).hangup_cause == "NODE_LOST"

        # And new calls go to the node that is left
        assert control.agent_route("1001")[0] == "a"

        # When node b comes back and its phone registers again
        restart(b, b_port)
        until(lambda: control.nodes["b"].connection.connected and "b" not in control.lost, what="node b back")
        b.register("1002")
        until(lambda: service.distributor.agents["1002"].registered, what="1002 reachable again")
        # Then b takes calls again, served by the free agent
        again = b.place_call(DID, "13800000006")
        until(lambda: serving(b, again.uuid) is not None, what="caller on b served after its return")
        assert not talk_a.hung_up
    finally:
        engine.stop()
