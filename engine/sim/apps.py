"""Dialplan applications (mod_dptools subset) run in a channel's greenlet, with their events and variables."""
from __future__ import annotations

import logging
import os
import re
import time
import uuid as uuidlib
from typing import Callable

from engine.sim.causes import str2cause
from engine.sim.channel import Channel
from engine.sim.sounds import speech_seconds, write_silence_wav

log = logging.getLogger(__name__)
AppFn = Callable[[Channel, str], None]
APPS: dict[str, AppFn] = {}


def app(name: str) -> Callable[[AppFn], AppFn]:
    def deco(fn: AppFn) -> AppFn:
        APPS[name] = fn
        return fn
    return deco


_EXPANSION = re.compile(r"\\\$|\$\{([^}]*)\}")
_PROFILE_VARIABLES = ("caller_id_number", "caller_id_name", "destination_number", "ani", "username")


def expand_variables(ch: Channel, text: str) -> str:
    """switch_channel_expand_variables, simplified: `${name}` becomes the channel variable (or caller-profile
    field) or ""; `\\$` is a literal `$`. API calls (`${api args}`) are never run by the simulator: "". """
    if "$" not in text:
        return text

    def one(match: "re.Match[str]") -> str:
        name = match.group(1)
        if name is None:
            return "$"
        if name in ch.variables:
            return ch.variables[name]
        if name in _PROFILE_VARIABLES:
            return str(getattr(ch.profile, name, "") or "")
        if name == "uuid":
            return ch.uuid
        return ""
    return _EXPANSION.sub(one, text)


def execute(ch: Channel, name: str, arg: str = "", app_uuid: str | None = None, uuid_name: str = "") -> bool:
    """switch_core_session_exec: EXECUTE, run, EXECUTE_COMPLETE. Unknown app hangs up (§3.4).

    The app data is expanded first (Application-Data carries the expanded text, ESL.md §4.4)."""
    arg = expand_variables(ch, arg)
    fn = APPS.get(name)
    if fn is None:
        log.info("sim %s: invalid application %s", ch.uuid, name)
        ch.hangup("DESTINATION_OUT_OF_ORDER")
        return False
    app_uuid = app_uuid or str(uuidlib.uuid4())
    ch.set_var("current_application", name)
    ch.set_var("current_application_data", arg)
    ch.set_var("current_application_response", None)
    ch.apps.append((name, arg))
    ids = [("Application", name)]
    if arg:
        ids.append(("Application-Data", arg))
    tail = [("Application-UUID", app_uuid)]
    if uuid_name:
        tail.append(("Application-UUID-Name", uuid_name))
    ch.fire("CHANNEL_EXECUTE", ids + tail)
    prev, ch.current_app = ch.current_app, name
    ch.app_changed.set()
    try:
        fn(ch, arg)
    finally:
        ch.current_app = prev
    ch.fire("CHANNEL_EXECUTE_COMPLETE",
            ids + [("Application-Response", ch.get_var("current_application_response") or "_none_")] + tail)
    return True


def media_wait(ch: Channel, seconds: float, on_digit: Callable[[str], bool] | None = None) -> str:
    """Wait `seconds` (simulated); returns 'timeout', 'hangup', 'break' or 'digit' (on_digit returned True)."""
    sw = ch.switch
    deadline = time.monotonic() + sw.scaled(seconds) if seconds != float("inf") else None
    while True:
        if not ch.up:
            return "hangup"
        if ch.break_pending:
            ch.break_pending = False
            return "break"
        if ch.dtmf and on_digit is not None:
            digit = ch.take_dtmf()
            if digit is not None and on_digit(digit):
                return "digit"
            continue
        if ch.private and not ch.current_locked:
            # without event-lock a queued execute runs nested inside this app (ESL.md §3.4)
            from engine.sim.session import process_messages
            process_messages(ch)
            continue
        if deadline is None:
            ch.wait(None)
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout"
        ch.wait(remaining)


def play_file(ch: Channel, path: str, on_digit: Callable[[str], bool] | None) -> str:
    """switch_ivr_play_file: returns 'done', 'break', 'hangup' or 'notfound'."""
    seconds = ch.switch.sounds.duration(path)
    if seconds is None:
        return "notfound"
    ch.played.append(path)
    info = []
    if path.startswith("tone_stream://"):
        info.append(("Playback-File-Type", "tone_stream"))
    elif path.startswith("local_stream://"):
        info.append(("Playback-File-Type", "local_stream"))
    info.append(("Playback-File-Path", path))
    ch.fire("PLAYBACK_START", info)
    start = time.monotonic()
    why = media_wait(ch, seconds, on_digit)
    elapsed = (time.monotonic() - start) / (ch.switch.time_scale or 1.0)
    if why == "timeout":
        elapsed = seconds
    ms = int(elapsed * 1000)
    ch.set_var("playback_seconds", str(int(elapsed)))
    ch.set_var("playback_ms", str(ms))
    ch.set_var("playback_samples", str(ms * 8))
    ch.set_var("playback_last_offset_pos", str(ms * 8))
    # a terminating digit or uuid_break reports "break"; the end of the file or a hangup "done" (03, 05c, 12)
    ch.fire("PLAYBACK_STOP", info + [("Playback-Status", "break" if why in ("digit", "break") else "done")])
    return {"timeout": "done", "digit": "break", "break": "break"}.get(why, "hangup")


def _terminators(ch: Channel) -> str:
    value = ch.get_var("playback_terminators", "*")
    if value == "any":
        return "1234567890*#"
    return "" if value == "none" else value


def _terminated_playback(ch: Channel, path: str) -> str:
    terms = _terminators(ch)
    used: list[str] = []
    ch.set_var("playback_terminator_used", None)  # mod_dptools clears it first, then sets the key that ended it

    def on_digit(d: str) -> bool:
        if d in terms:
            used.append(d)
            return True
        return False
    result = play_file(ch, path, on_digit)
    if used:
        ch.set_var("playback_terminator_used", used[0])
    return result


@app("answer")
def _answer(ch: Channel, arg: str) -> None:
    ch.answer()


@app("pre_answer")
def _pre_answer(ch: Channel, arg: str) -> None:
    ch.pre_answer()


@app("ring_ready")
def _ring_ready(ch: Channel, arg: str) -> None:
    ch.ring_ready()


def _media_ready(ch: Channel) -> None:
    if not ch.answered and not ch.early and ch.direction == "inbound":
        ch.pre_answer()


@app("playback")
def _playback(ch: Channel, arg: str) -> None:
    _media_ready(ch)
    path = arg.split("@@")[0]
    result = _terminated_playback(ch, path)
    response = {"notfound": "FILE NOT FOUND", "hangup": "PLAYBACK ERROR"}.get(result, "FILE PLAYED")
    ch.set_var("current_application_response", response)


@app("speak")
def _speak(ch: Channel, arg: str) -> None:
    parts = arg.split("|", 2)
    text = parts[-1]
    voice = parts[-2] if len(parts) >= 2 else ch.get_var("tts_voice")
    engine = parts[0] if len(parts) == 3 else ch.get_var("tts_engine")
    if not engine or not voice:
        ch.hangup("DESTINATION_OUT_OF_ORDER")
        return
    _media_ready(ch)
    terms = _terminators(ch)
    used: list[str] = []
    ch.set_var("playback_terminator_used", None)
    media_wait(ch, speech_seconds(text), lambda d: (used.append(d), True)[1] if d in terms else False)
    if used:
        ch.set_var("playback_terminator_used", used[0])


@app("event")
def _event(ch: Channel, arg: str) -> None:
    """mod_dptools event: `Name=value,…` split like switch_separate_string (a `'` quotes, a backslash
    escapes, both are removed), blanks around names and values trimmed; every pair becomes a header (repeats
    kept), Event-Name and Event-Subclass pick the event, and the channel data is added after them."""
    headers: list[tuple[str, str]] = []
    for part in _separate_commas(arg):
        if "=" in part:
            key, value = part.split("=", 1)
            headers.append((key.strip(" "), value.strip(" ")))
    name = next((v for k, v in headers if k.lower() == "event-name"), "CUSTOM").upper()
    subclass = next((v for k, v in headers if k.lower() == "event-subclass"), "")
    if name == "CUSTOM" and not subclass:
        return
    headers = [(k, v) for k, v in headers if k.lower() not in ("event-name", "event-subclass")]
    ch.fire(name, None, before=headers, subclass=subclass)


def _separate_commas(text: str) -> list[str]:
    """switch_separate_string(text, ',') for app data: quote-aware fields with quotes and escapes removed."""
    fields, word, quoted, i = [], [], False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            word.append(text[i + 1])
            i += 2
            continue
        if c == "'":
            quoted = not quoted
        elif c == "," and not quoted:
            fields.append("".join(word))
            word = []
        else:
            word.append(c)
        i += 1
    fields.append("".join(word))
    return fields


@app("record")
def _record(ch: Channel, arg: str) -> None:
    a = arg.split()
    if not a:
        ch.hangup("DESTINATION_OUT_OF_ORDER")
        return
    path = a[0]
    limit = float(a[1]) if len(a) > 1 and a[1].isdigit() and int(a[1]) > 0 else float("inf")
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        open(path, "ab").close()
    except OSError:
        ch.hangup("DESTINATION_OUT_OF_ORDER")
        return
    _media_ready(ch)
    ch.fire("CODEC", [("channel-read-codec-name", "L16"), ("channel-read-codec-rate", "8000"),
                      ("channel-read-codec-bit-rate", "128000")])
    ch.fire("RECORD_START", [("Record-File-Path", path)])
    terms = _terminators(ch)
    used: list[str] = []
    start = time.monotonic()
    why = media_wait(ch, limit, lambda d: (used.append(d), True)[1] if d in terms else False)
    seconds = limit if why == "timeout" else (time.monotonic() - start) / (ch.switch.time_scale or 1.0)
    write_silence_wav(path, seconds)
    ms = int(seconds * 1000)
    ch.set_var("record_seconds", str(int(seconds)))
    ch.set_var("record_ms", str(ms))
    ch.set_var("record_samples", str(ms * 8))
    if used:
        ch.set_var("playback_terminator_used", used[0])
    ch.fire("RECORD_STOP", [("Record-File-Path", path)])
    ch.fire("CODEC", [("channel-read-codec-name", "PCMU"), ("channel-read-codec-rate", "8000"),
                      ("channel-read-codec-bit-rate", "64000")])
    ch.recordings[path] = seconds


@app("record_session")
def _record_session(ch: Channel, arg: str) -> None:
    from engine.sim.recording import start_session_recording
    a = arg.split()
    if a:
        limit = float(a[1][1:]) if len(a) > 1 and a[1].startswith("+") else None
        start_session_recording(ch, a[0], limit)


@app("stop_record_session")
def _stop_record_session(ch: Channel, arg: str) -> None:
    from engine.sim.recording import stop_session_recording
    stop_session_recording(ch, arg.strip() or "all")


@app("park")
def _park(ch: Channel, arg: str) -> None:
    if ch.controlled:
        return
    from engine.sim.session import park_loop
    park_loop(ch)


@app("hangup")
def _hangup(ch: Channel, arg: str) -> None:
    ch.hangup(str2cause(arg) if arg.strip() else "NORMAL_CLEARING")


def _split_assign(arg: str) -> tuple[str, str]:
    if "=" in arg:
        k, _, v = arg.partition("=")
    else:
        k, _, v = arg.partition(",")
    return k.strip(), v


@app("set")
def _set(ch: Channel, arg: str) -> None:
    k, v = _split_assign(arg)
    ch.set_var(k, v)


@app("export")
def _export(ch: Channel, arg: str) -> None:
    k, v = _split_assign(arg)
    local = not k.startswith("nolocal:")
    k = k.replace("nolocal:", "")
    if local:
        ch.set_var(k, v)
    names = [n for n in ch.get_var("export_vars").split(",") if n]
    if k not in names:
        names.append(k)
    ch.set_var("export_vars", ",".join(names))
    ch.exported[k] = v


@app("unset")
def _unset(ch: Channel, arg: str) -> None:
    ch.set_var(arg.strip(), None)


@app("sleep")
def _sleep(ch: Channel, arg: str) -> None:
    ms = int(arg.strip() or 0)
    eat = ch.get_var("sleep_eat_digits") == "true"
    used: list[str] = []
    media_wait(ch, ms / 1000.0, (lambda d: (used.append(d), False)[1]) if eat else None)
    if used:
        ch.set_var("playback_terminator_used", used[-1])


@app("transfer")
def _transfer(ch: Channel, arg: str) -> None:
    bits = arg.split()
    if bits and bits[0] in ("-bleg", "-both"):
        bits = bits[1:]
    exten = bits[0] if bits else "service"
    dp = bits[1] if len(bits) > 1 else ch.profile.dialplan
    if dp == "inline":
        dp = "XML"
    ctx = bits[2] if len(bits) > 2 else ch.profile.context
    ch.pending_transfer = (exten, dp, ctx)
    ch.target("CS_ROUTING")


@app("socket")
def _socket(ch: Channel, arg: str) -> None:
    from engine.sim.outbound import socket_app
    socket_app(ch, arg)


@app("bridge")
def _bridge(ch: Channel, arg: str) -> None:
    from engine.sim.bridge import bridge_app
    bridge_app(ch, arg)


@app("eavesdrop")
def _eavesdrop(ch: Channel, arg: str) -> None:
    _media_ready(ch)
    media_wait(ch, float("inf"), lambda d: d == "*")


@app("info")
def _info(ch: Channel, arg: str) -> None:
    return None


@app("log")
def _log(ch: Channel, arg: str) -> None:
    return None


from engine.sim import digits  # noqa: E402,F401  (registers read and play_and_get_digits)
from engine.sim import avmd  # noqa: E402,F401  (registers avmd_start, avmd_stop and the avmd API)
