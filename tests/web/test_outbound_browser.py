"""The console's outbound and remaining parts in headless Chromium against the whole engine (dialer included) on
the simulator: preview skip (reason stored) then dial (agent's phone first, attempt stored), click-to-dial refused
by the DNC rule shown on the page, a progressive call popping its campaign script, an attended transfer completed,
the recording masked and unmasked on the switch, and the campaign wallboard moving and pausing (403 for agents)."""
from __future__ import annotations

import time

import pytest

from tests.web.browser import Browser, require_browser
from tests.web.rig import AGENT_PASSWORD, KNOWN_CALLER, SUPERVISOR_PASSWORD, WebRig

pytestmark = pytest.mark.timeout(240)
PREVIEW = "name: vip_preview\nmode: preview\nqueue: support\nscript: '您好，{{ customer.name }}，这里是金桥快递回访。'\n"
PROGRESSIVE = ("name: renewals\nmode: progressive\nqueue: support\n"
               "script: '{{ customer.name }}您好，您的{{ customer.segment }}会员即将到期。'\n")
SECOND = "13911113333"
THIRD = "13911114444"


def e164(number: str) -> str:
    return "+86" + number


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    require_browser()
    r = WebRig(tmp_path_factory.mktemp("web-outbound"), answer_after=1.5, dialer=True, record=True)
    from engine.store.repos.customers import CustomerRepository

    customers = CustomerRepository(r.engine.store)
    customers.upsert([SECOND], name="李雷", segment="new", value_tier=2)
    customers.upsert([THIRD], name="韩梅梅", segment="loyal", value_tier=3)
    yield r
    r.close()


def _browser(rig, user, password, language="zh-CN"):
    b = Browser(rig.url, language=language)
    b.sign_in(user, password)
    return b


@pytest.fixture(scope="module")
def agent1(rig):
    b = _browser(rig, "1001", AGENT_PASSWORD)
    yield b
    b.close()


@pytest.fixture(scope="module")
def agent2(rig):
    b = _browser(rig, "1002", AGENT_PASSWORD)
    yield b
    b.close()


@pytest.fixture(scope="module")
def supervisor(rig):
    b = _browser(rig, "sup1", SUPERVISOR_PASSWORD, "en-US")
    yield b
    b.close()


def _card(browser: Browser, key: str) -> str:
    return browser.js(f"return document.getElementById('card').dataset.{key}") or ""


def _click(browser: Browser, element_id: str) -> None:
    browser.driver.find_element("id", element_id).click()


def _contact_id(rig, campaign_id: int, number: str) -> int:
    from sqlalchemy import select

    from engine.store.models.outbound import CampaignContactRow

    with rig.engine.store.session() as s:
        return s.scalar(select(CampaignContactRow.id).where(CampaignContactRow.campaign_id == campaign_id,
                                                            CampaignContactRow.number == number))


def _ready(rig, browser: Browser, agent_id: str) -> None:
    browser.open("/console")
    assert rig.wait(lambda: rig.state(agent_id) != "wrap-up", 15)
    if rig.state(agent_id) != "available":
        rig.web.console.force_state(agent_id, "ready")
    assert rig.wait(lambda: rig.state(agent_id) == "available", 15)


def test_preview_contact_is_skipped_with_a_reason_then_the_next_one_dialed(rig, agent1, supervisor):
    from engine.store.repos.campaigns import CampaignRepository
    from engine.store.repos.dial_attempts import DialAttemptRepository

    # Given a running preview campaign with two customers and agent 1001 ready
    cid = rig.campaign(PREVIEW, [e164(KNOWN_CALLER), e164(SECOND)])
    rig.sim.set_destination(e164(SECOND), outcome="answer", after=1.0, hangup_after=3.0)
    _ready(rig, agent1, "1001")
    supervisor.open("/wallboard")
    row = "return document.querySelector('#campaigns tr[data-campaign=vip_preview]')"
    assert supervisor.wait(lambda: supervisor.js(row + ".dataset.status") == "running")
    dialed_before = supervisor.js(row + ".querySelector('.dialed').textContent")
    # When the agent asks for the next contact, the customer card and the script for that customer show
    _click(agent1, "btn-preview-next")
    assert agent1.wait(lambda: agent1.text("#preview-name") == "王芳")
    assert agent1.text("#preview-script") == "您好，王芳，这里是金桥快递回访。"
    assert rig.state("1001") == "reserved"
    # ... Skip needs a reason
    _click(agent1, "btn-preview-skip")
    assert agent1.wait(lambda: agent1.text("#toast") == "请选择跳过原因")
    assert agent1.js("return document.getElementById('preview-contact').hidden") is False
    agent1.driver.find_element("css selector", "#skip-reason option[value=wrong_number]").click()
    _click(agent1, "btn-preview-skip")
    # Then the skip and its reason are stored on the contact, and the agent is free again
    repo = CampaignRepository(rig.engine.store)
    first = _contact_id(rig, cid, e164(KNOWN_CALLER))
    assert rig.wait(lambda: repo.contact(first).last_outcome == "skipped: wrong_number", 10)
    assert rig.wait(lambda: rig.state("1001") == "available", 10)
    # When the next contact arrives and the agent dials it
    _click(agent1, "btn-preview-next")
    assert agent1.wait(lambda: agent1.text("#preview-name") == "李雷")
    agent1.screenshot("console_preview")
    _click(agent1, "btn-preview-dial")
    # Then the card is the dialled customer's, with the script; the agent's phone rings first, then the customer's
    assert agent1.wait(lambda: agent1.text("#cust-name") == "李雷" and _card(agent1, "status") == "dialing")
    assert agent1.text("#script") == "您好，李雷，这里是金桥快递回访。"
    assert rig.wait(lambda: rig.state("1001") == "on-call", 20)
    log = [str(c) for c in rig.sim.command_log]
    agent_leg = next(i for i, c in enumerate(log) if "originate" in c and "user/1001" in c)
    customer_leg = next(i for i, c in enumerate(log) if "originate" in c and "gateway/sim/" + e164(SECOND) in c)
    assert agent_leg < customer_leg
    assert agent1.wait(lambda: _card(agent1, "status") == "connected")
    agent1.screenshot("console_outbound_call")
    # ... and the attempt is stored, answered and connected to the agent
    attempts = DialAttemptRepository(rig.engine.store)
    assert rig.wait(lambda: [a.outcome for a in attempts.for_number([e164(SECOND)])] == ["answered"], 20)
    [attempt] = attempts.for_number([e164(SECOND)])
    assert attempt.agent_id == "1001" and attempt.campaign_id == cid and attempt.connected_at is not None
    # ... and the wallboard's campaign progress moved
    assert supervisor.wait(lambda: supervisor.js(row + ".querySelector('.dialed').textContent") != dialed_before, 15)


def test_click_to_dial_a_dnc_number_is_refused_with_the_rule_on_the_page(rig, agent1):
    from engine.store.repos.dial_attempts import DialAttemptRepository
    from engine.store.repos.dnc import DncRepository

    # Given a number on the do-not-call black list and the agent ready
    DncRepository(rig.engine.store).add(e164("13700000009"), "black", "asked")
    _ready(rig, agent1, "1001")
    before = len(rig.sim.command_log)
    # When the agent dials it from the console
    agent1.driver.find_element("id", "dial-number").send_keys("13700000009")
    _click(agent1, "btn-dial")
    # Then the page names the compliance rule, no phone rang and the agent stays free
    assert agent1.wait(lambda: "dnc_black" in agent1.text("#dial-refusal"))
    assert agent1.text("#dial-refusal").startswith("未拨出")
    agent1.screenshot("console_dial_refused")
    assert not [c for c in rig.sim.command_log[before:] if "originate" in str(c)]
    assert rig.state("1001") == "available"
    assert [a.outcome for a in DialAttemptRepository(rig.engine.store).for_number([e164("13700000009")])] == []


def test_progressive_call_pops_its_campaign_script_for_the_customer(rig, agent1, agent2):
    # Given agent 1002 the only one ready and a progressive campaign calling a gold customer
    rig.web.console.force_state("1001", "not-ready", "meeting")
    _ready(rig, agent2, "1002")
    rig.sim.set_destination(e164(THIRD), outcome="answer", after=0.5, hangup_after=30.0)
    rig.campaign(PROGRESSIVE, [e164(THIRD)])
    # When the customer answers and the call reaches the agent, the card pops with the rendered script
    assert agent2.wait(lambda: agent2.text("#cust-name") == "韩梅梅", 30)
    assert agent2.wait(lambda: agent2.text("#script") == "韩梅梅您好，您的loyal会员即将到期。")
    assert agent2.text("#script-campaign") == "renewals"
    assert rig.wait(lambda: rig.state("1002") == "on-call", 20)
    agent2.screenshot("console_campaign_script")
    call_id = _card(agent2, "callId")
    rig.sim.switch.channels[call_id].hangup("NORMAL_CLEARING")  # the customer hangs up
    assert rig.wait(lambda: rig.state("1002") in ("wrap-up", "available", "not-ready"), 15)


def test_attended_transfer_consults_then_completes_with_the_card_and_notes(rig, agent1, agent2):
    # Given 1001 talking to the known customer and 1002 ready
    rig.web.console.force_state("1002", "not-ready", "meeting")
    _ready(rig, agent1, "1001")
    call = rig.call(KNOWN_CALLER)
    assert rig.wait(lambda: rig.state("1001") == "on-call", 20)
    assert agent1.wait(lambda: _card(agent1, "status") == "connected")
    _ready(rig, agent2, "1002")
    # When 1001 writes a note and consults agent 1002
    agent1.driver.find_element("id", "notes").send_keys("客户要开发票")
    agent1.driver.find_element("id", "consult-target").send_keys("1002")
    _click(agent1, "btn-consult")
    # Then 1002's console pops the same customer with 1001's notes, and 1001 sees the consultation
    assert agent2.wait(lambda: agent2.text("#cust-name") == "王芳", 20)
    assert agent2.text("#from-agent") == "1001" and agent2.text("#from-notes") == "客户要开发票"
    assert _card(agent2, "callId") == call.uuid
    assert agent1.wait(lambda: agent1.text("#consult-with") == "1002")
    assert rig.wait(lambda: rig.state("1002") == "on-call", 20)
    assert agent2.wait(lambda: _card(agent2, "status") == "connected")
    agent1.screenshot("console_consulting")
    # When 1001 completes the transfer
    _click(agent1, "btn-consult-complete")
    # Then the caller is 1002's: the ACD moved the call, 1001 is released, the caller stays up
    assert rig.wait(lambda: rig.acd.calls[call.uuid].agent_id == "1002", 15)
    assert rig.wait(lambda: rig.state("1001") in ("wrap-up", "available"), 15)
    assert rig.state("1002") == "on-call" and not call.hung_up
    agent2.screenshot("console_consult_received")
    call.hangup()
    assert rig.wait(lambda: rig.state("1002") in ("wrap-up", "available", "not-ready"), 15)


def test_recording_is_masked_then_unmasked_on_the_switch(rig, agent1):
    # Given 1001 on a recorded call
    rig.web.console.force_state("1002", "not-ready", "meeting")
    _ready(rig, agent1, "1001")
    call = rig.call(KNOWN_CALLER)
    assert rig.wait(lambda: rig.state("1001") == "on-call", 20)
    assert agent1.wait(lambda: _card(agent1, "status") == "connected")
    path = rig.acd.calls[call.uuid].recording
    caller = rig.sim.switch.channels[call.uuid]
    assert rig.wait(lambda: path in caller.session_recordings, 10)
    # When the agent pauses the recording (the customer reads a card number) and resumes it
    _click(agent1, "btn-recording")
    assert agent1.wait(lambda: agent1.js("return document.getElementById('rec-state').hidden") is False)
    assert caller.session_recordings[path]["masked_at"] is not None
    agent1.screenshot("console_recording_paused")
    time.sleep(0.3)
    _click(agent1, "btn-recording")
    assert agent1.wait(lambda: agent1.js("return document.getElementById('rec-state').hidden") is True)
    # Then the switch masked that interval of the file, and the console kept it
    assert caller.session_recordings[path]["masked_at"] is None
    [(start, end)] = caller.session_recordings[path]["masks"]
    assert end > start
    [[from_s, to_s]] = rig.web.console.masks[call.uuid]
    assert to_s is not None and to_s >= from_s
    call.hangup()
    assert rig.wait(lambda: caller.recording_masks.get(path) == [(start, end)], 10)
    assert rig.wait(lambda: rig.state("1001") in ("wrap-up", "available", "not-ready"), 15)


def test_supervisor_pauses_a_campaign_from_the_wallboard_and_an_agent_gets_403(rig, supervisor, agent1):
    from engine.store.repos.campaigns import CampaignRepository

    repo = CampaignRepository(rig.engine.store)
    cid = rig.campaign("name: winback\nmode: preview\nqueue: support\n", [e164("13911115555")])
    supervisor.open("/wallboard")
    row = "document.querySelector('#campaigns tr[data-campaign=winback]')"
    assert supervisor.wait(lambda: supervisor.js(f"return {row}.dataset.status") == "running")
    supervisor.screenshot("wallboard_campaigns")
    # When an agent posts the same request with a valid CSRF token, it is refused
    status = agent1.js("""var x = new XMLHttpRequest(); x.open('POST', '/api/campaigns/winback/pause', false);
        x.setRequestHeader('X-CSRF-Token', document.querySelector('meta[name=csrf-token]').content);
        x.send(); return x.status;""")
    assert status == 403 and repo.get(cid).status == "running"
    # When the supervisor presses Pause, the campaign is paused in the store and the row says so
    assert supervisor.click("#campaigns tr[data-campaign=winback] button[data-action=pause]")
    assert rig.wait(lambda: repo.get(cid).status == "paused", 10)
    assert supervisor.wait(lambda: supervisor.js(f"return {row}.dataset.status") == "paused")
    # ... and Resume puts it back to running
    assert supervisor.click("#campaigns tr[data-campaign=winback] button[data-action=resume]")
    assert rig.wait(lambda: repo.get(cid).status == "running", 10)
    assert supervisor.wait(lambda: supervisor.js(f"return {row}.dataset.status") == "running")
