"""FreeSWITCH restarted mid-traffic (issue 12, faults): every channel is gone without an event and every socket is
new; within the reconciler's period the engine has closed the lost calls on the books, freed the agents, and
serves the next caller on the restarted switch."""
from __future__ import annotations

import pytest

from .rig import LEG_GRACE_S, RECONCILE_S, Center


@pytest.fixture
def center(tmp_path):
    c = Center(tmp_path, agents=("1001", "1002"))
    yield c
    c.close()


def test_a_switch_restart_frees_every_agent_and_loses_no_interaction(center):
    rebuild = center.engine.acd.rebuild
    center.until(lambda: rebuild.rounds >= 1, what="the first rebuild")
    # Given A and B talking to the two agents and C waiting
    a, b = center.call("13800000001"), center.call("13800000002")
    center.until(lambda: center.bridged_any(a) and center.bridged_any(b), what="A and B bridged")
    c = center.call("13800000003")
    center.until(lambda: center.queued(c), what="C queued")
    old_core = center.sim.switch.core_uuid
    # When FreeSWITCH dies and comes back
    center.sim.faults.restart(down_for=0.3)
    assert center.sim.switch.core_uuid != old_core and not center.sim.channels
    # Then the engine is back on the new switch and within the reconciler's period nothing is held
    center.until(lambda: center.engine.inbound.connected, 5, "reconnected to the restarted switch")
    center.settle(RECONCILE_S * 2 + LEG_GRACE_S + 2)
    assert center.stuck_agents() == []
    # And every call that was up is on the books, closed
    rows = center.books()
    assert len(rows) == 3
    assert sorted(row.agent_id or "" for row in rows.values()) == ["", "1001", "1002"]
    # And the next caller is served on the restarted switch
    d = center.call("13800000004")
    center.until(lambda: center.bridged_any(d) is not None, what="D served after the restart")
    center.agent_leg(center.bridged_any(d)).hangup("NORMAL_CLEARING")
    center.settle(RECONCILE_S * 5)
    assert len(center.books()) == 4
