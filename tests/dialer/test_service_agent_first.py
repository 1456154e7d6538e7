"""Manual and preview dials on the simulator: the agent's phone rings first, then the customer's, through the
same compliance rules; the agent is reserved in the shared pool (no inbound offer) until the call is over."""
from __future__ import annotations

import time

import pytest

from engine.acd.models import AgentState
from engine.dialer.agent_first import AgentFirstDialer, DialRefused
from engine.dialer.hopper import ComplianceGate
from engine.store.repos.dial_attempts import DialAttemptRepository
from engine.store.repos.dnc import DncRepository
from tests.dialer.simrig import OPEN_ALL_DAY, DialerRig, utc


@pytest.fixture
def rig(tmp_path):
    r = DialerRig(tmp_path, agents=2)
    r.dialer.agent_first = AgentFirstDialer(r.dialer, ComplianceGate(r.store, OPEN_ALL_DAY))
    yield r
    r.close()


def wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_manual_call_rings_the_agent_first_then_bridges_the_customer(rig) -> None:
    rig.sim.set_destination("+8613700000001", outcome="answer", after=2.0, hangup_after=100.0)
    call = rig.dialer.agent_first.manual_call("1001", "13700000001")
    assert rig.acd.distributor.agents["1001"].state is AgentState.RESERVED
    assert call.finished.wait(10) and call.outcome == "answered"
    [attempt] = DialAttemptRepository(rig.store).for_number(["+8613700000001"])
    assert attempt.outcome == "answered" and attempt.agent_id == "1001" and attempt.connected_at is not None
    assert attempt.talk_seconds is not None and attempt.talk_seconds > 0
    wait(lambda: rig.acd.distributor.agents["1001"].state is AgentState.AVAILABLE)
    agent_leg = [c for c in rig.sim.command_log if "user/1001" in str(c)][0]
    customer_leg = [c for c in rig.sim.command_log if "+8613700000001" in str(c) and "originate" in str(c)][-1]
    assert rig.sim.command_log.index(agent_leg) < rig.sim.command_log.index(customer_leg)
    # and the conversation is the agent's outbound interaction, linked from the attempt (reports count it)
    from engine.store.repos.interactions import InteractionRepository
    talk = InteractionRepository(rig.store).get(attempt.interaction_id)
    assert (talk.direction, talk.callee, talk.agent_id, talk.campaign_id) == ("outbound", "+8613700000001", "1001",
                                                                              None)
    assert talk.hangup_at is not None and talk.talk_seconds == pytest.approx(attempt.talk_seconds, abs=0.01)


def test_manual_call_to_a_dnc_number_is_refused_before_any_phone_rings(rig) -> None:
    DncRepository(rig.store).add("+8613700000002", "black", "asked", now=utc(time.time()))
    with pytest.raises(DialRefused, match="dnc_black"):
        rig.dialer.agent_first.manual_call("1001", "13700000002")
    assert rig.acd.distributor.agents["1001"].state is AgentState.AVAILABLE
    assert not [c for c in rig.sim.command_log if "originate" in str(c)]


def test_preview_reserves_a_contact_for_one_agent_who_skips_or_dials_it(rig) -> None:
    numbers = ["+8613700000010", "+8613700000011"]
    for n in numbers:
        rig.sim.set_destination(n, outcome="answer", after=2.0, hangup_after=50.0)
    cid = rig.campaign("name: vip\nmode: preview\nqueue: sales\nscript: '请问候客户 {{ customer.phone }}'\n", numbers)
    rig.launch(cid)
    af = rig.dialer.agent_first
    first = af.preview_next("1001", cid)
    assert first.contact.number == numbers[0] and first.script == f"请问候客户 {numbers[0]}"
    assert rig.acd.distributor.agents["1001"].state is AgentState.RESERVED
    assert rig.acd.free_agents("sales") == ["1002"]  # a reserved agent is offered no inbound call
    af.preview_skip("1001", "customer on holiday")
    second = af.preview_next("1001", cid)
    assert second.contact.number == numbers[1]
    call = af.preview_dial("1001")
    assert call.finished.wait(10) and call.outcome == "answered"
    f = DialAttemptRepository(rig.store).figures(cid, utc(0))
    assert f.attempts == 1 and f.outcomes == {"answered": 1} and f.connected == 1 and f.abandoned == 0
    [attempt] = DialAttemptRepository(rig.store).for_number([numbers[1]])
    from engine.store.repos.interactions import InteractionRepository
    talk = InteractionRepository(rig.store).get(attempt.interaction_id)
    assert (talk.direction, talk.agent_id, talk.campaign_id) == ("outbound", "1001", cid)


def control_rig(rig):
    import gevent

    from engine.dialer.control import DialerControl, control_key
    from engine.esl import commands

    def send_ack(headers, body):
        gevent.spawn(rig.control.sendevent, commands.EV_CUSTOM, headers, body or None)
    rig.control.add_handler(DialerControl(rig.dialer.agent_first, control_key("dialer-test"), send_ack))
    host, port = rig.sim.address
    from types import SimpleNamespace
    return SimpleNamespace(freeswitch=SimpleNamespace(host=host, port=port, password="dialer-test", connect_timeout=5))


def test_jinqiao_call_reaches_the_engine_as_a_signed_request_and_compliance_answers(rig) -> None:
    from engine.dialer import control

    config = control_rig(rig)
    rig.sim.set_destination("+8613700000020", outcome="answer", after=2.0, hangup_after=50.0)
    headers, _ = control.send_request(config, {control.H_ACTION: "call", "Agent-ID": "1002",
                                               control.H_NUMBER: "13700000020"})
    assert headers[control.H_RESULT] == "ok" and "ringing agent 1002" in headers[control.H_DETAIL]
    DncRepository(rig.store).add("+8613700000021", "black", "asked", now=utc(time.time()))
    headers, _ = control.send_request(config, {control.H_ACTION: "call", "Agent-ID": "1001",
                                               control.H_NUMBER: "13700000021"})
    assert headers[control.H_RESULT] == "refused" and "dnc_black" in headers[control.H_DETAIL]
    wait(lambda: DialAttemptRepository(rig.store).for_number(["+8613700000020"])[0].outcome == "answered")


def test_a_request_signed_with_another_key_is_ignored(rig) -> None:
    from engine.dialer import control
    from engine.esl import commands

    config = control_rig(rig)
    forged = control.signed_request(control.control_key("not-the-password"),
                                    {control.H_ACTION: "call", "Agent-ID": "1001", control.H_NUMBER: "13700000030"},
                                    time.time())
    rig.control.sendevent(commands.EV_CUSTOM, forged)
    # A genuine request fired after it is answered only once the engine has handled the forged one (events
    # reach the engine in the order FreeSWITCH fires them): a refused dial leaves nothing behind.
    DncRepository(rig.store).add("+8613700000031", "black", "asked", now=utc(time.time()))
    headers, _ = control.send_request(config, {control.H_ACTION: "call", "Agent-ID": "1001",
                                               control.H_NUMBER: "13700000031"})
    assert headers[control.H_RESULT] == "refused"
    assert not [c for c in rig.sim.command_log if "originate" in str(c)]
    assert rig.acd.distributor.agents["1001"].state is AgentState.AVAILABLE


def test_the_cli_call_and_preview_commands_ring_the_agents_phone_first(rig, tmp_path) -> None:
    import os

    from click.testing import CliRunner

    from engine.cli import main

    control_rig(rig)  # the engine side: signed requests from the CLI reach AgentFirstDialer
    host, port = rig.sim.address
    config = tmp_path / "jinqiao.yaml"
    config.write_text(f"freeswitch:\n  host: {host}\n  port: {port}\n  password: dialer-test\n", encoding="utf-8")
    os.chmod(config, 0o600)

    def jq(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)

    def originates() -> list[str]:
        return [str(c) for c in rig.sim.command_log if "originate" in str(c)]

    # `jinqiao call NUMBER --agent 1002`: the agent's phone rings first, then the customer's
    rig.sim.set_destination("+8613700000040", outcome="answer", after=2.0, hangup_after=50.0)
    result = jq("call", "13700000040", "--agent", "1002")
    assert result.exit_code == 0 and "ringing agent 1002" in result.output, result.output
    wait(lambda: DialAttemptRepository(rig.store).for_number(["+8613700000040"])[0].outcome == "answered")
    placed = originates()
    assert len(placed) == 2 and "}user/1002 " in placed[0] and "}sofia/gateway/sim/+8613700000040 " in placed[1]
    # a DNC number is refused by the CLI with the rule, and no phone rings
    DncRepository(rig.store).add("+8613700000041", "black", "asked", now=utc(time.time()))
    result = jq("call", "13700000041", "--agent", "1001")
    assert result.exit_code != 0 and "dnc_black" in result.output and len(originates()) == 2
    # `jinqiao campaign preview next | skip | dial`
    numbers = ["+8613700000050", "+8613700000051"]
    for n in numbers:
        rig.sim.set_destination(n, outcome="answer", after=2.0, hangup_after=50.0)
    cid = rig.campaign("name: vipcli\nmode: preview\nqueue: sales\nscript: '请问候客户 {{ customer.phone }}'\n", numbers)
    rig.launch(cid)
    wait(lambda: rig.acd.distributor.agents["1002"].state is AgentState.AVAILABLE)
    result = jq("campaign", "preview", "next", "--agent", "1001", "--campaign", "vipcli")
    assert result.exit_code == 0 and numbers[0] in result.output and f"请问候客户 {numbers[0]}" in result.output
    assert rig.acd.distributor.agents["1001"].state is AgentState.RESERVED
    result = jq("campaign", "preview", "skip", "--agent", "1001", "--reason", "on holiday")
    assert result.exit_code == 0 and "skipped" in result.output
    result = jq("campaign", "preview", "next", "--agent", "1001", "--campaign", "vipcli")
    assert result.exit_code == 0 and numbers[1] in result.output
    result = jq("campaign", "preview", "dial", "--agent", "1001")
    assert result.exit_code == 0, result.output
    wait(lambda: DialAttemptRepository(rig.store).for_number([numbers[1]])[0].outcome == "answered")
    placed = originates()[2:]
    assert len(placed) == 2 and "}user/1001 " in placed[0] and f"}}sofia/gateway/sim/{numbers[1]} " in placed[1]
