"""A dialer that dies mid-campaign (no cleanup: its loops, control connection and originate jobs gone) and a new
dialer on the same store and switch: the calls still ringing are re-attached from their jq_* channel variables
(answered ones reach the new dialer and its agents), the running campaign goes on, and no contact is dialled
twice."""
from __future__ import annotations

import re
import time
from collections import Counter

import gevent

from engine.dialer.answered import CampaignCalls
from engine.dialer.hopper import Hopper
from engine.dialer.service import DialerService, DialerSettings
from engine.esl.connection import InboundConnection
from engine.ha.campaign_resume import attach_campaign_resume
from engine.store.repos.campaigns import CampaignRepository
from engine.store.repos.dial_attempts import DialAttemptRepository
from tests.dialer.simrig import OPEN_ALL_DAY, PASSWORD, DialerRig, utc
from tests.dialer.test_service_sim import campaign_yaml


class DeadProcess:
    """What a killed process does with the store: nothing."""

    def __getattr__(self, name):
        raise RuntimeError("the process is dead")


def until(predicate, timeout=30.0, what="condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s"
        gevent.sleep(0.02)


def test_a_restarted_dialer_reattaches_ringing_calls_and_dials_no_contact_twice(tmp_path) -> None:
    rig = DialerRig(tmp_path, agents=6, time_scale=0.05)
    second = None
    try:
        # Given 12 contacts that ring for a while: 8 answer (and talk), 4 are busy
        numbers = [f"+86139001{i:05d}" for i in range(12)]
        for i, number in enumerate(numbers):
            rig.sim.set_destination(number, outcome="answer" if i % 3 else "busy", after=30.0,
                                    hangup_after=40.0 if i % 3 else None)
        settings = DialerSettings(gateway="sim", tick_s=0.05, poll_s=0.1, publish_s=0.5)
        cid = rig.campaign(campaign_yaml("restart", "progressive").replace("ring_timeout: 15s", "ring_timeout: 60s"),
                           numbers)
        rig.hopper.lease_seconds = 5.0  # an originate the dead dialer never delivered frees its contact soon
        rig.launch(cid)
        rig.dialer.start()
        until(lambda: len(set(rig.dialer.calls) & set(rig.sim.channels)) >= 4, what="calls ringing")
        ringing = set(rig.dialer.calls) & set(rig.sim.channels)

        # When the dialer dies: its loops stop, its control connection (and the originate jobs on it) is gone, and
        # nothing it still had in memory reaches the store
        rig.dialer.stop()
        rig.dialer.hopper = DeadProcess()
        rig.control.close()
        gevent.sleep(0.05)
        assert all(uuid in rig.sim.channels for uuid in ringing)  # the switch still rings them

        # And a new dialer starts on the same store and switch (answered calls reach its socket handler)
        control = InboundConnection(*rig.sim.address, PASSWORD, heartbeat_timeout=5, reconnect_min_delay=0.05)
        hopper = Hopper(rig.store, OPEN_ALL_DAY, "rig-restarted")
        second = DialerService(rig.store, control, hopper, socket_address=rig.server.address, queues=rig.acd,
                               settings=settings)
        second.attach(control)
        resume = attach_campaign_resume(second, control)
        rig.calls_handler = CampaignCalls(second)
        rig.acd.legs.control = control  # the ACD restarted with it (same agent pool)
        control.start()
        second.start()

        # Then the calls that were ringing are re-attached, not lost
        until(lambda: resume.rounds >= 1, what="the re-attach round")
        assert ringing <= set(resume.adopted) | {u for u, (_, c) in second.calls.items()}
        # And the campaign runs to its end on the new dialer
        repo = CampaignRepository(rig.store)
        until(lambda: repo.counts(cid).get("pending", 0) == 0 and not second.calls, timeout=60,
              what="campaign done")
        # And every contact was dialled exactly once: no double dial across the restart
        targets = [re.search(r"gateway/sim/\+?(\d+)", line) for line in rig.sim.command_log if "originate" in line]
        dials = Counter("+" + target.group(1) for target in targets if target)
        assert dials == Counter({number: 1 for number in numbers}), (dials, repo.counts(cid), second.loops)
        figures = DialAttemptRepository(rig.store).figures(cid, utc(0))
        assert figures.in_flight == 0
        # (an originate the dead dialer had sent but the switch never received is concluded as interrupted and
        # its contact dialled for real by the new dialer)
        outcomes = {k: v for k, v in figures.outcomes.items() if k != "interrupted"}
        assert outcomes == {"answered": 8, "busy": 4}, figures.outcomes
        assert figures.connected == 8 and figures.abandoned == 0
    finally:
        if second is not None:
            second.stop()
        rig.close()
