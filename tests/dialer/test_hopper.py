"""The hopper: leases checked by compliance, the re-check before the dial, pause, crash recovery, one campaign
per number, concurrent dialers; on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import threading

from engine.dialer.campaigns import parse_campaign
from engine.dialer.compliance import CompliancePolicy
from engine.dialer.hopper import CampaignHandle, ComplianceGate, Hopper, load_handle
from engine.store.records import ContactStatus
from engine.store.repos.campaigns import CampaignRepository
from engine.store.repos.compliance import ComplianceRepository
from engine.store.repos.dial_attempts import DialAttemptRepository
from engine.store.repos.dnc import DncRepository
from engine.yamlsrc import load_text
from tests.store.conftest import db_url, store  # noqa: F401  (fixtures: SQLite and PostgreSQL)

T0 = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.timezone.utc)  # Monday 11:00 in Shanghai
POLICY = CompliancePolicy(max_attempts_per_24h=50)
YAML = """name: {name}
mode: predictive
queue: sales
retry:
  no_answer: {{delay: 10m, max_attempts: 3}}
  busy: {{delay: 10m, max_attempts: 3}}
  dropped: {{delay: 10m, max_attempts: 3}}
  failed: {{delay: 10m, max_attempts: 3}}
  machine: {{delay: 10m, max_attempts: 3}}
{extra}"""
GUARD = dt.timedelta(minutes=10)


def make_campaign(store, name: str = "spring", numbers: int = 3, extra: str = "", first: int = 0,
                  launch: bool = True) -> CampaignHandle:
    config = parse_campaign(load_text(YAML.format(name=name, extra=extra), f"{name}.yaml"))
    repo = CampaignRepository(store)
    record = repo.save(config.name, config.mode, config.queue, config.max_attempts, 600, {"config": config.raw})
    repo.enroll(record.id, [(f"+86138123{first + i:05d}", None, None) for i in range(numbers)])
    if launch:
        repo.change_status(record.id, "running")
    handle = load_handle(store, record.id)
    assert handle is not None
    return handle


def test_fill_leases_only_what_compliance_allows_and_logs_every_decision(store) -> None:
    handle = make_campaign(store, numbers=3)
    DncRepository(store).add("+8613812300001", "black", "asked", now=T0)
    ready = Hopper(store, POLICY, "d1").fill(handle, 10, T0)
    assert [c.number for c in ready] == ["+8613812300000", "+8613812300002"]
    blocked = [c for c in (CampaignRepository(store).contact(i) for i in (1, 2, 3)) if c.number.endswith("01")][0]
    assert blocked.status is ContactStatus.BLOCKED and blocked.lease_holder is None
    [decision] = ComplianceRepository(store).history("13812300001")
    assert (decision.allowed, decision.rule, decision.stage, decision.campaign_name) == (False, "dnc_black", "lease",
                                                                                         "spring")


def test_a_contact_outside_the_campaign_window_waits_for_it(store) -> None:
    handle = make_campaign(store, numbers=1, extra="calling_windows: {mon-fri: '14:00-18:00'}\n")
    hopper = Hopper(store, POLICY, "d1")
    assert hopper.fill(handle, 10, T0) == []
    contact = CampaignRepository(store).contact(1)
    assert contact.status is ContactStatus.PENDING and contact.next_attempt_at == T0 + dt.timedelta(hours=3)
    assert [c.id for c in hopper.fill(handle, 10, T0 + dt.timedelta(hours=3))] == [1]


def test_a_number_put_on_dnc_after_the_lease_is_not_dialed(store) -> None:
    handle = make_campaign(store, numbers=1)
    hopper = Hopper(store, POLICY, "d1")
    [contact] = hopper.fill(handle, 10, T0)
    DncRepository(store).add(contact.number, "black", "just called in", now=T0)
    begun = hopper.begin(handle, contact, T0 + dt.timedelta(seconds=1))
    assert begun.attempt is None and begun.verdict.rule == "dnc_black"
    assert CampaignRepository(store).contact(contact.id).status is ContactStatus.BLOCKED
    assert DialAttemptRepository(store).for_number([contact.number]) == []
    stages = [(d.stage, d.rule) for d in ComplianceRepository(store).history(contact.number)]
    assert stages == [("dial", "dnc_black"), ("lease", "ok")]


def test_pause_stops_new_dials_and_resume_continues(store) -> None:
    handle = make_campaign(store, numbers=2)
    hopper, repo = Hopper(store, POLICY, "d1"), CampaignRepository(store)
    ready = hopper.fill(handle, 1, T0)
    repo.change_status(handle.id, "paused")
    begun = hopper.begin(handle, ready[0], T0)
    assert begun.attempt is None and begun.verdict.rule == "campaign_not_running"
    assert hopper.fill(handle, 10, T0) == []
    after = repo.contact(ready[0].id)
    assert after.status is ContactStatus.PENDING and after.lease_holder is None and after.attempts == 0
    repo.change_status(handle.id, "running")
    assert len(hopper.fill(handle, 10, T0)) == 2


def test_after_a_crash_the_attempt_is_kept_the_drop_is_counted_and_the_retry_delay_holds(store) -> None:
    # Given a dialer that wrote an attempt, dialed, heard a person answer, then died
    handle = make_campaign(store, numbers=1)
    dead = Hopper(store, POLICY, "dead", lease_seconds=60)
    [contact] = dead.fill(handle, 1, T0)
    attempt = dead.begin(handle, contact, T0).attempt
    dead.answered(attempt.id, T0 + dt.timedelta(seconds=8), live=True)
    # When another dialer starts before the lease runs out, then after
    alive = Hopper(store, POLICY, "alive", lease_seconds=60)
    assert alive.recover(T0 + dt.timedelta(seconds=30)) == 0
    assert alive.fill(handle, 5, T0 + dt.timedelta(seconds=30)) == []
    assert alive.recover(T0 + dt.timedelta(seconds=61)) == 1
    # Then the attempt is concluded as a drop that counts against the abandon rate
    [kept] = DialAttemptRepository(store).for_number([contact.number])
    assert (kept.outcome, kept.state, kept.abandoned, kept.live) == ("dropped", "done", True, True)
    figures = DialAttemptRepository(store).figures(handle.id, T0 - dt.timedelta(days=30))
    assert (figures.attempts, figures.live_answers, figures.abandoned) == (1, 1, 1)
    # and the contact is not dialed again within its retry delay
    assert alive.fill(handle, 5, T0 + GUARD - dt.timedelta(seconds=1)) == []
    [again] = alive.fill(handle, 5, T0 + GUARD)
    assert again.id == contact.id and again.attempts == 1
    # and the dead dialer's late report changes nothing: the first conclusive fact won
    dead.finish(handle, attempt.id, "answered", T0 + GUARD)
    assert DialAttemptRepository(store).for_number([contact.number])[0].outcome == "dropped"


def test_a_real_result_replaces_interrupted_without_touching_the_contact_again(store) -> None:
    handle = make_campaign(store, numbers=1)
    dead = Hopper(store, POLICY, "dead", lease_seconds=60)
    [contact] = dead.fill(handle, 1, T0)
    attempt = dead.begin(handle, contact, T0).attempt
    Hopper(store, POLICY, "alive").recover(T0 + dt.timedelta(seconds=61))
    before = CampaignRepository(store).contact(contact.id)
    assert before.last_outcome == "interrupted" and before.status is ContactStatus.PENDING
    dead.finish(handle, attempt.id, "no_answer", T0 + dt.timedelta(seconds=70))
    assert DialAttemptRepository(store).for_number([contact.number])[0].outcome == "no_answer"
    assert CampaignRepository(store).contact(contact.id) == before


def test_finish_applies_the_retry_rules_and_a_final_outcome_completes(store) -> None:
    handle = make_campaign(store, numbers=1)
    hopper = Hopper(store, POLICY, "d1")
    now = T0
    for n in range(3):
        [contact] = hopper.fill(handle, 1, now)
        attempt = hopper.begin(handle, contact, now).attempt
        after = hopper.finish(handle, attempt.id, "busy", now + dt.timedelta(seconds=20))
        now = now + GUARD + dt.timedelta(seconds=20)
    assert after.status is ContactStatus.EXHAUSTED and after.attempts == 3 and after.data["outcomes"] == {"busy": 3}
    other = make_campaign(store, "autumn", numbers=1, first=50)
    [contact] = hopper.fill(other, 1, now)
    attempt = hopper.begin(other, contact, now).attempt
    hopper.answered(attempt.id, now)
    hopper.connected(attempt.id, now, "1001")
    done = hopper.finish(other, attempt.id, "answered", now + dt.timedelta(minutes=3), talk_seconds=170)
    assert done.status is ContactStatus.DONE
    figures = DialAttemptRepository(store).figures(other.id, T0)
    assert (figures.live_answers, figures.connected, figures.abandoned, figures.talk_seconds) == (1, 1, 0, 170)


def test_one_campaign_at_a_time_works_a_number(store) -> None:
    a = make_campaign(store, "a", numbers=1)
    b = make_campaign(store, "b", numbers=1)  # the same number
    hopper = Hopper(store, POLICY, "d1")
    [in_a] = hopper.fill(a, 1, T0)
    attempt = hopper.begin(a, in_a, T0).attempt
    assert hopper.fill(b, 1, T0 + dt.timedelta(seconds=5)) == []
    [decision] = [d for d in ComplianceRepository(store).history(in_a.number) if d.campaign_name == "b"]
    assert decision.rule == "other_campaign"
    hopper.finish(a, attempt.id, "answered", T0 + dt.timedelta(minutes=1))
    assert len(hopper.fill(b, 1, T0 + dt.timedelta(minutes=11))) == 1


def test_concurrent_dialers_never_dial_a_contact_twice(store) -> None:
    handle = make_campaign(store, numbers=40)
    dialed: dict[str, list[int]] = {}
    barrier = threading.Barrier(3)

    def dialer(name: str) -> None:
        hopper = Hopper(store, POLICY, name)
        barrier.wait()
        got: list[int] = []
        for _ in range(30):
            for contact in hopper.fill(handle, 2, T0):
                begun = hopper.begin(handle, contact, T0)
                if begun.attempt is not None:
                    got.append(contact.id)
                    hopper.finish(handle, begun.attempt.id, "answered", T0)
        dialed[name] = got

    threads = [threading.Thread(target=dialer, args=(f"d{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    everything = [cid for ids in dialed.values() for cid in ids]
    assert sorted(everything) == list(range(1, 41))


def test_manual_dials_and_callbacks_pass_the_same_rules_and_are_logged(store) -> None:
    DncRepository(store).add("13812399999", "black", "asked", now=T0)
    gate = ComplianceGate(store, POLICY)
    refused = gate.begin("138 1239 9999", "manual", T0, agent_id="1001")
    assert refused.attempt is None and refused.verdict.rule == "dnc_black"
    allowed = gate.begin("13812398888", "callback", T0)
    assert allowed.attempt is not None and allowed.attempt.purpose == "callback"
    night = gate.begin("13812397777", "manual", T0 + dt.timedelta(hours=12))
    assert night.verdict.rule == "calling_hours"
    assert [d.stage for d in ComplianceRepository(store).history("13812399999")] == ["manual"]
    assert gate.begin("not a number", "manual", T0).verdict.rule == "invalid_number"
