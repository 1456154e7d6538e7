"""The ACD's store adapters write agent states, interactions, callbacks and recordings into a real store."""
from __future__ import annotations

import pytest

from engine.acd.store_adapters import (StoreAgentDirectory, StoreAgentLog, StoreCallbacks, StoreCustomers, StoreInteractions,
                                       StoreRecordings, agents_from_store)
from engine.store.database import open_store
from engine.store.repos.agents import AgentRepository
from engine.store.repos.callbacks import CallbackRepository
from engine.store.repos.customers import CustomerRepository
from engine.store.repos.interactions import InteractionRepository, RecordingRepository
from engine.store.screenpop import ScreenPop

T0 = 1_763_000_000.0


@pytest.fixture()
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'jq.db'}")
    s.create_all()
    yield s
    s.dispose()


def test_agents_and_their_state_changes_round_trip(store):
    repo = AgentRepository(store)
    repo.add("1001", name="Li Lei", extension="1001")
    repo.set_skill("1001", "mandarin", 7)
    [agent] = agents_from_store(repo)
    assert (agent.agent_id, agent.extension, agent.skills) == ("1001", "1001", {"mandarin": 7})
    StoreAgentLog(repo).agent_state("1001", "not-ready", "lunch", T0)
    [change] = repo.state_changes("1001")
    assert (change.state, change.reason) == ("not-ready", "lunch")


def test_queue_events_open_and_fill_the_interaction_and_callbacks_merge_per_day(store):
    interactions = StoreInteractions(InteractionRepository(store))
    interactions.queue_event("call-1", T0, caller="13800138000", queue="support", queue_entered_at=T0)
    interactions.queue_event("call-1", T0 + 30, abandoned=True, wait_seconds=30.0)
    record = InteractionRepository(store).by_call_id("call-1")
    assert record.queue == "support" and record.abandoned and record.wait_seconds == 30.0
    callbacks = StoreCallbacks(CallbackRepository(store), interactions)
    first = callbacks.request_callback("13800138000", "abandoned", T0 + 30, "abandoned", call_id="call-1")
    again = callbacks.request_callback("+86 138 0013 8000", "abandoned", T0 + 60, "abandoned", call_id="call-1")
    assert first == again
    assert CallbackRepository(store).get(int(first)).requests == 2
    assert callbacks.request_callback("anonymous", "abandoned", T0, "abandoned") is None
    StoreRecordings(RecordingRepository(store), interactions).add_recording("call-1", "/r/a.wav", 12.5, 100, "a" * 64, T0)
    [rec] = RecordingRepository(store).for_interaction(record.id)
    assert rec.sha256 == "a" * 64


def test_customer_lookup_gives_routing_features_and_sticky_agents(store):
    customers = CustomerRepository(store)
    AgentRepository(store).add("1002", name="Han Meimei", extension="1002")
    c = customers.upsert(["13800138000"], name="王芳", segment="vip", value_tier=1, tags=["complaint"])
    customers.set_last_agent(c.id, "1002", T0)
    info = StoreCustomers(ScreenPop(store)).lookup("+8613800138000")
    assert info.name == "王芳" and info.segment == "vip" and info.tags == ("complaint",)
    assert info.last_agent == "1002"
    assert StoreCustomers(ScreenPop(store)).lookup("", customer_id=str(c.id)).customer_id == str(c.id)
    assert StoreCustomers(ScreenPop(store)).lookup("13900000000") is None


def test_an_agent_added_to_the_store_after_start_can_log_in(store):
    from engine.acd.models import QueueConfig
    from .fakes import make_service

    repo = AgentRepository(store)
    service, switch, clock = make_service([QueueConfig("support")], [], agent_directory=StoreAgentDirectory(repo))
    repo.add("1009", name="New Hire", extension="8009")
    repo.set_skill("1009", "billing", 4)
    service.login("1009", ["support"])
    agent = service.distributor.agents["1009"]
    assert agent.extension == "8009" and agent.skills == {"billing": 4} and agent.state.value == "available"
    assert StoreAgentDirectory(repo)("nobody") is None


def test_interaction_ids_are_cached_for_recent_calls_only_and_found_again_in_the_store(store):
    interactions = StoreInteractions(InteractionRepository(store), remember=2)
    for n in range(5):
        interactions.queue_event(f"call-{n}", T0 + n, caller="13800138000", queue="support")
    assert len(interactions._ids) == 2  # memory stays bounded however many calls the engine handles
    first = InteractionRepository(store).by_call_id("call-0")
    assert interactions.interaction_id("call-0") == first.id  # an evicted call is found again, not duplicated
    interactions.queue_event("call-0", T0 + 9, wait_seconds=5.0)
    assert InteractionRepository(store).by_call_id("call-0").wait_seconds == 5.0
