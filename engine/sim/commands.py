"""parse_command(): the authenticated ESL command set of mod_event_socket, answered with FreeSWITCH's texts."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import gevent
from gevent.event import Event as GEvent

from engine.sim import wire
from engine.sim.listener import LOG_LEVELS, MYEVENTS, OUTBOUND_NOT_FULL_OK
from engine.sim.wire import Command, Event

if TYPE_CHECKING:
    from engine.sim.listener import Listener

log = logging.getLogger(__name__)


def dispatch(lst: Listener, cmd: Command, low: str, first: bool) -> None:
    """Route one command by case-insensitive prefix, in FreeSWITCH's order."""
    line = cmd.line
    if low.startswith("filter"):
        return _filter(lst, line)
    if low.startswith("resume"):
        if not lst.session:
            return lst.reply("-ERR not controlling a session.")
        lst.resume = True
        lst.session.set_var("socket_resume", "true")
        return lst.reply("+OK")
    if low.startswith("connect"):
        if lst.outbound and lst.session is not None and not lst.connected.is_set():
            lst.send(wire.connect_reply(channel_data_headers(lst.session), lst.async_mode, lst.full))
            lst.connected.set()
        return
    if low.startswith("getvar"):
        if not lst.session:
            return lst.reply("-ERR command not found")
        value = lst.session.get_var(line[6:].strip())
        return lst.reply(value if value else "-ERR command not found")
    if low.startswith("myevents"):
        return _myevents(lst, line)
    if low.startswith("divert_events"):
        if not lst.session:
            return lst.reply("-ERR not controlling a session.")
        arg = line[13:].strip().lower()
        if not arg:
            return lst.reply("-ERR missing value.")
        return lst.reply("+OK events diverted" if arg == "on" else "+OK events not diverted")
    if low.startswith("sendmsg"):
        return _sendmsg(lst, cmd)
    if lst.outbound and not lst.full and not low.startswith(OUTBOUND_NOT_FULL_OK):
        return lst.reply("-ERR command not found")
    if low.startswith("sendevent"):
        return _sendevent(lst, cmd)
    if low.startswith("api "):
        return _api(lst, line[4:].strip())
    if low.startswith("bgapi "):
        return _bgapi(lst, cmd, line[6:].strip())
    if low.startswith("log"):
        return _log(lst, line[3:].strip())
    if low.startswith("linger"):
        if not lst.session:
            return lst.reply("-ERR not controlling a session")
        arg = line[6:].strip()
        if arg.lstrip("-").isdigit() and int(arg) > 0:
            lst.linger = int(arg)
            return lst.reply("+OK will linger %d seconds" % lst.linger)
        lst.linger = -1
        return lst.reply("+OK will linger")
    if low.startswith("nolinger"):
        if not lst.session:
            return lst.reply("-ERR not controlling a session")
        lst.linger = None
        return lst.reply("+OK will not linger")
    if low.startswith("nolog"):
        if lst.log_level is None:
            return lst.reply("-ERR not loging")
        lst.log_level = None
        return lst.reply("+OK no longer logging")
    if low.startswith("event"):
        words = line.split()[1:]
        if words and words[0].lower() in ("plain", "json", "xml"):
            lst.fmt = words.pop(0).lower()
        if not lst.subscribe(words):
            return lst.reply("-ERR no keywords supplied")
        return lst.reply("+OK event listener enabled %s" % lst.fmt)
    if low.startswith("nixevent"):
        if not lst.unsubscribe(line.split()[1:]):
            return lst.reply("-ERR no keywords supplied")
        return lst.reply("+OK events nixed")
    if low.startswith("noevents"):
        if not lst.events_on:
            return lst.reply("-ERR not listening for events")
        lst.events_on = False
        lst.names.clear()
        lst.subclasses.clear()
        lst.all_custom = False
        return lst.reply("+OK no longer listening for events")
    return lst.reply("-ERR command not found")


def channel_data_headers(ch) -> list[tuple[str, str]]:
    """The CHANNEL_DATA block: prelude, Channel-* profile, channel data, variables."""
    return (ch.switch.prelude("CHANNEL_DATA") + ch.profile.headers("Channel") + ch.channel_data()
            + ch.variable_headers())


def _filter(lst: Listener, line: str) -> None:
    rest = line[6:].strip()
    parts = rest.split(" ", 1)
    if parts and parts[0].lower() == "delete":
        args = (parts[1] if len(parts) > 1 else "").strip().split(" ", 1)
        header = args[0]
        value = args[1].strip() if len(args) > 1 else ""
        if not header:
            return lst.reply("-ERR invalid syntax")
        if header.lower() == "all":
            lst.filters.clear()
        elif value:
            lst.filters = [(h, v) for h, v in lst.filters if not (h == header and v == value)]
        else:
            lst.filters = [(h, v) for h, v in lst.filters if h != header]
        return lst.reply("+OK filter deleted. [%s][%s]" % (header, value))
    if parts and parts[0].lower() == "add":
        rest = parts[1] if len(parts) > 1 else ""
        parts = rest.split(" ", 1)
    if len(parts) < 2 or not parts[1].strip():
        return lst.reply("-ERR invalid syntax")
    header, value = parts[0], parts[1].strip()
    lst.filters.append((header, value))
    return lst.reply("+OK filter added. [%s]=[%s]" % (header, value))


def _myevents(lst: Listener, line: str) -> None:
    words = line.split()[1:]
    fmt = None
    if lst.myevents:
        return lst.reply("-ERR aready enabled.")
    if lst.outbound:
        if words and words[0].lower() in ("plain", "json", "xml"):
            fmt = words[0].lower()
    else:
        uuid = words[0] if words else ""
        if len(words) > 1 and words[1].lower() in ("plain", "json", "xml"):
            fmt = words[1].lower()
        ch = lst.switch.channels.get(uuid)
        if ch is None:
            if fmt:
                return lst.reply("-ERR invalid uuid")
        else:
            lst.session = ch
            ch.hold_session()
            ch.on_reported.append(lambda: session_reported(lst))
            lst.on_close.append(ch.release_session)
    if fmt:
        lst.fmt = fmt
    if lst.session is not None:
        lst.switch.bind_listener(lst, lst.session.uuid)
    lst.myevents = True
    lst.events_on = True
    lst.names.update(MYEVENTS)
    return lst.reply("+OK Events Enabled")


def session_reported(lst: Listener) -> None:
    """The controlled channel reached CS_REPORTING: linger notice or disconnect notice (§3.5)."""
    ch = lst.session
    if ch is None or lst.closed.is_set():
        return
    if lst.linger is None:
        lst.send(wire.disconnect_notice(ch.uuid))
        lst.close_after_flush()
        return
    lst.send(wire.linger_notice(ch.uuid, ch.name, lst.linger))
    if lst.linger > 0:
        def _later() -> None:
            lst.switch.sleep(lst.linger)
            lst.send(wire.disconnect_notice(ch.uuid))
            lst.close_after_flush()
        gevent.spawn(_later)


def _sendmsg(lst: Listener, cmd: Command) -> None:
    uuid = cmd.line[7:].strip() or cmd.header("session-id")
    ch = lst.switch.channels.get(uuid) if uuid else lst.session
    if ch is None:
        return lst.reply("-ERR invalid session id [%s]" % uuid)
    inline = (lst.outbound and not lst.async_mode and ch is lst.session
              and cmd.header("async").lower() != "true")
    if inline:
        # static (sync) socket: the app runs in the listener's own thread, so +OK comes after it and
        # the events it caused come after the reply (ESL.md pitfall 14)
        done = GEvent()
        cmd.done = done
        lst.hold_events()
        ch.private.append(cmd)
        ch.poke()
        while not done.wait(0.05) and ch.up:
            pass
        lst.reply("+OK")
        lst.release_events()
        return None
    ch.private.append(cmd)
    ch.poke()
    return lst.reply("+OK")


def _sendevent(lst: Listener, cmd: Command) -> None:
    words = cmd.line.split()
    name = words[1].upper() if len(words) > 1 else "CUSTOM"
    subclass = cmd.header("Event-Subclass") if name == "CUSTOM" else ""
    headers = lst.switch.prelude(name, subclass)
    headers += [(k, v) for k, v in cmd.headers.items() if k.lower() not in ("content-length", "event-subclass")]
    import uuid as uuidlib
    ev_uuid = str(uuidlib.uuid4())
    headers.append(("Event-UUID", ev_uuid))
    ev = Event(name, headers, cmd.body.decode("utf-8", "replace"), subclass)
    lst.switch.fire(ev)
    return lst.reply("+OK %s" % ev_uuid)


def _api(lst: Listener, text: str) -> None:
    from engine.sim.api import run_api
    command, _, arg = text.partition(" ")
    lst.hold_events()
    try:
        body = run_api(lst.switch, command, arg.strip(), lst)
    finally:
        lst.send(wire.api_response(body))
        lst.release_events()
    lst.switch.fire_api_event(command, arg.strip())


def _bgapi(lst: Listener, cmd: Command, text: str) -> None:
    from engine.sim.api import run_api
    job = lst.new_job_uuid(cmd)
    lst.reply("+OK Job-UUID: %s" % job, [("Job-UUID", job)])
    command, _, arg = text.partition(" ")
    arg = arg.strip()
    owner = lst.session.uuid if lst.session is not None else ""

    def _job() -> None:
        body = run_api(lst.switch, command, arg, None)
        sw = lst.switch
        sw.fire_api_event(command, arg)
        headers = [("Job-UUID", job)]
        if owner:
            headers.append(("Job-Owner-UUID", owner))
        headers.append(("Job-Command", command))
        if arg:
            headers.append(("Job-Command-Arg", arg))
        ev = Event("BACKGROUND_JOB", sw.prelude("BACKGROUND_JOB") + headers, body, uuid=owner)
        sw.fire(ev)
    gevent.spawn(_job)
    gevent.sleep(0)     # let a quick job finish now, so its event follows its reply as in FreeSWITCH


def _log(lst: Listener, arg: str) -> None:
    if not arg:
        level = 7
    elif arg.isdigit() and 0 <= int(arg) <= 7:
        level = int(arg)
    elif arg.lower() in LOG_LEVELS:
        level = LOG_LEVELS[arg.lower()]
    else:
        return lst.reply("-ERR invalid log level")
    lst.log_level = level
    return lst.reply("+OK log level %s [%d]" % (arg or "7", level))
