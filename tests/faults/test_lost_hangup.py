"""A CHANNEL_HANGUP that never arrives (issue 12, faults): the reconciler finds the channel gone, finishes the
interaction and frees the agent within its period (plus the grace it gives a new leg)."""
from __future__ import annotations

import pytest

from engine.acd.models import AgentState
from engine.esl import commands

from .rig import LEG_GRACE_S, RECONCILE_S, Center


@pytest.fixture
def center(tmp_path):
    c = Center(tmp_path, agents=("1001",))
    yield c
    c.close()


def test_an_agent_legs_lost_hangup_does_not_leave_the_agent_on_call(center):
    # Given A talking to 1001
    a = center.call("13800000001")
    center.until(lambda: center.bridged(a, "1001"), what="A bridged to 1001")
    leg = center.agent_leg("1001")
    # When the agent hangs up and none of the leg's hang-up events reaches the engine
    center.sim.faults.lose_hangup(leg.uuid)
    center.sim.faults.lose_hangup(a.uuid)
    leg.hangup("NORMAL_CLEARING")
    center.until(lambda: leg.uuid not in center.sim.channels, what="the agent leg gone from the switch")
    assert center.state("1001") is AgentState.ON_CALL  # the engine has not heard
    # Then within the reconciler's period the agent is free and the call is on the books
    center.settle(RECONCILE_S * 2 + LEG_GRACE_S + 2)
    rows = center.books()
    assert [row.agent_id for row in rows.values()] == ["1001"]
    # And the next caller is served by that agent
    b = center.call("13800000002")
    center.until(lambda: center.bridged(b, "1001"), what="B served by the freed agent")
    center.agent_leg("1001").hangup("NORMAL_CLEARING")
    center.settle(RECONCILE_S * 5)
    assert len(center.books()) == 2


def test_a_waiting_callers_lost_hangup_is_not_offered_to_an_agent(center):
    # Given A talking to 1001 and B waiting
    a = center.call("13800000001")
    center.until(lambda: center.bridged(a, "1001"), what="A bridged")
    b = center.call("13800000002")
    center.until(lambda: center.queued(b), what="B queued")
    # When B hangs up and the engine never hears of it
    center.sim.faults.lose_hangup(b.uuid)
    b.hangup()
    # Then the reconciler takes B out of the line within its period
    center.until(lambda: not center.service.distributor.waiting, RECONCILE_S * 3, "B taken out of the line")
    # And when A ends, the agent is not offered the ghost
    center.agent_leg("1001").hangup("NORMAL_CLEARING")
    center.settle(RECONCILE_S * 5)
    rows = center.books()
    assert len(rows) == 2
    offers = [line for line in center.sim.command_log if "originate" in line and "user/1001" in line]
    assert len(offers) == 1
    assert rows[b.variables[commands.VAR_CALL_ID]].agent_id is None
