"""A leg's fate is decided once, by the first conclusive fact (issue 14.1): the answer event, the hang-up
event or the originate's job result, in whichever order the switch delivers them."""
from __future__ import annotations

from engine.acd.models import Agent, AgentState, QueueConfig
from engine.acd.ports import MemoryRecords
from engine.esl import commands
from engine.ivr.ports import QueueOutcome, QueueRequest

import gevent

from .fakes import FakeCaller, make_service, wait_until


def _setup(agents=("1001", "1002")):
    queue = QueueConfig("support", wrap_up_seconds=10, offer_timeout=15)
    records = MemoryRecords()
    service, switch, clock = make_service([queue], [Agent(a, extension=a, queues={"support": {}}) for a in agents],
                                          agent_log=records, interactions=records, callbacks=records,
                                          recordings=records)
    for a in agents:
        clock.now += 1
        service.login(a)
    caller = FakeCaller("caller-1", "13800138000")
    switch.callers[caller.uuid] = caller
    waiting = gevent.spawn(service.enqueue, caller, QueueRequest(queue="support", call_uuid=caller.uuid))
    wait_until(lambda: caller.played)
    return service, switch, clock, records, waiting


def test_originate_cancelled_after_the_answer_event_keeps_the_bridged_leg_and_its_hang_up_ends_the_call():
    service, switch, clock, records, waiting = _setup()
    leg = switch.leg_of("1001")
    # Given the agent's answer event arrives first and the engine bridges the caller at once
    switch.event(commands.EV_CHANNEL_ANSWER, leg)
    wait_until(lambda: any(c.startswith(f"uuid_bridge caller-1 {leg}") for c in switch.commands))
    # When FreeSWITCH then ends the originate -ERR ORIGINATOR_CANCEL (the leg was bridged inside it)
    switch.jobs[leg].set("-ERR ORIGINATOR_CANCEL\n")
    gevent.sleep(0.01)
    # Then the leg is still the caller's agent leg, the agent is on the call, nobody else rings
    assert leg in service.agent_legs
    assert service.distributor.agents["1001"].state is AgentState.ON_CALL
    assert [ext for _, ext, _ in switch.rung] == ["1001"]
    # And the agent's hang-up ends the conversation at once, with its cause
    clock.now += 42
    switch.hang_up_leg(leg, "NORMAL_CLEARING")
    result = waiting.get(timeout=2)
    assert result.outcome is QueueOutcome.ANSWERED
    assert service.distributor.agents["1001"].state is AgentState.WRAP_UP
    fields = {k: v for f in records.events_for("caller-1") for k, v in f.items()}
    assert fields["talk_seconds"] == 42 and fields["hangup_by"] == "agent"
    assert fields["hangup_cause"] == "NORMAL_CLEARING"
    assert not service.agent_legs


def test_job_result_before_the_answer_event_settles_the_leg_once():
    service, switch, clock, records, waiting = _setup()
    leg = switch.leg_of("1001")
    # When the job result comes first and the answer event after it
    switch.jobs[leg].set(f"+OK {leg}\n")
    wait_until(lambda: service.distributor.agents["1001"].state is AgentState.ON_CALL)
    switch.event(commands.EV_CHANNEL_ANSWER, leg)
    gevent.sleep(0.01)
    # Then the caller is bridged once and the agent's state recorded once
    assert sum(c.startswith("uuid_bridge") for c in switch.commands) == 1
    assert [s for a, s, _, _ in records.agent_states if a == "1001"].count("on-call") == 1
    switch.hang_up_leg(leg)
    assert waiting.get(timeout=2).outcome is QueueOutcome.ANSWERED


def test_a_failed_job_before_any_answer_is_the_legs_fate_and_a_late_answer_changes_nothing():
    service, switch, clock, records, waiting = _setup()
    leg = switch.leg_of("1001")
    # When the originate fails first (no answer) and an answer event for that leg straggles in
    switch.fail("1001", "NO_ANSWER")
    wait_until(lambda: len(switch.rung) == 2)
    switch.event(commands.EV_CHANNEL_ANSWER, leg)
    gevent.sleep(0.01)
    # Then the offer failed once: the miss is counted and the next agent rings; 1001 is not put on the call
    assert service.distributor.agents["1001"].consecutive_no_answers == 1
    assert service.distributor.agents["1001"].state is AgentState.AVAILABLE
    assert not any(c.startswith(f"uuid_bridge caller-1 {leg}") for c in switch.commands)
    switch.caller_hung_up(service.calls["caller-1"].channel)
