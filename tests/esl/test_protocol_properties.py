"""Parser and serializer behaviour on generated and hostile input (hypothesis + hand-made edge cases)."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import given, settings, strategies as st

from engine.esl.events import EventDecodeError, UnknownFrame, classify, decode_plain_event
from engine.esl.protocol import (BadContentLength, FrameTooLarge, Parser, UnsafeCommand, encode_command,
                                 encode_sendmsg)

header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,20}", fullmatch=True).filter(
    lambda n: n.lower() not in ("content-length", "content-type"))
header_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n%"), max_size=40)
bodies = st.binary(max_size=300)


def wire_frame(headers: dict[str, str], body: bytes, content_type: str = "api/response") -> bytes:
    lines = [f"Content-Type: {content_type}"] + [f"{k}: {v.strip()}" for k, v in headers.items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\n".join(lines) + "\n\n").encode() + body


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.dictionaries(header_names, header_values, max_size=5), bodies), min_size=1, max_size=8),
       st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=50))
def test_any_frame_sequence_survives_any_split(frames, cuts) -> None:
    data = b"".join(wire_frame(h, b) for h, b in frames)
    parser, out, pos, i = Parser(), [], 0, 0
    while pos < len(data):
        size = cuts[i % len(cuts)]
        out.extend(parser.feed(data[pos:pos + size]))
        pos, i = pos + size, i + 1
    assert [f.body for f in out] == [b for _, b in frames]
    for frame, (headers, _) in zip(out, frames):
        for name, value in headers.items():
            assert frame.headers[name] == value.strip()
    assert parser.buffered == 0


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(header_names, st.text(max_size=30).filter(lambda v: "\x00" not in v), min_size=1, max_size=6))
def test_plain_event_values_round_trip_through_url_encoding(values) -> None:
    values = {k: v for k, v in values.items() if k != "Event-Name"}
    text = "Event-Name: CUSTOM\n" + "".join(f"{k}: {quote(v, safe='')}\n" for k, v in values.items()) + "\n"
    event = decode_plain_event(text.encode())
    assert event.name == "CUSTOM"
    for k, v in values.items():
        assert event.headers[k] == v


def test_plus_is_not_a_space_and_utf8_is_decoded() -> None:
    event = decode_plain_event("Event-Name: X\nCaller-Caller-ID-Name: %E5%BC%A0%E4%B8%89+1\n\n".encode())
    assert event.headers["Caller-Caller-ID-Name"] == "张三+1"


def test_content_length_counts_bytes_not_characters() -> None:
    body = json.dumps({"Event-Name": "CHANNEL_CREATE", "Caller-Caller-ID-Name": "张三"}, ensure_ascii=False).encode()
    data = f"Content-Length: {len(body)}\nContent-Type: text/event-json\n\n".encode() + body
    frames = Parser().feed(data + data)
    assert [classify(f).headers["Caller-Caller-ID-Name"] for f in frames] == ["张三", "张三"]


def test_truncated_frame_waits_for_the_rest() -> None:
    parser = Parser()
    data = wire_frame({}, b"+OK done\n")
    assert parser.feed(data[:-3]) == []
    assert 0 < parser.buffered < len(data)
    assert parser.feed(data[-3:])[0].body == b"+OK done\n"


def test_a_lying_huge_content_length_is_refused_before_buffering() -> None:
    parser = Parser()
    with pytest.raises(FrameTooLarge):
        parser.feed(b"Content-Type: api/response\nContent-Length: 99999999999\n\n")
    with pytest.raises(FrameTooLarge):  # poisoned: the connection must be closed
        parser.feed(b"Content-Type: auth/request\n\n")


@pytest.mark.parametrize("value", ["-5", "ten", "1e3", ""])
def test_a_content_length_that_is_not_a_byte_count_is_an_error(value: str) -> None:
    with pytest.raises(BadContentLength):
        Parser().feed(f"Content-Type: api/response\nContent-Length: {value}\n\n".encode())


def test_ten_megabyte_header_block_is_refused_with_bounded_memory() -> None:
    parser = Parser()
    chunk = b"X-Junk: " + b"a" * 65536 + b"\n"
    with pytest.raises(FrameTooLarge):
        for _ in range(160):  # 10 MB in total
            parser.feed(chunk)
            assert parser.buffered <= parser.max_header_bytes + len(chunk)


def test_non_utf8_bytes_in_headers_are_replaced_not_fatal() -> None:
    frame = Parser().feed(b"Content-Type: command/reply\nReply-Text: +OK \xff\xfe\n\n")[0]
    assert classify(frame).text.startswith("+OK ")


def test_an_undecodable_json_event_is_an_event_error_not_a_framing_error() -> None:
    body = b'{"Event-Name": "X", "bad": "\xff'
    parser = Parser()
    frames = parser.feed(f"Content-Length: {len(body)}\nContent-Type: text/event-json\n\n".encode() + body
                         + b"Content-Type: auth/request\n\n")
    with pytest.raises(EventDecodeError):
        classify(frames[0])
    assert frames[1].content_type == "auth/request"


def test_unknown_content_type_is_kept_as_unknown_frame() -> None:
    frame = Parser().feed(b"Content-Type: text/something-new\nContent-Length: 2\n\nhi")[0]
    message = classify(frame)
    assert isinstance(message, UnknownFrame) and message.frame.body == b"hi"


def test_commands_refuse_line_breaks_in_header_values() -> None:
    with pytest.raises(UnsafeCommand):
        encode_command("api status\nexit")
    with pytest.raises(UnsafeCommand):
        encode_sendmsg("u", "execute", {"execute-app-name": "playback\nhangup"})


def test_sendmsg_sends_the_argument_as_a_body_with_its_byte_count() -> None:
    data = encode_sendmsg("abc", "execute", {"execute-app-name": "playback", "event-lock": "true"}, "/tmp/a b 张.wav")
    head, body = data.split(b"\n\n", 1)
    lines = head.decode().split("\n")
    assert lines[0] == "sendmsg abc"
    assert "call-command: execute" in lines
    assert f"content-length: {len(body)}" in lines
    assert body == "/tmp/a b 张.wav".encode()


def test_dial_string_values_cannot_break_out_of_their_block_or_expand() -> None:
    from engine.esl import commands

    dial = commands.originate("user/1001", variables={"origination_caller_id_name": "x},y=1{${system reboot}\\n"})
    block = dial[len("originate "):dial.index("user/1001")]
    assert block.count("{") == 1 and block.count("}") == 1  # one block, closed where we closed it
    assert "${" not in block.replace("\\${", "")  # every expansion is escaped
    assert "\\n" not in block


def test_play_and_get_digits_refuses_arguments_that_would_shift_fields() -> None:
    from engine.esl import commands

    base = dict(min_digits=1, max_digits=4, tries=1, timeout_ms=5000, terminators="#", prompt="a.wav",
                invalid_prompt="b.wav", variable="v", regexp="[0-9]+")
    assert commands.play_and_get_digits_arg(**base).split() == ["1", "4", "1", "5000", "#", "a.wav", "b.wav", "v",
                                                                 "[0-9]+"]
    for field, bad in (("regexp", ""), ("prompt", "it's.wav"), ("prompt", ""), ("regexp", "\\s+")):
        with pytest.raises(ValueError):
            commands.play_and_get_digits_arg(**{**base, field: bad})
    # A spoken prompt with spaces travels as one quoted field, so the caller can barge in on it.
    spoken = commands.play_and_get_digits_arg(**{**base, "prompt": "say:For English, press 2"})
    assert " 'say:For English, press 2' " in spoken


def test_xml_events_fold_repeated_headers_like_plain_and_json() -> None:
    from engine.esl.events import decode_xml_event

    event = decode_xml_event(b"<event><headers><Event-Name>X</Event-Name><v>a</v><v>b%20c</v></headers></event>")
    assert event.headers["v"] == "ARRAY::a|:b c"


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(header_names, header_values, max_size=3), st.binary(min_size=1, max_size=200),
       st.sampled_from(["text/event-json", "text/event-plain", "api/response"]))
def test_event_shaped_frames_with_or_without_extra_headers_parse_the_same(extra, body, content_type) -> None:
    lines = [f"Content-Length: {len(body)}", f"Content-Type: {content_type}"] + [f"{k}: {v.strip()}" for k, v in extra.items()]
    frame = Parser().feed(("\n".join(lines) + "\n\n").encode() + body)[0]
    assert frame.content_type == content_type and frame.body == body
    for name, value in extra.items():
        assert frame.headers[name] == value.strip()
