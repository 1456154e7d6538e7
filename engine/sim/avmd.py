"""mod_avmd in the simulator: the avmd_start/avmd_stop apps, the `avmd` API and the avmd::* CUSTOM events."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent

from engine.sim.api import api, split_args
from engine.sim.apps import app
from engine.sim.population import Population
from engine.sim.switch import CALLING
from engine.sim.wire import Event

if TYPE_CHECKING:
    from engine.sim.channel import Channel
    from engine.sim.switch import Switch

log = logging.getLogger(__name__)

BEEP, START, STOP = "avmd::beep", "avmd::start", "avmd::stop"
SYNTAX = "<uuid> < start | stop | set [inbound|outbound|default] | load [inbound|outbound] | reload | show >"
DETECT_SECONDS = 0.12     # beep onset until the detectors agree (unscaled: part of the signal, like the beep)
BEEP_SECONDS = Population.BEEP_SECONDS   # a machine's beep; avmd started after it has passed hears nothing
_OPTIONS = {"debug", "report_status", "fast_math", "require_continuous_streak", "sample_n_continuous_streak",
            "sample_n_to_skip", "require_continuous_streak_amp", "sample_n_continuous_streak_amp",
            "simplified_estimation", "inbound_channel", "outbound_channel", "detection_mode", "detectors_n",
            "detectors_lagged_n"}
_TRUE = ("yes", "on", "true", "t", "enabled", "enable", "allow", "active", "1")

# every avmd event is created in avmd_fire_event (mod_avmd.c); the line is that of switch_event_create_subclass
for _sub in (BEEP, START, STOP):
    CALLING.setdefault(_sub, ("mod_avmd.c", "avmd_fire_event", "543"))


def usec() -> int:
    return int(time.time() * 1e6)


@dataclass
class AvmdSession:
    """The `_avmd_` media bug of one channel (avmd_session_t)."""

    start_time: int                               # us epoch, set when the bug is added (SWITCH_ABC_TYPE_INIT)
    beep_detected: bool = False
    stopped: bool = False
    inbound_channel: bool = False
    outbound_channel: bool = True
    detector: gevent.Greenlet | None = field(default=None, repr=False)


def fire(ch: Channel, subclass: str, headers: list[tuple[str, str]]) -> None:
    """avmd_fire_event: CUSTOM <subclass> with Unique-ID and Call-command, no channel data."""
    sw = ch.switch
    ev = Event("CUSTOM", sw.prelude("CUSTOM", subclass) + [("Unique-ID", ch.uuid), ("Call-command", "avmd")]
               + headers, "", subclass, ch.uuid)
    ch.events.append("CUSTOM " + subclass)
    sw.fire(ev)


def _direction_ok(ch: Channel, s: AvmdSession) -> bool:
    return (ch.direction == "outbound" and s.outbound_channel) or (ch.direction == "inbound" and s.inbound_channel)


def _has_media(ch: Channel) -> bool:
    return ch.has_codec or ch.answered  # CF_MEDIA_SET


def start(ch: Channel, s: AvmdSession) -> None:
    """The bug is in: fire avmd::start and, on a machine, detect its beep."""
    ch.avmd = s  # type: ignore[attr-defined]  # switch_channel_set_private(channel, "_avmd_", bug)
    fire(ch, START, [("Start-time", str(s.start_time))])
    s.detector = gevent.spawn(_detect, ch, s)
    ch.on_hangup.append(lambda: _close(ch, s))


def _close(ch: Channel, s: AvmdSession) -> None:
    """SWITCH_ABC_TYPE_CLOSE on hang-up: the detectors stop, no event is fired."""
    s.stopped = True
    if getattr(ch, "avmd", None) is s:
        ch.avmd = None  # type: ignore[attr-defined]


def _detect(ch: Channel, s: AvmdSession) -> None:
    """A machine's beep begins when its greeting ends; avmd hears it if it runs then. A human never beeps."""
    sw = ch.switch
    while ch.up and not s.stopped and not ch.machine:
        if ch.answered and getattr(ch.dest, "outcome", "") != "machine":
            return                                 # a person (or an agent): no single-frequency tone, ever
        if ch.answered:
            gevent.sleep(0)                        # the machine flag is set right after CHANNEL_ANSWER
        else:
            ch.answered_evt.wait(1.0)
    if not ch.up or s.stopped:
        return
    beep_start = ch.machine_greeting_until
    now = time.monotonic()
    if now > beep_start + sw.scaled(BEEP_SECONDS - DETECT_SECONDS):
        return                                     # the beep is over: mod_avmd would wait forever
    gevent.sleep(max(beep_start, now) + sw.scaled(DETECT_SECONDS) - now)
    if not ch.up or s.stopped:
        return
    detection_stop = usec()
    detection_time = detection_stop - s.start_time   # the first frame arrives as the bug starts
    ch.set_var("avmd_total_time", "[%d]" % (detection_time // 1000))
    ch.set_var("avmd_detect", "TRUE")
    dest = ch.dest
    freq = float(getattr(dest, "beep_frequency", 1000.0) or 1000.0)
    fire(ch, BEEP, [("Beep-Status", "DETECTED"), ("Frequency", "%f" % freq), ("Frequency-variance", "%f" % 0.000009),
                    ("Amplitude", "%f" % 3147.201172), ("Amplitude-variance", "%f" % 1.322481),
                    ("Detection-time", str(detection_time)), ("Detector-resolution", "1"),
                    ("Detector-offset", "0"), ("Detector-index", "0")])
    s.beep_detected = True
    truth = getattr(dest, "truth", None)
    if truth is not None:
        truth.avmd_beep_at = detection_stop / 1e6


def _settings(arg: str) -> AvmdSession | None:
    """avmd_parse_cmd_data: `option=value,...` over the defaults; None on a parse error (nothing started)."""
    s = AvmdSession(start_time=0)
    for item in (p for p in arg.split(",") if p):
        key, sep, value = item.partition("=")
        if not sep or not key or not value or key not in _OPTIONS or "=" in value:
            return None
        if key == "inbound_channel":
            s.inbound_channel = value.lower() in _TRUE
        elif key == "outbound_channel":
            s.outbound_channel = value.lower() in _TRUE
    return s


@app("avmd_start")
def _avmd_start(ch: Channel, arg: str) -> None:
    if getattr(ch, "avmd", None) is not None:
        ch.switch.log(3, "mod_avmd.c", "avmd_start_app", 1632, "Avmd already started!\n", ch.uuid)
        return
    s = _settings(arg.strip())
    if s is None or not _direction_ok(ch, s) or not _has_media(ch):
        ch.switch.log(3, "mod_avmd.c", "avmd_start_app", 1731, "Avmd on channel [%s] NOT started\n" % ch.name,
                      ch.uuid)
        return
    s.start_time = usec()
    start(ch, s)


@app("avmd_stop")
def _avmd_stop(ch: Channel, arg: str) -> None:
    s = getattr(ch, "avmd", None)
    if s is None:
        ch.switch.log(3, "mod_avmd.c", "avmd_stop_app", 1760,
                      "Stop failed - no avmd session running on this channel [%s]!\n" % ch.name, ch.uuid)
        return
    stop_time = usec()
    fire(ch, STOP, [("Beep-Status", "DETECTED" if s.beep_detected else "NOTDETECTED"),
                    ("Total-time", str(stop_time - s.start_time))])
    _close(ch, s)


@api("avmd")
def _avmd_api(sw: Switch, arg: str) -> str:
    """avmd_api_main: `avmd <uuid> start|stop` (the global set/load/reload/show commands are not modelled)."""
    argv = split_args(arg)
    if not argv:
        return "-ERR, bad command!\n-USAGE: %s\n\n" % SYNTAX
    if argv[0].lower() == "reload":
        return "+OK\n XML reloaded\n\n"
    uuid = argv[0]
    command = argv[1] if len(argv) > 1 else ""
    ch = sw.channels.get(uuid)
    if ch is None or not ch.up:
        return "-ERR, no FreeSWITCH session for uuid [%s]!\n-USAGE: %s\n\n" % (uuid, SYNTAX)
    s = getattr(ch, "avmd", None)
    if s is not None:
        if command.lower() == "stop":
            # as mod_avmd's API does: beep status 0 (BEEP_DETECTED), info 0, and stop_time never set
            fire(ch, STOP, [("Beep-Status", "DETECTED"),
                            ("Stop-status", "ERROR (AVMD SESSION OBJECT NOT FOUND IN MEDIA BUG)"),
                            ("Total-time", str(0 - s.start_time))])
            _close(ch, s)
            return "+OK\n [%s] [%s] stopped\n\n" % (uuid, ch.name)
        return "-ERR, avmd for FreeSWITCH session [%s]\n already started\n\n" % uuid
    if command.lower() == "stop":
        return "+ERR, avmd has not yet been started on\n [%s] [%s]\n\n" % (uuid, ch.name)
    s = AvmdSession(start_time=0)
    not_started = "+ERR\n [%s] [%s] NOT started!\n\n" % (uuid, ch.name)
    if not _direction_ok(ch, s):
        return ("-ERR, can't set direction for channel [%s]\n for FreeSWITCH session [%s]. Please check avmd "
                "configuration\n\n" % (ch.name, uuid)) + not_started
    if not _has_media(ch):
        return ("-ERR, channel [%s] for FreeSWITCH session [%s]\n has no read codec assigned yet. Please try "
                "again.\n\n" % (ch.name, uuid)) + not_started
    if command.lower() != "start":
        return "-ERR, did you mean\n api avmd %s start ?\n-USAGE: %s\n\n" % (uuid, SYNTAX)
    s.start_time = usec()
    start(ch, s)
    return "+OK\n [%s] [%s] started!\n\n" % (uuid, ch.name)
