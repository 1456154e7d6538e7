"""Screen-pop: the caller's whole context from any caller-ID format in one call."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.store.database import open_store
from engine.store.errors import StoreUnavailable
from engine.store.migrate import check_schema_current
from engine.store.repos.agents import AgentRepository
from engine.store.repos.callbacks import CallbackRepository
from engine.store.repos.customers import CustomerRepository
from engine.store.repos.interactions import InteractionRepository
from engine.store.screenpop import ScreenPop

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai


@pytest.fixture
def known_caller(store):
    AgentRepository(store).add("1001", "Li")
    AgentRepository(store).add("1002", "Wang")
    customers = CustomerRepository(store)
    customer = customers.upsert(["13812345678", "01012345678"], name="张伟", segment="vip", tags="5g,family",
                                owner_agent_id="1002")
    calls = InteractionRepository(store)
    ids = []
    for i in range(7):
        iid = calls.start("inbound", T0 + dt.timedelta(hours=i), caller="13812345678")
        calls.update(iid, agent_id="1001", queue_entered_at=T0 + dt.timedelta(hours=i),
                     bridged_at=T0 + dt.timedelta(hours=i, seconds=20))
        calls.finish(iid, T0 + dt.timedelta(hours=i, minutes=5))
        ids.append(iid)
    callbacks = CallbackRepository(store)
    open_cb = callbacks.request("01012345678", "abandoned", T0 + dt.timedelta(days=1), "acd")
    closed = callbacks.request("13812345678", "x", T0, "acd")
    callbacks.close(closed.id, "done", T0)
    return customer, ids, open_cb


@pytest.mark.parametrize("caller_id", ["+8613812345678", "008613812345678", "13812345678", "013812345678",
                                       "138-1234-5678", "sip:+8613812345678@pbx", "010 1234 5678"])
def test_screen_pop_shows_customer_history_callbacks_and_agents(store, known_caller, caller_id: str) -> None:
    customer, ids, open_cb = known_caller
    context = ScreenPop(store).lookup(caller_id)
    assert context is not None
    assert context.customer.id == customer.id and context.customer.name == "张伟"
    assert context.tags == ("5g", "family")
    assert [i.id for i in context.recent_interactions] == list(reversed(ids))[:5]
    assert [c.id for c in context.open_callbacks] == [open_cb.id]
    assert context.owner_agent.name == "Wang" and context.last_agent.name == "Li"
    assert context.matched_number in customer.phones


def test_unknown_or_anonymous_callers_have_no_screen_pop(store, known_caller) -> None:
    pop = ScreenPop(store)
    assert pop.lookup("13900000000") is None
    assert pop.lookup("anonymous") is None
    assert pop.lookup("") is None


def test_a_new_customer_has_an_empty_history(store) -> None:
    customer = CustomerRepository(store).upsert(["13912345678"])
    context = ScreenPop(store).for_customer(customer.id)
    assert context is not None
    assert context.recent_interactions == () and context.open_callbacks == ()
    assert context.owner_agent is None and context.last_agent is None


def test_an_unreachable_database_raises_the_stores_own_error() -> None:
    store = open_store("postgresql://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(StoreUnavailable):
            ScreenPop(store).lookup("13812345678")
        with pytest.raises(StoreUnavailable):
            check_schema_current(store.engine)
    finally:
        store.dispose()
