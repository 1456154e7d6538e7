"""The console and wallboard in headless Chromium against the whole engine on the simulator: the card pops
before the agent's phone is answered, dispositions are stored, a transfer pops the same card with the first
agent's notes, and the wallboard moves when a call queues and when it is answered."""
from __future__ import annotations

import pytest

from tests.web.browser import Browser, require_browser
from tests.web.rig import AGENT_PASSWORD, KNOWN_CALLER, SUPERVISOR_PASSWORD, SUPERVISOR_PHONE, WebRig

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    require_browser()
    r = WebRig(tmp_path_factory.mktemp("web"), answer_after=2.0)
    yield r
    r.close()


@pytest.fixture(scope="module")
def agent1(rig):
    b = Browser(rig.url)
    b.sign_in("1001", AGENT_PASSWORD)
    yield b
    b.close()


@pytest.fixture(scope="module")
def agent2(rig):
    b = Browser(rig.url)
    b.sign_in("1002", AGENT_PASSWORD)
    yield b
    b.close()


@pytest.fixture(scope="module")
def supervisor(rig):
    b = Browser(rig.url, language="en-US")
    b.sign_in("sup1", SUPERVISOR_PASSWORD)
    yield b
    b.close()


def _pops(browser: Browser) -> list[dict]:
    return browser.js("return window.jqReceived || []") or []


def _finish_call(rig: WebRig, call, agent_id: str) -> None:
    call.hangup()
    assert rig.wait(lambda: rig.state(agent_id) in ("wrap-up", "available", "not-ready"), 15)


def test_login_page_is_in_the_browser_language(rig):
    # Given a browser asking for Chinese, the sign-in page is in Chinese
    b = Browser(rig.url, language="zh-CN")
    try:
        b.open("/login")
        assert b.text("h1") == "登录"
        b.screenshot("login")
    finally:
        b.close()


def test_card_pops_with_the_known_customer_before_the_agent_answers(rig, agent1):
    # Given agent 1001 signed in and ready from the console
    assert agent1.wait(lambda: agent1.driver.current_url.endswith("/console"))
    agent1.driver.find_element("id", "btn-ready").click()
    assert rig.wait(lambda: rig.state("1001") == "available", 10)
    # When a known customer calls, presses 1 in the IVR and is offered to the agent
    call = rig.call(KNOWN_CALLER)
    # Then the card shows the customer, the IVR path and the key pressed
    assert agent1.wait(lambda: agent1.text("#cust-name") == "王芳")
    assert "frequent_shipper" in agent1.text("#cust-tags")
    assert "menu" in agent1.text("#ivr-path") and "menu:1" in agent1.text("#ivr-keys")
    # ... and it arrived before the phone was answered (answer comes 2 s after ringing)
    call_id = agent1.js("return document.getElementById('card').dataset.callId")
    assert call_id == call.uuid
    assert rig.wait(lambda: rig.connected_at(call_id, "1001") is not None, 15)
    popped_ms = [p["t"] for p in _pops(agent1) if p["call_id"] == call_id][0]
    assert popped_ms < rig.connected_at(call_id, "1001") * 1000
    assert agent1.wait(lambda: agent1.js("return document.getElementById('card').dataset.status") == "connected")
    agent1.screenshot("console_card")
    _finish_call(rig, call, "1001")


def test_disposition_is_required_before_ready_and_is_stored(rig, agent1):
    from engine.store.repos.interactions import InteractionRepository

    call_id = agent1.js("return document.getElementById('card').dataset.callId")
    # Given the call ended in a queue that needs a disposition: the agent is held not-ready
    assert rig.wait(lambda: rig.state("1001") == "not-ready", 15)
    assert agent1.wait(lambda: agent1.driver.find_element("id", "btn-ready").get_attribute("disabled") is not None)
    # When the agent picks a disposition with notes and saves
    agent1.driver.find_element("css selector", "#dispo-code option[value=resolved]").click()
    agent1.driver.find_element("id", "notes").send_keys("客户确认已收到包裹")
    agent1.driver.find_element("id", "btn-dispo").click()
    # Then it is stored on the call's interaction and the agent is ready again
    repo = InteractionRepository(rig.engine.store)
    assert rig.wait(lambda: (repo.by_call_id(call_id) or object()).__dict__.get("disposition_code") == "resolved", 10)
    assert repo.by_call_id(call_id).notes == "客户确认已收到包裹"
    assert rig.wait(lambda: rig.state("1001") == "available", 10)
    agent1.open("/history")
    assert "resolved" in agent1.text("table.grid")
    agent1.screenshot("history")
    agent1.open("/console")


def test_transfer_pops_the_same_card_with_notes_on_the_second_console(rig, agent1, agent2):
    # Given agent 1002 signed in but not ready, and 1001 talking to the known customer
    assert agent2.wait(lambda: agent2.driver.current_url.endswith("/console"))
    rig.acd.login("1002", ready=False)
    assert rig.wait(lambda: rig.state("1001") == "available", 10)
    call = rig.call(KNOWN_CALLER)
    assert rig.wait(lambda: rig.state("1001") == "on-call", 20)
    assert agent1.wait(lambda: agent1.js("return document.getElementById('card').dataset.status") == "connected")
    rig.acd.ready("1002")
    # When 1001 writes a note and blind-transfers the call to agent 1002
    agent1.driver.find_element("id", "notes").send_keys("想改收货地址")
    agent1.driver.find_element("css selector", "#form-transfer input[value=agent]").click()
    agent1.driver.find_element("id", "transfer-target").send_keys("1002")
    agent1.driver.find_element("id", "btn-transfer").click()
    # Then 1002's console pops the same customer with 1001's notes, before 1002 answers
    assert agent2.wait(lambda: agent2.text("#cust-name") == "王芳", 20)
    assert agent2.text("#from-agent") == "1001"
    assert agent2.text("#from-notes") == "想改收货地址"
    assert agent2.js("return document.getElementById('card').dataset.callId") == call.uuid
    assert rig.wait(lambda: rig.state("1002") == "on-call", 20)
    popped = [p["t"] for p in _pops(agent2) if p["call_id"] == call.uuid]
    assert popped and popped[0] < rig.connected_at(call.uuid, "1002") * 1000
    agent2.screenshot("console_transferred")
    _finish_call(rig, call, "1002")
    rig.acd.ready("1002")  # clears the due disposition's hold: that path is covered above


def test_wallboard_moves_when_a_call_queues_and_when_it_is_answered(rig, supervisor):
    # Given the supervisor's wallboard and no agent ready
    assert supervisor.wait(lambda: supervisor.driver.current_url.endswith("/wallboard"))
    for agent_id in ("1001", "1002"):
        rig.web.console.force_state(agent_id, "not-ready", "meeting")
    waiting = "return (document.querySelector('.tile[data-queue=support] b.waiting')||{}).textContent"
    answered = "return (document.querySelector('.tile[data-queue=support] b.answered')||{}).textContent"
    assert supervisor.wait(lambda: supervisor.js(waiting) == "0")
    before = int(supervisor.js(answered))
    # When a call queues, the tile shows it waiting
    call = rig.call(KNOWN_CALLER)
    assert supervisor.wait(lambda: supervisor.js(waiting) == "1", 20)
    supervisor.screenshot("wallboard_waiting")
    # When an agent becomes ready and answers, the waiting count drops and answered grows
    rig.web.console.force_state("1001", "ready")
    assert supervisor.wait(lambda: supervisor.js(waiting) == "0" and int(supervisor.js(answered)) == before + 1, 20)
    row = "return document.querySelector('#agents tr[data-agent=\"1001\"]').dataset.state"
    assert supervisor.wait(lambda: supervisor.js(row) == "on-call", 10)
    supervisor.screenshot("wallboard")
    _finish_call(rig, call, "1001")


def test_supervisor_whispers_to_an_agent_through_their_own_phone(rig, supervisor):
    from engine.esl import commands

    # Given agent 1001 talking to a caller
    assert rig.wait(lambda: rig.state("1001") != "wrap-up", 10)
    rig.web.console.force_state("1001", "ready")
    call = rig.call(KNOWN_CALLER)
    assert rig.wait(lambda: rig.state("1001") == "on-call", 20)
    whisper = "#agents tr[data-agent='1001'] button[data-mode=whisper]"
    assert supervisor.wait(lambda: supervisor.driver.find_elements("css selector", whisper))
    agent_leg = rig.acd.calls[call.uuid].agent_leg
    # When the supervisor enters their phone and presses Whisper
    supervisor.driver.find_element("id", "sup-ext").send_keys(SUPERVISOR_PHONE)
    assert supervisor.click(whisper)
    # Then their phone rings, answers and eavesdrops on the agent's leg, heard by the agent only
    assert rig.wait(lambda: any((commands.APP_EAVESDROP, agent_leg) in ch.apps for ch in rig.monitor_legs()), 15)
    leg = rig.monitor_legs()[0]
    assert leg.variables[commands.VAR_EAVESDROP_WHISPER_ALEG] == "true"
    assert leg.variables[commands.VAR_EAVESDROP_WHISPER_BLEG] == "false"
    assert leg.up
    # ... until the call ends
    _finish_call(rig, call, "1001")
    assert rig.wait(lambda: not leg.up, 10)


def test_agent_without_supervisor_role_gets_403_page(rig, agent1):
    agent1.open("/wallboard")
    assert agent1.wait(lambda: "403" in agent1.text(".big"))
    agent1.screenshot("forbidden")
    agent1.open("/console")
