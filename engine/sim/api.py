"""API commands (mod_commands subset) with FreeSWITCH's exact reply bodies (§5.4, §7)."""
from __future__ import annotations

import json
import logging
import re
import uuid as uuidlib
from typing import TYPE_CHECKING, Callable

import gevent

from engine.sim.causes import str2cause
from engine.sim.wire import url_encode

if TYPE_CHECKING:
    from engine.sim.channel import Channel
    from engine.sim.listener import Listener
    from engine.sim.switch import Switch

log = logging.getLogger(__name__)
ApiFn = Callable[["Switch", str], str]
APIS: dict[str, ApiFn] = {}
NO_CHANNEL = "-ERR No such channel!\n"


def api(name: str) -> Callable[[ApiFn], ApiFn]:
    def deco(fn: ApiFn) -> ApiFn:
        APIS[name] = fn
        return fn
    return deco


def run_api(sw: Switch, command: str, arg: str, listener: Listener | None) -> str:
    fn = APIS.get(command.lower())
    if fn is None:
        return "-ERR %s Command not found!\n" % command
    try:
        out = fn(sw, arg)
    except Exception:  # noqa: BLE001 - an API must always answer
        log.exception("sim api %s failed", command)
        return "-ERR %s Command not found!\n" % command
    return out if out != "" else "-ERR no reply\n"


def split_args(arg: str) -> list[str]:
    """switch_separate_string on spaces: a `'` anywhere toggles quoting (and is removed), runs of spaces
    collapse, a backslash escapes a quote, a space or a backslash. So `{name='A B',x=1}user/1` is one word."""
    out: list[str] = []
    word: list[str] = []
    quoted = started = False
    i = 0
    while i < len(arg):
        c = arg[i]
        if c == "\\" and i + 1 < len(arg) and arg[i + 1] in "' \\":
            word.append(arg[i + 1])
            started = True
            i += 2
            continue
        if c == "'":
            quoted, started = not quoted, True
        elif c == " " and not quoted:
            if started:
                out.append("".join(word))
                word, started = [], False
        else:
            word.append(c)
            started = True
        i += 1
    if started:
        out.append("".join(word))
    return out


def _chan(sw: Switch, uuid: str) -> Channel | None:
    return sw.channels.get(uuid.strip())


@api("status")
def _status(sw: Switch, arg: str) -> str:
    return sw.status_text()


@api("version")
def _version(sw: Switch, arg: str) -> str:
    return "FreeSWITCH Version 1.11.3-dev+git~20260821T141014Z~cc93a683ca~64bit (sim)"


@api("echo")
def _echo(sw: Switch, arg: str) -> str:
    return arg


@api("create_uuid")
def _create_uuid(sw: Switch, arg: str) -> str:
    return str(uuidlib.uuid4())


@api("global_getvar")
def _global_getvar(sw: Switch, arg: str) -> str:
    return {"hostname": sw.hostname, "switch_serial": "sim"}.get(arg.strip(), "")


@api("log")
def _log_api(sw: Switch, arg: str) -> str:
    """`log <LEVEL> <text>`: a log/data frame to every listener logging at that level or above."""
    from engine.sim.listener import LOG_LEVELS
    level_name, _, text = arg.partition(" ")
    level = LOG_LEVELS.get(level_name.lower(), 7)
    sw.log(level, "mod_commands.c", "log_function", 7247, text)
    return "+OK\n"


@api("originate")
def _originate(sw: Switch, arg: str) -> str:
    a = split_args(arg)
    if len(a) < 2:
        return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] " \
               "[<cid_name>] [<cid_num>] [<timeout_sec>]\n"
    dial, dest = a[0], a[1]
    dp = a[2] if len(a) > 2 and a[2] != "undef" else "XML"
    ctx = a[3] if len(a) > 3 and a[3] != "undef" else "default"
    extra = {}
    if len(a) > 4 and a[4] != "undef":
        extra["origination_caller_id_name"] = a[4]
    if len(a) > 5 and a[5] != "undef":
        extra["origination_caller_id_number"] = a[5]
    timeout = float(a[6]) if len(a) > 6 and a[6].isdigit() else 60.0
    leg, cause = sw.originator.originate(dial, timeout, extra=extra)
    if leg is None:
        return "-ERR %s\n" % cause
    from engine.sim.session import run_apps, transfer_apps
    if dest.startswith("&"):
        m = re.match(r"&([^(\s]+)(?:\(([^)]*)\))?", dest)
        apps = [(m.group(1), m.group(2) or "")] if m else []

        def _run() -> None:
            leg.set_state("CS_EXECUTE")
            run_apps(leg, apps)
    elif dp == "inline":
        def _run() -> None:
            run_apps(leg, transfer_apps(leg, "__xferext__", "inline", dest))
    else:
        def _run() -> None:
            run_apps(leg, transfer_apps(leg, dest, dp, ctx))
    leg.greenlet = gevent.spawn(_run)
    return "+OK %s\n" % leg.uuid


@api("uuid_kill")
def _uuid_kill(sw: Switch, arg: str) -> str:
    a = arg.split()
    ch = _chan(sw, a[0]) if a else None
    if ch is None:
        return NO_CHANNEL
    ch.hangup(str2cause(a[1]) if len(a) > 1 else "NORMAL_CLEARING")
    return "+OK\n"


@api("uuid_exists")
def _uuid_exists(sw: Switch, arg: str) -> str:
    return "true" if arg.strip() in sw.channels else "false"


@api("uuid_getvar")
def _uuid_getvar(sw: Switch, arg: str) -> str:
    a = arg.split()
    ch = _chan(sw, a[0]) if a else None
    if ch is None or len(a) < 2:
        return NO_CHANNEL
    return ch.get_var(a[1]) or "_undef_"


@api("uuid_setvar")
def _uuid_setvar(sw: Switch, arg: str) -> str:
    a = arg.split(" ", 2)
    ch = _chan(sw, a[0]) if a else None
    if ch is None or len(a) < 2:
        return NO_CHANNEL
    ch.set_var(a[1], a[2] if len(a) > 2 else None)
    return "+OK\n"


@api("uuid_setvar_multi")
def _uuid_setvar_multi(sw: Switch, arg: str) -> str:
    uuid, _, rest = arg.partition(" ")
    ch = _chan(sw, uuid)
    if ch is None:
        return NO_CHANNEL
    for item in rest.split(";"):
        k, _, v = item.partition("=")
        if k:
            ch.set_var(k.strip(), v)
    return "+OK\n"


@api("uuid_answer")
def _uuid_answer(sw: Switch, arg: str) -> str:
    ch = _chan(sw, arg)
    if ch is None:
        return "-ERROR\n"
    return "+OK\n" if ch.answer() else "-ERROR\n"


@api("uuid_pre_answer")
def _uuid_pre_answer(sw: Switch, arg: str) -> str:
    ch = _chan(sw, arg)
    if ch is None:
        return "-ERROR\n"
    ch.pre_answer()
    return "+OK\n"


@api("uuid_hold")
def _uuid_hold(sw: Switch, arg: str) -> str:
    a = arg.split()
    mode = "on"
    if a and a[0] in ("off", "toggle"):
        mode = a.pop(0)
    ch = _chan(sw, a[0]) if a else None
    if ch is None:
        return "-ERR Operation failed\n"
    held = ch.callstate == "HELD"
    hold = not held if mode == "toggle" else mode == "on"
    if hold and not held:
        ch.fire("CHANNEL_HOLD")
        ch.set_callstate("HELD")
    elif not hold and held:
        ch.fire("CHANNEL_UNHOLD")
        ch.set_callstate("ACTIVE")
    return "+OK Success\n"


@api("uuid_break")
def _uuid_break(sw: Switch, arg: str) -> str:
    a = arg.split()
    ch = _chan(sw, a[0]) if a else None
    if ch is None:
        return NO_CHANNEL
    if "all" in a[1:]:
        ch.private.clear()
    ch.interrupt_media()
    return "+OK\n"


@api("uuid_transfer")
def _uuid_transfer(sw: Switch, arg: str) -> str:
    a = split_args(arg)
    ch = _chan(sw, a[0]) if a else None
    if ch is None:
        return NO_CHANNEL
    rest = a[1:]
    if rest and rest[0] in ("-bleg", "-both"):
        rest = rest[1:]
    if not rest:
        return "-ERR\n"
    dp = rest[1] if len(rest) > 1 else "XML"
    ctx = rest[2] if len(rest) > 2 else ch.profile.context
    ch.pending_transfer = (rest[0], dp, ctx) if dp != "inline" else ("__xferext__", "inline", rest[0])
    if ch.up:
        ch.target("CS_ROUTING")
    ch.break_pending = ch.current_app not in ("", "park")
    ch.poke()
    return "+OK\n"


@api("uuid_broadcast")
def _uuid_broadcast(sw: Switch, arg: str) -> str:
    a = arg.split()
    ch = _chan(sw, a[0]) if a else None
    if ch is None or len(a) < 2:
        return "-ERR invalid uuid\n"
    what = a[1]
    if "::" in what:
        name, _, app_arg = what.partition("::")
        name = name.split("!")[0]
    else:
        name, app_arg = "playback", what
    from engine.sim.wire import Command
    ch.private.append(Command("sendmsg", {"call-command": "execute", "execute-app-name": name,
                                          "execute-app-arg": app_arg, "event-lock": "true",
                                          "lead-frames": "5"}))
    ch.poke()
    return "+OK Message sent\n"


@api("uuid_bridge")
def _uuid_bridge(sw: Switch, arg: str) -> str:
    a = arg.split()
    if len(a) < 2:
        return "-USAGE: <uuid> <other_uuid>\n"
    ca, cb = _chan(sw, a[0]), _chan(sw, a[1])
    if ca is None or cb is None:
        return "-ERR Invalid uuid\n"
    if not (ca.answered or ca.early or cb.answered or cb.early):
        return "-ERR no media\n"
    from engine.sim.bridge import uuid_bridge_start
    uuid_bridge_start(ca, cb)
    return "+OK %s\n" % cb.uuid


@api("uuid_record")
def _uuid_record(sw: Switch, arg: str) -> str:
    from engine.sim.recording import start_session_recording, stop_session_recording
    a = arg.split()
    ch = _chan(sw, a[0]) if a else None
    if ch is None or len(a) < 3:
        return "-ERR Cannot locate session!\n"
    action, path = a[1], a[2]
    if action == "start":
        limit = float(a[3]) if len(a) > 3 and a[3].isdigit() else None
        return "+OK Success\n" if start_session_recording(ch, path, limit) else "-ERR Cannot record session!\n"
    if action == "stop":
        return "+OK Success\n" if stop_session_recording(ch, path) else "-ERR Cannot stop record session!\n"
    if action in ("mask", "unmask"):  # switch_ivr_record_session_mask: SMBF_MASK on the file's media bug
        from engine.sim.recording import mask_session_recording
        if mask_session_recording(ch, path, action == "mask"):
            return "+OK Success\n"
        return "-ERR Cannot %s recording session!\n" % action
    return "+OK Success\n"


@api("uuid_send_dtmf")
def _uuid_send_dtmf(sw: Switch, arg: str) -> str:
    a = arg.split()
    ch = _chan(sw, a[0]) if a else None
    if ch is None or len(a) < 2:
        return "-ERR Cannot locate session!\n"
    return "+OK %s sent DTMF %s.\n" % (ch.uuid, a[1])


@api("uuid_recv_dtmf")
def _uuid_recv_dtmf(sw: Switch, arg: str) -> str:
    a = arg.split()
    ch = _chan(sw, a[0]) if a else None
    if ch is None or len(a) < 2:
        return "-ERR Cannot locate session!\n"
    ch.queue_dtmf(a[1])
    return "+OK %s received DTMF %s.\n" % (ch.uuid, a[1])


@api("uuid_dump")
def _uuid_dump(sw: Switch, arg: str) -> str:
    a = arg.split()
    ch = _chan(sw, a[0]) if a else None
    if ch is None:
        return NO_CHANNEL
    fmt = a[1] if len(a) > 1 else "txt"
    headers = sw.prelude("CHANNEL_DATA") + ch.channel_data() + ch.variable_headers()
    if fmt == "json":
        return json.dumps(dict(headers), ensure_ascii=False, separators=(",", ":"))
    if fmt == "plain":
        return "".join("%s: [%s]\n" % (k, v) for k, v in headers) + "\n"
    return "".join("%s: %s\n" % (k, url_encode(v)) for k, v in headers) + "\n"


@api("hupall")
def _hupall(sw: Switch, arg: str) -> str:
    a = arg.split()
    cause = str2cause(a[0]) if a else "MANAGER_REQUEST"
    var, val = (a[1], a[2]) if len(a) > 2 else (None, None)
    for ch in list(sw.channels.values()):
        if var is None or ch.get_var(var) == val:
            ch.hangup(cause)
    if var is not None:
        return "+OK hangup all channels matching [%s]=[%s] with cause: %s\n" % (var, val, cause)
    return "+OK hangup all channels with cause %s\n" % cause


@api("show")
def _show(sw: Switch, arg: str) -> str:
    from engine.sim.views import show
    return show(sw, arg)
