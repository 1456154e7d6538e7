"""record_session / uuid_record: background recordings that write a silent WAV of the recorded length.

`uuid_record <uuid> mask|unmask <path>` is modelled on switch_ivr_record_session_mask (switch_ivr_async.c): the
file's media bug gets or loses SMBF_MASK and fails when no recording of that path runs on the channel; while
masked, record_callback writes zeroed frames (silence) instead of the audio. The simulator's recordings are
silence anyway, so it keeps the masked intervals (seconds from the recording's start) per file in
`Channel.recording_masks` for tests to compare.
"""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import gevent

from engine.sim.sounds import write_silence_wav

if TYPE_CHECKING:
    from engine.sim.channel import Channel


def start_session_recording(ch: Channel, path: str, limit: float | None) -> bool:
    """Start a media-bug recording (MEDIA_BUG_START, RECORD_START); stops on stop, limit or hangup."""
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        open(path, "ab").close()
    except OSError:
        return False
    started = time.monotonic()
    ch.fire("RECORD_START", [("Record-File-Path", path)])
    ch.fire("MEDIA_BUG_START", [("Media-Bug-Function", "session_record"), ("Media-Bug-Target", path)])
    entry = {"started": started, "limit": limit, "timer": None, "masks": [], "masked_at": None}
    ch.session_recordings[path] = entry
    if limit:
        entry["timer"] = gevent.spawn_later(ch.switch.scaled(limit), stop_session_recording, ch, path, "limit")
    if not getattr(ch, "_rec_hook", False):
        ch._rec_hook = True
        ch.on_cs_hangup.append(lambda: stop_session_recording(ch, "all", "hangup"))
    return True


def stop_session_recording(ch: Channel, path: str, why: str = "stop") -> bool:
    """Stop one recording (or all): write the WAV, fire RECORD_STOP and MEDIA_BUG_STOP."""
    paths = list(ch.session_recordings) if path == "all" else [path]
    done = False
    for p in paths:
        entry = ch.session_recordings.pop(p, None)
        if entry is None:
            continue
        timer = entry["timer"]
        if timer is not None and timer is not gevent.getcurrent():
            timer.kill(block=False)
        seconds = (time.monotonic() - entry["started"]) / (ch.switch.time_scale or 1.0)
        if why == "limit" and entry["limit"]:
            seconds = entry["limit"]
        if entry["masked_at"] is not None:  # still masked at the end: silence up to the end
            entry["masks"].append((entry["masked_at"], seconds))
        ch.recording_masks[p] = list(entry["masks"])
        write_silence_wav(p, seconds)
        ms = int(seconds * 1000)
        completion = "success-silence" if why == "hangup" else "success-maxtime"   # as captured (08)
        ch.set_var("record_file_size", str(os.path.getsize(p)))
        ch.set_var("record_seconds", str(int(seconds)))
        ch.set_var("record_ms", str(ms))
        ch.set_var("record_samples", str(ms * 8))
        ch.set_var("record_completion_cause", completion)
        ch.recordings[p] = seconds
        ch.fire("RECORD_STOP", [("Record-File-Path", p), ("Record-Completion-Cause", completion)])
        ch.fire("MEDIA_BUG_STOP", [("Media-Bug-Function", "session_record"), ("Media-Bug-Target", p)])
        done = True
    return done


def mask_session_recording(ch: Channel, path: str, on: bool) -> bool:
    """Set or clear the mask of a running recording (repeated calls are no-ops, as a flag set twice is)."""
    entry = ch.session_recordings.get(path)
    if entry is None:
        return False
    offset = (time.monotonic() - entry["started"]) / (ch.switch.time_scale or 1.0)
    if on and entry["masked_at"] is None:
        entry["masked_at"] = offset
    elif not on and entry["masked_at"] is not None:
        entry["masks"].append((entry["masked_at"], offset))
        entry["masked_at"] = None
    return True
