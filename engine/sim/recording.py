"""record_session / uuid_record: background recordings that write a silent WAV of the recorded length."""
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
    entry = {"started": started, "limit": limit, "timer": None}
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
