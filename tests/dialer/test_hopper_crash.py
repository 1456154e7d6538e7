"""kill -9 of a dialing process mid-campaign, then a restart: no attempt or result lost, no contact redialed
within its retry delay, abandon accounting intact (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from engine.dialer.compliance import CompliancePolicy
from engine.dialer.hopper import Hopper, load_handle
from engine.store.models import ContactAttemptRow
from engine.store.records import ContactStatus
from engine.store.repos.campaigns import CampaignRepository
from engine.store.repos.dial_attempts import DialAttemptRepository
from tests.dialer.test_hopper import GUARD, T0, make_campaign
from tests.store.conftest import db_url, store  # noqa: F401  (fixtures: SQLite and PostgreSQL)

ROOT = Path(__file__).resolve().parents[2]
LEASE_S = 60
# The "engine": dials forever on a simulated clock (one second per round); every third call is answered by a
# person and left up (in flight: answered, never connected), the others end busy or no answer.
CHILD = """
import datetime as dt, sys
from engine.store.database import open_store
from engine.dialer.compliance import CompliancePolicy
from engine.dialer.hopper import Hopper, load_handle
store = open_store(sys.argv[1])
handle = load_handle(store, "spring")
hopper = Hopper(store, CompliancePolicy(max_attempts_per_24h=50), "engine-1", lease_seconds=%d)
now = dt.datetime.fromisoformat(sys.argv[2])
n = 0
while True:
    hopper.recover(now)
    for contact in hopper.fill(handle, 3, now):
        begun = hopper.begin(handle, contact, now)
        if begun.attempt is None:
            continue
        n += 1
        if n %% 3 == 0:
            hopper.answered(begun.attempt.id, now + dt.timedelta(seconds=5))
        else:
            hopper.finish(handle, begun.attempt.id, "busy" if n %% 2 else "no_answer", now + dt.timedelta(seconds=20))
    now += dt.timedelta(seconds=1)
""" % LEASE_S


def attempts_in(store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(ContactAttemptRow)) or 0)


def test_kill_9_mid_campaign_then_restart_loses_nothing_and_redials_nothing_early(store, db_url) -> None:
    handle = make_campaign(store, numbers=60)
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url, T0.isoformat()], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while attempts_in(store) < 30:  # wait on the condition: the engine is mid-campaign
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the dialing process made no progress"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    attempts = DialAttemptRepository(store)
    with store.session() as s:
        last = s.scalar(select(func.max(ContactAttemptRow.at)))
        written = int(s.scalar(select(func.count()).select_from(ContactAttemptRow)))
    assert any(a.state == "dialing" for a in attempts.for_number(_numbers(60), 10000))  # killed mid-call
    # Restart: a new engine recovers what the dead one left and works the campaign to its end.
    now = last + dt.timedelta(seconds=LEASE_S + 1)
    hopper = Hopper(store, CompliancePolicy(max_attempts_per_24h=50), "engine-2", lease_seconds=LEASE_S)
    assert hopper.recover(now) > 0
    handle = load_handle(store, handle.id)
    for _ in range(2000):
        for contact in hopper.fill(handle, 60, now):
            begun = hopper.begin(handle, contact, now)
            if begun.attempt is not None:
                hopper.finish(handle, begun.attempt.id, "no_answer", now + dt.timedelta(seconds=20))
        counts = CampaignRepository(store).counts(handle.id)
        if not counts.get(ContactStatus.PENDING.value):
            break
        now += dt.timedelta(minutes=10)
    # Then: every attempt written before the crash is still there and concluded
    everything = attempts.for_number(_numbers(60), 100000)
    assert len(everything) >= written and all(a.state == "done" for a in everything)
    # no contact was dialed twice within its retry delay
    by_contact: dict[int, list[dt.datetime]] = {}
    for a in everything:
        by_contact.setdefault(a.contact_id, []).append(a.at)
    for times in by_contact.values():
        times.sort()
        assert all(later - earlier >= GUARD for earlier, later in zip(times, times[1:]))
    # each contact's attempt count matches the attempts on record
    for contact_id, times in by_contact.items():
        assert CampaignRepository(store).contact(contact_id).attempts == len(times)
    # and every person who answered while the engine died counts as a drop
    answered = [a for a in everything if a.live]
    assert answered and all(a.abandoned and a.outcome == "dropped" for a in answered)
    figures = attempts.figures(handle.id, T0 - dt.timedelta(days=1))
    assert figures.abandoned == figures.live_answers == len(answered)


def _numbers(n: int) -> list[str]:
    return [f"+86138123{i:05d}" for i in range(n)]
