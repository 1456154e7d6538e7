"""On the simulator, with the real store: every IVR call keeps the cause and SIP status FreeSWITCH reported,
the node it left from, and its arrival and answer times; the log names the node where the caller left."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from click.testing import CliRunner

from engine.ivr.channel import CallHungUp
from engine.ivr.ports import IvrRecord, QueueOutcome, QueueRequest, QueueResult
from engine.ivr.store_adapter import StoreInteractionLog
from engine.sim import FreeSwitchSim, Hangup, Press
from engine.cli import main
from engine.store import migrate
from engine.store.database import open_store
from engine.store.repos.interactions import InteractionRepository, SurveyRepository
from tests.ivr.simharness import SimEngine

FLOW = """\
start: welcome
nodes:
  welcome: {type: play, tts: 欢迎致电, next: menu}
  menu:
    type: menu
    prompt: 查询请按1，故障请按2，人工请按3
    options: {1: account, 2: customer, 3: agent, 4: talk}
    on_failure: bye
  account:
    type: collect
    prompt: 请输入账号
    max_digits: 8
    into: account
    mask: true
    next: bye
    on_failure: bye
  customer: {type: lookup, source: customer, by: caller, next: bye, on_not_found: bye}
  agent: {type: queue, queue: support, prompt: 请稍候, on_failure: bye}
  talk: {type: queue, queue: talk, prompt: 请稍候, on_failure: bye}
  bye: {type: hangup, prompt: 再见}
"""
T0 = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)


class StoredLog:
    """The real store adapter, plus the records for the harness to wait on."""

    def __init__(self, log: StoreInteractionLog) -> None:
        self.store_log = log
        self.records: list[IvrRecord] = []
        self.surveys: list[Any] = []

    def ivr_finished(self, record: IvrRecord) -> None:
        self.store_log.ivr_finished(record)
        self.records.append(record)

    def survey_answered(self, call_uuid: str, question: str, score: int) -> None:
        self.store_log.survey_answered(call_uuid, question, score)


class BrokenDirectory:
    """A customer directory plugin with a bug: it answers with a list instead of a record."""

    def find_by_phone(self, number: str) -> Any:
        return [1, 2]

    def find_by_reference(self, kind: str, value: str) -> Any:
        return None


class HoldingQueue:
    """An ACD whose queue plays hold music until the caller gives up."""

    def enqueue(self, channel: Any, request: QueueRequest) -> QueueResult:
        if request.queue == "talk":  # an agent answers; the conversation lasts until the caller hangs up
            try:
                channel.play("local_stream://conversation")
            except CallHungUp:
                pass
            return QueueResult(QueueOutcome.ANSWERED)
        channel.play("local_stream://moh")
        return QueueResult(QueueOutcome.TIMEOUT)


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


@pytest.fixture
def engine(tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text(FLOW, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'jq.db'}"
    store = open_store(url)
    migrate.upgrade(store.engine, "head")  # as `jinqiao db upgrade` does, so the CLI can read it too
    interactions = InteractionRepository(store)
    clock = Clock()
    sim = FreeSwitchSim("ClueCon", time_scale=0.01)
    sim.start()
    log = StoredLog(StoreInteractionLog(interactions, SurveyRepository(store), now=clock))
    eng = SimEngine(sim, flows, tmp_path, {"7000": "main"}, log=log, now=clock,  # type: ignore[arg-type]
                    directory=BrokenDirectory(), queues=HoldingQueue()).start()  # type: ignore[arg-type]
    eng.interactions = interactions  # type: ignore[attr-defined]
    eng.database_url = url  # type: ignore[attr-defined]
    yield eng
    eng.stop()
    sim.stop()
    store.dispose()


def stored(engine, call):
    (record,) = engine.finished()
    return record, engine.interactions.by_call_id(call.uuid)


def test_a_caller_hanging_up_during_a_prompt_stores_cause_sip_200_and_the_prompt_node(engine, caplog):
    caplog.set_level(logging.INFO, logger="engine.ivr.runner")
    call = engine.sim.place_call("7000", "13800138000", script=[Hangup(at=0.3)])
    record, row = stored(engine, call)
    assert record.ended_by_caller and record.path == ["welcome"]
    assert (row.hangup_cause, row.sip_status, row.ivr_exit_node, row.hangup_by) == (
        "NORMAL_CLEARING", 200, "welcome", "caller")
    assert "caller hung up in flow main at node welcome (NORMAL_CLEARING, SIP 200)" in caplog.text
    assert "at answer" not in caplog.text


def test_a_caller_hanging_up_during_digit_collection_names_the_collect_node(engine, caplog):
    caplog.set_level(logging.INFO, logger="engine.ivr.runner")
    call = engine.sim.place_call("7000", "13800138000")
    engine.answer(call, ["1", ""])  # menu: 1; then the account prompt starts
    call.press("12")
    assert engine.sim.wait_until(lambda: any(app == "play_and_get_digits" for app, _ in call.apps[2:]), 10)
    call.hangup()
    record, row = stored(engine, call)
    assert record.path == ["welcome", "menu", "account"]
    assert (row.hangup_cause, row.sip_status, row.ivr_exit_node, row.ivr_outcome) == (
        "NORMAL_CLEARING", 200, "account", "caller_hangup")
    assert "at node account" in caplog.text


def test_a_call_that_reaches_the_end_of_the_flow_is_hung_up_by_the_ivr_without_a_sip_status(engine):
    call = engine.sim.place_call("7000", "13800138000", script=[Press("9", at=0.5)])
    record, row = stored(engine, call)
    assert not record.ended_by_caller and record.path == ["welcome", "menu", "bye"]
    # the engine sent the BYE: FreeSWITCH reports the cause, and no SIP status (capture 05a)
    assert (row.hangup_cause, row.sip_status, row.ivr_exit_node, row.hangup_by) == (
        "NORMAL_CLEARING", None, "bye", "ivr")


def test_an_ivr_only_call_keeps_arrival_answer_and_hangup_as_separate_times(engine):
    call = engine.sim.place_call("7000", "13800138000", script=[Hangup(at=0.3)])
    record, row = stored(engine, call)
    assert row.arrived_at == record.started_at and row.answered_at == record.answered_at
    assert row.hangup_at == record.ended_at
    assert row.arrived_at < row.answered_at < row.hangup_at
    assert row.queue_entered_at is None and row.bridged_at is None and not row.abandoned


def test_an_error_in_a_node_names_the_node_in_the_log_and_on_the_interaction(engine, caplog):
    call = engine.sim.place_call("7000", "13800138000")
    engine.answer(call, ["2"])
    record, row = stored(engine, call)
    assert record.outcome == "error" and record.path == ["welcome", "menu", "customer"]
    assert "IVR failed in flow main at node customer" in caplog.text
    assert (row.ivr_outcome, row.ivr_exit_node, row.hangup_cause, row.sip_status) == (
        "error", "customer", "NORMAL_CLEARING", None)


def test_a_caller_hanging_up_while_queued_names_the_queue_node(engine, caplog):
    caplog.set_level(logging.INFO, logger="engine.ivr.runner")
    call = engine.sim.place_call("7000", "13800138000")
    engine.answer(call, ["3"])
    assert engine.sim.wait_until(lambda: "local_stream://moh" in call.played, 10)
    call.hangup()
    record, row = stored(engine, call)
    assert record.path == ["welcome", "menu", "agent"] and record.ended_by_caller
    assert (row.hangup_cause, row.sip_status, row.ivr_exit_node) == ("NORMAL_CLEARING", 200, "agent")
    assert "at node agent" in caplog.text


def test_a_caller_hanging_up_during_the_conversation_is_stored_as_the_callers_hangup(engine):
    call = engine.sim.place_call("7000", "13800138000")
    engine.answer(call, ["4"])
    assert engine.sim.wait_until(lambda: "local_stream://conversation" in call.played, 10)
    call.hangup()
    record, row = stored(engine, call)
    assert record.outcome == "answered" and record.ended_by_caller
    assert (row.hangup_cause, row.sip_status, row.ivr_exit_node, row.hangup_by) == (
        "NORMAL_CLEARING", 200, "talk", "caller")


def test_an_account_number_typed_in_a_masked_collect_is_shown_masked_by_calls_show(engine, monkeypatch):
    call = engine.sim.place_call("7000", "13800138000")
    engine.answer(call, ["1", "12345678#"])
    record, row = stored(engine, call)
    assert record.path == ["welcome", "menu", "account", "bye"]
    monkeypatch.setenv("JINQIAO_DATABASE_URL", engine.database_url)
    monkeypatch.delenv("JINQIAO_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["calls", "show", str(row.id)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "menu:1  account:******78" in result.stdout and "12345678" not in result.stdout
    assert "welcome > menu > account > bye" in result.stdout and "left at bye" in result.stdout
