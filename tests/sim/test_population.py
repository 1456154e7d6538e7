"""The called-party population: a seeded, deterministic model, and a ground-truth log matching what ESL saw."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from engine.sim.cli import sim as sim_cli
from engine.sim.population import BUSY, HUMAN, MACHINE, NO_ANSWER, UNALLOCATED, Population

from .helpers import connect_inbound

CAUSE_OF = {BUSY: "USER_BUSY", UNALLOCATED: "UNALLOCATED_NUMBER", NO_ANSWER: "NO_ANSWER"}


@pytest.fixture
def esl(sim):
    peer = connect_inbound(sim.address)
    peer.cmd("event plain CHANNEL_ANSWER CHANNEL_HANGUP BACKGROUND_JOB")
    yield peer
    peer.close()


def test_the_model_is_a_function_of_seed_number_and_attempt():
    a, b = Population(seed=7), Population(seed=7)
    numbers = ["1380013%04d" % i for i in range(300)]
    assert [a.plan(n, 1) for n in numbers] == [b.plan(n, 1) for n in numbers]
    assert [a.plan(n, 2) for n in numbers] != [a.plan(n, 1) for n in numbers]   # a retry draws again
    assert [Population(seed=8).plan(n, 1) for n in numbers] != [a.plan(n, 1) for n in numbers]


def test_shares_ring_times_and_machine_timings_follow_the_parameters():
    pop = Population(answer=0.3, machine=0.1, busy=0.05, unallocated=0.02, seed=3)
    plans = [pop.plan("1390000%04d" % i, 1) for i in range(5000)]
    share = {o: sum(p.outcome == o for p in plans) / len(plans) for o in (HUMAN, MACHINE, BUSY, UNALLOCATED)}
    assert share[HUMAN] == pytest.approx(0.3 * 0.98, abs=0.03)
    assert share[MACHINE] == pytest.approx(0.1 * 0.98, abs=0.02)
    assert share[BUSY] == pytest.approx(0.05 * 0.98, abs=0.015)
    assert share[UNALLOCATED] == pytest.approx(0.02, abs=0.01)
    rings = [p.ring for p in plans if p.outcome in (HUMAN, MACHINE)]
    assert all(6 <= r <= 10 or 18 <= r <= 22 for r in rings)                  # bimodal, as in the issue
    assert 0.6 < sum(r <= 10 for r in rings) / len(rings) < 0.8              # fast_ring=0.7
    for p in plans:
        if p.outcome == MACHINE:
            assert 6 <= p.greeting <= 14 and p.talk == pytest.approx(p.greeting + 0.5 + 30, abs=0.01)
        else:
            assert p.greeting is None


def test_an_unallocated_number_stays_unallocated_and_prefixes_are_unallocated():
    pop = Population(unallocated=0.5, seed=1, unallocated_prefixes=("0000",), unallocated_numbers=frozenset({"42"}))
    for n in ["1370000%04d" % i for i in range(50)]:
        assert len({pop.plan(n, k).outcome == UNALLOCATED for k in (1, 2, 3)}) == 1
    assert pop.plan("00001234", 1).outcome == UNALLOCATED and pop.plan("42", 5).outcome == UNALLOCATED


def test_parse_the_cli_spec_and_refuse_bad_input():
    pop = Population.parse("answer=0.3,machine=0.1,busy=0.05,unallocated=0.02,seed=7,unallocated_prefix=999")
    assert (pop.answer, pop.machine, pop.busy, pop.unallocated, pop.seed) == (0.3, 0.1, 0.05, 0.02, 7)
    assert pop.unallocated_prefixes == ("999",)
    for bad, words in [("answer=x", "answer: expected a number"), ("colour=1", "unknown key 'colour'"),
                       ("answer=0.8,machine=0.5", "more than 1"), ("seed=1.5", "seed: expected an integer"),
                       ("busy", "not key=value"), ("machine=2", "between 0 and 1")]:
        with pytest.raises(ValueError, match=words):
            Population.parse(bad)


def _dial_all(sim, esl, numbers: list[str], attempt: int) -> dict[str, str]:
    """bgapi-originate every number at once; {uuid: originate reply}."""
    jobs = {}
    for i, n in enumerate(numbers):
        uuid = "pop-%d-%d" % (attempt, i)
        r = esl.cmd("bgapi originate {origination_uuid=%s,originate_timeout=30}sofia/gateway/gw/%s &park()"
                    % (uuid, n))
        jobs[r.h["Job-UUID"]] = uuid
    replies: dict[str, str] = {}

    def all_back() -> bool:   # replies may come while later commands are sent: read the peer's log
        for f in list(esl.log):
            if f.event_name == "BACKGROUND_JOB" and f.ev.get("Job-UUID") in jobs:
                replies[jobs[f.ev["Job-UUID"]]] = f.event_body
        return len(replies) == len(jobs)
    assert sim.wait_until(all_back, 10)
    return replies


def _seen(esl) -> tuple[set[str], dict[str, str]]:
    answered = {f.ev["Unique-ID"] for f in esl.log if f.event_name == "CHANNEL_ANSWER"}
    causes = {f.ev["Unique-ID"]: f.ev["Hangup-Cause"] for f in esl.log if f.event_name == "CHANNEL_HANGUP"}
    return answered, causes


def test_outcomes_over_esl_match_the_model_and_the_ground_truth_log(sim, esl):
    spec = dict(answer=0.35, machine=0.2, busy=0.15, unallocated=0.1, seed=11, talk_median=5.0, talk_sigma=0.3,
                machine_record=5.0)
    sim.set_population(**spec)
    model = Population(**spec)
    numbers = ["1380000%04d" % i for i in range(30)]
    replies = _dial_all(sim, esl, numbers, 1)
    assert sim.wait_until(lambda: len(sim.population_log) == 30 and all(a.done for a in sim.population_log), 10)
    answered, causes = _seen(esl)
    log = {a.uuid: a for a in sim.population_log}
    outcomes = set()
    for i, n in enumerate(numbers):
        uuid, plan = "pop-1-%d" % i, model.plan(n, 1)
        truth = log[uuid]
        outcomes.add(plan.outcome)
        assert truth.plan == plan and truth.number == n and truth.outcome == plan.outcome
        assert truth.hangup_cause == causes[uuid]                       # what the ESL peer saw
        assert (truth.answered_at is not None) == (uuid in answered) == (plan.outcome in (HUMAN, MACHINE))
        if plan.outcome in (HUMAN, MACHINE):
            assert replies[uuid] == "+OK %s\n" % uuid
            assert causes[uuid] == "NORMAL_CLEARING" and truth.hung_up_by == "callee"   # the callee's BYE
            assert truth.machine == (plan.outcome == MACHINE) == (truth.beep_at is not None)
        else:
            assert replies[uuid] == "-ERR %s\n" % CAUSE_OF[plan.outcome] == "-ERR %s\n" % causes[uuid]
            assert truth.hung_up_by == ("timeout" if plan.outcome == NO_ANSWER else "callee")
    assert outcomes == {HUMAN, MACHINE, BUSY, UNALLOCATED, NO_ANSWER}


def test_a_retry_is_the_next_attempt_and_an_engine_hangup_is_logged_as_such(sim, esl):
    sim.set_population("answer=1,machine=0,busy=0,unallocated=0,seed=5,talk_median=100000")
    model = Population(answer=1, machine=0, busy=0, unallocated=0, seed=5)
    for attempt in (1, 2):
        replies = _dial_all(sim, esl, ["5551000"], attempt)
        uuid = "pop-%d-0" % attempt
        assert replies[uuid] == "+OK %s\n" % uuid
        assert esl.cmd("api uuid_kill %s" % uuid).body == b"+OK\n"
        assert sim.wait_until(lambda: all(a.done for a in sim.population_log), 5)
        truth = sim.population_log[-1]
        assert truth.plan.attempt == attempt and truth.plan.ring == model.plan("5551000", attempt).ring
        assert truth.hung_up_by == "engine" and truth.hangup_cause == "NORMAL_CLEARING"
    assert sim.population_log[0].as_dict()["attempt"] == 1


def test_explicit_destinations_win_over_the_population_and_it_can_be_turned_off(sim, esl):
    sim.set_population(answer=0, machine=0, busy=1, unallocated=0, seed=1)
    sim.set_destination("5552000", "answer", after=0.1)
    assert esl.cmd("api originate sofia/gateway/gw/5552000 &park()").body.startswith(b"+OK ")
    assert esl.cmd("api originate sofia/gateway/gw/5552001 &park()").body == b"-ERR USER_BUSY\n"
    assert [a.number for a in sim.population_log] == ["5552001"]
    sim.set_population(None)
    assert sim.population_log == []
    assert esl.cmd("api originate sofia/gateway/gw/5552001 &park()").body.startswith(b"+OK ")


def test_sim_run_refuses_a_bad_population_spec():
    result = CliRunner().invoke(sim_cli, ["run", "--port", "0", "--password", "pw", "--population", "answer=lots"])
    assert result.exit_code == 2
    assert "--population" in result.output and "answer: expected a number, got 'lots'" in result.output


def test_sim_run_population_option_drives_outbound_dials(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "JINQIAO_SIM_PASSWORD": "poppw"}
    switch = subprocess.Popen([sys.executable, "-m", "engine.cli", "sim", "run", "--port", str(port),
                               "--time-scale", "0.01", "--no-control", "--population",
                               "answer=0,machine=0,busy=0,unallocated=0,seed=7,unallocated_prefix=999"],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert switch.stderr is not None
        line = switch.stderr.readline().decode()                    # "sim: listening on ..." once it listens
        assert line.startswith("sim: listening on 127.0.0.1:%d" % port), line
        esl = connect_inbound(("127.0.0.1", port), password="poppw")
        assert esl.cmd("api originate sofia/gateway/gw/9995550 &park()").body == b"-ERR UNALLOCATED_NUMBER\n"
        r = esl.cmd("api originate {originate_timeout=5}sofia/gateway/gw/5550 &park()")
        assert r.body == b"-ERR NO_ANSWER\n"                          # nobody answers in this population
        esl.close()
    finally:
        switch.terminate()
        switch.wait(10)
