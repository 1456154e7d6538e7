"""Every real FreeSWITCH capture parses whole, whatever the split points, into the recorded frames."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from engine.esl.events import ApiResponse, CommandReply, DisconnectNotice, Event, classify
from engine.esl.protocol import Parser, decode_value

from tests.conftest import CAPTURES

STREAMS = sorted(CAPTURES.glob("**/from_fs.bin"))
assert STREAMS, f"no FreeSWITCH captures under {CAPTURES}"


def _recorded_frames(stream: Path) -> list[dict]:
    lines = [json.loads(line) for line in (stream.parent / "frames.jsonl").read_text().splitlines() if line.strip()]
    return [line for line in lines if line.get("dir") == "rx" and "offset" in line]


def _parse_in_chunks(data: bytes, sizes) -> list:
    parser, frames, pos = Parser(), [], 0
    for size in sizes:
        if pos >= len(data):
            break
        frames.extend(parser.feed(data[pos:pos + size]))
        pos += size
    frames.extend(parser.feed(data[pos:]))
    assert parser.buffered == 0
    return frames


def _check_against_recording(frames, recorded) -> None:
    assert len(frames) == len(recorded)
    for frame, meta in zip(frames, recorded):
        assert frame.content_type == meta["content_type"].lower()
        message = classify(frame)
        if "reply_text" in meta:
            if isinstance(message, CommandReply):
                # the recording keeps raw wire text; the parser URL-decodes outer headers like libesl
                assert message.text == decode_value(meta["reply_text"]).rstrip("\n")
        if "event_name" in meta:
            assert isinstance(message, Event)
            assert message.name == meta["event_name"]
            for key in ("Unique-ID", "Application-UUID", "Job-UUID"):
                if meta.get(key):
                    assert message.headers.get(key) == meta[key]
        assert len(frame.body) == int(frame.headers.get("Content-Length", 0) or 0)


@pytest.mark.parametrize("stream", STREAMS, ids=[str(s.parent.relative_to(CAPTURES)) for s in STREAMS])
def test_capture_parses_whole_in_one_feed(stream: Path) -> None:
    data = stream.read_bytes()
    frames = _parse_in_chunks(data, [len(data)])
    _check_against_recording(frames, _recorded_frames(stream))


@pytest.mark.parametrize("stream", STREAMS, ids=[str(s.parent.relative_to(CAPTURES)) for s in STREAMS])
def test_capture_parses_identically_at_random_split_points(stream: Path) -> None:
    data = stream.read_bytes()
    whole = _parse_in_chunks(data, [len(data)])
    rng = random.Random(stream.name + str(len(data)))
    for _ in range(3):
        sizes = [rng.randint(1, 700) for _ in range(len(data) // 100 + 10)]
        assert _parse_in_chunks(data, sizes) == whole


@pytest.mark.parametrize("name", ["01-inbound-basics", "05a-outbound-full/outbound", "03-call-lifecycle-plain"])
def test_capture_parses_one_byte_at_a_time(name: str, captures_dir: Path) -> None:
    data = (captures_dir / name / "from_fs.bin").read_bytes()
    frames = _parse_in_chunks(data, [1] * len(data))
    _check_against_recording(frames, _recorded_frames(captures_dir / name / "from_fs.bin"))


def test_outbound_connect_reply_is_a_command_reply_with_channel_data(captures_dir: Path) -> None:
    frames = Parser().feed((captures_dir / "05a-outbound-full/outbound/from_fs.bin").read_bytes())
    reply = classify(frames[0])
    assert isinstance(reply, CommandReply)
    assert reply.text == "+OK"  # Reply-Text: %2BOK%0A decoded, trailing newline dropped
    assert reply.ok
    assert reply.headers["Event-Name"] == "CHANNEL_DATA"
    assert reply.headers["Socket-Mode"] == "async"
    assert reply.headers["Control"] == "full"
    assert reply.headers["Unique-ID"]
    assert "Content-Length" not in reply.headers


def test_plain_and_json_captures_of_the_same_call_decode_to_the_same_event_sequence(captures_dir: Path) -> None:
    def events(name: str) -> list[Event]:
        frames = Parser().feed((captures_dir / name / "from_fs.bin").read_bytes())
        return [m for m in map(classify, frames) if isinstance(m, Event)]

    plain, as_json = events("03-call-lifecycle-plain"), events("03-call-lifecycle-json")
    assert [e.name for e in plain] == [e.name for e in as_json]
    for p, j in zip(plain, as_json):
        # Same header names (values such as UUIDs and times differ between the two recorded calls).
        assert set(p.headers) - {"Content-Length"} == set(j.headers) - {"Content-Length"}
        if p.name == "DTMF":
            assert p.headers["DTMF-Digit"] == j.headers["DTMF-Digit"]
    digits = [e.headers["DTMF-Digit"] for e in plain if e.name == "DTMF"]
    assert digits == ["1", "2", "3", "#"]  # `#` arrives as %23 in plain and is decoded


def test_background_job_body_carries_the_originate_result(captures_dir: Path) -> None:
    frames = Parser().feed((captures_dir / "04c-originate-busy/from_fs.bin").read_bytes())
    jobs = [m for m in map(classify, frames) if isinstance(m, Event) and m.name == "BACKGROUND_JOB"]
    assert jobs and jobs[0].body.startswith("-ERR USER_BUSY")
    assert jobs[0].job_uuid


def test_api_responses_keep_their_exact_bytes(captures_dir: Path) -> None:
    frames = Parser().feed((captures_dir / "09-resync-views/from_fs.bin").read_bytes())
    bodies = [m.body for m in map(classify, frames) if isinstance(m, ApiResponse)]
    assert "true" in bodies or "false" in bodies  # uuid_exists has no trailing newline
    shows = [b for b in bodies if b.startswith("{")]
    assert shows and all(isinstance(json.loads(b), dict) for b in shows)


def test_disconnect_notice_ends_every_capture(captures_dir: Path) -> None:
    for stream in STREAMS:
        frames = Parser().feed(stream.read_bytes())
        assert isinstance(classify(frames[-1]), DisconnectNotice), stream


@pytest.mark.parametrize("stream", STREAMS, ids=[str(s.parent.relative_to(CAPTURES)) for s in STREAMS])
def test_lazy_header_lookups_agree_with_the_full_decode(stream: Path) -> None:
    """A dispatcher's quick lookups (scans of the raw text) give exactly what a full decode gives."""
    for frame in Parser().feed(stream.read_bytes()):
        if not frame.content_type.startswith("text/event"):
            continue
        full = dict(classify(frame).headers.items())
        names = list(full)[:: max(1, len(full) // 12)] + ["Unique-ID", "Event-Name", "No-Such-Header"]
        for name in names:
            fresh = classify(frame)  # a new event, so each lookup is a first (scanned) lookup
            assert fresh.headers.get(name) == full.get(name), name
