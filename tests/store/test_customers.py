"""Customers: upsert by any number, lookups in any format, fields, last and owner agent."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.store.errors import InvalidPhoneNumber, NotFound, StoreError
from engine.store.records import Segment
from engine.store.repos.agents import AgentRepository
from engine.store.repos.customers import CustomerRepository

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai


def test_upsert_creates_then_updates_the_customer_that_owns_any_of_the_numbers(store) -> None:
    repo = CustomerRepository(store)
    first = repo.upsert(["138 1234 5678"], name="王芳", segment="new", at=T0)
    second = repo.upsert(["+8613812345678", "010-12345678"], value_tier=4, segment="VIP", at=T0)
    assert second.id == first.id
    assert second.phones == ("+8613812345678", "+861012345678")
    assert (second.name, second.segment, second.value_tier) == ("王芳", Segment.VIP, 4)
    assert repo.count() == 1


@pytest.mark.parametrize("caller_id", ["008613812345678", "8613812345678", "013812345678", "+86 138-1234-5678",
                                       "01012345678"])
def test_a_customer_is_found_by_any_of_their_numbers_in_any_format(store, caller_id: str) -> None:
    repo = CustomerRepository(store)
    created = repo.upsert(["13812345678", "01012345678"], name="Li")
    found = repo.find_by_phone(caller_id)
    assert found is not None and found.id == created.id


def test_unknown_and_unparseable_numbers_find_nobody(store) -> None:
    repo = CustomerRepository(store)
    repo.upsert(["13812345678"])
    assert repo.find_by_phone("13900000000") is None
    assert repo.find_by_phone("anonymous") is None


def test_numbers_of_two_different_customers_cannot_be_merged_by_an_upsert(store) -> None:
    repo = CustomerRepository(store)
    repo.upsert(["13812345678"])
    repo.upsert(["13912345678"])
    with pytest.raises(StoreError, match="different customers"):
        repo.upsert(["13812345678", "13912345678"], name="merge?")


def test_quotes_and_sql_metacharacters_in_names_are_stored_verbatim(store) -> None:
    name = "O'Brien\"; DROP TABLE customers; -- 张 %_\\"
    repo = CustomerRepository(store)
    repo.upsert(["13812345678"], name=name, tags=["a'b", "c;d"])
    found = repo.find_by_phone("13812345678")
    assert found is not None and found.name == name and found.tags == ("a'b", "c;d")
    assert repo.count() == 1


def test_time_zone_is_derived_from_the_number_unless_given(store) -> None:
    repo = CustomerRepository(store)
    assert repo.upsert(["+16502530000"]).timezone == "America/Los_Angeles"
    assert repo.upsert(["13812345678"], timezone="Asia/Urumqi").timezone == "Asia/Urumqi"
    with pytest.raises(ValueError, match="time zone"):
        repo.upsert(["13912345678"], timezone="Mars/Olympus")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("segment", "gold", "segment"), ("value_tier", "high", "value tier"), ("arpu", "-3", "ARPU"),
    ("do_not_disturb", "maybe", "yes or no"),
])
def test_bad_field_values_are_refused_with_a_reason(store, field: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CustomerRepository(store).upsert(["13812345678"], **{field: value})
    assert CustomerRepository(store).count() == 0


def test_an_invalid_number_is_refused(store) -> None:
    with pytest.raises(InvalidPhoneNumber):
        CustomerRepository(store).upsert(["12345"])


def test_last_and_owner_agent_are_remembered(store) -> None:
    AgentRepository(store).add("1001", "Li")
    AgentRepository(store).add("1002", "Wang")
    repo = CustomerRepository(store)
    customer = repo.upsert(["13812345678"], owner_agent_id="1002")
    repo.set_last_agent(customer.id, "1001", T0)
    found = repo.get(customer.id)
    assert found is not None
    assert (found.last_agent_id, found.owner_agent_id, found.last_contact_at) == ("1001", "1002", T0)
    with pytest.raises(NotFound):
        repo.set_last_agent(999, "1001", T0)


def test_account_number_lookup_and_attributes(store) -> None:
    repo = CustomerRepository(store)
    repo.upsert(["13812345678"], account_no="AC-1", attributes={"balance": "12.50"})
    found = repo.find_by_account("AC-1")
    assert found is not None and found.attributes == {"balance": "12.50"}
    assert repo.find_by_account("AC-2") is None


def test_timestamps_come_back_as_aware_utc(store) -> None:
    repo = CustomerRepository(store)
    customer = repo.upsert(["13812345678"])
    local = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    repo.touch(customer.id, local)
    found = repo.get(customer.id)
    assert found is not None and found.last_contact_at == T0 and found.last_contact_at.tzinfo is not None


def test_export_iteration_visits_every_customer_once(store) -> None:
    repo = CustomerRepository(store)
    for i in range(7):
        repo.upsert([f"1381234{i:04d}"])
    assert sorted(c.id for c in repo.iter_all(batch=3)) == sorted({c.id for c in repo.iter_all(batch=3)})
    assert len(list(repo.iter_all(batch=3))) == 7
