"""Scenario tests over real sockets: the simulated FreeSWITCH connects to the engine's OutboundServer."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from engine.ivr.ports import MemoryDirectory
from engine.sim import FreeSwitchSim
from tests.ivr.simharness import SimEngine

REPO = Path(__file__).resolve().parents[2]
SUNDAY_NIGHT = datetime(2026, 11, 29, 14, 0, tzinfo=timezone.utc)
DIDS = {"4008001234": "logistics_hotline", "10086": "telecom_service", "4000": "demo_welcome",
        "5000": "every_node"}

EVERY_NODE = """\
start: welcome
nodes:
  welcome: {type: play, tts: "欢迎 {{ call.caller_number }}", next: setup}
  setup: {type: set, vars: {tries: 0}, next: open}
  open:
    type: hours
    weekly: {daily: 24h}
    open: menu
    closed: menu
  menu:
    type: menu
    prompt: 请选择
    options: {1: rates, 2: transfer, 3: callback, 4: shared}
    invalid_prompt: 无效
    retries: 1
    on_failure: bye
  rates:
    type: collect
    prompt: 区号
    min_digits: 3
    max_digits: 4
    into: area
    next: rate
    on_failure: bye
  rate: {type: lookup, source: table, table: prices, key: "{{ vars.area }}", into: r, next: say, on_not_found: bye}
  say: {type: say, kind: number, value: "{{ vars.r.first_kg }}", before: 首重, next: check}
  check:
    type: branch
    conditions: [{if: "vars.r.city == '上海'", next: again}]
    else: bye
  again: {type: goto, target: menu}
  transfer: {type: transfer, to: "8001", on_failure: bye}
  callback: {type: callback, next: bye, on_failure: bye}
  shared: {type: call, flow: thanks, next: bye}
  bye: {type: hangup, prompt: 再见}
"""


@pytest.fixture
def engine(tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(REPO / "ivr_flows", flows)
    (flows / "every_node.yaml").write_text(EVERY_NODE, encoding="utf-8")
    (flows / "thanks.yaml").write_text("start: t\nnodes:\n  t: {type: play, tts: 谢谢, next: r}\n  r: {type: return}\n",
                                       encoding="utf-8")
    sim = FreeSwitchSim("ClueCon", time_scale=0.01)
    sim.start()
    directory = MemoryDirectory(by_phone={
        "13800000001": {"id": 1, "name": "张伟", "segment": "vip", "tags": []},
        "13800000002": {"id": 2, "name": "李娜", "segment": "loyal", "tags": ["offer_5g"], "balance": "12.3",
                        "marketing_consent": True}})
    eng = SimEngine(sim, flows, tmp_path, DIDS, directory=directory).start()
    yield eng
    eng.stop()
    sim.stop()


def test_demo_welcome_over_the_socket(engine):
    call = engine.sim.place_call("4000", "13800138000")
    engine.answer(call, ["7"])
    (record,) = engine.finished()
    assert call.wait_hangup(5) and call.hangup_cause == "NORMAL_CLEARING"
    assert record.path == ["welcome", "ask", "say_key", "goodbye"] and record.outcome == "completed"
    assert any(text.startswith("您按的是") for text in engine.said(call))
    assert [app for app, _ in call.apps][:2] == ["socket", "answer"]


def test_logistics_waybill_readout_over_the_socket(engine):
    call = engine.sim.place_call("4008001234", "13900000009")
    engine.answer(call, ["2", "1", "880087654321", "9", "", ""])
    (record,) = engine.finished()
    readout = [t for t in engine.said(call) if t.startswith("Waybill")]
    assert readout and "the Beijing Chaoyang depot" in readout[0] and "out for delivery" in readout[0]
    assert ("ask_waybill", "880087654321") in record.digits and record.path[-1] == "goodbye"


def test_logistics_after_hours_voicemail_over_the_socket(engine):
    engine.now = lambda: SUNDAY_NIGHT
    call = engine.sim.place_call("4008001234", "13900000009")
    engine.answer(call, ["1", "3", "1"])
    assert engine.sim.wait_until(lambda: any(app == "record" for app, _ in call.apps), 10)
    call.press("#")
    (record,) = engine.finished()
    assert record.outcome == "voicemail" and Path(record.recordings[0]).exists()
    assert "您的留言已保存，我们会尽快处理。" in engine.said(call)


def test_caller_hanging_up_while_entering_a_waybill(engine):
    call = engine.sim.place_call("4008001234", "13900000009")
    engine.answer(call, ["1", "1"])
    assert engine.sim.wait_until(lambda: engine.collects(call) == 3, 10)
    call.press("8800")
    call.hangup()
    (record,) = engine.finished()
    assert record.ended_by_caller and record.outcome == "caller_hangup"
    assert record.path[-1] == "ask_waybill"


def test_caller_hanging_up_during_the_welcome_prompt(engine):
    call = engine.sim.place_call("4000", "13800138000")
    assert engine.sim.wait_until(lambda: any(app == "playback" for app, _ in call.apps), 10)
    call.hangup()
    (record,) = engine.finished()
    assert record.ended_by_caller and record.path == ["welcome"]


def test_telecom_vip_priority_queue_and_survey_over_the_socket(engine):
    call = engine.sim.place_call("10086", "13800000001")
    engine.answer(call, ["1", "5"])
    (record,) = engine.finished()
    assert engine.queues.requests[0].queue == "vip_service" and engine.queues.requests[0].priority == 10
    assert engine.log.surveys == [(call.uuid, "telecom_satisfaction", 5)]
    assert record.path[-3:] == ["vip_queue", "survey", "goodbye"]


def test_telecom_invalid_key_then_balance_over_the_socket(engine):
    call = engine.sim.place_call("10086", "13800000002")
    engine.answer(call, ["1", "7", "1", "", "", ""])
    (record,) = engine.finished()
    said = engine.said(call)
    assert "输入有误。" in said
    assert any(t.startswith("您的账户余额为") for t in said)
    assert record.digits[:3] == [("language_menu", "1"), ("main_menu", "7"), ("main_menu", "1")]


def test_every_node_type_flow_with_hostile_caller_id(engine):
    hostile = "{{7*7}}$(reboot)"
    call = engine.sim.place_call("5000", hostile)
    engine.answer(call, ["9", "1", "021", "3"])
    (record,) = engine.finished()
    assert engine.said(call)[0] == f"欢迎 {hostile}"
    assert record.path == ["welcome", "setup", "open", "menu", "rates", "rate", "say", "check", "again", "menu",
                           "callback", "bye"]
    assert "无效" in engine.said(call) and "首重十" in engine.said(call)
    assert engine.callbacks.requests == []  # that caller ID is no phone number to call back


def test_subflow_and_transfer_over_the_socket(engine):
    call = engine.sim.place_call("5000", "13800138000")
    engine.answer(call, ["4"])
    (record,) = engine.finished()
    assert record.path == ["welcome", "setup", "open", "menu", "shared", "thanks:t", "thanks:r", "bye"]
    assert engine.said(call)[-2:] == ["谢谢", "再见"]
    call = engine.sim.place_call("5000", "13800138000")
    engine.answer(call, ["2"])
    record = engine.finished(2)[1]
    assert record.outcome == "transferred" and ("transfer", "8001 XML public") in call.apps


def test_a_dtmf_flood_at_a_menu_is_only_data(engine):
    call = engine.sim.place_call("4008001234", "13900000009")
    engine.answer(call, ["1" + "9" * 60 + "#*" * 20])
    (record,) = engine.finished(timeout=20)
    assert record.outcome in ("completed", "step_limit") and not record.ended_by_caller
    assert all(len(d) <= 13 for _, d in record.digits)


def test_many_concurrent_callers_each_get_their_own_flow(engine):
    calls = [engine.sim.place_call("4000", f"1380000{i:04d}") for i in range(20)]
    for call in calls:
        engine.answer(call, [str(calls.index(call) % 10)])
    records = engine.finished(20)
    assert sorted(r.call_uuid for r in records) == sorted(c.uuid for c in calls)
    assert all(r.outcome == "completed" for r in records)


def test_logistics_after_hours_callback_over_the_socket(engine):
    engine.now = lambda: SUNDAY_NIGHT
    call = engine.sim.place_call("4008001234", "13900000009")
    engine.answer(call, ["1", "4", "2"])
    (record,) = engine.finished()
    assert record.outcome == "callback_requested" and record.path[-3:] == ["callback", "callback_saved", "goodbye"]
    (request,) = engine.callbacks.requests
    assert (request.number, request.queue, request.call_uuid) == ("13900000009", "consultation", call.uuid)
