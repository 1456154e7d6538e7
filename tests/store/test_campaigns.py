"""Campaigns and contacts: leases that only one dialer holds, retries, state changes, enrollment, claims."""
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


def test_operator_state_changes_are_checked_against_the_current_state(store) -> None:
    repo = CampaignRepository(store)
    campaign = repo.create("c")
    with pytest.raises(StoreError, match="cannot become paused"):
        repo.change_status(campaign.id, "paused")
    assert repo.change_status(campaign.id, "running") == ("draft", "running")
    assert repo.change_status(campaign.id, "running") == ("running", "running")
    assert repo.change_status(campaign.id, "paused") == ("running", "paused")
    with pytest.raises(StoreError, match="only from draft"):
        repo.change_status(campaign.id, "running", allowed_from=("draft",))  # launch is not resume
    assert repo.change_status(campaign.id, "stopped") == ("paused", "stopped")
    with pytest.raises(StoreError):
        repo.change_status(campaign.id, "running")


def test_save_creates_or_replaces_a_configuration(store) -> None:
    repo = CampaignRepository(store)
    first = repo.save("c", "predictive", "sales", 5, 600, {"config": {"name": "c"}})
    with pytest.raises(StoreError, match="already exists"):
        repo.save("c", "preview", "vip", 5, 600, {})
    again = repo.save("c", "agentless", None, 3, 60, {"config": {"name": "c", "mode": "agentless"}}, replace=True)
    assert again.id == first.id and again.mode == "agentless" and again.status == "draft"
    assert [c.name for c in repo.list()] == ["c"]


def test_enroll_in_batches_finds_customers_and_zones_and_skips_numbers_already_there(store) -> None:
    from engine.store.repos.customers import CustomerRepository

    known = CustomerRepository(store).upsert(["13812340001"], name="张伟", timezone="Asia/Urumqi")
    repo = CampaignRepository(store)
    campaign = repo.create("c")
    rows = [("+8613812340001", None, "Asia/Shanghai"), ("+8613812340002", None, "Asia/Shanghai"),
            ("+8613812340002", None, None)]
    seen: list[int] = []
    assert repo.enroll(campaign.id, rows, priority=3, progress=seen.append) == (2, 1)
    assert sum(seen) == 3
    first = repo.contact(1)
    assert (first.customer_id, first.timezone, first.priority) == (known.id, "Asia/Urumqi", 3)
    assert repo.contact(2).customer_id is None and repo.contact(2).timezone == "Asia/Shanghai"
    assert repo.enroll(campaign.id, rows[:1]) == (0, 1)


def test_segment_members_match_segment_recency_tags_and_tier(store) -> None:
    from engine.store.repos.customers import CustomerRepository

    customers = CustomerRepository(store)
    a = customers.upsert(["13812340001", "13812340009"], segment="prospect", tags=["5g", "broadband"], value_tier=4)
    customers.upsert(["13812340002"], segment="prospect", tags=["broadband"], value_tier=1)
    customers.upsert(["13812340003"], segment="vip", tags=["broadband"], value_tier=4)
    recent = customers.upsert(["13812340004"], segment="prospect", tags=["broadband"], value_tier=4)
    customers.touch(recent.id, T0 - dt.timedelta(days=2))
    repo = CampaignRepository(store)
    found = list(repo.segment_members(("prospect",), T0 - dt.timedelta(days=180), ("broadband",), 2, None, batch=1))
    assert found == [("+8613812340001", a.id, a.timezone)]  # primary number only
    assert len(list(repo.segment_members())) == 4


def test_defer_gives_contacts_back_blocked_or_due_later_and_due_and_leased_counts(store) -> None:
    repo = CampaignRepository(store)
    campaign = repo.create("c")
    repo.add_contacts(campaign.id, numbers(4))
    leased = repo.lease_due(campaign.id, "d", 3, T0)
    assert repo.due_and_leased(campaign.id, T0) == (1, 3)
    repo.defer("d", [(leased[0].id, "dnc_black", None, True), (leased[1].id, "campaign_window",
                                                              T0 + dt.timedelta(hours=2), False)])
    repo.defer("someone-else", [(leased[2].id, "dnc_black", None, True)])  # not theirs: no effect
    assert repo.contact(leased[0].id).status is ContactStatus.BLOCKED
    later = repo.contact(leased[1].id)
    assert later.lease_holder is None and later.next_attempt_at == T0 + dt.timedelta(hours=2)
    assert later.last_outcome == "campaign_window" and later.attempts == 0
    assert repo.contact(leased[2].id).lease_holder == "d"
    assert repo.due_and_leased(campaign.id, T0) == (1, 1)


def test_live_figures_are_published_for_status(store) -> None:
    repo = CampaignRepository(store)
    campaign = repo.create("c")
    repo.publish_live(campaign.id, {"dial_level": 2.0, "ringing": 7}, T0)
    got = repo.get(campaign.id)
    assert got.live == {"dial_level": 2.0, "ringing": 7} and got.live_at == T0


def test_concurrent_claims_on_a_number_leave_one_campaign_working_it(store) -> None:
    from engine.store.repos.compliance import claim

    repo = CampaignRepository(store)
    ids = [repo.create(f"c{i}").id for i in range(4)]
    won: list[int] = []
    barrier = threading.Barrier(4)

    def claimer(campaign_id: int) -> None:
        barrier.wait()
        with store.engine.begin() as conn:
            if claim(conn, store.is_sqlite, "+8613812340001", campaign_id, f"d{campaign_id}",
                     T0 + dt.timedelta(minutes=2), T0):
                won.append(campaign_id)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(won) == 1
    with store.engine.begin() as conn:  # the winner renews; after expiry another campaign may take it
        assert claim(conn, store.is_sqlite, "+8613812340001", won[0], "x", T0 + dt.timedelta(minutes=5), T0)
        other = next(i for i in ids if i != won[0])
        assert not claim(conn, store.is_sqlite, "+8613812340001", other, "y", T0 + dt.timedelta(minutes=9), T0)
        assert claim(conn, store.is_sqlite, "+8613812340001", other, "y", T0 + dt.timedelta(minutes=9),
                     T0 + dt.timedelta(minutes=5))


def test_dialer_migration_keeps_existing_attempts_as_finished_ones(empty_store) -> None:
    from sqlalchemy import text

    from engine.store import migrate
    from engine.store.repos.dial_attempts import DialAttemptRepository
    migrate.upgrade(empty_store.engine, "0003")
    with empty_store.engine.begin() as conn:
        conn.execute(text("INSERT INTO contact_attempts (number, at, outcome) VALUES ('+8613812340001', "
                          "'2026-03-01 10:00:00', 'no_answer')"))
    migrate.upgrade(empty_store.engine, "0004")
    [old] = DialAttemptRepository(empty_store).for_number(["+8613812340001"])
    assert (old.state, old.live, old.abandoned, old.outcome) == ("done", False, False, "no_answer")
    migrate.downgrade(empty_store.engine, "0003")
