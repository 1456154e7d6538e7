"""`jinqiao campaign ...` through the real entry point on a SQLite file."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.dialer.compliance import CompliancePolicy
from engine.dialer.hopper import Hopper, load_handle
from engine.store.database import open_store
from engine.store.repos.campaigns import CampaignRepository
from engine.store.repos.customers import CustomerRepository

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def jq(tmp_path, monkeypatch):
    """Run `jinqiao ARGS...` against a fresh, migrated SQLite database; returns (exit code, stdout, stderr)."""
    url = f"sqlite:///{tmp_path / 'jq.db'}"
    config = tmp_path / "jq.yaml"
    config.write_text(f"database: {{url: '{url}'}}\nivr: {{flows_dir: '{ROOT / 'ivr_flows'}'}}\n"
                      f"dialer: {{campaigns_dir: '{ROOT / 'campaigns'}'}}\n", encoding="utf-8")
    monkeypatch.setenv("JINQIAO_CONFIG", str(config))
    monkeypatch.delenv("JINQIAO_DATABASE_URL", raising=False)

    def run(*args: str):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    run.url = url  # type: ignore[attr-defined]
    assert run("db", "upgrade")[0] == 0
    return run


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_create_import_and_lifecycle(jq, tmp_path) -> None:
    code, out, _ = jq("campaign", "create", "broadband_upsell")  # from the campaigns folder
    assert code == 0 and "broadband_upsell (predictive, marketing): draft" in out
    code, _, err = jq("campaign", "create", "broadband_upsell")
    assert code == 2 and "already exists" in err
    assert jq("campaign", "create", "broadband_upsell", "--replace", "--queue", "retention")[0] == 0
    source = write(tmp_path / "people.csv", "name,phone,segment\n张伟,13812340001,vip\n坏,12345,new\n"
                   "李娜,13812340002,prospect\n")
    code, out, err = jq("campaign", "import", "broadband_upsell", str(source))
    assert err == ""  # no progress-bar labels when stderr is not a terminal
    assert code == 0 and "2 inserted" in out and "1 rejected" in out and "2 contacts added" in out
    assert (tmp_path / "people.csv.errors.csv").read_text(encoding="utf-8-sig").splitlines()[1].startswith("3,phone,")
    assert "0 contacts added, 2 already there" in jq("campaign", "import", "broadband_upsell", str(source))[1]
    code, _, err = jq("campaign", "resume", "broadband_upsell")
    assert code == 2 and "draft" in err
    assert "draft -> running" in jq("campaign", "launch", "broadband_upsell")[1]
    assert "running -> paused" in jq("campaign", "pause", "broadband_upsell")[1]
    assert "paused -> running" in jq("campaign", "resume", "broadband_upsell")[1]
    assert "running -> stopped" in jq("campaign", "stop", "broadband_upsell")[1]
    code, out, _ = jq("campaign", "list")
    assert "broadband_upsell" in out and "stopped" in out and "retention" in out and "0/2" in out


def test_bad_campaign_files_fail_in_one_line_naming_file_line_and_field(jq, tmp_path) -> None:
    bad = write(tmp_path / "bad.yaml", "name: bad\nmode: predictive\nqueue: sales\nring_timeout: 5s\n")
    code, _, err = jq("campaign", "create", str(bad))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{bad}:4:1: ring_timeout:" in err
    code, _, err = jq("campaign", "create", "--name", "x", "--mode", "agentless", "--ivr-flow", "missing_flow")
    assert code == 2 and "no IVR flow named 'missing_flow'" in err
    code, out, _ = jq("campaign", "create", "--name", "x", "--mode", "agentless", "--ivr-flow", "demo_welcome")
    assert code == 0 and "x (agentless" in out
    assert jq("campaign", "status", "nope")[0] == 2


def test_segment_query_source_enrolls_matching_customers(jq) -> None:
    store = open_store(jq.url)
    customers = CustomerRepository(store)
    now = dt.datetime.now(dt.timezone.utc)
    customers.upsert(["13812340001"], segment="prospect", tags=["broadband"], value_tier=3)
    customers.upsert(["13812340002"], segment="prospect", tags=["broadband"], value_tier=1)  # tier too low
    customers.upsert(["13812340003"], segment="vip", tags=["broadband", "5g"], value_tier=9)
    customers.upsert(["13812340004"], segment="loyal", tags=["broadband"], value_tier=5)  # segment
    customers.upsert(["13812340005"], segment="prospect", tags=["5g"], value_tier=5)  # tag
    recent = customers.upsert(["13812340006"], segment="prospect", tags=["broadband"], value_tier=5)
    customers.touch(recent.id, now - dt.timedelta(days=10))  # contacted recently
    store.dispose()
    jq("campaign", "create", "broadband_upsell")
    code, out, _ = jq("campaign", "import", "broadband_upsell")
    assert code == 0 and "2 contacts added" in out


def test_status_report_and_why_tell_what_happened(jq) -> None:
    jq("campaign", "create", "--name", "spring", "--mode", "progressive", "--queue", "sales")
    store = open_store(jq.url)
    repo = CampaignRepository(store)
    handle = load_handle(store, "spring")
    repo.enroll(handle.id, [("+8613812340001", None, None), ("+8613812340002", None, None)])
    jq("campaign", "launch", "spring")
    jq("dnc", "add", "13812340002", "--reason", "asked on the phone")
    now = dt.datetime.now(dt.timezone.utc)
    hopper = Hopper(store, CompliancePolicy(calling_hours=_always()), "engine-1")
    handle = load_handle(store, "spring")
    [contact] = hopper.fill(handle, 5, now)
    attempt = hopper.begin(handle, contact, now).attempt
    hopper.answered(attempt.id, now)
    hopper.finish(handle, attempt.id, "dropped", now)
    repo.publish_live(handle.id, {"dial_level": 1.5, "ringing": 3, "agents": {"ready": 2, "on_call": 4}}, now)
    store.dispose()
    code, out, _ = jq("campaign", "status", "spring")
    assert code == 0
    assert "1/2 contacts worked" in out and "pending=1" in out and "due now=0" in out  # dropped: retried later
    assert "(target 3.0%, OVER)" in out
    assert "blocked=1" in out and "abandoned=1" in out and "abandon rate=100.0%" in out
    assert "dial level=1.5 ringing=3 agents: on_call=4 ready=2" in out
    code, out, _ = jq("campaign", "status", "spring", "--watch", "--interval", "0.2", "--iterations", "2")
    assert code == 0 and out.count("campaign spring") == 2
    code, out, _ = jq("campaign", "report", "spring", "--json")
    report = json.loads(out)
    assert report["attempts"] == 1 and report["abandoned"] == 1 and report["outcomes"] == {"dropped": 1}
    assert "drops 1" in jq("campaign", "report", "spring")[1]
    code, out, _ = jq("campaign", "why", "138 1234 0002")
    assert code == 0 and "NOT dialed" in out and "rule=dnc_black" in out and "asked on the phone" in out
    assert "campaign spring" in out
    code, out, _ = jq("campaign", "why", "13812340001")
    assert "dial allowed" in out and "stage" not in out and "attempt 1: dropped (abandoned)" in out
    assert "never considered" in jq("campaign", "why", "13812349999")[1]
    assert jq("campaign", "why", "hello")[0] == 2


def _always():  # type: ignore[no-untyped-def]
    from engine.ivr.hours import parse_weekly

    return parse_weekly({"daily": "24h"})[0]


def test_widening_the_calling_windows_judges_held_back_contacts_again(jq, tmp_path) -> None:
    """An operator who finds contacts held back by the campaign's windows and widens them with --replace does not
    wait for the old window to open: those contacts are due at once and compliance judges them again."""
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=11)).hour  # in Asia/Shanghai: 3 h from now
    shut = write(tmp_path / "night.yaml", "name: night\nmode: progressive\nqueue: sales\n"
                 f"calling_windows: {{daily: '{later:02d}:00-{later:02d}:30'}}\n")
    assert jq("campaign", "create", str(shut))[0] == 0
    store = open_store(jq.url)
    repo = CampaignRepository(store)
    handle = load_handle(store, "night")
    repo.enroll(handle.id, [("+8613812340001", None, None)])
    jq("campaign", "launch", "night")
    now = dt.datetime.now(dt.timezone.utc)
    hopper = Hopper(store, CompliancePolicy(calling_hours=_always()), "engine-1")
    assert hopper.fill(load_handle(store, "night"), 5, now) == []
    open_ = write(tmp_path / "night.yaml", "name: night\nmode: progressive\nqueue: sales\n"
                  "calling_windows: {daily: 24h}\n")
    code, out, _ = jq("campaign", "create", str(open_), "--replace")
    assert code == 0 and "1 contact(s) held back by the previous calling windows" in out
    [contact] = hopper.fill(load_handle(store, "night"), 5, dt.datetime.now(dt.timezone.utc))
    assert contact.number == "+8613812340001"
    assert "held back" not in jq("campaign", "create", str(open_), "--replace")[1]  # nothing held back any more
    store.dispose()
