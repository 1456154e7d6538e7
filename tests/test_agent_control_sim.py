"""Agent control end to end through the simulated FreeSWITCH and the engine as `jinqiao serve` builds it:
the CLI waits for the engine's acknowledgement, `status` shows the live pool, the rendered feature codes act
for the authenticated SIP user only, and a caller ID crafted to forge headers changes nothing."""
from __future__ import annotations

import dataclasses
from xml.etree import ElementTree

from click.testing import CliRunner

from engine.cli import AppContext, main
from engine.esl import commands
from engine.fsconf import render_all
from tests.test_engine_end_to_end import agent_state, running  # noqa: F401  (fixture)


def _feature_code_data(config, code: str) -> str:
    config = dataclasses.replace(config, outbound=dataclasses.replace(config.outbound, port=8084))
    root = ElementTree.fromstring(render_all(config)["dialplan/default/jinqiao_features.xml"])
    for ext in root.findall("extension"):
        if ext.find("condition").get("expression") == rf"^\*{code}$":
            return [a.get("data") for a in ext.iter("action") if a.get("application") == "event"][0]
    raise AssertionError(code)


def test_cli_login_is_acknowledged_and_status_shows_the_engines_live_view(running) -> None:  # noqa: F811
    sim, engine, config = running
    cli = CliRunner()
    result = cli.invoke(main, ["agent", "login", "2001", "--queue", "sales"], obj=AppContext(_config=config))
    assert result.exit_code == 0, result.output
    assert "agent 2001: login in sales - now available" in result.output
    assert agent_state(engine, "2001") == "available"  # acknowledged means applied
    status = cli.invoke(main, ["agent", "status"], obj=AppContext(_config=config))
    assert status.exit_code == 0, status.output
    assert status.output.startswith("2001\tavailable\t") and "\tsales" in status.output


def test_a_feature_code_logs_in_the_authenticated_sip_user(running) -> None:  # noqa: F811
    sim, engine, config = running
    sim.route("*21", apps=[("event", _feature_code_data(config, "21")), ("hangup", "")])
    # The phone registered as SIP user 2001 passed digest auth; its caller ID claims to be someone else.
    call = sim.place_call("*21", "9999", variables={"sip_authorized": "true", "sip_auth_username": "2001"})
    assert call.wait_hangup(5)
    assert sim.wait_until(lambda: agent_state(engine, "2001") == "available", 10)


def test_a_forged_caller_id_or_an_unauthenticated_caller_changes_nothing(running) -> None:  # noqa: F811
    sim, engine, config = running
    seen = []
    engine.inbound.add_handler(lambda e: seen.append(e) if e.get(commands.H_SUBCLASS) ==
                               commands.SUBCLASS_AGENT_CONTROL else None)
    # The old feature code put ${caller_id_number} into the event data: `9999,Agent-ID=2001` added a header.
    sim.route("*99", apps=[("event", "Event-Name=CUSTOM,Event-Subclass=jinqiao::agent,Agent-ID=${caller_id_number},"
                                     "Agent-Action=login"), ("hangup", "")])
    assert sim.place_call("*99", "9999,Agent-ID=2001").wait_hangup(5)
    # The shipped code reached without digest auth (e.g. a public caller transferred to `default`).
    sim.route("*21", apps=[("event", _feature_code_data(config, "21")), ("hangup", "")])
    assert sim.place_call("*21", "2001").wait_hangup(5)
    assert sim.wait_until(lambda: len(seen) == 2, 10)
    assert seen[0].get(commands.H_AGENT_ID) == "2001"  # the header was forged ...
    assert agent_state(engine, "2001") == "logged-out"  # ... and refused


def test_the_event_app_keeps_the_channels_own_unique_id_after_an_injected_one(running) -> None:  # noqa: F811
    """mod_dptools adds the data's headers first and the channel data after: a forged Unique-ID loses."""
    sim, engine, _config = running
    seen = []
    engine.inbound.add_handler(lambda e: seen.append(e) if e.get(commands.H_SUBCLASS) == "test::x" else None)
    sim.route("*98", apps=[("event", "Event-Name=CUSTOM,Event-Subclass=test::x,Unique-ID=forged,A='b,c'"),
                           ("hangup", "")])
    call = sim.place_call("*98", "1000")
    assert call.wait_hangup(5) and sim.wait_until(lambda: seen, 5)
    assert seen[0].get(commands.H_UNIQUE_ID) == call.uuid and seen[0].get("A") == "b,c"
