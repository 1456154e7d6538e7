"""Callbacks de-duplicated per number and local day; DNC lists; contact attempts for frequency caps."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.store.errors import InvalidPhoneNumber
from engine.store.records import CallbackStatus, DncList
from engine.store.repos.agents import AgentRepository
from engine.store.repos.callbacks import CallbackRepository
from engine.store.repos.customers import CustomerRepository
from engine.store.repos.dnc import ContactAttemptRepository, DncRepository

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai

UTC = dt.timezone.utc


def test_two_callback_requests_for_one_number_on_one_day_become_one_callback(store) -> None:
    customer = CustomerRepository(store).upsert(["13812345678"])
    repo = CallbackRepository(store)
    first = repo.request("13812345678", "abandoned in queue", T0 + dt.timedelta(hours=2), "acd")
    second = repo.request("+86 138 1234 5678", "pressed 1", T0, "ivr")
    assert second.id == first.id and second.requests == 2
    assert second.due_at == T0  # the earlier due time wins
    assert second.customer_id == customer.id
    assert [c.id for c in repo.open_for(customer_id=customer.id)] == [first.id]


def test_a_request_after_that_days_callback_was_worked_reopens_it(store) -> None:
    AgentRepository(store).add("1001")
    repo = CallbackRepository(store)
    first = repo.request("13812345678", "abandoned", T0, "acd")
    repo.record_attempt(first.id, "1001")
    repo.close(first.id, CallbackStatus.DONE, T0 + dt.timedelta(minutes=5))
    again = repo.request("13812345678", "abandoned again", T0 + dt.timedelta(hours=3), "acd")
    assert again.id == first.id and again.status == CallbackStatus.OPEN
    assert again.attempts == 0 and again.due_at == T0 + dt.timedelta(hours=3)
    assert [c.id for c in repo.due(T0 + dt.timedelta(hours=4))] == [first.id]


def test_the_day_is_the_callers_local_day_not_the_utc_day(store) -> None:
    repo = CallbackRepository(store)
    before_midnight = dt.datetime(2026, 3, 2, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai
    after_midnight = dt.datetime(2026, 3, 2, 16, 1, tzinfo=UTC)  # 00:01 next day in Shanghai, same UTC day
    a = repo.request("13812345678", "x", before_midnight, "acd")
    b = repo.request("13812345678", "x", after_midnight, "acd")
    assert a.id != b.id
    assert (a.day, b.day) == (dt.date(2026, 3, 2), dt.date(2026, 3, 3))


def test_due_callbacks_come_oldest_first_and_closed_ones_disappear(store) -> None:
    AgentRepository(store).add("1001")
    repo = CallbackRepository(store)
    late = repo.request("13812345678", "x", T0 + dt.timedelta(minutes=30), "acd")
    early = repo.request("13912345678", "y", T0, "acd")
    assert [c.id for c in repo.due(T0 + dt.timedelta(hours=1))] == [early.id, late.id]
    assert [c.id for c in repo.due(T0 + dt.timedelta(minutes=1))] == [early.id]
    assert repo.record_attempt(early.id, "1001").attempts == 1
    repo.close(early.id, CallbackStatus.DONE, T0)
    assert [c.id for c in repo.due(T0 + dt.timedelta(hours=1))] == [late.id]
    with pytest.raises(ValueError):
        repo.close(late.id, "open", T0)


def test_a_callback_for_an_invalid_number_is_refused(store) -> None:
    with pytest.raises(InvalidPhoneNumber):
        CallbackRepository(store).request("anonymous", "x", T0, "acd")


def test_blacklisted_numbers_are_blocked_in_any_format_until_they_expire(store) -> None:
    repo = DncRepository(store)
    repo.add("13812345678", reason="asked", expires_at=T0 + dt.timedelta(days=1))
    repo.add("13912345678", DncList.GREY, reason="complained")
    entry = repo.is_blocked("0086-138-1234-5678", T0)
    assert entry is not None and entry.list_kind is DncList.BLACK and entry.reason == "asked"
    assert repo.is_blocked("13812345678", T0 + dt.timedelta(days=2)) is None
    assert repo.is_blocked("13912345678", T0).list_kind is DncList.GREY
    assert repo.is_blocked("13700000000", T0) is None
    assert repo.remove("+8613912345678") and not repo.remove("13912345678")
    assert repo.is_blocked("13912345678", T0) is None


def test_adding_a_number_again_replaces_its_entry(store) -> None:
    repo = DncRepository(store)
    repo.add("13812345678", DncList.GREY)
    repo.add("13812345678", DncList.BLACK, reason="now black")
    assert [(e.number, e.list_kind, e.reason) for e in repo.list()] == [("+8613812345678", DncList.BLACK, "now black")]
    added, replaced = repo.add_many([("+8613812345678", "grey", "", None), ("+8613912345678", "black", "", None)], "t")
    assert (added, replaced) == (1, 1)


def test_contact_attempts_are_counted_per_number_since_a_time(store) -> None:
    repo = ContactAttemptRepository(store)
    for minutes in (0, 30, 90):
        repo.record("13812345678", "no_answer", T0 + dt.timedelta(minutes=minutes))
    repo.record("13912345678", "answered", T0)
    assert repo.count_since("+86 138 1234 5678", T0 + dt.timedelta(minutes=10)) == 2
    assert repo.last_for("13812345678").at == T0 + dt.timedelta(minutes=90)
    assert repo.count_since("garbage", T0) == 0


def test_callbacks_list_by_status_soonest_due_first(store) -> None:
    repo = CallbackRepository(store)
    late = repo.request("13812345678", "x", T0 + dt.timedelta(hours=3), "ivr", now=T0)
    soon = repo.request("13912345678", "y", T0 + dt.timedelta(hours=1), "acd", now=T0)
    done = repo.request("13712345678", "z", T0, "agent", now=T0)
    repo.close(done.id, "done", T0)
    assert [c.id for c in repo.list()] == [soon.id, late.id]
    assert [c.id for c in repo.list(CallbackStatus.DONE)] == [done.id]
    assert [c.id for c in repo.list(None, limit=2)] == [done.id, soon.id]


def test_dnc_list_by_list_and_in_force_at_a_time(store) -> None:
    repo = DncRepository(store)
    repo.add("13812345678", "black", "asked", "cli")
    repo.add("13912345678", "grey", "", "cli", T0 + dt.timedelta(days=1))
    assert [e.number for e in repo.list()] == ["+8613812345678", "+8613912345678"]
    assert [e.number for e in repo.list(DncList.GREY)] == ["+8613912345678"]
    assert [e.number for e in repo.list(at=T0 + dt.timedelta(days=2))] == ["+8613812345678"]
