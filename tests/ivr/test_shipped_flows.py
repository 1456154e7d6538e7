"""The shipped flows (logistics hotline, telecom service, demo welcome) walked with scripted callers."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from tts import spoken

from engine.ivr.ports import MemoryDirectory, QueueOutcome
from tests.ivr.fakes import FakeQueues, Harness

REPO = Path(__file__).resolve().parents[2]
WEDNESDAY_11H = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
SUNDAY_NIGHT = datetime(2026, 11, 29, 14, 0, tzinfo=timezone.utc)  # Sunday 22:00 in Shanghai

CUSTOMERS = {
    "13800000001": {"id": 1, "name": "张伟", "segment": "vip", "tags": [], "balance": "88.5",
                    "marketing_consent": True},
    "13800000002": {"id": 2, "name": "李娜", "segment": "loyal", "tags": ["offer_5g"], "balance": "12.3",
                    "marketing_consent": True},
    "13800000003": {"id": 3, "name": "王强", "segment": "new", "tags": ["offer_5g"], "marketing_consent": False},
}


@pytest.fixture
def shipped(tmp_path) -> Harness:
    shutil.copytree(REPO / "ivr_flows", tmp_path, dirs_exist_ok=True)
    harness = Harness(tmp_path, directory=MemoryDirectory(by_phone=CUSTOMERS), now=lambda: WEDNESDAY_11H,
                      queue_names={"complaints", "consultation", "vip_service", "sales", "general_service"})
    return harness


def said(channel) -> str:
    return "\n".join(p for p in channel.played if p)


def test_logistics_waybill_lookup_reads_location_and_eta(shipped):
    shipped.default_flow = "logistics_hotline"
    channel, record = shipped.call(["1", "1", "880012345678", "9", ""] + [""] * 3)
    text = said(channel)
    assert "上海浦东转运中心" in text and "运输中" in text
    assert spoken.date("2026-11-27", "zh") in text and spoken.digits("880012345678", "zh") in text
    assert record.path[:8] == ["welcome", "language_menu", "use_chinese", "identify", "main_menu", "ask_waybill",
                               "find_waybill", "read_waybill"]


def test_logistics_unknown_and_malformed_waybills(shipped):
    shipped.default_flow = "logistics_hotline"
    channel, record = shipped.call(["1", "1", "12345", "880000000000", "9", ""] + [""] * 3)
    assert "运单号格式不正确" in said(channel) and "没有找到该运单" in said(channel)
    assert "waybill_not_found" in record.path


def test_logistics_price_enquiry_in_english(shipped):
    shipped.default_flow = "logistics_hotline"
    channel, record = shipped.call(["2", "2", "0755", "5", "9"] + [""] * 3)
    price = spoken.money("24.00", "CNY", language="en")  # 12 + 4 kg x 3
    assert f"To Shenzhen, {spoken.number('5', 'en')} kilograms costs {price}" in said(channel)
    assert "tts:en:" in channel.played[-1]


def test_logistics_complaint_goes_to_the_complaints_queue_with_vip_priority(shipped):
    shipped.default_flow = "logistics_hotline"
    channel, record = shipped.call(["1", "3"], caller_number="13800000001")
    request = shipped.queues.requests[0]
    assert (request.queue, request.priority, request.skills) == ("complaints", 8, ("complaints", "mandarin"))
    assert "张伟，您好" in said(channel) and record.outcome == "answered"
    shipped.call(["2", "4"], caller_number="13900000009")
    assert shipped.queues.requests[1].queue == "consultation"
    assert shipped.queues.requests[1].skills == ("english",)


def test_logistics_after_hours_offers_voicemail_and_callback(shipped):
    shipped.default_flow = "logistics_hotline"
    shipped.now = lambda: SUNDAY_NIGHT
    channel, record = shipped.call(["1", "3", "1"])
    assert record.outcome == "voicemail" and shipped.queues.requests == []
    assert "留言已保存" in said(channel)
    channel, record = shipped.call(["1", "4", "2"])
    assert record.outcome == "callback_requested"
    assert shipped.callbacks.requests[0].queue == "consultation"


def test_logistics_busy_queue_falls_back_to_after_hours_options(shipped):
    shipped.default_flow = "logistics_hotline"
    shipped.queues = FakeQueues(outcome=QueueOutcome.TIMEOUT)
    channel, record = shipped.call(["1", "3", "2"])
    assert "投诉专员暂时都在忙" in said(channel) and record.outcome == "callback_requested"


def test_logistics_caller_who_presses_nothing_is_sent_off_politely(shipped):
    shipped.default_flow = "logistics_hotline"
    channel, record = shipped.call([])
    assert record.path[-1] == "goodbye" and channel.played[-1].endswith("感谢您的来电，再见。")


def test_telecom_vip_goes_to_the_priority_queue_then_the_survey(shipped):
    shipped.default_flow = "telecom_service"
    channel, record = shipped.call(["1", "5"], caller_number="13800000001")
    request = shipped.queues.requests[0]
    assert (request.queue, request.priority, request.customer_id) == ("vip_service", 10, "1")
    assert shipped.log.surveys == [("call-1", "telecom_satisfaction", 5)]
    assert record.path[-3:] == ["vip_queue", "survey", "goodbye"]


def test_telecom_balance_readout_and_offer_by_tag(shipped):
    shipped.default_flow = "telecom_service"
    channel, record = shipped.call(["1", "1", "2", "1", "4"], caller_number="13800000002")
    text = said(channel)
    assert f"您的账户余额为{spoken.money('12.3', 'CNY', language='zh')}" in text
    assert "5G畅享套餐" in text and shipped.queues.requests[0].queue == "sales"
    assert shipped.log.surveys[0][2] == 4


def test_telecom_offer_needs_marketing_consent_and_balance_falls_back(shipped):
    shipped.default_flow = "telecom_service"
    channel, record = shipped.call(["2", "1", "2"], caller_number="13800000003")
    text = said(channel)
    assert "Sorry, your balance is not available right now." in text
    assert "There are no offers for you at the moment." in text


def test_telecom_unknown_caller_gets_the_guest_menu(shipped):
    shipped.default_flow = "telecom_service"
    channel, record = shipped.call(["1", "0", "3"], caller_number="13900000009")
    assert "guest_menu" in record.path and shipped.queues.requests[0].queue == "general_service"
    assert shipped.queues.requests[0].priority == 0


def test_demo_welcome_says_the_key_back(shipped):
    shipped.default_flow = "demo_welcome"
    channel, record = shipped.call(["7"])
    assert f"您按的是{spoken.digits('7', 'zh')}" in said(channel)
    assert record.outcome == "completed" and record.path == ["welcome", "ask", "say_key", "goodbye"]
