"""Agent-first callbacks survive an engine restart: they are booked in the store and put back in line at start."""
from __future__ import annotations

import pytest

from engine.acd.legs import SwitchLegs
from engine.acd.models import Agent, AgentState, QueueConfig
from engine.acd.service import QueueService
from engine.acd.store_adapters import StoreCallbacks, StoreInteractions
from engine.store.database import open_store
from engine.store.records import CallbackStatus
from engine.store.repos.agents import AgentRepository
from engine.store.repos.callbacks import CallbackRepository
from engine.store.repos.interactions import InteractionRepository

from .fakes import Clock, FakeSwitch, wait_until


@pytest.fixture()
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'jq.db'}")
    s.create_all()
    AgentRepository(s).add("1001", name="Li Lei", extension="1001")
    yield s
    s.dispose()


def _engine(store, clock: Clock, queues=None) -> tuple[QueueService, FakeSwitch]:
    """One engine run over the store: a fresh service, switch and adapters, as after a process start."""
    switch = FakeSwitch()
    interactions = StoreInteractions(InteractionRepository(store))
    queues = queues or [QueueConfig("support", wrap_up_seconds=5, max_wait=60)]
    service = QueueService({q.name: q for q in queues}, [Agent("1001", extension="1001", queues={"support": {}})],
                           legs=SwitchLegs(switch), clock=clock, interactions=interactions,
                           callbacks=StoreCallbacks(CallbackRepository(store), interactions),
                           dial_customer=lambda number: f"sofia/gateway/carrier/{number}")
    switch.service = service
    return service, switch


def test_a_booked_agent_first_callback_is_worked_by_the_next_engine_after_a_restart(store):
    clock = Clock()
    # Given a callback booked while no agent was ready, then the engine stops
    first, _ = _engine(store, clock)
    first.start()
    first.queue_callback("13800138000", "support", since=clock.now - 30)
    [booked] = CallbackRepository(store).due(clock.now)
    assert booked.source == "agent_first" and booked.status is CallbackStatus.OPEN
    first.stop()
    # When a new engine starts over the same store, an hour later (past the queue's max wait)
    clock.now += 3600
    second, switch = _engine(store, clock)
    second.start()
    try:
        [virtual] = [c for c in second.calls.values() if c.callback]
        assert second.distributor.waiting[virtual.call_id].enqueued_at == booked.due_at.timestamp()
        # Then the callback is offered to the agent who logs in, the customer dialled and bridged
        second.login("1001")
        leg = switch.answer("1001")
        wait_until(lambda: any(ext.endswith("13800138000") for _, ext, _ in switch.rung))
        switch.answer(switch.rung[-1][1])  # the store keeps the number in E.164
        wait_until(lambda: any(c.startswith(f"uuid_bridge {leg}") for c in switch.commands))
        # And the store marks it done, so nobody calls the customer twice
        wait_until(lambda: CallbackRepository(store).get(booked.id).status is CallbackStatus.DONE)
        assert CallbackRepository(store).get(booked.id).agent_id == "1001"
        switch.hang_up_leg(leg)
        wait_until(lambda: second.distributor.agents["1001"].state is AgentState.WRAP_UP)
    finally:
        second.stop()


def test_an_unreachable_customer_is_retried_after_a_restart_and_closed_as_failed_after_the_last_try(store):
    clock = Clock()
    for attempt in range(3):
        service, switch = _engine(store, clock)
        service.start()
        if attempt == 0:
            service.queue_callback("13800138000", "support")
        service.login("1001")
        leg = switch.answer("1001")
        wait_until(lambda: any(ext.endswith("13800138000") for _, ext, _ in switch.rung))
        switch.fail(switch.rung[-1][1], "NO_ANSWER")
        wait_until(lambda: any(u == leg for u, _ in switch.killed))
        switch.hang_up_leg(leg)
        service.stop()
        clock.now += 600
    [callback] = [CallbackRepository(store).get(1)]
    assert callback.status is CallbackStatus.FAILED and callback.attempts == 3
    service, switch = _engine(store, clock)
    assert service.restore_callbacks() == []
