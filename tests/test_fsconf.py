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


def test_agent_feature_codes_fire_the_agent_control_event_with_the_phones_number() -> None:
    from engine.acd.switch_events import SwitchEvents  # noqa: F401  (the consumer of these headers)
    from engine.esl import commands

    root = ElementTree.fromstring(render_all(config_with(dids={}))["dialplan/default/jinqiao_features.xml"])
    codes = {}
    for ext in root.findall("extension"):
        expression = ext.find("condition").get("expression")
        data = [a.get("data") for a in ext.iter("action") if a.get("application") == "event"][0]
        headers = dict(pair.split("=", 1) for pair in data.split(","))
        codes[expression] = headers
    assert set(codes) == {r"^\*21$", r"^\*22$", r"^\*23$", r"^\*24$"}
    login = codes[r"^\*21$"]
    assert login["Event-Subclass"] == commands.SUBCLASS_AGENT_CONTROL and login["Event-Name"] == "CUSTOM"
    assert login[commands.H_AGENT_ID] == "${caller_id_number}" and login[commands.H_AGENT_ACTION] == "login"
    assert codes[r"^\*24$"][commands.H_AGENT_REASON] == "break"
