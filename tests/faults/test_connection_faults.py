"""The control connection dropped mid-call, closed by a malformed frame, or answering slowly (issue 12, faults):
calls in progress go on, queued callers are served once, no agent is stuck and every interaction and recording
is stored."""
from __future__ import annotations

import pytest

from .rig import RECONCILE_S, Center


@pytest.fixture
def center(tmp_path):
    c = Center(tmp_path, agents=("1001",))
    yield c
    c.close()


def _a_talking_b_waiting(center: Center):
    a = center.call("13800000001")
    center.until(lambda: center.bridged(a, "1001"), what="A bridged to 1001")
    b = center.call("13800000002")
    center.until(lambda: center.queued(b), what="B queued")
    return a, b


def _served_after(center: Center, a, b) -> None:
    assert not a.hung_up and center.bridged(a, "1001"), "the call in progress was dropped"
    center.agent_leg("1001").hangup("NORMAL_CLEARING")
    center.until(lambda: center.bridged(b, "1001"), what="B served by 1001")
    center.agent_leg("1001").hangup("NORMAL_CLEARING")
    center.settle(RECONCILE_S * 5)
    rows = center.books()
    assert {row.agent_id for row in rows.values()} == {"1001"}
    assert all(row.bridged_at is not None and row.hangup_by == "agent" for row in rows.values())
    assert set(center.recordings(rows).values()) == {1}
    offers = [line for line in center.sim.command_log if "originate" in line and "user/1001" in line]
    assert len(offers) == 2  # one offer per caller: no handler doubled by the reconnect


@pytest.mark.parametrize("fault", ["drop", "malformed"])
def test_the_control_connection_lost_mid_call_loses_nothing(center, fault):
    rebuild = center.engine.acd.rebuild
    center.until(lambda: rebuild.rounds >= 1, what="the first rebuild")
    rounds = rebuild.rounds
    # Given A talking to 1001 and B waiting
    a, b = _a_talking_b_waiting(center)
    # When the control connection is cut without a goodbye, or closed by a frame FreeSWITCH would never send
    injected = center.sim.faults.drop_control() if fault == "drop" else center.sim.faults.send_malformed()
    assert injected == 1
    # Then the engine reconnects and rebuilds
    center.until(lambda: rebuild.rounds > rounds, what="the rebuild after the reconnect")
    # And the calls go on: A stays up, B is served once, nothing is lost
    _served_after(center, a, b)


def test_slow_replies_delay_calls_but_lose_nothing(center):
    # Given every command answered 300 ms late
    center.sim.faults.delay_replies(300)
    a, b = _a_talking_b_waiting(center)
    # When the switch is quick again, the calls end as usual
    center.sim.faults.delay_replies(0)
    _served_after(center, a, b)
