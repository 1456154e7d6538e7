"""The interaction row gets talk time and hang-up fields from the ACD when the agent conversation ends,
so reports can compute talk and handle time for queue calls (nobody else closes those interactions)."""
from __future__ import annotations

import gevent
import pytest

from engine.acd.legs import SwitchLegs
from engine.acd.models import Agent, QueueConfig
from engine.acd.service import QueueService
from engine.acd.store_adapters import StoreInteractions
from engine.esl import commands
from engine.ivr.ports import QueueOutcome, QueueRequest
from engine.store.database import open_store
from engine.store.repos.agents import AgentRepository
from engine.store.repos.interactions import InteractionRepository

from .fakes import Clock, FakeCaller, FakeSwitch, Hungup, wait_until


@pytest.fixture()
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'jq.db'}")
    s.create_all()
    AgentRepository(s).add("1001", name="Li Lei", extension="1001")
    yield s
    s.dispose()


def _service(store):
    switch, clock = FakeSwitch(), Clock()
    service = QueueService({"support": QueueConfig("support", wrap_up_seconds=15)},
                           [Agent("1001", extension="1001", queues={"support": {}})], legs=SwitchLegs(switch),
                           clock=clock, interactions=StoreInteractions(InteractionRepository(store)))
    switch.service = service
    return service, switch, clock


def _queue_call(service, switch, uuid="caller-1"):
    caller = FakeCaller(uuid, "13800138000")
    switch.callers[uuid] = caller
    waiting = gevent.spawn(service.enqueue, caller, QueueRequest(queue="support", call_uuid=uuid))
    wait_until(lambda: caller.played)
    return caller, waiting


def test_agent_hang_up_writes_talk_seconds_cause_and_wrap_up(store):
    service, switch, clock = _service(store)
    service.login("1001")
    caller, waiting = _queue_call(service, switch)
    clock.now += 20
    leg = switch.answer("1001")
    wait_until(lambda: any(c.startswith("uuid_bridge") for c in switch.commands))
    clock.now += 75
    switch.hang_up_leg(leg, "NORMAL_CLEARING")
    assert waiting.get(timeout=2).outcome is QueueOutcome.ANSWERED
    row = InteractionRepository(store).by_call_id("caller-1")
    assert row.agent_id == "1001" and row.wait_seconds == 20.0 and row.talk_seconds == 75.0
    assert row.hangup_by == "agent" and row.hangup_cause == "NORMAL_CLEARING"
    assert row.wrap_up_until is not None and row.hangup_at is None  # the caller goes on in its flow


def test_caller_hang_up_writes_talk_seconds_and_the_hang_up_time(store):
    service, switch, clock = _service(store)
    service.login("1001")
    caller, waiting = _queue_call(service, switch)
    switch.answer("1001")
    wait_until(lambda: any(c.startswith("uuid_bridge") for c in switch.commands))
    clock.now += 42
    caller.hang_up()
    waiting.get(timeout=2)
    row = InteractionRepository(store).by_call_id("caller-1")
    assert row.talk_seconds == 42.0 and row.hangup_by == "caller" and row.hangup_at is not None


def test_abandoned_call_has_its_wait_no_talk_and_the_caller_as_the_one_who_hung_up(store):
    service, switch, clock = _service(store)
    caller, waiting = _queue_call(service, switch)
    clock.now += 33
    caller.hang_up()
    with pytest.raises(Hungup):
        waiting.get(timeout=2)
    row = InteractionRepository(store).by_call_id("caller-1")
    assert row.abandoned and row.wait_seconds == 33.0 and row.talk_seconds == 0.0
    assert row.hangup_by == "caller" and row.hangup_at is not None


def test_a_blind_transfer_to_a_number_stays_recorded_as_the_way_the_agent_conversation_ended(store):
    service, switch, clock = _service(store)
    service.login("1001")
    caller, waiting = _queue_call(service, switch)
    leg = switch.answer("1001")
    wait_until(lambda: any(c.startswith("uuid_bridge") for c in switch.commands))
    clock.now += 30
    service.transfer("caller-1", "number", "4008")
    switch.hang_up_leg(leg)
    assert waiting.get(timeout=2).outcome is QueueOutcome.ANSWERED
    row = InteractionRepository(store).by_call_id("caller-1")
    assert row.hangup_by == "transfer:number" and row.talk_seconds == 30.0


def test_the_agent_who_served_a_customer_is_remembered_so_the_next_call_sticks_to_them(store):
    from engine.acd.models import StickyPolicy
    from engine.acd.store_adapters import StoreCustomers
    from engine.store.repos.customers import CustomerRepository
    from engine.store.screenpop import ScreenPop

    AgentRepository(store).add("1002", name="Han Meimei", extension="1002")
    customer = CustomerRepository(store).upsert(["13800138000"], name="王芳")
    switch, clock = FakeSwitch(), Clock()
    queue = QueueConfig("support", wrap_up_seconds=0, sticky=StickyPolicy("last", 20))
    service = QueueService({"support": queue}, [Agent(a, extension=a, queues={"support": {}}) for a in ("1001", "1002")],
                           legs=SwitchLegs(switch), clock=clock,
                           interactions=StoreInteractions(InteractionRepository(store)),
                           customers=StoreCustomers(ScreenPop(store), CustomerRepository(store)))
    switch.service = service
    for agent_id in ("1002", "1001"):  # 1002 has been idle the longest
        clock.now += 1
        service.login(agent_id)
    service.not_ready("1002", "briefing")
    # Given a first call served by 1001
    caller, waiting = _queue_call(service, switch)
    leg = switch.answer("1001")
    wait_until(lambda: any(c.startswith("uuid_bridge") for c in switch.commands))
    service.ready("1002")
    clock.now += 60
    switch.hang_up_leg(leg)
    waiting.get(timeout=2)
    assert CustomerRepository(store).get(customer.id).last_agent_id == "1001"
    # When the customer calls again and both agents are free (1002 idle for longer)
    caller2, waiting2 = _queue_call(service, switch, uuid="caller-2")
    # Then the call goes to the agent who served them last
    assert switch.rung[-1][1] == "1001"
    caller2.hang_up()
    with pytest.raises(Hungup):
        waiting2.get(timeout=2)


# ----- issue 8.1: the cause and SIP status FreeSWITCH reports, on every ACD path -----------------------------
def test_a_caller_who_hangs_up_while_queued_leaves_the_cause_and_sip_status_on_the_interaction(store):
    service, switch, clock = _service(store)
    caller, waiting = _queue_call(service, switch)
    clock.now += 12
    caller.hang_up("NORMAL_CLEARING", sip_status=200)  # the caller's BYE
    with pytest.raises(Hungup):
        waiting.get(timeout=2)
    row = InteractionRepository(store).by_call_id("caller-1")
    assert row.abandoned and row.hangup_cause == "NORMAL_CLEARING" and row.sip_status == 200


def test_a_caller_who_hangs_up_during_the_conversation_leaves_the_cause_and_sip_status(store):
    service, switch, clock = _service(store)
    service.login("1001")
    caller, waiting = _queue_call(service, switch)
    switch.answer("1001")
    wait_until(lambda: any(c.startswith("uuid_bridge") for c in switch.commands))
    caller.hang_up("NORMAL_CLEARING", sip_status=200)
    waiting.get(timeout=2)
    row = InteractionRepository(store).by_call_id("caller-1")
    assert row.hangup_by == "caller" and row.hangup_cause == "NORMAL_CLEARING" and row.sip_status == 200


def test_an_agent_who_hangs_up_leaves_the_agent_legs_cause_and_sip_status(store):
    service, switch, clock = _service(store)
    service.login("1001")
    caller, waiting = _queue_call(service, switch)
    leg = switch.answer("1001")
    wait_until(lambda: any(c.startswith("uuid_bridge") for c in switch.commands))
    switch.event(commands.EV_CHANNEL_HANGUP, leg, **{commands.H_HANGUP_CAUSE: "NORMAL_CLEARING",
                                                      "variable_sip_term_status": "200"})
    waiting.get(timeout=2)
    row = InteractionRepository(store).by_call_id("caller-1")
    assert row.hangup_by == "agent" and row.hangup_cause == "NORMAL_CLEARING" and row.sip_status == 200


def test_a_blind_transfer_to_a_queue_records_the_released_agent_legs_cause(store):
    service, switch, clock = _service(store)
    service.login("1001")
    caller, waiting = _queue_call(service, switch)
    leg = switch.answer("1001")
    wait_until(lambda: any(c.startswith("uuid_bridge") for c in switch.commands))
    service.transfer("caller-1", "queue", "support")
    switch.hang_up_leg(leg, "NORMAL_CLEARING")  # the engine's kill: no SIP status from the far end
    wait_until(lambda: InteractionRepository(store).by_call_id("caller-1").hangup_by == "transfer:queue")
    row = InteractionRepository(store).by_call_id("caller-1")
    assert row.hangup_cause == "NORMAL_CLEARING" and row.sip_status is None
    caller.hang_up()
    with pytest.raises(Hungup):
        waiting.get(timeout=2)


# ----- issue 8.5: arrival, queue entry, offer, answer, bridge and hang-up are separate facts ------------------
def test_arrival_queue_entry_offer_answer_and_bridge_are_kept_apart(store):
    service, switch, clock = _service(store)
    service.login("1001")
    # Given a call that arrived 40 s before it reached the queue (it spent them in the IVR)
    caller = FakeCaller("caller-1", "13800138000")
    caller.data = {commands.H_CALLER_CREATED_TIME: str(int((clock.now - 40) * 1e6))}
    switch.callers["caller-1"] = caller
    waiting = gevent.spawn(service.enqueue, caller, QueueRequest(queue="support", call_uuid="caller-1"))
    wait_until(lambda: caller.played)
    clock.now += 5
    leg = switch.answer("1001")
    run = switch.api
    switch.api = lambda cmd, timeout=10.0: (setattr(clock, "now", clock.now + 0.5), run(cmd, timeout))[1]
    wait_until(lambda: InteractionRepository(store).by_call_id("caller-1").bridged_at is not None)
    row = InteractionRepository(store).by_call_id("caller-1")
    start = clock.now - 5.5
    assert row.arrived_at.timestamp() == pytest.approx(start - 40)
    assert row.queue_entered_at.timestamp() == pytest.approx(start)
    assert row.offered_at.timestamp() == pytest.approx(start)
    assert row.answered_at.timestamp() == pytest.approx(start + 5)
    assert row.bridged_at.timestamp() > row.answered_at.timestamp()  # after FreeSWITCH bridged, not at the answer
    switch.hang_up_leg(leg)
    waiting.get(timeout=2)


def test_an_interaction_the_ivr_opened_keeps_its_arrival_time(store):
    repo = InteractionRepository(store)
    opened = repo.start("inbound", 1_700_000_000.0, caller="13800138000", call_id="caller-1")
    StoreInteractions(repo).queue_event("caller-1", 1_700_000_060.0, caller="13800138000",
                                        arrived_at=1_700_000_050.0, queue="support", queue_entered_at=1_700_000_060.0)
    row = repo.get(opened)
    assert row.arrived_at.timestamp() == 1_700_000_000.0 and row.queue_entered_at.timestamp() == 1_700_000_060.0
