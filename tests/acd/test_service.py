"""QueueService on a scripted switch: offers, answers, no-answers, hang-up races, exit keys, recording,
registration, transfers and reconciliation, checking the exact commands sent and the records written."""
from __future__ import annotations

import os

import gevent
import pytest

from engine.acd.bus import TOPIC_AGENT_STATE, TOPIC_SCREEN_POP
from engine.acd.models import Agent, AgentState, ExitAction, QueueConfig, RecordingPolicy, RecordPolicy
from engine.acd.ports import CustomerInfo, MemoryCustomers, MemoryRecords
from engine.acd.reconciler import Reconciler
from engine.esl import commands
from engine.ivr.ports import QueueOutcome, QueueRequest

from .fakes import FakeCaller, Hungup, advance, make_service, wait_until

VIP = CustomerInfo(customer_id="42", name="王 芳", segment="vip", value_tier="1", last_agent="1002")


def _setup(queues=None, agents=("1001", "1002"), **kw):
    queues = queues or [QueueConfig("support", wrap_up_seconds=10, offer_timeout=15)]
    people = [Agent(a, extension=a, queues={q.name: {} for q in queues}) for a in agents]
    records = MemoryRecords()
    customers = MemoryCustomers({"13800138000": VIP})
    service, switch, clock = make_service(queues, people, agent_log=records, interactions=records, callbacks=records,
                                          recordings=records, customers=customers, **kw)
    for a in agents:
        clock.now += 1  # 1001 becomes available first, so it is the longest idle
        service.login(a)
    return service, switch, clock, records


def _queue_call(service, switch, uuid="caller-1", number="13800138000", queue="support"):
    caller = FakeCaller(uuid, number)
    switch.callers[uuid] = caller
    waiting = gevent.spawn(service.enqueue, caller, QueueRequest(queue=queue, call_uuid=uuid))
    wait_until(lambda: caller.played or waiting.ready())
    return caller, waiting


def test_answered_call_is_bridged_with_screen_pop_and_every_agent_state_recorded():
    service, switch, clock, records = _setup()
    caller, waiting = _queue_call(service, switch)
    # Then the longest-idle agent's phone rings with the caller's identity and context on the leg
    [(leg, ext, originate)] = switch.rung
    assert ext == "1001"
    for part in (f"origination_uuid={leg}", "jq_call_id=caller-1", "ignore_early_media=true",
                 "origination_caller_id_number=13800138000", "sip_h_X-Jinqiao-Customer=42",
                 "sip_h_X-Jinqiao-Segment=vip", "&park()"):
        assert part in originate
    [pop] = service.bus.messages(TOPIC_SCREEN_POP)
    assert pop["agent_id"] == "1001" and pop["customer"]["name"] == "王 芳"
    # When the agent answers, the music stops and the two legs are bridged
    switch.answer("1001")
    wait_until(lambda: f"uuid_bridge caller-1 {leg}" in switch.commands)
    assert "uuid_break caller-1" not in switch.commands  # one step: uuid_bridge itself stops the music
    assert service.distributor.agents["1001"].state is AgentState.ON_CALL
    # When the agent hangs up, the conversation ends and the agent wraps up
    clock.now += 60
    switch.hang_up_leg(leg)
    assert waiting.get(timeout=2).outcome is QueueOutcome.ANSWERED
    states = [s for a, s, _, _ in records.agent_states if a == "1001"]
    assert states == ["available", "ringing", "on-call", "wrap-up"]
    assert any(f.get("bridged_at") for f in records.events_for("caller-1"))
    advance(service, clock, 10)
    assert service.distributor.agents["1001"].state is AgentState.AVAILABLE
    assert len(service.bus.messages(TOPIC_AGENT_STATE)) == len(records.agent_states)


def test_unanswered_offer_rings_the_next_agent_and_counts_the_miss():
    service, switch, clock, records = _setup()
    caller, waiting = _queue_call(service, switch)
    switch.fail("1001", "NO_ANSWER")
    wait_until(lambda: len(switch.rung) == 2)
    assert switch.rung[1][1] == "1002"
    assert service.distributor.agents["1001"].consecutive_no_answers == 1
    caller.hang_up()
    with pytest.raises(Hungup):
        waiting.get(timeout=2)


def test_caller_hang_up_during_offer_cancels_agent_leg_and_creates_one_callback():
    service, switch, clock, records = _setup()
    caller, waiting = _queue_call(service, switch)
    leg = switch.leg_of("1001")
    clock.now += 12
    caller.hang_up()
    with pytest.raises(Hungup):
        waiting.get(timeout=2)
    assert (leg, "ORIGINATOR_CANCEL") in switch.killed
    assert service.distributor.agents["1001"].state is AgentState.AVAILABLE
    assert any(f.get("abandoned") and f.get("wait_seconds") == 12 for f in records.events_for("caller-1"))
    # A second abandon from the same number on the same day does not create a second callback
    caller2, waiting2 = _queue_call(service, switch, uuid="caller-2")
    caller2.hang_up()
    with pytest.raises(Hungup):
        waiting2.get(timeout=2)
    assert len(records.callbacks) == 1 and records.callbacks[0]["requests"] == 2
    assert records.callbacks[0]["source"] == "abandoned"


def test_caller_hangs_up_as_the_agent_answers_and_agent_leg_is_dropped():
    service, switch, clock, records = _setup(agents=("1001",))
    caller, waiting = _queue_call(service, switch)
    leg = switch.leg_of("1001")
    caller.hang_up()
    switch.jobs[leg].set(f"+OK {leg}\n")  # the answer was already on its way
    with pytest.raises(Hungup):
        waiting.get(timeout=2)
    wait_until(lambda: any(u == leg for u, _ in switch.killed))
    assert not any(c.startswith("uuid_bridge") for c in switch.commands)
    assert service.distributor.agents["1001"].state is AgentState.AVAILABLE


def test_exit_key_asks_for_a_callback_due_when_the_caller_would_have_been_served():
    queue = QueueConfig("support", exit_keys={"1": ExitAction.CALLBACK})
    service, switch, clock, records = _setup([queue], agents=("1001",))
    service.not_ready("1001", "meeting")
    caller, waiting = _queue_call(service, switch)
    service.ready("1001")  # 1001 comes back and rings for caller-1 ...
    switch.fail("1001", "USER_BUSY")  # ... but is busy, so caller-1 keeps waiting
    caller.press("1")
    result = waiting.get(timeout=2)
    assert result.outcome is QueueOutcome.TIMEOUT and result.detail == "callback:1"
    assert records.callbacks[0]["due_at"] > clock.now  # place kept: due after the estimated wait
    assert "caller-1" not in service.distributor.waiting


def test_unregistered_phone_mid_offer_is_cancelled_and_next_agent_rings():
    service, switch, clock, records = _setup()
    caller, waiting = _queue_call(service, switch)
    leg = switch.leg_of("1001")
    switch.custom(commands.SUBCLASS_SOFIA_UNREGISTER, **{commands.H_REG_USERNAME: "1001"})
    assert (leg, "ORIGINATOR_CANCEL") in switch.killed
    wait_until(lambda: len(switch.rung) == 2 and switch.rung[1][1] == "1002")
    switch.answer("1002")
    wait_until(lambda: service.distributor.agents["1002"].state is AgentState.ON_CALL)
    assert not service.distributor.agents["1001"].can_take_offer
    switch.custom(commands.SUBCLASS_SOFIA_REGISTER, **{commands.H_REG_USERNAME: "1001"})
    assert service.distributor.agents["1001"].can_take_offer
    caller.hang_up()


def test_lost_hang_up_event_is_repaired_by_the_reconciler():
    service, switch, clock, records = _setup(agents=("1001",))
    caller, waiting = _queue_call(service, switch)
    leg = switch.answer("1001")
    wait_until(lambda: service.distributor.agents["1001"].state is AgentState.ON_CALL)
    clock.now += 30
    switch.hang_up_leg(leg, lose_event=True)  # CHANNEL_HANGUP never arrives
    repairs = Reconciler(service).reconcile()
    assert repairs.legs_gone == [leg]
    assert service.distributor.agents["1001"].state is AgentState.WRAP_UP
    assert waiting.get(timeout=2).outcome is QueueOutcome.ANSWERED


def test_a_channel_missing_only_from_the_lagging_channels_table_is_not_repaired():
    service, switch, clock, records = _setup(agents=("1001",))
    caller, waiting = _queue_call(service, switch)
    leg = switch.answer("1001")
    wait_until(lambda: service.distributor.agents["1001"].state is AgentState.ON_CALL)
    clock.now += 30
    switch.live.add("caller-1")
    switch.unlisted.update({leg, "caller-1"})  # FreeSWITCH's `show channels` table has not caught up (ESL.md §7)
    repairs = Reconciler(service).reconcile()
    assert repairs.legs_gone == [] and repairs.callers_gone == []
    assert f"uuid_exists {leg}" in switch.commands and "uuid_exists caller-1" in switch.commands
    assert service.distributor.agents["1001"].state is AgentState.ON_CALL


def test_recording_starts_after_the_bridge_and_its_checksum_is_stored(tmp_path):
    queue = QueueConfig("support", record=RecordingPolicy(RecordPolicy.ALWAYS, path_template="{queue}/{call_id}.wav",
                                                          announce="ivr/recorded.wav"))
    service, switch, clock, records = _setup([queue], agents=("1001",), recording_root=str(tmp_path))
    caller, waiting = _queue_call(service, switch)
    leg = switch.answer("1001")
    path = os.path.join(str(tmp_path), "support", "caller-1.wav")
    wait_until(lambda: f"uuid_record caller-1 start {path}" in switch.commands)
    assert "uuid_setvar caller-1 RECORD_STEREO true" in switch.commands
    wait_until(lambda: "uuid_broadcast caller-1 ivr/recorded.wav both" in switch.commands)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"RIFF-not-really-a-wav")
    switch.hang_up_leg(leg)
    waiting.get(timeout=2)
    wait_until(lambda: records.recordings)
    import hashlib
    assert records.recordings[0]["sha256"] == hashlib.sha256(b"RIFF-not-really-a-wav").hexdigest()
    assert records.recordings[0]["size"] == 21


def test_blind_transfer_to_another_queue_carries_the_context_to_the_next_agent():
    queues = [QueueConfig("support", wrap_up_seconds=5), QueueConfig("billing", wrap_up_seconds=5)]
    people = {"1001": ["support"], "2001": ["billing"]}
    service, switch, clock, records = _setup(queues, agents=())
    for agent_id, member_of in people.items():
        service.distributor.add_agent(Agent(agent_id, extension=agent_id, queues={q: {} for q in member_of}))
        service.login(agent_id)
    caller, waiting = _queue_call(service, switch)
    leg = switch.answer("1001")
    wait_until(lambda: service.distributor.agents["1001"].state is AgentState.ON_CALL)
    service.transfer("caller-1", "queue", "billing")
    assert (leg, "NORMAL_CLEARING") in switch.killed
    switch.hang_up_leg(leg)
    wait_until(lambda: any(ext == "2001" for _, ext, _ in switch.rung))
    pop = service.bus.messages(TOPIC_SCREEN_POP)[-1]
    assert pop["agent_id"] == "2001" and pop["transferred_from"] == "1001" and pop["customer"]["id"] == "42"
    assert service.distributor.agents["1001"].state is AgentState.WRAP_UP
    leg2 = switch.answer("2001")
    wait_until(lambda: service.distributor.agents["2001"].state is AgentState.ON_CALL)
    switch.hang_up_leg(leg2)
    assert waiting.get(timeout=2).outcome is QueueOutcome.ANSWERED


def test_max_wait_ends_the_wait_with_a_callback():
    queue = QueueConfig("support", max_wait=90, max_wait_action=ExitAction.CALLBACK)
    service, switch, clock, records = _setup([queue], agents=())
    caller, waiting = _queue_call(service, switch)
    advance(service, clock, 90)
    result = waiting.get(timeout=2)
    assert result.outcome is QueueOutcome.TIMEOUT and result.detail.startswith("callback:")
    assert records.callbacks[0]["source"] == "queue"


def test_unknown_queue_is_closed_without_touching_the_switch():
    service, switch, clock, records = _setup()
    result = service.enqueue(FakeCaller("x"), QueueRequest(queue="sales", call_uuid="x"))
    assert result.outcome is QueueOutcome.CLOSED
    assert switch.commands == []


def test_failed_bridge_puts_the_caller_back_in_line_and_the_next_agent_takes_it():
    service, switch, clock, records = _setup()
    switch.bridge_replies.append("-ERR Invalid uuid\n")
    caller, waiting = _queue_call(service, switch)
    leg1 = switch.answer("1001")
    wait_until(lambda: any(u == leg1 for u, _ in switch.killed))
    switch.hang_up_leg(leg1)
    wait_until(lambda: any(ext == "1002" for _, ext, _ in switch.rung))
    assert service.distributor.agents["1001"].state is AgentState.WRAP_UP
    leg2 = switch.answer("1002")
    wait_until(lambda: f"uuid_bridge caller-1 {leg2}" in switch.commands)
    switch.hang_up_leg(leg2)
    assert waiting.get(timeout=2).detail == "agent 1002"


class _Announcements:
    def __init__(self):
        self.said = []

    def announce(self, channel, text, language):
        self.said.append((channel.uuid, text, language))


def test_waiting_callers_hear_their_position_and_estimated_wait_between_music():
    announcer = _Announcements()
    queue = QueueConfig("support", announce_every=0.02)
    service, switch, clock, records = _setup([queue], agents=(), announcer=announcer)
    first, waiting1 = _queue_call(service, switch, uuid="caller-1")
    second, waiting2 = _queue_call(service, switch, uuid="caller-2", number="13900139000")
    wait_until(lambda: any(u == "caller-2" for u, _, _ in announcer.said))
    text = next(t for u, t, _ in announcer.said if u == "caller-2")
    assert "前面还有1位" in text and "分钟" in text
    assert first.played.count(commands.MUSIC_ON_HOLD) >= 2  # the music resumes after each announcement
    first.hang_up()
    second.hang_up()
    for waiting in (waiting1, waiting2):
        with pytest.raises(Hungup):
            waiting.get(timeout=2)


def _connected_to_1001(service, switch):
    caller, waiting = _queue_call(service, switch)
    leg1 = switch.answer("1001")
    wait_until(lambda: f"uuid_bridge caller-1 {leg1}" in switch.commands)
    return caller, waiting, leg1


def test_attended_transfer_consults_then_hands_the_caller_to_the_second_agent():
    service, switch, clock, records = _setup()
    caller, waiting, leg1 = _connected_to_1001(service, switch)
    leg2 = service.consult("caller-1", "1002")
    assert service.distributor.agents["1002"].state is AgentState.RINGING
    pop = service.bus.messages(TOPIC_SCREEN_POP)[-1]
    assert pop["agent_id"] == "1002" and pop["consult"] and pop["transferred_from"] == "1001"
    switch.answer("1002")
    # While the agents talk, the first agent is bridged to the second and the caller hears music
    wait_until(lambda: f"uuid_bridge {leg1} {leg2}" in switch.commands)
    wait_until(lambda: f"uuid_broadcast caller-1 {commands.MUSIC_ON_HOLD} aleg" in switch.commands)
    service.complete_transfer("caller-1")
    wait_until(lambda: f"uuid_bridge caller-1 {leg2}" in switch.commands and any(u == leg1 for u, _ in switch.killed))
    switch.hang_up_leg(leg1)
    assert service.distributor.agents["1001"].state is AgentState.WRAP_UP
    assert not waiting.ready()  # the caller is still talking, now to 1002
    switch.hang_up_leg(leg2)
    assert waiting.get(timeout=2).detail == "agent 1002"
    assert service.distributor.agents["1002"].state is AgentState.WRAP_UP


def test_cancelled_consultation_returns_the_caller_to_the_first_agent():
    service, switch, clock, records = _setup()
    caller, waiting, leg1 = _connected_to_1001(service, switch)
    leg2 = service.consult("caller-1", "1002")
    switch.answer("1002")
    wait_until(lambda: f"uuid_bridge {leg1} {leg2}" in switch.commands)
    service.cancel_consult("caller-1")
    assert any(u == leg2 for u, _ in switch.killed)
    switch.hang_up_leg(leg2)
    wait_until(lambda: switch.commands.count(f"uuid_bridge caller-1 {leg1}") == 2)
    assert service.distributor.agents["1001"].state is AgentState.ON_CALL
    switch.hang_up_leg(leg1)
    assert waiting.get(timeout=2).detail == "agent 1001"


def test_consulting_a_busy_agent_is_refused():
    service, switch, clock, records = _setup()
    caller, waiting, leg1 = _connected_to_1001(service, switch)
    service.not_ready("1002", "lunch")
    from engine.acd.distributor import AcdError
    with pytest.raises(AcdError, match="cannot take a call now"):
        service.consult("caller-1", "1002")
    caller.hang_up()


def test_phone_not_registered_marks_the_agent_unregistered_without_counting_a_miss():
    service, switch, clock, records = _setup()
    caller, waiting = _queue_call(service, switch)
    switch.fail("1001", "USER_NOT_REGISTERED")
    wait_until(lambda: len(switch.rung) == 2 and switch.rung[1][1] == "1002")
    agent = service.distributor.agents["1001"]
    assert not agent.registered and agent.consecutive_no_answers == 0
    caller.hang_up()
    with pytest.raises(Hungup):
        waiting.get(timeout=2)


def test_snapshot_shows_waiting_callers_and_agent_states_for_the_wallboard():
    service, switch, clock, records = _setup(agents=("1001",))
    service.not_ready("1001", "lunch")
    caller, waiting = _queue_call(service, switch)
    clock.now += 42
    snap = service.snapshot()
    assert snap["queues"]["support"] == {"waiting": 1, "longest_wait": 42.0, "agents_serving": 0,
                                         "average_handle": 180.0}
    assert snap["agents"]["1001"]["state"] == "not-ready" and snap["agents"]["1001"]["reason"] == "lunch"
    caller.hang_up()
    with pytest.raises(Hungup):
        waiting.get(timeout=2)
    assert service.snapshot()["queues"]["support"]["waiting"] == 0


def test_callback_key_keeps_the_place_and_dials_the_customer_once_an_agent_answers():
    queue = QueueConfig("support", exit_keys={"1": ExitAction.CALLBACK})
    service, switch, clock, records = _setup([queue], agents=("1001",),
                                             dial_customer=lambda number: f"sofia/gateway/carrier/{number}")
    service.not_ready("1001", "meeting")
    first, waiting1 = _queue_call(service, switch, uuid="caller-1")
    clock.now += 5
    second, waiting2 = _queue_call(service, switch, uuid="caller-2", number="13900139000")
    first.press("1")  # caller-1 asks for a callback ...
    result = waiting1.get(timeout=2)
    assert result.outcome is QueueOutcome.TIMEOUT and result.detail.startswith("callback:cb-")
    virtual = result.detail.split(":", 1)[1]
    assert service.distributor.waiting[virtual].enqueued_at < service.distributor.waiting["caller-2"].enqueued_at
    service.ready("1001")  # ... and is still served before caller-2
    [(leg, ext, originate)] = switch.rung
    assert ext == "1001" and f"jq_call_id={virtual}" in originate
    switch.answer("1001")
    wait_until(lambda: any(ext == "13800138000" for _, ext, _ in switch.rung))
    customer_leg, _, dial = switch.rung[-1]
    assert "sofia/gateway/carrier/13800138000" in dial and "ignore_early_media=true" in dial
    switch.answer("13800138000")
    wait_until(lambda: f"uuid_bridge {leg} {customer_leg}" in switch.commands)
    switch.hang_up_leg(leg)
    wait_until(lambda: virtual not in service.calls)
    assert (customer_leg, "NORMAL_CLEARING") in switch.killed
    [booked] = records.callbacks  # booked when the caller pressed 1, closed once the customer was reached
    assert booked["source"] == "agent_first" and booked["status"] == "done" and booked["attempts"] == 1
    second.hang_up()
    with pytest.raises(Hungup):
        waiting2.get(timeout=2)


def test_unreachable_customer_leaves_the_agent_first_callback_open_with_the_attempt_counted():
    service, switch, clock, records = _setup(agents=("1001",), dial_customer=lambda n: f"sofia/gateway/carrier/{n}")
    virtual = service.queue_callback("13800138000", "support")
    leg = switch.answer("1001")
    wait_until(lambda: any(ext == "13800138000" for _, ext, _ in switch.rung))
    switch.fail("13800138000", "USER_BUSY")
    wait_until(lambda: any(u == leg for u, _ in switch.killed))
    switch.hang_up_leg(leg)
    wait_until(lambda: virtual not in service.calls)
    [booked] = records.callbacks  # still owed: open for the dialer (or the next restart), the attempt counted
    assert booked["source"] == "agent_first" and booked["status"] == "open" and booked["attempts"] == 1
    assert service.distributor.agents["1001"].state is AgentState.WRAP_UP


def test_missing_hold_music_falls_back_to_silence_instead_of_replaying_in_a_loop():
    class NoMusic(FakeCaller):
        def play(self, path, *, terminators="none"):
            if path.startswith("local_stream://"):
                self.played.append(path)
                return ""  # FILE NOT FOUND: returns at once
            return super().play(path, terminators=terminators)

    service, switch, clock, records = _setup(agents=())
    caller = NoMusic("caller-1")
    switch.callers["caller-1"] = caller
    waiting = gevent.spawn(service.enqueue, caller, QueueRequest(queue="support", call_uuid="caller-1"))
    wait_until(lambda: "silence_stream://-1" in caller.played)
    assert caller.played.count(commands.MUSIC_ON_HOLD) == 3
    caller.hang_up()
    with pytest.raises(Hungup):
        waiting.get(timeout=2)


def test_recording_is_catalogued_when_the_caller_hangs_up_first(tmp_path):
    queue = QueueConfig("support", record=RecordingPolicy(RecordPolicy.ALWAYS, path_template="{queue}/{call_id}.wav"))
    service, switch, clock, records = _setup([queue], agents=("1001",), recording_root=str(tmp_path))
    caller, waiting = _queue_call(service, switch)
    leg = switch.answer("1001")
    path = os.path.join(str(tmp_path), "support", "caller-1.wav")
    wait_until(lambda: f"uuid_record caller-1 start {path}" in switch.commands)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"RIFF-caller-left")
    # When the caller hangs up first, then the agent leg's hang-up follows
    switch.caller_hung_up(caller)
    assert waiting.get(timeout=2).outcome is QueueOutcome.ANSWERED
    switch.hang_up_leg(leg)
    # Then the recording is still catalogued (half of all calls end this way)
    wait_until(lambda: records.recordings)
    assert records.recordings[0]["path"] == path and records.recordings[0]["size"] == 16


def test_a_recording_is_catalogued_only_after_freeswitch_closes_the_file(tmp_path):
    queue = QueueConfig("support", record=RecordingPolicy(RecordPolicy.ALWAYS, path_template="{queue}/{call_id}.wav"))
    service, switch, clock, records = _setup([queue], agents=("1001",), recording_root=str(tmp_path))
    caller, waiting = _queue_call(service, switch)
    leg = switch.answer("1001")
    path = os.path.join(str(tmp_path), "support", "caller-1.wav")
    wait_until(lambda: f"uuid_record caller-1 start {path}" in switch.commands)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"RIFF-half")  # FreeSWITCH is still writing it
    switch.recording.clear()  # pretend the stop is slow: no RECORD_STOP yet
    switch.hang_up_leg(leg)
    wait_until(lambda: f"uuid_record caller-1 stop {path}" in switch.commands)
    gevent.sleep(0.05)
    assert records.recordings == []  # not read while the file may still grow
    with open(path, "ab") as f:
        f.write(b"-and-the-rest")
    switch.event(commands.EV_RECORD_STOP, "caller-1", **{commands.H_RECORD_FILE_PATH: path})
    wait_until(lambda: records.recordings)
    assert records.recordings[0]["size"] == len(b"RIFF-half-and-the-rest")


def test_a_failing_timer_neither_stops_the_timer_greenlet_nor_drops_timers_due_with_it():
    service, switch, clock, records = _setup(agents=("1001",))
    service.start()
    try:
        def broken(subject, version, now):
            raise RuntimeError("a bug in one timer handler")
        service.distributor._on_broken = broken
        # Given an agent in wrap-up and a broken timer due first at the same moment
        caller, waiting = _queue_call(service, switch)
        leg = switch.answer("1001")
        wait_until(lambda: service.distributor.agents["1001"].state is AgentState.ON_CALL)
        switch.hang_up_leg(leg)
        waiting.get(timeout=2)
        due = service.distributor.agents["1001"].wrap_up_until
        service.distributor._timers._heap.sort()
        import heapq
        heapq.heappush(service.distributor._timers._heap, (due, -1, "broken", "x", 0))
        # When the time comes
        clock.now = due + 0.1
        service.wake_timers()
        # Then the wrap-up still ends, and timers keep firing afterwards
        wait_until(lambda: service.distributor.agents["1001"].state is AgentState.AVAILABLE)
        service.distributor._timers.schedule(clock.now + 1, "broken", "y")
        caller2, waiting2 = _queue_call(service, switch, uuid="caller-2")
        leg2 = switch.answer("1001")
        wait_until(lambda: service.distributor.agents["1001"].state is AgentState.ON_CALL)
        switch.hang_up_leg(leg2)
        waiting2.get(timeout=2)
        clock.now += 11
        service.wake_timers()
        wait_until(lambda: service.distributor.agents["1001"].state is AgentState.AVAILABLE)
    finally:
        service.stop()


def test_reconciling_keeps_agent_first_callbacks_whose_customer_is_not_dialled_yet():
    service, switch, clock, records = _setup(agents=("1001",), dial_customer=lambda n: f"sofia/gateway/carrier/{n}")
    service.not_ready("1001", "meeting")
    virtual = service.queue_callback("13800138000", "support")
    # When the scheduled reconciliation runs: FreeSWITCH has no channel for a customer nobody has dialled yet
    clock.now += 60
    repairs = Reconciler(service).reconcile()
    # Then the virtual caller keeps its place, and is worked when an agent is ready
    assert repairs.callers_gone == [] and virtual in service.distributor.waiting
    service.ready("1001")
    leg = switch.answer("1001")
    wait_until(lambda: any(ext == "13800138000" for _, ext, _ in switch.rung))
    clock.now += 1
    assert Reconciler(service).reconcile().callers_gone == []  # the customer leg is ringing (just dialled)
    assert service.distributor.agents["1001"].state is AgentState.ON_CALL
    switch.answer("13800138000")
    wait_until(lambda: any(c.startswith(f"uuid_bridge {leg}") for c in switch.commands))
    switch.hang_up_leg(leg)
    wait_until(lambda: virtual not in service.calls)


def test_agent_hanging_up_before_the_bridge_sends_the_caller_back_in_line_not_out_as_answered():
    service, switch, clock, records = _setup()
    caller, waiting = _queue_call(service, switch)
    # When agent 1001 answers and hangs up at once, before the engine could bridge the caller to it
    switch.bridge_replies.append("-ERR no such channel\n")
    run = switch.api
    switch.api = lambda cmd, timeout=10.0: (gevent.sleep(0.01), run(cmd, timeout))[1]  # api takes a round trip
    leg = switch.answer("1001")
    switch.hang_up_leg(leg)
    # Then the caller is not told it was answered: it keeps its place and the next agent rings
    wait_until(lambda: any(ext == "1002" for _, ext, _ in switch.rung))
    assert not waiting.ready()
    leg2 = switch.answer("1002")
    wait_until(lambda: f"uuid_bridge caller-1 {leg2}" in switch.commands)
    switch.hang_up_leg(leg2)
    result = waiting.get(timeout=2)
    assert result.outcome is QueueOutcome.ANSWERED and result.detail == "agent 1002"


def test_an_error_while_dialling_the_customer_releases_the_agent_instead_of_leaving_it_on_a_parked_leg():
    def broken_dial(number):
        raise ValueError("no route for this number")
    service, switch, clock, records = _setup(agents=("1001",), dial_customer=broken_dial)
    virtual = service.queue_callback("13800138000", "support")
    leg = switch.answer("1001")
    # Then the agent's parked leg is hung up (the agent goes to wrap-up), and the callback stays owed
    wait_until(lambda: any(u == leg for u, _ in switch.killed))
    switch.hang_up_leg(leg)
    wait_until(lambda: virtual not in service.calls)
    assert service.distributor.agents["1001"].state is AgentState.WRAP_UP
    assert records.callbacks[0]["status"] == "open" and records.callbacks[0]["attempts"] == 1


def test_a_failing_announcement_does_not_throw_the_caller_out_of_the_queue():
    class BrokenAnnouncer:
        calls = 0

        def announce(self, channel, text, language):
            BrokenAnnouncer.calls += 1
            raise RuntimeError("TTS backend crashed")

        def render(self, text, language):
            return None

    service, switch, clock, records = _setup([QueueConfig("support", announce_every=0.02)], agents=("1001",),
                                             announcer=BrokenAnnouncer())
    service.not_ready("1001", "meeting")
    caller, waiting = _queue_call(service, switch)
    wait_until(lambda: BrokenAnnouncer.calls >= 2)  # announced (and failed) more than once: still waiting
    assert not waiting.ready() and "caller-1" in service.distributor.waiting
    service.ready("1001")
    leg = switch.answer("1001")
    wait_until(lambda: f"uuid_bridge caller-1 {leg}" in switch.commands)
    switch.hang_up_leg(leg)
    assert waiting.get(timeout=2).outcome is QueueOutcome.ANSWERED


def test_an_agent_whose_phone_cannot_be_dialled_is_skipped_at_once_not_after_the_offer_expires():
    service, switch, clock, records = _setup(agents=())
    for agent_id, extension in (("li-lei", "10 01"), ("1002", "1002")):  # a space: not a dialable extension
        clock.now += 1
        service.distributor.add_agent(Agent(agent_id, extension=extension, queues={"support": {}}))
        service.login(agent_id)
    caller, waiting = _queue_call(service, switch)
    wait_until(lambda: [ext for _, ext, _ in switch.rung] == ["1002"])
    bad = service.distributor.agents["li-lei"]
    assert bad.state is AgentState.AVAILABLE and not bad.registered and bad.current_call is None
    caller.hang_up()
    with pytest.raises(Hungup):
        waiting.get(timeout=2)


def test_a_leg_whose_originate_result_was_lost_is_not_also_counted_as_a_miss_by_the_reconciler():
    from gevent.event import Event as Flag
    service, switch, clock, records = _setup(agents=("1001",))
    reconnected = Flag()
    run = switch.api

    def api(cmd, timeout=10.0):
        if cmd.startswith("uuid_exists"):
            reconnected.wait()  # blocks until the control connection is back
        return run(cmd, timeout)
    switch.api = api
    caller, waiting = _queue_call(service, switch)
    leg = switch.leg_of("1001")
    switch.live.add("caller-1")
    switch.live.discard(leg)  # FreeSWITCH never got the originate
    switch.jobs[leg].set_exception(ConnectionError("connection lost"))
    wait_until(lambda: service.agent_legs[leg].recovering)
    clock.now += 30
    Reconciler(service).reconcile()  # the reconnect's reconciliation runs while the recovery waits
    reconnected.set()
    wait_until(lambda: leg not in service.agent_legs)
    assert service.distributor.agents["1001"].consecutive_no_answers == 0
    caller.hang_up()
    with pytest.raises(Hungup):
        waiting.get(timeout=2)


def test_a_customer_leg_whose_originate_result_is_lost_is_killed_so_the_customer_never_gets_a_dead_call():
    service, switch, clock, records = _setup(agents=("1001",), dial_customer=lambda n: f"sofia/gateway/carrier/{n}")
    virtual = service.queue_callback("13800138000", "support")
    leg = switch.answer("1001")
    wait_until(lambda: any(ext == "13800138000" for _, ext, _ in switch.rung))
    customer_leg = switch.leg_of("13800138000")
    switch.jobs[customer_leg].set_exception(ConnectionError("connection lost"))  # FreeSWITCH still dials
    wait_until(lambda: any(u == customer_leg for u, _ in switch.killed))
    wait_until(lambda: any(u == leg for u, _ in switch.killed))
    switch.hang_up_leg(leg)
    wait_until(lambda: virtual not in service.calls)


def test_a_customer_who_answers_after_the_agent_left_is_hung_up_not_left_on_a_dead_line():
    service, switch, clock, records = _setup(agents=("1001",), dial_customer=lambda n: f"sofia/gateway/carrier/{n}")
    virtual = service.queue_callback("13800138000", "support")
    leg = switch.answer("1001")
    wait_until(lambda: any(ext == "13800138000" for _, ext, _ in switch.rung))
    switch.hang_up_leg(leg)  # the agent gives up while the customer's phone rings
    customer_leg = switch.answer("13800138000")
    wait_until(lambda: any(u == customer_leg for u, _ in switch.killed))
    wait_until(lambda: virtual not in service.calls)
    assert not any(c.startswith("uuid_bridge") for c in switch.commands)
