"""Property, per builder of engine/esl/commands.py: no value, whatever its bytes, changes the structure of the
command it is put into (checked against tests/esl/fsparse.py, a model of FreeSWITCH's own splitters)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from engine.esl import commands
from tests.esl.fsparse import parse_app, parse_dial, parse_originate_api, separate

# Text built from FreeSWITCH's separators and expansions, plus any other character.
TOKENS = [":_:", "|", ",", "{", "}", "[", "]", "<", ">", "'", '"', "\\", "$", "${x}", "$${y}", "^^:", " ", "\t",
          "\x00", "\n", "\r", "=", "(", ")", "&", "张", "\u2028", "sofia/external/900@198.51.100.7", ":", "_", "%"]
hostile = st.one_of(st.text(max_size=40),
                    st.lists(st.sampled_from(TOKENS) | st.text(max_size=3), max_size=12).map("".join),
                    st.binary(max_size=30).map(lambda b: b.decode("latin-1")))
UUID = "0f6ea7f2-6c1e-4a47-9d4b-2b8c3f5a1e11"
PROPERTY = settings(max_examples=300, deadline=None)


def _refused_or(builder, *args, **kwargs):
    try:
        return builder(*args, **kwargs)
    except ValueError:
        return None


def _no_control(text: str) -> None:
    assert not any(ord(c) < 32 or ord(c) == 127 for c in text), repr(text)


def test_the_issue_payload_reaches_no_second_leg() -> None:
    """Issue 13.1: a display name with `:_:sofia/external/900@198.51.100.7|` stays the agent's caller name."""
    name = "Bob:_:sofia/external/900@198.51.100.7|"
    command = commands.originate(commands.user_endpoint("1001"), variables={"origination_caller_id_name": name},
                                 uuid=UUID, timeout=20)
    _, argv = parse_originate_api(command)
    dial = parse_dial(argv[0])
    assert not dial.enterprise and len(dial.legs) == 1 and dial.legs[0].target == "user/1001"
    assert "198.51.100.7" not in dial.legs[0].target and dial.variables["origination_uuid"] == UUID


@PROPERTY
@given(st.dictionaries(st.sampled_from(["origination_caller_id_name", "origination_caller_id_number", "jq_call_id",
                                        "jq_queue", "sip_h_X-Jinqiao-Customer-Name", "sip_h_X-Jinqiao-Segment"]),
                       hostile, max_size=6),
       st.dictionaries(st.sampled_from(["leg_timeout", "sip_h_X-A"]), hostile, max_size=2),
       st.sampled_from(["user/1001", "user/1001@pbx.example", "sofia/gateway/gw1/+8613800138000",
                        "sofia/internal/sip:agent@10.0.0.5:5060"]))
def test_originate_values_never_change_legs_targets_or_variable_names(variables, leg_vars, target) -> None:
    command = commands.originate(target, variables=variables, leg_variables=leg_vars, uuid=UUID, timeout=30)
    _no_control(command)
    name, argv = parse_originate_api(command)
    assert name == "originate" and len(argv) == 2
    assert parse_app(argv[1]) == ("park", "")
    dial = parse_dial(argv[0])
    assert not dial.enterprise and not dial.error and dial.groups == 1 and len(dial.legs) == 1
    assert dial.legs[0].target == target
    expected = {k: commands.dial_value(v) for k, v in variables.items() if commands.dial_value(v)}
    assert dial.variables == {**expected, "origination_uuid": UUID, "originate_timeout": "30"}
    assert dial.legs[0].variables == {k: commands.dial_value(v) for k, v in leg_vars.items()
                                      if commands.dial_value(v)}
    for value in dial.variables.values():
        assert "${" not in value and "$$" not in value


@PROPERTY
@given(hostile, hostile)
def test_a_dial_target_is_one_leg_or_refused(target, value) -> None:
    dial = _refused_or(commands.dial_string, target, {"jq_call_id": value})
    if dial is None:
        return
    parsed = parse_dial(dial)
    assert not parsed.enterprise and len(parsed.legs) == 1 and parsed.legs[0].target == target


@PROPERTY
@given(hostile, hostile, hostile, hostile)
def test_originate_to_an_extension_keeps_its_four_fields(extension, dialplan, context, app_arg) -> None:
    command = _refused_or(commands.originate, "user/1001", extension=extension, dialplan=dialplan, context=context)
    if command is not None:
        assert parse_originate_api(command)[1] == ["user/1001", extension, dialplan, context]
    command = _refused_or(commands.originate, "user/1001", app="park", app_arg=app_arg)
    if command is not None:
        assert parse_app(parse_originate_api(command)[1][1]) == ("park", app_arg)


@PROPERTY
@given(hostile, hostile, hostile, st.sampled_from(["", "bleg", "both"]))
def test_uuid_commands_keep_their_fields(text, other, third, leg) -> None:
    simple = {commands.uuid_exists: 1, commands.uuid_answer: 1, commands.uuid_break: 1}
    for builder in simple:
        command = _refused_or(builder, text)
        if command is not None:
            assert separate(command, " ") == [command.split(" ")[0], text]
    command = _refused_or(commands.uuid_bridge, text, other)
    if command is not None:
        assert separate(command, " ") == ["uuid_bridge", text, other]
    command = _refused_or(commands.uuid_kill, UUID, text)
    if command is not None:
        assert len(separate(command, " ")) == 3
    command = _refused_or(commands.uuid_transfer, UUID, text, other, third, leg)
    if command is not None:
        fields = separate(command, " ")
        assert fields == ["uuid_transfer", UUID, *([f"-{leg}"] if leg else []), text, other, third]
    command = _refused_or(commands.uuid_broadcast, UUID, text, "aleg")
    if command is not None:
        assert separate(command, " ") == ["uuid_broadcast", UUID, text, "aleg"]
    command = _refused_or(commands.uuid_record, UUID, "start", text, 30)
    if command is not None:
        assert separate(command, " ") == ["uuid_record", UUID, "start", text, "30"]
    command = _refused_or(commands.uuid_setvar, UUID, other, text)
    if command is not None:
        assert separate(command, " ", 4) == ["uuid_setvar", UUID, other, text]
        assert "$" not in text
    command = _refused_or(commands.uuid_getvar, UUID, text)
    if command is not None:
        assert separate(command, " ") == ["uuid_getvar", UUID, text]


@PROPERTY
@given(hostile, hostile)
def test_set_and_export_arguments_keep_name_and_value(name, value) -> None:
    arg = _refused_or(commands.set_arg, name, value)
    if arg is not None:
        _no_control(arg)
        # mod_dptools base_set splits at the first `=` (strchr), no quote processing; "" unsets.
        assert arg.split("=", 1) == [name, value]
        assert "$" not in arg


@PROPERTY
@given(hostile, hostile, hostile)
def test_transfer_and_socket_arguments_keep_their_fields(extension, dialplan, context) -> None:
    arg = _refused_or(commands.transfer_arg, extension, dialplan, context)
    if arg is not None:
        assert separate(arg, " ") == [extension, dialplan, context]
    arg = _refused_or(commands.socket_arg, extension, 8084)
    if arg is not None:
        assert separate(arg, " ") == [f"{extension}:8084", "async", "full"]


@PROPERTY
@given(hostile, hostile, hostile)
def test_spoken_text_is_one_line_that_never_expands(text, engine, voice) -> None:
    path = commands.say_path(text)
    _no_control(path)
    assert "${" not in path.replace("\\${", "") and "$${" not in path.replace("\\$", "")
    arg = _refused_or(commands.speak_arg, engine, voice, text)
    if arg is not None:
        _no_control(arg)
        assert separate(arg, "|", 3)[:2] == [engine, voice]


@PROPERTY
@given(hostile, hostile, hostile, st.sampled_from(["#", "", "*#", "x y"]))
def test_play_and_get_digits_keeps_nine_fields(prompt, invalid, regexp, terminators) -> None:
    arg = _refused_or(commands.play_and_get_digits_arg, min_digits=1, max_digits=4, tries=1, timeout_ms=5000,
                      terminators=terminators, prompt=prompt, invalid_prompt=invalid, variable="v", regexp=regexp)
    if arg is not None:
        _no_control(arg)
        fields = separate(arg, " ")
        assert len(fields) == 9 and fields[5] == prompt and fields[6] == invalid


@PROPERTY
@given(hostile)
def test_record_argument_and_session_commands_keep_their_fields(path) -> None:
    arg = _refused_or(commands.record_arg, path, 60)
    if arg is not None:
        assert separate(arg, " ") == [path, "60", "200", "3"]
    for build in (commands.auth, lambda v: commands.filter_add("Unique-ID", v)):
        line = _refused_or(build, path)
        if line is not None:
            _no_control(line)


@pytest.mark.parametrize("bad", ["a\x00b", "a\tb", "a\rb", "a\nb", "a\x7fb"])
def test_control_bytes_are_refused_by_every_structural_builder(bad) -> None:
    for build in (lambda: commands.uuid_setvar(UUID, "x", bad), lambda: commands.set_arg("x", bad),
                  lambda: commands.uuid_broadcast(UUID, bad), lambda: commands.record_arg(bad, 5),
                  lambda: commands.auth(bad), lambda: commands.filter_add("Unique-ID", bad),
                  lambda: commands.dial_string("user/" + bad), lambda: commands.transfer_arg(bad),
                  lambda: commands.originate("user/1001", app_arg=bad)):
        with pytest.raises(ValueError):
            build()


def test_dial_values_keep_names_in_any_script_and_lose_only_syntax() -> None:
    assert commands.dial_value("李雷 (VIP)") == "李雷 (VIP)"
    assert commands.dial_value("O'Brien, Jr.") == "O Brien Jr."
    assert commands.dial_value("a\tb\x00c|d") == "a b c d"
    assert commands.escape_dial_value("张 三") == "'张 三'"


def test_subscribe_puts_custom_last_so_later_event_names_are_not_read_as_subclasses() -> None:
    # FreeSWITCH's mod_event_socket reads every word after CUSTOM as a subclass name.
    line = commands.subscribe("json", ["CHANNEL_ANSWER", "CUSTOM", "BACKGROUND_JOB", "sofia::register"])
    words = line.split()[2:]
    assert words.index("CUSTOM") > words.index("BACKGROUND_JOB")
    assert words[words.index("CUSTOM") + 1:] == ["sofia::register"]
    assert commands.subscribe("plain", ["CUSTOM", "HEARTBEAT"]).endswith("HEARTBEAT CUSTOM")
