"""Campaign contacts: leases that only one dialer holds, retries, exhaustion."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from engine.store.errors import StoreError
from engine.store.records import ContactStatus
from engine.store.repos.campaigns import CampaignRepository

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai


def numbers(n: int) -> list[str]:
    return [f"1381234{i:04d}" for i in range(n)]


def test_contacts_are_normalised_and_bad_or_duplicate_numbers_reported(store) -> None:
    repo = CampaignRepository(store)
    campaign = repo.create("spring", queue="sales")
    added, rejected = repo.add_contacts(campaign.id, ["13812340000", "+86 138 1234 0000", "nope", "13812340001"])
    assert added == 2
    assert [raw for raw, _ in rejected] == ["+86 138 1234 0000", "nope"]
    assert repo.counts(campaign.id) == {"pending": 2}
    with pytest.raises(StoreError, match="already exists"):
        repo.create("spring")


def test_a_leased_contact_is_not_given_to_another_dialer_until_the_lease_expires(store) -> None:
    repo = CampaignRepository(store)
    campaign = repo.create("c")
    repo.add_contacts(campaign.id, numbers(3))
    first = repo.lease_due(campaign.id, "dialer-a", 2, T0, lease_seconds=60)
    second = repo.lease_due(campaign.id, "dialer-b", 5, T0)
    assert len(first) == 2 and len(second) == 1
    assert not {c.id for c in first} & {c.id for c in second}
    assert repo.lease_due(campaign.id, "dialer-b", 5, T0 + dt.timedelta(seconds=30)) == []
    taken_over = repo.lease_due(campaign.id, "dialer-b", 5, T0 + dt.timedelta(seconds=61))
    assert {c.id for c in taken_over} == {c.id for c in first}
    assert not repo.renew_lease(first[0].id, "dialer-a", T0 + dt.timedelta(seconds=62))
    with pytest.raises(StoreError, match="lease lost"):
        repo.record_outcome(first[0].id, "dialer-a", "answered", T0 + dt.timedelta(seconds=62))


def test_failed_attempts_are_retried_after_the_delay_then_exhausted(store) -> None:
    repo = CampaignRepository(store)
    campaign = repo.create("c", max_attempts=2, retry_delay_s=600)
    repo.add_contacts(campaign.id, numbers(1))
    [contact] = repo.lease_due(campaign.id, "d", 1, T0)
    after = repo.record_outcome(contact.id, "d", "no_answer", T0)
    assert after.status is ContactStatus.PENDING and after.lease_holder is None
    assert after.next_attempt_at == T0 + dt.timedelta(seconds=600)
    assert repo.lease_due(campaign.id, "d", 1, T0 + dt.timedelta(seconds=599)) == []
    [again] = repo.lease_due(campaign.id, "d", 1, T0 + dt.timedelta(seconds=600))
    final = repo.record_outcome(again.id, "d", "busy", T0 + dt.timedelta(seconds=601))
    assert final.status is ContactStatus.EXHAUSTED and final.attempts == 2
    assert repo.lease_due(campaign.id, "d", 1, T0 + dt.timedelta(days=1)) == []


def test_a_final_outcome_completes_the_contact_and_priority_orders_leases(store) -> None:
    repo = CampaignRepository(store)
    campaign = repo.create("c")
    repo.add_contacts(campaign.id, ["13812340000"])
    repo.add_contacts(campaign.id, ["13812340001"], priority=5)
    leased = repo.lease_due(campaign.id, "d", 2, T0)
    assert [c.number for c in leased] == ["+8613812340001", "+8613812340000"]
    done = repo.record_outcome(leased[0].id, "d", "sale", T0, final=True)
    assert done.status is ContactStatus.DONE
    repo.release(leased[1].id, "d")
    assert [c.id for c in repo.lease_due(campaign.id, "e", 5, T0)] == [leased[1].id]


def test_concurrent_dialers_never_lease_the_same_contact(store) -> None:
    repo = CampaignRepository(store)
    campaign = repo.create("c")
    repo.add_contacts(campaign.id, numbers(60))
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def dialer(name: str) -> None:
        barrier.wait()
        got: list[int] = []
        for _ in range(10):
            got += [c.id for c in CampaignRepository(store).lease_due(campaign.id, name, 3, T0)]
        results[name] = got

    threads = [threading.Thread(target=dialer, args=(f"d{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    leased = [cid for ids in results.values() for cid in ids]
    assert len(leased) == len(set(leased)) == 60
