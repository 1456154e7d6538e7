"""Fuzzing both ESL boundaries: whatever bytes the switch sends, the parser fails only with a typed error;
whatever values a command is built from, FreeSWITCH reads back exactly that command or the builder refuses.

The parse-back side follows FreeSWITCH's `read_packet` as ESL.md §1.2 describes it (independently of the
engine and of the simulator): the head ends at the first blank line, the first line is the command,
header lines split at the first `:`, spaces after it are skipped, empty values are dropped, and
`Content-Length` (any case) bytes of body follow, kept as a C string (it ends at a NUL).
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from engine.esl.events import Event, EventDecodeError, LogLine, classify
from engine.esl.protocol import (MAX_HEADER_BYTES, BadContentLength, FrameTooLarge, Parser, ProtocolError,
                                 UnsafeCommand, ascii_int, encode_command, encode_sendmsg)

from tests.conftest import CAPTURES

STREAMS = sorted(CAPTURES.glob("**/from_fs.bin"))
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- switch -> engine: the frame parser and the event decoders ------------------------------------------------
def _touch(message) -> None:
    """What the engine may read of a message; only EventDecodeError may come out of it."""
    if isinstance(message, Event):
        dict(message.headers)
        _ = message.sequence, message.unique_id, message.body
    elif isinstance(message, LogLine):
        _ = message.level


def _feed_all(data: bytes, cuts: list[int]) -> None:
    parser, pos, i = Parser(), 0, 0
    try:
        while pos < len(data):
            size = cuts[i % len(cuts)]
            for frame in parser.feed(data[pos:pos + size]):
                try:
                    _touch(classify(frame))
                except EventDecodeError:
                    pass
            assert parser.buffered <= parser.max_header_bytes + size or parser.buffered <= parser.max_body_bytes
            pos, i = pos + size, i + 1
    except ProtocolError:
        with pytest.raises(ProtocolError):  # poisoned: the connection must be closed
            parser.feed(b"Content-Type: auth/request\n\n")


@FUZZ
@given(st.binary(max_size=2000), st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=20))
def test_any_bytes_from_the_switch_fail_only_with_a_protocol_or_event_error(data, cuts) -> None:
    _feed_all(data, cuts)


frame_heads = st.lists(st.sampled_from([
    b"Content-Type: text/event-json\n", b"Content-Type: text/event-plain\n", b"Content-Type: text/event-xml\n",
    b"Content-Type: api/response\n", b"Content-Type: command/reply\n", b"Content-Type: log/data\n",
    b"Content-Type: text/disconnect-notice\n", b"Content-Type: auth/request\n", b"Reply-Text: +OK\n",
    b"Log-Level: \xc2\xb2\n", b"Content-Disposition: linger\n", b"\n",
]), max_size=4)
frame_bodies = st.one_of(st.binary(max_size=200), st.sampled_from([
    b'{"Event-Name":"CUSTOM","Event-Sequence":"\xc2\xb2","Unique-ID":"a\\u0041"}',
    b'{"Event-Name":"X","bad":"\\u12"}', b'{"Event-Name":"X",}', b"[1,2]", b"{" + b"[" * 5000 + b"}",
    b"Event-Name: CUSTOM\nEvent-Sequence: %D9%A1\nContent-Length: \xd9\xa1\n\nbody",
    b"<event><headers><Event-Name>X</Event-Name></headers></event>", b"<event><headers>", b"",
]))


lengths = st.one_of(st.text(max_size=12), st.sampled_from(["²", "١٢", "１２", "3 ", "-1", "9" * 30, ""]))


@FUZZ
@given(st.lists(st.tuples(frame_heads, lengths, st.booleans(), frame_bodies), min_size=1, max_size=6),
       st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=10))
def test_frames_with_hostile_lengths_and_bodies_fail_only_with_typed_errors(frames, cuts) -> None:
    data = b""
    for heads, length_text, honest, body in frames:
        length = str(len(body)) if honest else length_text
        data += b"".join(heads) + b"Content-Length: " + length.encode("utf-8", "surrogatepass") + b"\n\n" + body
    _feed_all(data, cuts)


@pytest.mark.skipif(not STREAMS, reason="no captures")
@settings(max_examples=30, deadline=None)
@given(st.sampled_from(STREAMS or [None]), st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)),
                                                     min_size=1, max_size=20),
       st.lists(st.integers(min_value=64, max_value=4096), min_size=1, max_size=8))
def test_real_captures_with_flipped_bytes_fail_only_with_typed_errors(stream, flips, cuts) -> None:
    data = bytearray(stream.read_bytes())
    for at, value in flips:
        data[at % len(data)] = value
    _feed_all(bytes(data), cuts)


@pytest.mark.parametrize("value", ["²", "١٢", "１２", "12\u00a0", "0x10", "+5", "1_000", "9" * 5000])
def test_content_length_is_read_as_ascii_digits_only(value: str) -> None:
    with pytest.raises((BadContentLength, FrameTooLarge)):
        Parser().feed(f"Content-Type: api/response\nContent-Length: {value}\n\nxxxxxxxxxxxxxxxxxx".encode())


def test_numbers_in_events_are_ascii_digits_only() -> None:
    assert ascii_int("²") is None and ascii_int("١٢") is None and ascii_int(" 42 ") == 42
    frame = Parser().feed(b"Content-Type: log/data\nLog-Level: \xc2\xb2\nContent-Length: 2\n\nhi")[0]
    assert classify(frame).level == 7
    body = '{"Event-Name":"CUSTOM","Event-Sequence":"²"}'.encode()
    frame = Parser().feed(b"Content-Length: %d\nContent-Type: text/event-json\n\n%s" % (len(body), body))[0]
    assert classify(frame).sequence == 0


def test_a_header_block_in_small_pieces_is_collected_not_rejoined_on_every_read() -> None:
    # Given a 256 KiB header block arriving 64 bytes at a time
    line = b"X-Junk: " + b"a" * 55 + b"\n"
    block = b"Content-Type: command/reply\n" + line * 4096 + b"Reply-Text: +OK\n\n"
    parser = Parser()
    frames = []
    for i in range(0, len(block), 64):
        frames.extend(parser.feed(block[i:i + 64]))
        # Then the pieces are kept as they came (joined once, at the blank line), not copied per read
        assert len(parser._parts) in (0, i // 64 + 1)
    assert [f.reply_text for f in frames] == ["+OK"]


def test_a_blank_line_split_across_two_reads_ends_the_header_block() -> None:
    parser = Parser()
    assert parser.feed(b"Content-Type: auth/request\n") == []
    assert parser.feed(b"X: y") == []
    assert parser.feed(b"\n") == []
    assert [f.content_type for f in parser.feed(b"\nContent-Type: command/reply\nReply-Text: +OK\n\n")] == [
        "auth/request", "command/reply"]


def test_an_endless_header_block_in_small_pieces_is_refused_at_the_limit() -> None:
    parser = Parser()
    with pytest.raises(FrameTooLarge):
        for _ in range(MAX_HEADER_BYTES // 64 + 2):
            parser.feed(b"a" * 63 + b"\n")
    assert parser.buffered == 0


# --- engine -> switch: command and sendmsg builders ------------------------------------------------------------
def read_packet(data: bytes) -> tuple[str, dict[str, str], bytes]:
    """Parse one client command the way FreeSWITCH does (ESL.md §1.2); the whole input must be consumed."""
    end = data.index(b"\n\n")
    lines = data[:end].decode("utf-8").split("\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.lstrip(" ")
        if value:
            headers[name] = value
    length = next((int(v) for k, v in headers.items() if k.lower() == "content-length"), 0)
    body = data[end + 2:end + 2 + length]
    assert end + 2 + length == len(data), "bytes left over after the command: its structure changed"
    assert b"\x00" not in data[:end], "a NUL would cut the command short in C"
    return lines[0], headers, body.split(b"\x00", 1)[0]  # the body is kept as a C string (`%s`)


def _wire_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in ("content-length", "content-type")}


any_text = st.text(max_size=40)  # every code point, surrogates and control characters included
any_headers = st.dictionaries(any_text, any_text, max_size=5)


@FUZZ
@given(any_text, any_headers, st.one_of(st.none(), any_text, st.binary(max_size=60)))
def test_no_value_changes_the_structure_of_a_command(arg, headers, body) -> None:
    line = "api " + arg
    try:
        data = encode_command(line, headers, body)
    except UnsafeCommand:
        return  # refused with the typed error: nothing was sent
    parsed_line, parsed_headers, parsed_body = read_packet(data)
    assert parsed_line == line
    assert _wire_headers(parsed_headers) == {k: v for k, v in headers.items() if v and k.lower() != "content-type"}
    expected = b"" if body is None else body if isinstance(body, bytes) else body.encode()
    assert parsed_body == expected


@FUZZ
@given(st.one_of(st.none(), any_text), any_text, any_headers, st.one_of(st.none(), any_text))
def test_no_value_changes_the_structure_of_a_sendmsg(uuid, call_command, headers, body) -> None:
    try:
        data = encode_sendmsg(uuid, call_command, headers, body)
    except UnsafeCommand:
        return
    parsed_line, parsed_headers, parsed_body = read_packet(data)
    assert parsed_line == (f"sendmsg {uuid}" if uuid else "sendmsg")
    assert len(parsed_line.split(" ")) <= 2  # the target stays one word
    expected = {"call-command": call_command, **{k: v for k, v in headers.items() if v}}
    assert _wire_headers(parsed_headers) == {k: v for k, v in expected.items() if k.lower() != "content-type"}
    assert parsed_body == (body or "").encode()


@FUZZ
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40).filter(
    lambda v: not v.startswith(" ")),
       st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200))
def test_ordinary_values_are_accepted_not_refused(value, body) -> None:
    # The builders refuse only what would change the structure: any printable value and any body pass.
    data = encode_sendmsg("0b1c2d3e-aaaa-bbbb-cccc-000000000042", "execute",
                          {"execute-app-name": "playback", "X-Value": value}, body)
    _line, headers, parsed_body = read_packet(data)
    assert headers.get("X-Value", "") == value and parsed_body == body.encode()


@pytest.mark.parametrize("build", [
    lambda: encode_command("api status\x00exit"),
    lambda: encode_command("api status", {"X": "a\nContent-Length: 5"}),
    lambda: encode_command("api status", {"X": " leading space"}),
    lambda: encode_command("api status", {"Content-Length": "5"}),
    lambda: encode_command("api status", {"a:b": "c"}),
    lambda: encode_command("api status", {"X": "\ud800"}),
    lambda: encode_command("api status", None, "\udfff"),
    lambda: encode_command("sendevent CUSTOM", None, b"a\x00b"),
    lambda: encode_command(""),
    lambda: encode_sendmsg("abc def", "execute", {}),
    lambda: encode_sendmsg("abc", "execute", {"Call-Command": "hangup"}),
    lambda: encode_sendmsg("abc", "", {}),
])
def test_builders_refuse_structure_changing_values_with_a_typed_error(build) -> None:
    with pytest.raises(UnsafeCommand):
        build()
