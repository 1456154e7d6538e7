"""Property: whatever the sequence of imports, DNC edits, pauses, restarts and dials, no number on the DNC
black list is dialed, no contact is dialed twice within its retry delay or while an attempt is in flight,
and nothing is dialed while the campaign is paused (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.dialer.compliance import CompliancePolicy
from engine.dialer.hopper import Hopper
from engine.store.models import Base
from engine.store.repos.campaigns import CampaignRepository
from engine.store.repos.dnc import DncRepository
from tests.dialer.test_hopper import GUARD, T0, make_campaign
from tests.store.conftest import db_url, store  # noqa: F401  (fixtures: SQLite and PostgreSQL)

POOL = [f"+86138123{i:05d}" for i in range(8)]
LEASE_S = 60
number = st.sampled_from(POOL)
operation = st.one_of(
    st.tuples(st.just("import"), st.lists(number, min_size=1, max_size=4)),
    st.tuples(st.just("dnc_add"), number),
    st.tuples(st.just("dnc_remove"), number),
    st.tuples(st.just("pause"), st.none()),
    st.tuples(st.just("resume"), st.none()),
    st.tuples(st.just("restart"), st.none()),
    st.tuples(st.just("tick"), st.integers(1, 900)),
    st.tuples(st.just("dial"), st.integers(1, 4)),
    st.tuples(st.just("dial"), st.integers(1, 4)),
    st.tuples(st.just("dial"), st.integers(1, 4)),
    st.tuples(st.just("dial"), st.integers(1, 4)),
    st.tuples(st.just("tick"), st.integers(300, 1200)),
    st.tuples(st.just("finish"), st.sampled_from(["busy", "no_answer"])),
    st.tuples(st.just("finish"), st.sampled_from(["busy", "no_answer", "answered", "machine", "dropped"])),
)


def wipe(store) -> None:
    with store.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.lists(number, min_size=1, max_size=6), ops=st.lists(operation, min_size=1, max_size=40))
def test_no_dnc_number_and_no_contact_is_ever_double_dialed(store, first, ops) -> None:
    wipe(store)
    handle = make_campaign(store, "prop", numbers=0)
    repo, dnc = CampaignRepository(store), DncRepository(store)
    policy = CompliancePolicy(max_attempts_per_24h=1000, max_marketing_contacts_per_7d=1000)
    now, generation = T0, 0
    hopper = Hopper(store, policy, "engine-0", lease_seconds=LEASE_S)
    black: set[str] = set()
    paused = False
    in_flight: dict[int, int] = {}  # contact id -> attempt id
    dials: dict[int, list[dt.datetime]] = {}
    for kind, arg in [("import", first), *ops]:
        if kind == "import":
            repo.enroll(handle.id, [(n, None, None) for n in arg])
        elif kind == "dnc_add":
            dnc.add(arg, "black", now=now)
            black.add(arg)
        elif kind == "dnc_remove":
            dnc.remove(arg)
            black.discard(arg)
        elif kind == "pause" and not paused:
            repo.change_status(handle.id, "paused")
            paused = True
        elif kind == "resume" and paused:
            repo.change_status(handle.id, "running")
            paused = False
        elif kind == "restart":  # the engine dies: its leases run out, a new one recovers and goes on
            now += dt.timedelta(seconds=LEASE_S + 1)
            generation += 1
            hopper = Hopper(store, policy, f"engine-{generation}", lease_seconds=LEASE_S)
            hopper.recover(now)
            in_flight.clear()
        elif kind == "tick":
            now += dt.timedelta(seconds=arg)
        elif kind == "dial":
            for contact in hopper.fill(handle, arg, now):
                begun = hopper.begin(handle, contact, now)
                if begun.attempt is None:
                    continue
                assert not paused, "dialed while paused"
                assert contact.number not in black, "dialed a number on the DNC black list"
                assert contact.id not in in_flight, "dialed a contact with an attempt in flight"
                earlier = dials.setdefault(contact.id, [])
                assert not earlier or now - earlier[-1] >= GUARD, "redialed within the retry delay"
                earlier.append(now)
                in_flight[contact.id] = begun.attempt.id
        elif kind == "finish" and in_flight:
            contact_id = min(in_flight)
            hopper.finish(handle, in_flight.pop(contact_id), arg, now)
