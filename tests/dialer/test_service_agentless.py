"""An agentless reminder campaign end to end on the simulator: the dialer calls, the answered call runs the
shipped `overdue_reminder` flow with the contact's record (amount due read by TTS), the callee presses 2 and
a payment day, and the answer is stored with the call; the attempt is answered, not an abandon."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import gevent

from engine.ivr.ports import MemoryInteractionLog
from engine.ivr.registry import FlowRegistry
from engine.ivr.runner import FlowRunner
from engine.sim.listening import KeyPress, press_keys
from engine.store.repos.campaigns import CampaignRepository
from engine.store.repos.dial_attempts import DialAttemptRepository
from tests.dialer.simrig import DialerRig, utc
from tests.ivr.simharness import SimTts

FLOWS = Path(__file__).resolve().parents[2] / "ivr_flows"
YAML = """name: overdue
mode: agentless
purpose: collections
ivr_flow: overdue_reminder
ring_timeout: 15s
retry:
  busy: {delay: 10m, max_attempts: 0}
  no_answer: {delay: 10m, max_attempts: 0}
"""


def test_reminder_reads_the_amount_due_and_stores_the_promised_payment_day(tmp_path) -> None:
    rig = DialerRig(tmp_path, agents=1)
    try:
        registry = FlowRegistry(FLOWS)
        assert registry.reload().ok
        tts = SimTts(rig.sim, tmp_path)
        log = MemoryInteractionLog()
        runner = FlowRunner(registry, tts, interactions=log, recordings_dir=tmp_path / "rec")
        rig.calls_handler.runner = runner
        # Given two overdue customers who answer, and one who is busy
        numbers = ["+8613900000001", "+8613900000002", "+8613900000003"]
        rig.sim.set_destination(numbers[0], outcome="answer", after=2.0)
        rig.sim.set_destination(numbers[1], outcome="answer", after=2.0)
        rig.sim.set_destination(numbers[2], outcome="busy")
        cid = rig.campaign(YAML, numbers)
        repo = CampaignRepository(rig.store)
        for contact_id, amount in ((1, "1280"), (2, "560")):
            with rig.store.session() as s:
                from engine.store.models import CampaignContactRow
                s.get(CampaignContactRow, contact_id).data = {"name": "张三", "amount_due": amount}
        seen: set[str] = set()

        def callee_keys() -> None:  # each answered callee presses 2, then the 15th + '#'
            while True:
                for ch in list(rig.sim.channels.values()):
                    if ch.variables.get("jq_campaign_id") and ch.answered and ch.uuid not in seen:
                        seen.add(ch.uuid)
                        gevent.spawn(press_keys, ch, [KeyPress("2"), KeyPress("15#")])
                gevent.sleep(0.01)
        keys = gevent.spawn(callee_keys)
        # When the campaign runs
        rig.launch(cid)
        rig.dialer.start()
        rig.wait_done(cid, 3)
        keys.kill()
        # Then both answered calls heard their amount and promised the 15th; the busy one is busy
        f = DialAttemptRepository(rig.store).figures(cid, utc(0))
        assert f.outcomes == {"answered": 2, "busy": 1} and f.abandoned == 0 and f.connected == 2
        assert sorted(r.outcome for r in log.records) == ["payment_promised", "payment_promised"]
        assert all(("pay_day", "15") in r.digits for r in log.records)
        heard = " ".join(tts.texts.values())
        assert "1280元欠款" in heard and "560元欠款" in heard and "15号还款" in heard
        assert repo.counts(cid) == {"done": 2, "failed": 1}
    finally:
        rig.close()


def test_a_callee_who_hangs_up_during_the_reminder_is_interrupted_and_due_again(tmp_path) -> None:
    rig = DialerRig(tmp_path, agents=1)
    try:
        registry = FlowRegistry(FLOWS)
        assert registry.reload().ok
        rig.calls_handler.runner = FlowRunner(registry, SimTts(rig.sim, tmp_path), interactions=MemoryInteractionLog(),
                                              recordings_dir=tmp_path / "rec")
        # Given a callee who answers and hangs up while the reminder is still being read
        number = "+8613900000011"
        rig.sim.set_destination(number, outcome="answer", after=2.0, hangup_after=5.0)
        cid = rig.campaign(YAML + "  interrupted: {delay: 20m, max_attempts: 2}\n", [number])
        # When the campaign calls
        rig.launch(cid)
        rig.dialer.start()
        repo = DialAttemptRepository(rig.store)
        deadline = time.monotonic() + 30
        while not (repo.figures(cid, utc(0)).attempts == 1 and repo.figures(cid, utc(0)).in_flight == 0):
            assert time.monotonic() < deadline, repo.figures(cid, utc(0))
            time.sleep(0.05)
        # Then the attempt is interrupted, not an abandon (the flow took the call), and the contact is due again
        # after the campaign's 20 minutes
        f = repo.figures(cid, utc(0))
        assert f.outcomes == {"interrupted": 1} and f.abandoned == 0
        contact = CampaignRepository(rig.store).contact(1)
        assert contact is not None and contact.status == "pending" and contact.attempts == 1
        assert contact.next_attempt_at is not None
        assert contact.next_attempt_at - dt.datetime.now(dt.timezone.utc) > dt.timedelta(minutes=19)
    finally:
        rig.close()

