"""The IVR's ports backed by the SQL store: customers found, path/digits/outcome and surveys stored."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

pytest.importorskip("engine.store.repos.interactions")

from engine.ivr.ports import CallbackRequest, IvrRecord  # noqa: E402
from engine.ivr.store_adapter import StoreCallbacks, StoreDirectory, StoreInteractionLog  # noqa: E402
from engine.store.database import open_store  # noqa: E402
from engine.store.repos.callbacks import CallbackRepository  # noqa: E402
from engine.store.repos.customers import CustomerRepository  # noqa: E402
from engine.store.repos.interactions import InteractionRepository, SurveyRepository  # noqa: E402

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'jq.db'}")
    store.create_all()
    yield store
    store.dispose()


def test_directory_returns_flat_customer_fields_with_attributes(store):
    customers = CustomerRepository(store)
    customers.upsert(["13800138000"], name="王芳", segment="vip", tags=["offer_5g"], account_no="A100",
                     attributes={"balance": "12.5"})
    directory = StoreDirectory(customers)
    found = directory.find_by_phone("+8613800138000")
    assert (found["name"], found["segment"], found["tags"], found["balance"]) == ("王芳", "vip", ["offer_5g"], "12.5")
    assert directory.find_by_reference("account", "A100")["name"] == "王芳"
    assert directory.find_by_reference("waybill", "A100") is None
    assert directory.find_by_phone("13900000000") is None


def test_ivr_record_and_a_survey_answered_before_the_interaction_existed_are_stored_on_it(store):
    interactions, surveys = InteractionRepository(store), SurveyRepository(store)
    log = StoreInteractionLog(interactions, surveys, now=lambda: T0 + timedelta(minutes=2))
    log.survey_answered("uuid-1", "q1", 4)  # a self-service survey: no interaction yet
    record = IvrRecord("uuid-1", "telecom_service", "13800138000", "10086", T0, T0 + timedelta(minutes=1),
                       path=["welcome", "pin"], digits=[("pin", "****56")], outcome="caller_hangup",
                       ended_by_caller=True)
    log.ivr_finished(record)
    stored = interactions.by_call_id("uuid-1")
    assert (stored.ivr_flow, list(stored.ivr_path), list(stored.ivr_digits), stored.ivr_outcome) == (
        "telecom_service", ["welcome", "pin"], ["pin:****56"], "caller_hangup")
    assert stored.hangup_at is not None and stored.hangup_by == "caller"
    log.survey_answered("uuid-1", "q2", 5)
    assert [(s.question, s.score) for s in surveys.for_interaction(stored.id)] == [("q1", 4), ("q2", 5)]


def test_ivr_record_updates_an_interaction_opened_by_the_call_layer(store):
    interactions = InteractionRepository(store)
    existing = interactions.start("inbound", T0, caller="13800138000", did="10086", call_id="uuid-2")
    log = StoreInteractionLog(interactions, SurveyRepository(store), now=lambda: T0)
    log.ivr_finished(IvrRecord("uuid-2", "telecom_service", "13800138000", "10086", T0, path=["a"],
                               outcome="answered"))
    stored = interactions.get(existing)
    # The flow ending is the call ending: the interaction the call layer opened is closed too.
    assert stored.ivr_outcome == "answered" and stored.hangup_at == T0 and stored.hangup_by == "ivr"


def test_the_talk_time_the_acd_stored_survives_the_ivr_closing_the_call(store):
    import datetime as dt

    interactions = InteractionRepository(store)
    existing = interactions.start("inbound", T0, caller="13800138000", call_id="uuid-5")
    interactions.update(existing, queue="vip_service", queue_entered_at=T0, bridged_at=T0 + dt.timedelta(seconds=5),
                        talk_seconds=42.0)  # as the ACD stores it when the agent hangs up
    later = T0 + dt.timedelta(seconds=90)  # the caller then answered a survey
    log = StoreInteractionLog(interactions, SurveyRepository(store), now=lambda: later)
    log.ivr_finished(IvrRecord("uuid-5", "telecom_service", "13800138000", "10086", T0, path=["q", "survey"],
                               outcome="completed", ended_at=later))
    stored = interactions.get(existing)
    assert stored.hangup_at == later and stored.talk_seconds == 42.0 and stored.wait_seconds == 5.0


def test_ivr_record_fills_the_dialled_number_of_an_interaction_the_acd_opened(store):
    interactions = InteractionRepository(store)
    existing = interactions.start("inbound", T0, caller="13800138000", call_id="uuid-4")  # as engine/acd does
    log = StoreInteractionLog(interactions, SurveyRepository(store), now=lambda: T0)
    log.ivr_finished(IvrRecord("uuid-4", "logistics_hotline", "13800138000", "4008001234", T0, path=["q"],
                               outcome="answered"))
    assert interactions.get(existing).did == "4008001234"


def test_callback_request_is_stored_as_an_ivr_callback(store):
    callbacks = CallbackRepository(store)
    ident = StoreCallbacks(callbacks).request_callback(
        CallbackRequest("13800138000", "consultation", "uuid-3", "logistics_hotline", T0, note="waybill 88"))
    stored = callbacks.get(int(ident))
    assert stored.source == "ivr" and stored.reason == "waybill 88" and stored.number.endswith("13800138000")


def test_a_caller_leaving_the_queue_keeps_ivr_arrival_and_the_ivr_fills_the_cause_the_acd_did_not_know(store):
    # Given the ACD opened the interaction when the call entered the queue, and closed it when the caller left
    interactions = InteractionRepository(store)
    opened = interactions.start("inbound", T0 + timedelta(seconds=30), caller="13800138000", call_id="uuid-q")
    interactions.update(opened, queue="support", queue_entered_at=T0 + timedelta(seconds=30))
    interactions.finish(opened, T0 + timedelta(seconds=90), hangup_by="caller")
    # When the IVR, where the call arrived, reports how it ended
    log = StoreInteractionLog(interactions, SurveyRepository(store), now=lambda: T0)
    log.ivr_finished(IvrRecord("uuid-q", "main", "13800138000", "10086", T0, T0 + timedelta(seconds=90),
                               path=["welcome", "agent"], outcome="caller_hangup", ended_by_caller=True,
                               answered_at=T0 + timedelta(seconds=1), exit_node="agent",
                               hangup_cause="NORMAL_CLEARING", sip_status=200))
    # Then arrival is the IVR's, queue entry stays the ACD's, and the blanks are filled
    row = interactions.get(opened)
    assert (row.arrived_at, row.answered_at, row.queue_entered_at) == (
        T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=30))
    assert (row.hangup_cause, row.sip_status, row.ivr_exit_node, row.abandoned) == (
        "NORMAL_CLEARING", 200, "agent", True)
    assert row.hangup_at == T0 + timedelta(seconds=90)


def test_a_cause_the_acd_stored_is_not_overwritten_by_the_ivr(store):
    interactions = InteractionRepository(store)
    opened = interactions.start("inbound", T0, caller="13800138000", call_id="uuid-c")
    interactions.finish(opened, T0 + timedelta(seconds=9), hangup_cause="USER_BUSY", sip_status=486)
    log = StoreInteractionLog(interactions, SurveyRepository(store), now=lambda: T0)
    log.ivr_finished(IvrRecord("uuid-c", "main", "13800138000", "10086", T0, path=["a"], exit_node="a",
                               hangup_cause="NORMAL_CLEARING", sip_status=200))
    row = interactions.get(opened)
    assert (row.hangup_cause, row.sip_status, row.ivr_exit_node) == ("USER_BUSY", 486, "a")
