"""`jinqiao calls|callbacks|dnc list`, `agents list` with live state: what an operator sees without sqlite3."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.store.database import open_store
from engine.store.repos.agents import AgentRepository
from engine.store.repos.callbacks import CallbackRepository
from engine.store.repos.dnc import DncRepository
from engine.store.repos.interactions import InteractionRepository, RecordingRepository, SurveyRepository

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)  # 10:00 in Asia/Shanghai


@pytest.fixture
def db(tmp_path, monkeypatch):
    """A migrated SQLite store the CLI reads (via JINQIAO_DATABASE_URL); yields the open Store."""
    url = f"sqlite:///{tmp_path / 'jq.db'}"
    monkeypatch.setenv("JINQIAO_DATABASE_URL", url)
    monkeypatch.delenv("JINQIAO_CONFIG", raising=False)
    monkeypatch.delenv("JINQIAO_ENGINE_TIMEZONE", raising=False)
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    store = open_store(url)
    yield store
    store.dispose()


def jq(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def make_calls(store) -> dict[str, int]:
    """An IVR-only call with masked keys, an answered queue call with recording and survey, an abandoned one."""
    repo = InteractionRepository(store)
    ivr = repo.start("inbound", T0, caller="13800138000", did="10086", call_id="u-ivr", ivr_flow="main")
    repo.update(ivr, answered_at=T0 + timedelta(seconds=1), ivr_path=["welcome", "menu", "account"],
                ivr_digits=["menu:1", "account:******78"], ivr_outcome="caller_hangup")
    repo.finish(ivr, T0 + timedelta(seconds=20), hangup_cause="NORMAL_CLEARING", sip_status=200,
                hangup_by="caller", ivr_exit_node="account")
    AgentRepository(store).add("1001", "Li")
    answered = repo.start("inbound", T0 + timedelta(hours=1), caller="13900139000", did="10086", call_id="u-acd")
    t = T0 + timedelta(hours=1)
    repo.update(answered, queue="support", queue_entered_at=t + timedelta(seconds=10),
                offered_at=t + timedelta(seconds=15), answered_at=t + timedelta(seconds=18),
                bridged_at=t + timedelta(seconds=19), agent_id="1001", ivr_path=["welcome", "agent"],
                ivr_outcome="answered")
    repo.finish(answered, t + timedelta(seconds=79), hangup_cause="NORMAL_CLEARING", sip_status=200,
                hangup_by="caller")
    RecordingRepository(store).add("/var/rec/u-acd.wav", 60.0, 960044, "ab" * 32, answered, at=t)
    SurveyRepository(store).record("satisfaction", 4, t + timedelta(seconds=85), interaction_id=answered)
    gone = repo.start("inbound", T0 + timedelta(days=1), caller="13700137000", call_id="u-gone")
    repo.update(gone, queue="sales", queue_entered_at=T0 + timedelta(days=1, seconds=5))
    repo.finish(gone, T0 + timedelta(days=1, seconds=65), hangup_cause="ORIGINATOR_CANCEL", hangup_by="caller")
    return {"ivr": ivr, "answered": answered, "gone": gone}


def ids_in(out: str) -> list[int]:
    return [int(line.split()[0]) for line in out.splitlines()[1:] if line.strip()]


def test_calls_list_filters_by_time_number_queue_agent_outcome_and_abandoned(db):
    ids = make_calls(db)
    code, out, err = jq("calls", "list")
    assert code == 0 and ids_in(out) == [ids["gone"], ids["answered"], ids["ivr"]]
    assert "3 call(s), times in Asia/Shanghai" in err
    assert "2026-11-25 10:00:00" in out  # center time (Asia/Shanghai), not UTC
    # a bare --until date includes that whole (local) day; --since is local time
    assert ids_in(jq("calls", "list", "--until", "2026-11-25")[1]) == [ids["answered"], ids["ivr"]]
    assert ids_in(jq("calls", "list", "--since", "2026-11-25 10:30")[1]) == [ids["gone"], ids["answered"]]
    assert ids_in(jq("calls", "list", "--number", "+86 139 0013 9000")[1]) == [ids["answered"]]
    assert ids_in(jq("calls", "list", "--queue", "sales")[1]) == [ids["gone"]]
    assert ids_in(jq("calls", "list", "--agent", "1001")[1]) == [ids["answered"]]
    assert ids_in(jq("calls", "list", "--outcome", "answered")[1]) == [ids["answered"]]
    assert ids_in(jq("calls", "list", "--outcome", "caller_hangup")[1]) == [ids["ivr"]]
    assert ids_in(jq("calls", "list", "--abandoned")[1]) == [ids["gone"]]
    assert ids_in(jq("calls", "list", "--limit", "1")[1]) == [ids["gone"]]
    code, _, err = jq("calls", "list", "--since", "2026-11-26", "--until", "2026-11-25")
    assert code == 2 and err.strip().splitlines()[-1].startswith("jinqiao: ")


def test_calls_list_as_csv_has_one_row_per_call_with_utc_times(db):
    ids = make_calls(db)
    code, out, _ = jq("calls", "list", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [int(r["id"]) for r in rows] == [ids["gone"], ids["answered"], ids["ivr"]]
    answered = rows[1]
    assert (answered["queue"], answered["agent"], answered["outcome"], answered["sip_status"]) == (
        "support", "1001", "answered", "200")
    assert answered["arrived"] == "2026-11-25T03:00:00+00:00"


def test_calls_show_prints_path_masked_keys_every_time_the_cause_recording_and_survey(db):
    ids = make_calls(db)
    code, out, _ = jq("calls", "show", str(ids["ivr"]))
    assert code == 0
    assert "welcome > menu > account" in out and "left at account" in out
    assert "account:******78" in out and "13800138000" in out
    assert "arrived         2026-11-25 10:00:00" in out and "answered        2026-11-25 10:00:01" in out
    assert "hung up         2026-11-25 10:00:20" in out
    assert "NORMAL_CLEARING, SIP 200, by caller" in out
    code, out, _ = jq("calls", "show", str(ids["answered"]))
    facts = {line[2:17].strip(): line[17:].strip() for line in out.splitlines()[1:]}
    assert (facts["queue entered"], facts["offered"], facts["answered"], facts["bridged"], facts["hung up"]) == (
        "2026-11-25 11:00:10", "2026-11-25 11:00:15", "2026-11-25 11:00:18", "2026-11-25 11:00:19",
        "2026-11-25 11:01:19")
    labels = [line[2:17].strip() for line in out.splitlines()[1:]]
    assert labels.index("arrived") < labels.index("queue entered") < labels.index("offered") \
        < labels.index("answered") < labels.index("bridged") < labels.index("hung up")
    assert facts["agent"] == "1001" and facts["queue"] == "support"
    assert facts["recording"].startswith("/var/rec/u-acd.wav (60.0 s")
    assert facts["survey"].startswith("satisfaction: 4/5")
    code, _, err = jq("calls", "show", "999")
    assert code == 2 and err == "jinqiao: no call with id 999\n"


def test_times_follow_the_center_time_zone_of_the_config(db, monkeypatch):
    make_calls(db)
    monkeypatch.setenv("JINQIAO_ENGINE_TIMEZONE", "UTC")
    assert "2026-11-25 02:00:00" in jq("calls", "list")[1]
    monkeypatch.setenv("JINQIAO_ENGINE_TIMEZONE", "Mars/Olympus")
    code, _, err = jq("calls", "list")
    assert code == 2 and "JINQIAO_ENGINE_TIMEZONE" in err and err.startswith("jinqiao: ")


def test_callbacks_list_shows_open_callbacks_soonest_first(db):
    repo = CallbackRepository(db)
    later = repo.request("13800138000", "IVR main", T0 + timedelta(hours=2), "ivr", now=T0)
    sooner = repo.request("13900139000", "queue full", T0 + timedelta(hours=1), "queue", now=T0)
    repo.close(later.id, "done", T0 + timedelta(hours=3))
    code, out, err = jq("callbacks", "list")
    assert code == 0 and ids_in(out) == [sooner.id] and "2026-11-25 11:00" in out and "queue full" in out
    assert ids_in(jq("callbacks", "list", "--status", "all")[1]) == [sooner.id, later.id]


def test_dnc_list_hides_expired_entries_unless_asked(db):
    repo = DncRepository(db)
    now = datetime.now(timezone.utc)
    repo.add("13800138000", "black", "asked", "cli")
    repo.add_many([("+8613900139000", "grey", "complaint", now + timedelta(days=30)),
                   ("+8613700137000", "black", "old", now - timedelta(days=1))], "import")
    code, out, err = jq("dnc", "list")
    assert code == 0 and "+8613800138000" in out and "+8613900139000" in out and "+8613700137000" not in out
    assert "2 number(s)" in err
    assert "+8613900139000" not in jq("dnc", "list", "--list", "black")[1]
    assert "(expired)" in jq("dnc", "list", "--all")[1]


def test_agents_list_shows_the_state_the_engine_stored_and_its_age(db):
    agents = AgentRepository(db)
    agents.add("1001", "Li")
    agents.add("1002", "Wang")
    now = datetime.now(timezone.utc)
    agents.record_state_change("1001", "logged_in", None, now - timedelta(minutes=30))
    agents.record_state_change("1001", "not_ready", "lunch", now - timedelta(minutes=12, seconds=5))
    code, out, _ = jq("agents", "list")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert code == 0 and "not_ready (lunch) for 12m" in lines["1001"]
    assert " - " in lines["1002"]  # no state stored yet


def test_click_usage_errors_use_the_same_prefix_as_every_other_error(db):
    code, _, err = jq("calls", "list", "--bogus")
    assert code == 2 and err.strip().splitlines()[-1] == "jinqiao: No such option '--bogus'."
    assert "Error:" not in err
    code, _, err = jq("calls", "show")
    assert code == 2 and err.strip().splitlines()[-1].startswith("jinqiao: Missing argument")


def test_output_piped_into_head_ends_quietly_without_a_broken_pipe_error(db):
    # Given more numbers than a pipe buffer holds
    DncRepository(db).add_many([(f"+86138{i:08d}", "black", "bulk", None) for i in range(4000)], "import")
    # When the reader stops after one line (what `| head -1` does)
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "dnc", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ))
    assert proc.stdout.readline().startswith(b"NUMBER")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    # Then nothing about a broken pipe is printed
    assert "Broken pipe" not in err and "BrokenPipeError" not in err and "Traceback" not in err, err


def test_csv_defuses_a_caller_id_a_spreadsheet_would_run_as_a_formula(db):
    repo = InteractionRepository(db)
    repo.start("inbound", T0, caller='=HYPERLINK("http://x","y")', did="-1+2")
    repo.start("inbound", T0, caller="13800138000", did="10086")
    rows = list(csv.DictReader(io.StringIO(jq("calls", "list", "--csv")[1])))
    by_did = {r["did"]: r["number"] for r in rows}
    assert by_did == {"'-1+2": "'=HYPERLINK(\"http://x\",\"y\")", "10086": "+8613800138000"}


def test_a_group_run_without_a_command_shows_its_help_not_an_error(db):
    code, out, err = jq("calls")
    assert code == 2 and "list" in out + err and "show" in out + err and "jinqiao:" not in err
