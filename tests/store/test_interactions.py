"""Interactions, recordings and surveys."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.store.errors import StoreConflict
from engine.store.repos.agents import AgentRepository
from engine.store.repos.customers import CustomerRepository
from engine.store.repos.interactions import InteractionRepository, RecordingRepository, SurveyRepository

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai


def s(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_an_inbound_call_is_linked_to_the_customer_by_caller_number(store) -> None:
    customer = CustomerRepository(store).upsert(["13812345678"])
    repo = InteractionRepository(store)
    iid = repo.start("inbound", T0, caller="0086 138 1234 5678", callee="4008001234", did="4008001234", call_id="c1")
    got = repo.get(iid)
    assert got is not None and got.customer_id == customer.id and got.caller == "+8613812345678"
    assert repo.by_call_id("c1").id == iid


def test_finishing_a_bridged_call_computes_wait_and_talk_and_updates_the_customer(store) -> None:
    AgentRepository(store).add("1001")
    customer = CustomerRepository(store).upsert(["13812345678"])
    repo = InteractionRepository(store)
    iid = repo.start("inbound", T0, caller="13812345678")
    repo.update(iid, ivr_path=["welcome", "menu", "queue"], queue="billing", queue_entered_at=s(10),
                offered_at=s(40), agent_id="1001", answered_at=s(42), bridged_at=s(42))
    done = repo.finish(iid, s(100), hangup_cause="NORMAL_CLEARING", hangup_by="caller")
    assert (done.wait_seconds, done.talk_seconds, done.abandoned) == (32.0, 58.0, False)
    assert done.ivr_path == ("welcome", "menu", "queue")
    after = CustomerRepository(store).get(customer.id)
    assert after is not None and after.last_agent_id == "1001" and after.last_contact_at == s(100)


def test_a_caller_who_hangs_up_in_queue_is_abandoned_with_their_wait(store) -> None:
    repo = InteractionRepository(store)
    iid = repo.start("inbound", T0, caller="13812345678")
    repo.update(iid, queue="sales", queue_entered_at=s(5))
    done = repo.finish(iid, s(65), hangup_cause="ORIGINATOR_CANCEL")
    assert done.abandoned and done.wait_seconds == 60.0 and done.talk_seconds == 0.0


def test_unknown_interaction_fields_are_refused(store) -> None:
    repo = InteractionRepository(store)
    iid = repo.start("inbound", T0)
    with pytest.raises(ValueError, match="colour"):
        repo.update(iid, colour="red")
    with pytest.raises(ValueError):
        repo.start("sideways", T0)


def test_recent_interactions_are_newest_first_and_limited(store) -> None:
    customer = CustomerRepository(store).upsert(["13812345678"])
    repo = InteractionRepository(store)
    ids = [repo.start("inbound", s(i * 60), caller="13812345678") for i in range(7)]
    recent = repo.recent_for_customer(customer.id, limit=5)
    assert [i.id for i in recent] == list(reversed(ids))[:5]
    assert [i.id for i in repo.between(s(60), s(180))] == ids[1:3]


def test_recordings_keep_size_and_checksum(store) -> None:
    iid = InteractionRepository(store).start("inbound", T0)
    repo = RecordingRepository(store)
    rec = repo.add("/var/rec/a.wav", 61.5, 984000, "AB" * 32, iid)
    assert repo.for_interaction(iid) == [rec]
    assert rec.sha256 == "ab" * 32 and rec.size_bytes == 984000
    with pytest.raises(ValueError, match="sha256"):
        repo.add("/x.wav", 1, 1, "nothex", iid)


def test_survey_scores_are_1_to_5_and_averaged(store) -> None:
    repo = SurveyRepository(store)
    for score in (5, 4, 3):
        repo.record("satisfaction", score, T0)
    with pytest.raises(ValueError):
        repo.record("satisfaction", 6, T0)
    assert repo.average(s(-1), s(1), "satisfaction") == (3, 4.0)
    assert repo.average(s(10), s(20)) == (0, None)


def test_references_to_missing_rows_are_refused_as_store_conflicts(store) -> None:
    repo = InteractionRepository(store)
    iid = repo.start("inbound", T0)
    with pytest.raises(StoreConflict, match="refused"):
        repo.update(iid, disposition_code="NO-SUCH-CODE")
    with pytest.raises(StoreConflict):
        AgentRepository(store).record_state_change("ghost", "ready", None, T0)
    assert repo.get(iid).disposition_code is None


def test_search_filters_by_time_number_queue_agent_outcome_and_abandoned_newest_first(store) -> None:
    AgentRepository(store).add("1001")
    repo = InteractionRepository(store)
    ivr = repo.start("inbound", s(0), caller="13812345678", call_id="a")
    repo.update(ivr, ivr_outcome="caller_hangup")
    answered = repo.start("inbound", s(60), caller="13912345678", call_id="b")
    repo.update(answered, queue="support", agent_id="1001", queue_entered_at=s(61), bridged_at=s(70),
                disposition_code=None)
    gone = repo.start("outbound", s(120), callee="13712345678", call_id="c")
    repo.update(gone, queue="sales", queue_entered_at=s(121))
    repo.finish(gone, s(150))
    ids = lambda found: [i.id for i in found]  # noqa: E731
    assert ids(repo.search()) == [gone, answered, ivr]
    assert ids(repo.search(since=s(60), until=s(120))) == [answered]
    assert ids(repo.search(number="+86 137 1234 5678")) == [gone]  # the callee of an outbound call
    assert ids(repo.search(queue="support")) == ids(repo.search(agent_id="1001")) == [answered]
    assert ids(repo.search(outcome="answered")) == [answered]
    assert ids(repo.search(outcome="caller_hangup")) == [ivr]
    assert ids(repo.search(outcome="abandoned")) == ids(repo.search(abandoned=True)) == [gone]
    assert ids(repo.search(abandoned=False, limit=1)) == [answered]


def test_latest_states_give_each_agents_newest_step(store) -> None:
    agents = AgentRepository(store)
    agents.add("1001")
    agents.add("1002")
    agents.record_state_change("1001", "ready", None, s(0))
    agents.record_state_change("1001", "not_ready", "lunch", s(60))
    agents.record_state_change("1002", "logged_out", None, s(30))
    latest = agents.latest_states()
    assert {k: (v.state, v.reason, v.at) for k, v in latest.items()} == {
        "1001": ("not_ready", "lunch", s(60)), "1002": ("logged_out", None, s(30))}
