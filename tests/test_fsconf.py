"""The rendered FreeSWITCH files are valid XML that hands each configured DID to the engine's socket."""
from __future__ import annotations

import dataclasses
from xml.etree import ElementTree

import pytest

from engine.config import load_config
from engine.fsconf import render_all


def config_with(**ivr):
    base = load_config(None, environ={"JINQIAO_FREESWITCH_PASSWORD": "p&ss<word>", "JINQIAO_OUTBOUND_PORT": "9084"})
    return dataclasses.replace(base, ivr=dataclasses.replace(base.ivr, **ivr))


def test_each_did_becomes_an_extension_running_the_socket_app() -> None:
    files = render_all(config_with(dids={"4008001234": "logistics_hotline", "+10086": "telecom_service"}))
    root = ElementTree.fromstring(files["dialplan/public/jinqiao.xml"])
    extensions = root.findall("extension")
    assert [e.get("name") for e in extensions] == ["jinqiao_10086", "jinqiao_4008001234"]
    for ext in extensions:
        actions = {a.get("application"): a.get("data") for a in ext.iter("action")}
        assert actions["socket"] == "127.0.0.1:9084 async full"
    condition = extensions[1].find("condition")
    assert condition.get("expression") == r"^\+?4008001234$"


def test_event_socket_config_escapes_the_password_and_binds_loopback() -> None:
    text = render_all(config_with(dids={}))["autoload_configs/event_socket.conf.xml"]
    params = {p.get("name"): p.get("value") for p in ElementTree.fromstring(text).iter("param")}
    assert params["password"] == "p&ss<word>"
    assert params["listen-ip"] == "127.0.0.1"


def test_a_did_that_is_not_a_number_is_refused() -> None:
    import click

    with pytest.raises(click.UsageError, match="not a dialled number"):
        render_all(config_with(dids={"4000<x/>": "demo"}))


def test_agent_feature_codes_need_digest_auth_and_carry_no_caller_data() -> None:
    from engine.acd import agent_control
    from engine.esl import commands

    config = config_with(dids={})
    root = ElementTree.fromstring(render_all(config)["dialplan/default/jinqiao_features.xml"])
    codes = {}
    for ext in root.findall("extension"):
        conditions = {c.get("field"): c.get("expression") for c in ext.findall("condition")}
        assert conditions["${sip_authorized}"] == "^true$"
        assert conditions["${sip_auth_username}"] == agent_control.EXTENSION_PATTERN
        data = [a.get("data") for a in ext.iter("action") if a.get("application") == "event"][0]
        assert "caller_id" not in data  # nothing a caller sets reaches the event
        codes[conditions["destination_number"]] = dict(pair.split("=", 1) for pair in data.split(","))
    assert set(codes) == {r"^\*21$", r"^\*22$", r"^\*23$", r"^\*24$"}
    login = codes[r"^\*21$"]
    assert login["Event-Subclass"] == commands.SUBCLASS_AGENT_CONTROL and login["Event-Name"] == "CUSTOM"
    assert commands.H_AGENT_ID not in login and login[commands.H_AGENT_ACTION] == "login"
    assert login[agent_control.H_EXTENSION] == "${sip_auth_username}"
    key = agent_control.control_key(config.freeswitch.password)
    assert login[agent_control.H_TOKEN] == agent_control.feature_code_token(key)
    assert codes[r"^\*24$"][commands.H_AGENT_REASON] == "break"


def test_host_values_and_flow_names_are_escaped_or_refused() -> None:
    import click

    base = config_with(dids={})
    with pytest.raises(click.UsageError, match="freeswitch.host"):
        render_all(dataclasses.replace(base, freeswitch=dataclasses.replace(base.freeswitch, host='x"/><param')))
    with pytest.raises(click.UsageError, match="outbound"):
        render_all(dataclasses.replace(base, outbound=dataclasses.replace(base.outbound, host="a b")))
    with pytest.raises(click.UsageError, match="not a flow name"):
        render_all(config_with(dids={"4000": "demo${x}"}))
    with pytest.raises(click.UsageError, match="expands"):
        render_all(dataclasses.replace(base, freeswitch=dataclasses.replace(base.freeswitch, password="a$${b}")))


def _render(tmp_path, *extra):
    from click.testing import CliRunner

    from engine.cli import AppContext, main

    config = config_with(dids={"4000": "demo_welcome"})
    return CliRunner().invoke(main, ["fs", "render", "--out", str(tmp_path / "fs"), *extra],
                              obj=AppContext(_config=config))


def test_render_writes_private_files_and_never_overwrites_a_changed_one_without_force(tmp_path) -> None:
    import stat

    first = _render(tmp_path)
    assert first.exit_code == 0, first.output
    target = tmp_path / "fs" / "autoload_configs" / "event_socket.conf.xml"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert "reload mod_event_socket" in first.output
    # An operator edited the file (say, another listen-ip): render shows the change and keeps it.
    edited = target.read_text().replace('value="127.0.0.1"', 'value="10.0.0.1"')
    target.write_text(edited)
    target.chmod(0o644)
    kept = _render(tmp_path)
    assert kept.exit_code == 1 and target.read_text() == edited
    assert '-    <param name="listen-ip" value="10.0.0.1"/>' in kept.output and "--force" in kept.output
    assert "p&amp;ss" not in kept.output  # the password is never printed
    forced = _render(tmp_path, "--force")
    assert forced.exit_code == 0 and 'value="127.0.0.1"' in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
