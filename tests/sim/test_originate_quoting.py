"""Originate arguments split like switch_separate_string: quoted values with spaces stay in one word."""
from __future__ import annotations

from engine.esl import commands
from engine.sim.api import split_args
from engine.sim import FreeSwitchSim


def test_quotes_anywhere_in_a_word_group_spaces_and_are_removed() -> None:
    assert split_args("{a='x y',b=1}user/1001  &park()") == ["{a=x y,b=1}user/1001", "&park()"]
    assert split_args("a 'b c' d\\ e") == ["a", "b c", "d e"]


def test_a_caller_name_with_spaces_keeps_the_chosen_origination_uuid() -> None:
    sim = FreeSwitchSim(password="x", time_scale=0.01)
    sim.start()
    try:
        sim.add_endpoint("1001", answer_after=0.1)
        leg = commands.new_uuid()
        command = commands.originate(commands.user_endpoint("1001"), uuid=leg,
                                     variables={commands.VAR_ORIGINATION_CID_NAME: "李雷 (VIP)"})
        from engine.sim.api import _originate

        assert _originate(sim.switch, command[len("originate "):]).strip() == f"+OK {leg}"
        assert sim.channels[leg].variables.get("origination_caller_id_name") == "李雷 (VIP)"
    finally:
        sim.stop()


def test_music_on_hold_plays_until_broken() -> None:
    sim = FreeSwitchSim(password="x")
    assert sim.switch.sounds.duration(commands.MUSIC_ON_HOLD) == float("inf")


def test_app_data_is_expanded_and_an_escaped_dollar_stays_literal() -> None:
    from engine.sim.apps import expand_variables

    sim = FreeSwitchSim(password="x", time_scale=0.01)
    call = sim.place_call("nowhere", "13900000000")
    ch = call.channel
    ch.set_var("jq_queue", "vip")
    assert expand_variables(ch, "q=${jq_queue} from ${caller_id_number} ${unset}!") == "q=vip from 13900000000 !"
    assert expand_variables(ch, "say:\\${system(reboot)}") == "say:${system(reboot)}"


def test_the_event_app_fires_the_agent_control_event_of_a_feature_code() -> None:
    from engine.esl.connection import InboundConnection

    sim = FreeSwitchSim(password="x", time_scale=0.01)
    sim.start()
    seen = []
    connection = InboundConnection(*sim.address, "x").start()
    try:
        assert connection.wait_connected(5)
        connection.add_handler(lambda e: seen.append(e) if e.subclass == commands.SUBCLASS_AGENT_CONTROL else None)
        # The very action `jinqiao fs render` writes for the *21 feature code.
        from xml.etree import ElementTree

        from engine.config import load_config
        from engine.fsconf import render_all

        xml = render_all(load_config(None, environ={"JINQIAO_FREESWITCH_PASSWORD": "x"}))
        root = ElementTree.fromstring(xml["dialplan/default/jinqiao_features.xml"])
        data = [a.get("data") for ext in root.findall("extension")
                if ext.find("condition").get("expression") == r"^\*21$"
                for a in ext.iter("action") if a.get("application") == "event"][0]
        sim.route("*21", apps=[("event", data), ("hangup", "")])
        call = sim.place_call("*21", "1001", variables={"sip_authorized": "true", "sip_auth_username": "1001"})
        assert call.wait_hangup(5)
        assert sim.wait_until(lambda: seen, 5)
        # The agent is the authenticated SIP user (expanded from ${sip_auth_username}), with the channel's data.
        assert seen[0].get("Agent-Extension") == "1001" and seen[0].get(commands.H_AGENT_ACTION) == "login"
        assert seen[0].get(commands.H_UNIQUE_ID) == call.uuid
    finally:
        connection.close()
        sim.stop()
