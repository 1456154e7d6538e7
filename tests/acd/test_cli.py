"""`jinqiao agent ...` sends the agent control event the engine understands, and shows recorded state."""
from __future__ import annotations

from click.testing import CliRunner

from engine.acd.cli import agent
from engine.esl.commands import SUBCLASS_AGENT_CONTROL
from engine.acd.models import Agent, AgentState, QueueConfig
from engine.esl import commands

from .fakes import FakeEvent, make_service
from engine.acd.switch_events import SwitchEvents


class _Obj:
    def __init__(self, sender, config=None):
        self.acd_sender = sender
        self.config = config


def test_cli_commands_drive_a_running_service_through_the_control_event():
    service, switch, clock = make_service([QueueConfig("support"), QueueConfig("sales")], [Agent("1001")])
    handler = SwitchEvents(service)

    def deliver(headers):  # what FreeSWITCH does with sendevent: fire it to the engine's connection
        handler(FakeEvent(commands.EV_CUSTOM, {commands.H_SUBCLASS: SUBCLASS_AGENT_CONTROL, **headers}))

    runner = CliRunner()
    result = runner.invoke(agent, ["login", "1001", "--queue", "support"], obj=_Obj(deliver))
    assert result.exit_code == 0, result.output
    assert service.distributor.agents["1001"].state is AgentState.AVAILABLE
    assert list(service.distributor.agents["1001"].queues) == ["support"]
    runner.invoke(agent, ["not-ready", "1001", "--reason", "lunch"], obj=_Obj(deliver))
    assert service.agent_status("1001")["reason"] == "lunch"
    runner.invoke(agent, ["ready", "1001"], obj=_Obj(deliver))
    assert service.agent_status("1001")["state"] == "available"
    out = runner.invoke(agent, ["logout", "1001"], obj=_Obj(deliver))
    assert "agent 1001: logout" in out.output
    assert service.agent_status("1001")["state"] == "logged-out"


def test_bad_agent_id_is_refused_before_sending():
    sent = []
    result = CliRunner().invoke(agent, ["ready", "10 01"], obj=_Obj(sent.append))
    assert result.exit_code == 2 and sent == []
    assert "not an agent id" in result.output


def test_status_reads_the_timeline_from_the_store(tmp_path):
    from engine.config import DatabaseSection, EngineSection, load_config, replace
    from engine.store.database import open_store
    from engine.store.repos.agents import AgentRepository

    config = replace(load_config(None), database=DatabaseSection(url=f"sqlite:///{tmp_path / 'jq.db'}"),
                     engine=EngineSection(data_dir=str(tmp_path)))
    store = open_store(config.database_url)
    store.create_all()
    repo = AgentRepository(store)
    repo.add("1001", name="Li", extension="1001")
    repo.add("1002", name="Han", extension="1002")
    repo.record_state_change("1001", "not-ready", "lunch", 1_763_000_000.0)
    store.dispose()
    out = CliRunner().invoke(agent, ["status"], obj=_Obj(None, config)).output
    assert "1001\tnot-ready\tsince 2025-11-13" in out and "lunch" in out
    assert "1002\tlogged-out" in out
    bad = CliRunner().invoke(agent, ["status", "9999"], obj=_Obj(None, config))
    assert bad.exit_code == 1 and "unknown agent" in bad.output
