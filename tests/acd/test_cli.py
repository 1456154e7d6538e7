"""`jinqiao agent ...` sends signed control requests, waits for the engine's acknowledgement, shows live state,
and fails clearly (never a traceback, never a silent success) when the engine is not there."""
from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from engine.acd import agent_control as control
from engine.acd.cli import agent, esl_sender
from engine.acd.models import Agent, AgentState, QueueConfig

from .fakes import FakeEvent, make_service

KEY = control.control_key("pw")


class _Obj:
    def __init__(self, sender, config=None):
        self.acd_sender = sender
        self.config = config


def _engine_sender():
    """A sender that does what FreeSWITCH does with sendevent: hand the signed event to the engine's handler,
    then return the engine's acknowledgement."""
    service, _switch, clock = make_service([QueueConfig("support"), QueueConfig("sales")], [Agent("1001")])
    acks = []
    handler = control.AgentControl(service, KEY, lambda h, b: acks.append((h, b)), clock=clock)

    def send(fields):
        request = control.signed_request(KEY, fields, clock())
        handler(FakeEvent("CUSTOM", request))
        headers, body = acks[-1]
        assert headers[control.H_REQUEST_ID] == request[control.H_REQUEST_ID]
        return headers, body
    return service, send


def test_cli_commands_drive_a_running_service_and_report_its_answer():
    service, send = _engine_sender()
    runner = CliRunner()
    result = runner.invoke(agent, ["login", "1001", "--queue", "support"], obj=_Obj(send))
    assert result.exit_code == 0, result.output
    assert "now available" in result.output
    assert service.distributor.agents["1001"].state is AgentState.AVAILABLE
    assert list(service.distributor.agents["1001"].queues) == ["support"]
    runner.invoke(agent, ["not-ready", "1001", "--reason", "lunch"], obj=_Obj(send))
    status = runner.invoke(agent, ["status"], obj=_Obj(send))
    assert status.exit_code == 0 and "1001\tnot-ready\tregistered\tsupport\tlunch" in status.output
    out = runner.invoke(agent, ["logout", "1001"], obj=_Obj(send))
    assert "agent 1001: logout" in out.output and service.agent_status("1001")["state"] == "logged-out"


def test_a_refused_request_fails_with_the_engines_reason():
    _service, send = _engine_sender()
    result = CliRunner().invoke(agent, ["status", "9999"], obj=_Obj(send))
    assert result.exit_code == 1 and "unknown agent" in result.output


@pytest.mark.parametrize("args, hint", [
    (["ready", "10 01"], "not an agent id"),
    (["ready", "10\x0001"], "not an agent id"),
    (["not-ready", "1001", "--reason", "lunch\r\nAgent-ID: 1002"], "--reason"),
    (["not-ready", "1001", "--reason", "²" * 80], "--reason"),
    (["login", "1001", "--queue", "a,b"], "--queue"),
])
def test_bad_arguments_are_refused_before_sending(args, hint):
    sent = []
    result = CliRunner().invoke(agent, args, obj=_Obj(sent.append))
    assert result.exit_code == 2 and sent == [] and result.exception is None or isinstance(result.exception, SystemExit)
    assert hint in result.output


def test_without_a_switch_the_command_fails_and_says_where_it_looked():
    from engine.config import load_config

    config = load_config(None, environ={"JINQIAO_FREESWITCH_PASSWORD": "pw", "JINQIAO_FREESWITCH_PORT": "1",
                                        "JINQIAO_FREESWITCH_CONNECT_TIMEOUT": "0.5"})
    result = CliRunner().invoke(agent, ["ready", "1001"], obj=_Obj(esl_sender(config)))
    assert result.exit_code == 1 and "cannot reach FreeSWITCH at 127.0.0.1:1" in result.output


def test_with_the_switch_but_no_engine_login_fails_instead_of_claiming_success():
    from engine.config import load_config
    from engine.sim import FreeSwitchSim

    sim = FreeSwitchSim(password="pw", time_scale=0.01)
    sim.start()
    try:
        config = load_config(None, environ={"JINQIAO_FREESWITCH_PASSWORD": "pw",
                                            "JINQIAO_FREESWITCH_PORT": str(sim.address[1])})
        started = time.monotonic()
        result = CliRunner().invoke(agent, ["login", "1001"], obj=_Obj(esl_sender(config, timeout=0.5)))
        assert result.exit_code == 1 and "did not acknowledge" in result.output
        assert time.monotonic() - started < 30
        wrong = load_config(None, environ={"JINQIAO_FREESWITCH_PASSWORD": "nope", "JINQIAO_FREESWITCH_CONNECT_TIMEOUT": "1",
                                           "JINQIAO_FREESWITCH_PORT": str(sim.address[1])})
        result = CliRunner().invoke(agent, ["login", "1001"], obj=_Obj(esl_sender(wrong, timeout=0.5)))
        assert result.exit_code == 1 and "refused the ESL password" in result.output
    finally:
        sim.stop()
