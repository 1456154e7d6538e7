"""A predictive campaign through a dropped control connection and through slow replies (issue 12, faults): its
counts stay exact: one attempt per dial the switch saw, no number dialled twice, every contact concluded."""
from __future__ import annotations

import collections

import pytest

from engine.dialer.service import DialerSettings
from engine.sim.population import Population
from engine.store.repos.dial_attempts import DialAttemptRepository
from tests.dialer.e2e import YAML
from tests.dialer.simrig import DialerRig, utc

CONTACTS = 20


@pytest.mark.parametrize("fault", ["drop", "slow"])
def test_a_campaign_through_a_fault_dials_each_contact_once_and_counts_exactly(tmp_path, fault):
    rig = DialerRig(tmp_path, agents=4, time_scale=0.02,
                    settings=DialerSettings(gateway="sim", tick_s=0.05, poll_s=0.1, publish_s=0.5))
    try:
        rig.sim.set_population(Population(answer=0.4, machine=0.1, busy=0.1, unallocated=0.05, seed=3))
        numbers = [f"+8613755{i:06d}" for i in range(CONTACTS)]
        cid = rig.campaign(YAML, numbers)
        rig.launch(cid)
        rig.dialer.start()
        # When the switch fails while the campaign dials
        assert rig.sim.wait_until(lambda: len(rig.sim.population_log) >= 8, 30), "the campaign never dialled"
        if fault == "drop":
            assert rig.sim.faults.drop_control() >= 1
        else:
            rig.sim.faults.delay_replies(200)
            rig.sim.wait_until(lambda: len(rig.sim.population_log) >= 12, 20)
            rig.sim.faults.delay_replies(0)
        # Then the campaign still ends, and its books equal what the switch did
        rig.wait_done(cid, CONTACTS, timeout=90)
        assert rig.sim.wait_until(lambda: all(a.done for a in rig.sim.population_log), 20)
        dialled = collections.Counter(a.number for a in rig.sim.population_log)
        assert [n for n, times in dialled.items() if times > 1] == []
        figures = DialAttemptRepository(rig.store).figures(cid, utc(0))
        assert figures.in_flight == 0
        assert figures.attempts == len(rig.sim.population_log) == sum(dialled.values())
        assert set(dialled) <= set(numbers)
        # And no agent is left reserved or on a call
        assert rig.sim.wait_until(lambda: not rig.acd.calls and not rig.acd.agent_legs, 20)
    finally:
        rig.close()
