"""The dialing service end to end on the FreeSWITCH simulator through real ESL: originate with a pre-assigned
uuid, outcomes from job results, answered calls bridged to agents of the shared pool, the safe-harbour drop,
and the campaign's figures equal to what the switch itself reported."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import text

from engine.dialer.service import DialerSettings
from engine.store.repos.dial_attempts import DialAttemptRepository
from tests.dialer.simrig import DialerRig, utc

NO_RETRY = """retry:
  busy: {delay: 10m, max_attempts: 0}
  no_answer: {delay: 10m, max_attempts: 0}
  machine: {delay: 10m, max_attempts: 0}
  failed: {delay: 10m, max_attempts: 0}
  dropped: {delay: 10m, max_attempts: 0}
  interrupted: {delay: 10m, max_attempts: 0}
"""


def campaign_yaml(name: str, mode: str, extra: str = "") -> str:
    return (f"name: {name}\nmode: {mode}\nqueue: sales\nring_timeout: 15s\ncaller_id: '4008001000'\n"
            f"answering_machine: {{detect: false}}\n{NO_RETRY}{extra}")


@pytest.fixture
def rig(tmp_path):
    r = DialerRig(tmp_path, agents=4)
    yield r
    r.close()


def test_progressive_campaign_reaches_agents_and_reports_what_the_switch_saw(rig) -> None:
    # Given 24 contacts: 12 answer and talk, 4 busy, 4 never answer, 4 unallocated
    numbers = [f"+86138001{i:05d}" for i in range(24)]
    plan = ["answer"] * 12 + ["busy"] * 4 + ["no_answer"] * 4 + ["unallocated"] * 4
    for number, outcome in zip(numbers, plan):
        rig.sim.set_destination(number, outcome=outcome, after=2.0, hangup_after=100.0 if outcome == "answer" else None)
    cid = rig.campaign(campaign_yaml("spring", "progressive"), numbers)
    # When the campaign runs to its end
    rig.launch(cid)
    rig.dialer.start()
    rig.wait_done(cid, 24)
    # Then every attempt has the switch's outcome, nobody was dropped, and talk time is the switch's
    f = DialAttemptRepository(rig.store).figures(cid, utc(0))
    assert f.attempts == 24 and f.in_flight == 0
    assert f.outcomes == {"answered": 12, "busy": 4, "no_answer": 4, "invalid": 4}
    assert f.abandoned == 0 and f.connected == 12 and f.live_answers == 12
    assert f.talk_seconds == pytest.approx(rig.truth.talk_seconds(), abs=1e-6)
    answered = [leg for leg in rig.truth.legs.values() if "answered" in leg]
    assert len(answered) == 12 and all("bridged" in leg for leg in answered)
    # and `jinqiao campaign status` shows the dialer's live figures (published by the loop)
    import datetime as dt
    from zoneinfo import ZoneInfo

    from engine.dialer.campaign_cli import render_status
    text = render_status(rig.store, rig.handle(cid), dt.datetime.now(dt.timezone.utc), ZoneInfo("Asia/Shanghai"))
    assert "dial level=" in text and "pacing=progressive" in text and "available=4" in text


def test_an_answered_call_no_agent_can_take_is_dropped_after_the_safe_harbour_message(tmp_path) -> None:
    # Given one agent and a fixed 4:1 dial ratio: more answers than agents
    rig = DialerRig(tmp_path, agents=1, settings=DialerSettings(gateway="sim", pacing="fixed:4", tick_s=0.05,
                                                                poll_s=0.1))
    try:
        numbers = [f"+86139001{i:05d}" for i in range(8)]
        for number in numbers:
            rig.sim.set_destination(number, outcome="answer", after=1.0, hangup_after=300.0)
        cid = rig.campaign(campaign_yaml("overdial", "predictive"), numbers)
        rig.launch(cid)
        rig.dialer.start()
        rig.wait_done(cid, 8)
        f = DialAttemptRepository(rig.store).figures(cid, utc(0))
        assert f.attempts == 8 and f.live_answers == 8
        assert f.outcomes.get("dropped", 0) == f.abandoned > 0
        assert f.outcomes.get("answered", 0) == f.connected == 8 - f.abandoned
        dropped = [leg for leg in rig.truth.legs.values() if "answered" in leg and "bridged" not in leg]
        assert len(dropped) == f.abandoned
    finally:
        rig.close()


def test_a_running_campaign_takes_a_replaced_configuration_without_a_restart(rig) -> None:
    """`campaign create --replace` while the campaign runs: the running dialer uses the new calling windows."""
    import datetime as dt
    import time

    from engine.dialer.campaigns import parse_campaign
    from engine.store.repos.campaigns import CampaignRepository
    from engine.yamlsrc import load_text

    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=11)).hour  # Asia/Shanghai: 3 h from now
    numbers = ["+8613800100001", "+8613800100002"]
    for number in numbers:
        rig.sim.set_destination(number, outcome="busy", after=0.5)
    cid = rig.campaign(campaign_yaml("evening", "progressive",
                                     f"calling_windows: {{daily: '{later:02d}:00-{later:02d}:30'}}\n"), numbers)
    rig.launch(cid)
    rig.dialer.start()
    repo = CampaignRepository(rig.store)
    from engine.store.models import CampaignContactRow

    def held_back() -> int:
        with rig.store.session() as s:
            return s.query(CampaignContactRow).filter_by(campaign_id=cid, last_outcome="campaign_window").count()
    # Given the dialer has held both contacts back by the campaign's window
    deadline = time.monotonic() + 10
    while (held := held_back()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held == 2 and DialAttemptRepository(rig.store).figures(cid, utc(0)).attempts == 0
    # When the operator widens the window on the running campaign
    config = parse_campaign(load_text(campaign_yaml("evening", "progressive", "calling_windows: {daily: 24h}\n"),
                                      "campaign.yaml"))
    repo.save("evening", config.mode, config.queue, config.max_attempts, 600, {"config": config.raw}, replace=True)
    assert repo.recheck_window_deferrals(cid) == 2
    # Then the running loop dials both with the new windows, without a pause and resume
    rig.wait_done(cid, 2, timeout=20)
    assert DialAttemptRepository(rig.store).figures(cid, utc(0)).outcomes == {"busy": 2}


def test_a_callee_who_hangs_up_while_waiting_is_interrupted_abandoned_and_due_again(tmp_path) -> None:
    # Given one agent held by the first answer, and three callees who hang up 0.3 s after answering (inside
    # the 2 s safe harbour) while the agent is busy
    rig = DialerRig(tmp_path, agents=1, settings=DialerSettings(gateway="sim", pacing="fixed:4", tick_s=0.05,
                                                                poll_s=0.1))
    try:
        numbers = [f"+86139002{i:05d}" for i in range(4)]
        rig.sim.set_destination(numbers[0], outcome="answer", after=1.0, hangup_after=300.0)
        for number in numbers[1:]:
            rig.sim.set_destination(number, outcome="answer", after=10.0, hangup_after=30.0)
        retry = NO_RETRY.replace("interrupted: {delay: 10m, max_attempts: 0}", "interrupted: {delay: 45m, max_attempts: 2}")
        cid = rig.campaign(f"name: shorthold\nmode: predictive\nqueue: sales\nring_timeout: 15s\n"
                           f"caller_id: '4008001000'\nanswering_machine: {{detect: false}}\n{retry}", numbers)
        # When they are dialled
        rig.launch(cid)
        rig.dialer.start()
        repo = DialAttemptRepository(rig.store)
        deadline = time.monotonic() + 30
        while not (repo.figures(cid, utc(0)).attempts == 4 and repo.figures(cid, utc(0)).in_flight == 0):
            assert time.monotonic() < deadline, repo.figures(cid, utc(0))
            time.sleep(0.05)
        # Then the first is answered; the others are interrupted (not "dropped": nobody was told to hold the
        # line and hung up on), still counted as abandoned, and due again after the campaign's 45 minutes
        f = repo.figures(cid, utc(0))
        assert f.outcomes == {"answered": 1, "interrupted": 3}
        assert f.abandoned == 3 and f.live_answers == 4 and f.connected == 1
        with rig.store.engine.connect() as conn:
            rows = conn.execute(text("SELECT c.number, c.status, c.next_attempt_at, a.ended_at FROM campaign_contacts c "
                                     "JOIN contact_attempts a ON a.contact_id = c.id WHERE c.campaign_id = :c"),
                                {"c": cid}).all()
        due = {number: (status, next_at, ended) for number, status, next_at, ended in rows}
        assert due[numbers[0]][0] == "done"
        for number in numbers[1:]:
            status, next_at, ended = due[number]
            assert status == "pending"
            gap = dt.datetime.fromisoformat(str(next_at)) - dt.datetime.fromisoformat(str(ended))
            assert gap == dt.timedelta(minutes=45)
    finally:
        rig.close()
