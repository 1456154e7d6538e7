"""Agents keep their state across an engine restart (issue 8.3): login, ready / not ready with its reason,
and what is left of a wrap-up come back from the store; registration is reconciled as the switch reports it."""
from __future__ import annotations

import time

from engine.acd.assembly import start_acd
from engine.acd.models import AgentState
from engine.acd.restore import LastState, restore_agents
from engine.config import build_config
from engine.store.database import open_store
from engine.store.repos.agents import AgentRepository
from engine.yamlsrc import load_text

from .helpers import agent, queue
from engine.acd.distributor import Distributor
from .test_assembly import YAML, _Control


def _distributor():
    return Distributor({"support": queue("support", wrap_up_seconds=30), "sales": queue("sales", wrap_up_seconds=60)},
                       [agent(a, queues=()) for a in ("1001", "1002", "1003", "1004", "1005", "1006")])


def test_each_agent_comes_back_in_the_state_the_store_last_saw():
    d = _distributor()
    now = 1_000.0
    last = {"1001": LastState("available", "login", now - 300),
            "1002": LastState("not-ready", "lunch", now - 100),
            "1003": LastState("wrap-up", "call ended", now - 20),   # 40 s of the 60 s wrap-up left
            "1004": LastState("wrap-up", "call ended", now - 90),   # wrap-up over while the engine was down
            "1005": LastState("logged-out", "logout", now - 50),
            "1006": LastState("on-call", "answered", now - 10)}     # the call ended with the engine
    restore_agents(d, last, now)
    states = {a: (d.agents[a].state, d.agents[a].not_ready_reason) for a in last}
    assert states == {"1001": (AgentState.AVAILABLE, ""), "1002": (AgentState.NOT_READY, "lunch"),
                      "1003": (AgentState.WRAP_UP, ""), "1004": (AgentState.AVAILABLE, ""),
                      "1005": (AgentState.LOGGED_OUT, ""), "1006": (AgentState.AVAILABLE, "")}
    assert d.agents["1003"].wrap_up_until == now + 40 and sorted(d.agents["1003"].queues) == ["sales", "support"]
    # The wrap-up ends on time, through the distributor's own timer
    d.tick(now + 39.9)
    assert d.agents["1003"].state is AgentState.WRAP_UP
    d.tick(now + 40)
    assert d.agents["1003"].state is AgentState.AVAILABLE


def test_an_engine_restart_keeps_agents_logged_in_paused_with_reason_and_in_wrap_up(tmp_path):
    config = build_config(load_text(YAML % (tmp_path, tmp_path), "engine.yaml"), environ={})
    store = open_store(f"sqlite:///{tmp_path / 'jq.db'}")
    store.create_all()
    repo = AgentRepository(store)
    for a in ("1001", "1002", "1003", "1004"):
        repo.add(a, extension=a)
    # Given a first engine where 1001 is ready, 1002 paused for training and 1003 logged in then out
    first = start_acd(config, store=store, control=_Control())
    first.service.login("1001")
    first.service.login("1002")
    first.service.not_ready("1002", "training")
    first.service.login("1003")
    first.service.logout("1003")
    first.stop()
    repo.record_state_change("1004", "wrap-up", "call ended", time.time() - 2)  # 3 of 5 s left
    # When the engine starts again on the same store
    second = start_acd(config, store=store, control=_Control())
    try:
        agents = second.service.distributor.agents
        assert agents["1001"].state is AgentState.AVAILABLE
        assert (agents["1002"].state, agents["1002"].not_ready_reason) == (AgentState.NOT_READY, "training")
        assert agents["1003"].state is AgentState.LOGGED_OUT
        assert agents["1004"].state is AgentState.WRAP_UP and agents["1004"].wrap_up_until > time.time()
        # And the stored timeline keeps the reason, so a further restart restores it again
        assert second.writes.flush(2)
        assert repo.latest_states()["1002"].reason == "training"
        # And an agent whose phone is not registered is marked so once the switch says it (no miss counted)
        second.service.set_registered("1001", False)
        assert not agents["1001"].registered and agents["1001"].consecutive_no_answers == 0
    finally:
        second.stop()
        store.dispose()
