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
