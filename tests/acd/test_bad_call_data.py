"""One bad record must not drain a queue (issue 13.3): call data is cleaned before it goes into a command,
and a command that still cannot be built is that call's failure, never the agent's."""
from __future__ import annotations

import gevent

from engine.acd.models import Agent, AgentState, QueueConfig
from engine.acd.ports import CustomerInfo, MemoryCustomers, MemoryRecords
from engine.acd.legs import clean_text
from engine.ivr.ports import QueueOutcome, QueueRequest

from .fakes import FakeCaller, make_service, wait_until


def _setup(customers=None):
    queue = QueueConfig("support", wrap_up_seconds=0, offer_timeout=15)
    records = MemoryRecords()
    service, switch, clock = make_service(
        [queue], [Agent(a, extension=a, queues={"support": {}}) for a in ("1001", "1002")], agent_log=records,
        interactions=records, callbacks=records, recordings=records, customers=customers or MemoryCustomers())
    for a in ("1001", "1002"):
        clock.now += 1
        service.login(a)
    return service, switch, clock, records


def _call(service, switch, uuid, number="13800138000"):
    caller = FakeCaller(uuid, number)
    switch.callers[uuid] = caller
    waiting = gevent.spawn(service.enqueue, caller, QueueRequest(queue="support", call_uuid=uuid))
    wait_until(lambda: caller.played or waiting.ready())
    return caller, waiting


def test_control_characters_in_call_data_become_spaces():
    assert clean_text("王\r\n芳\t VIP\x00") == "王 芳 VIP"
    assert len(clean_text("x" * 500)) == 80


def test_a_customer_name_with_cr_lf_still_rings_the_agent_with_a_clean_name():
    bad = CustomerInfo(customer_id="7", name="王\r\nX-Evil: 1", segment="vip\n")
    service, switch, clock, records = _setup(MemoryCustomers({"13800138000": bad}))
    _call(service, switch, "caller-1")
    [(leg, ext, originate)] = switch.rung
    assert ext == "1001" and "\r" not in originate and "\n" not in originate
    assert "sip_h_X-Jinqiao-Customer-Name='王 X-Evil 1'" in originate  # control bytes and ':' are blanks
    agent = service.distributor.agents["1001"]
    assert agent.registered and agent.state is AgentState.RINGING


def test_an_offer_that_cannot_be_built_fails_the_call_not_the_agents():
    service, switch, clock, records = _setup()
    ring = service.legs.ring_agent

    def ring_agent(leg_uuid, extension, **kw):
        if kw["call_id"] == "bad-call":
            raise ValueError("dial-string variable must not contain CR or LF")
        return ring(leg_uuid, extension, **kw)
    service.legs.ring_agent = ring_agent
    # When a call whose data breaks the originate is offered
    caller, waiting = _call(service, switch, "bad-call")
    result = waiting.get(timeout=2)
    # Then that call leaves the queue (its flow goes on), and no agent is blamed or marked undiallable
    assert result.outcome is QueueOutcome.FAILED and result.detail == "offer not built"
    for agent_id in ("1001", "1002"):
        agent = service.distributor.agents[agent_id]
        assert agent.registered and agent.consecutive_no_answers == 0 and agent.state is AgentState.AVAILABLE
    assert not switch.rung and not service.agent_legs
    # And the next caller is offered to an agent at once
    _call(service, switch, "good-call")
    assert [ext for _, ext, _ in switch.rung] == ["1001"]
