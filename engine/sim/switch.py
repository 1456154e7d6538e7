"""The simulated switch core: global event sequence and fan-out, channel registry, scaled clock."""
from __future__ import annotations

import logging
import time
import uuid as uuidlib
from collections import deque
from typing import TYPE_CHECKING, Callable

import gevent

from engine.sim.wire import Event

if TYPE_CHECKING:
    from engine.sim.channel import Channel
    from engine.sim.listener import Listener

log = logging.getLogger(__name__)

EVENT_NAMES = (
    "CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_HANGUP "
    "CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_BRIDGE "
    "CHANNEL_UNBRIDGE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK "
    "CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID API LOG INBOUND_CHAN OUTBOUND_CHAN STARTUP SHUTDOWN PUBLISH "
    "UNPUBLISH TALK NOTALK SESSION_CRASH MODULE_LOAD MODULE_UNLOAD DTMF MESSAGE PRESENCE_IN NOTIFY_IN PRESENCE_OUT "
    "PRESENCE_PROBE MESSAGE_WAITING MESSAGE_QUERY ROSTER CODEC BACKGROUND_JOB DETECTED_SPEECH DETECTED_TONE "
    "PRIVATE_COMMAND HEARTBEAT TRAP ADD_SCHEDULE DEL_SCHEDULE EXE_SCHEDULE RE_SCHEDULE RELOADXML NOTIFY PHONE_FEATURE "
    "PHONE_FEATURE_SUBSCRIBE SEND_MESSAGE RECV_MESSAGE REQUEST_PARAMS CHANNEL_DATA GENERAL COMMAND SESSION_HEARTBEAT "
    "CLIENT_DISCONNECTED SERVER_DISCONNECTED SEND_INFO RECV_INFO RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE CALL_SECURE NAT "
    "RECORD_START RECORD_STOP PLAYBACK_START PLAYBACK_STOP CALL_UPDATE FAILURE SOCKET_DATA MEDIA_BUG_START "
    "MEDIA_BUG_STOP CONFERENCE_DATA_QUERY CONFERENCE_DATA CALL_SETUP_REQ CALL_SETUP_RESULT CALL_DETAIL DEVICE_STATE "
    "TEXT SHUTDOWN_REQUESTED CERT_RELOAD ALL").split()
EVENT_NAME_SET = frozenset(EVENT_NAMES)

# Event-Calling-File / -Function / -Line-Number as seen in the captures.
CALLING = {
    "API": ("switch_loadable_module.c", "switch_api_execute", "3140"),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1580"),
    "CALL_UPDATE": ("switch_channel.c", "switch_channel_flip_cid", "3279"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3848"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1689"),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", "302"),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", "626"),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", "1588"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2949"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2972"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3447"),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", "632"),
    "CHANNEL_OUTGOING": ("switch_core_session.c", "switch_core_session_outgoing_channel", "768"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3507"),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", "3562"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2409"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1879"),
    "CHANNEL_HOLD": ("switch_channel.c", "switch_channel_perform_mark_hold", "1234"),
    "CHANNEL_UNHOLD": ("switch_channel.c", "switch_channel_perform_mark_hold", "1234"),
    "CHANNEL_UUID": ("switch_core_session.c", "switch_core_session_set_uuid", "2123"),
    "CODEC": ("switch_core_codec.c", "switch_core_session_set_read_codec", "300"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "678"),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", "95"),
    "MEDIA_BUG_START": ("switch_core_media_bug.c", "switch_core_media_bug_add", "1014"),
    "MEDIA_BUG_STOP": ("switch_core_media_bug.c", "switch_core_media_bug_destroy", "84"),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", "1649"),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", "2023"),
    "PRESENCE_IN": ("switch_channel.c", "switch_channel_perform_presence", "806"),
    "PRIVATE_COMMAND": ("switch_ivr.c", "switch_ivr_parse_next_event", "804"),
    "RECORD_START": ("switch_ivr_play_say.c", "switch_ivr_record_file_event", "770"),
    "RECORD_STOP": ("switch_ivr_play_say.c", "switch_ivr_record_file_event", "1033"),
    "RE_SCHEDULE": ("switch_scheduler.c", "switch_scheduler_execute", "73"),
    "sofia::register": ("sofia_reg.c", "sofia_reg_handle_register_token", "2059"),
    "sofia::unregister": ("sofia_reg.c", "sofia_reg_handle_register_token", "2213"),
    "sofia::expire": ("sofia_reg.c", "sofia_reg_del_callback", "726"),
}
_DEFAULT_CALLING = ("switch_event.c", "switch_event_fire_detailed", "1")
VERSION = "1.11.3-dev+git~20260821T141014Z~cc93a683ca~64bit"


class Switch:
    """Process-wide state of one simulated FreeSWITCH."""

    def __init__(self, password: str = "ClueCon", time_scale: float = 1.0, hostname: str = "sim") -> None:
        self.password = password
        self.time_scale = time_scale
        self.hostname = hostname
        self.core_uuid = str(uuidlib.uuid4())
        self.sequence = 0
        self.started = time.time()
        self.listeners: set[Listener] = set()            # every live ESL connection
        self.global_listeners: set[Listener] = set()     # not bound to one channel: see every event
        self.bound: dict[str, set[Listener]] = {}        # myevents/outbound listeners by channel uuid
        self.channels: dict[str, Channel] = {}
        self.command_log: list[str] = []
        self.sessions_since_startup = 0
        self.heartbeats = 0
        self.peak_sessions = 0
        self._date_cache: tuple[int, str, str] = (0, "", "")
        self.on_channel_destroy: list[Callable[[Channel], None]] = []
        self._outbox: deque[tuple[float, Event]] = deque()  # events waiting out the delivery latency
        self._deliverer: gevent.Greenlet | None = None

    # -- time ---------------------------------------------------------------------------------
    def scaled(self, seconds: float) -> float:
        return max(0.0, seconds * self.time_scale)

    def sleep(self, seconds: float) -> None:
        """Sleep a simulated duration (real seconds multiplied by time_scale)."""
        gevent.sleep(self.scaled(seconds))

    # -- events -------------------------------------------------------------------------------
    def prelude(self, name: str, subclass: str = "") -> list[tuple[str, str]]:
        """The headers every event starts with (§4.2), with a fresh Event-Sequence."""
        self.sequence += 1
        now = time.time()
        sec = int(now)
        if self._date_cache[0] != sec:
            self._date_cache = (sec, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sec)),
                                time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(sec)))
        calling = CALLING.get(subclass or name, _DEFAULT_CALLING)
        headers = [("Event-Name", name)]
        if subclass:
            headers.insert(0, ("Event-Subclass", subclass))
        headers += [
            ("Core-UUID", self.core_uuid), ("FreeSWITCH-Hostname", self.hostname),
            ("FreeSWITCH-Switchname", self.hostname), ("FreeSWITCH-IPv4", "127.0.0.1"),
            ("FreeSWITCH-IPv6", "::1"), ("Event-Date-Local", self._date_cache[1]),
            ("Event-Date-GMT", self._date_cache[2]), ("Event-Date-Timestamp", str(int(now * 1e6))),
            ("Event-Calling-File", calling[0]), ("Event-Calling-Function", calling[1]),
            ("Event-Calling-Line-Number", calling[2]), ("Event-Sequence", str(self.sequence)),
        ]
        return headers

    def fire(self, event: Event) -> None:
        """Deliver an event to every listener whose subscription and filters accept it.

        Listeners bound to a channel (myevents) are indexed by uuid, so fan-out stays O(interested). With a
        latency model (`engine.sim.endpoints.Latency.event_delivery`) events reach the sockets that much
        later, in the order they were fired, as through FreeSWITCH's event thread.
        """
        faults = getattr(self, "faults", None)
        if faults is not None and faults.drops(event):
            return
        latency = getattr(self, "latency", None)
        if latency is not None and latency.event_delivery > 0:
            self._outbox.append((time.monotonic() + latency.event_delivery, event))
            if self._deliverer is None or self._deliverer.dead:
                self._deliverer = gevent.spawn(self._deliver_later)
            return
        self._fan_out(event)

    def _deliver_later(self) -> None:
        while self._outbox:
            due, event = self._outbox[0]
            wait = due - time.monotonic()
            if wait > 0:
                gevent.sleep(wait)
            self._outbox.popleft()
            self._fan_out(event)

    def _fan_out(self, event: Event) -> None:
        for listener in tuple(self.global_listeners):
            listener.offer(event)
        if event.uuid:
            bound = self.bound.get(event.uuid)
            if bound:
                for listener in tuple(bound):
                    listener.offer(event)

    def wants(self, name: str, uuid: str) -> bool:
        """Could any listener take an event `name` of channel `uuid`? (skip building it otherwise)"""
        for listener in self.global_listeners:
            if name in listener.names or listener.all_custom:
                return True
        bound = self.bound.get(uuid)
        if bound:
            for listener in bound:
                if name in listener.names or listener.all_custom:
                    return True
        return False

    def add_listener(self, listener: Listener) -> None:
        """A new connection; it joins the fan-out once it subscribes to something (`subscribed`)."""
        self.listeners.add(listener)

    def subscribed(self, listener: Listener) -> None:
        if not listener.myevents and listener in self.listeners:
            self.global_listeners.add(listener)

    def bind_listener(self, listener: Listener, uuid: str) -> None:
        """From now on the listener only sees events of channel `uuid` (myevents)."""
        self.global_listeners.discard(listener)
        self.bound.setdefault(uuid, set()).add(listener)

    def remove_listener(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        self.global_listeners.discard(listener)
        if listener.session is not None:
            bound = self.bound.get(listener.session.uuid)
            if bound is not None:
                bound.discard(listener)
                if not bound:
                    del self.bound[listener.session.uuid]

    def fire_simple(self, name: str, headers: list[tuple[str, str]], body: str = "", subclass: str = "") -> Event:
        ev = Event(name, self.prelude(name, subclass) + headers, body, subclass)
        self.fire(ev)
        return ev

    def fire_api_event(self, command: str, arg: str) -> None:
        self.fire_simple("API", [("API-Command", command), ("API-Command-Argument", arg)])

    def log(self, level: int, file: str, func: str, line: int, text: str, channel_uuid: str = "") -> None:
        """Send a log line as log/data to the listeners that asked for `log <level>` (11-log-stream)."""
        from engine.sim import wire
        names = {0: "CONSOLE", 1: "ALERT", 2: "CRIT", 3: "ERR", 4: "WARNING", 5: "NOTICE", 6: "INFO", 7: "DEBUG"}
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + ".%06d" % int((now % 1) * 1e6)
        body = "%s 99.00%% [%s] %s:%d %s\n" % (stamp, names.get(level, "DEBUG"), file, line, text)
        frame = wire.log_data(body, level, channel_uuid, file, func, line)
        targets = [lst for lst in self.listeners if lst.log_level is not None and level <= lst.log_level]
        # FreeSWITCH hands log lines to listeners from its logger thread, ~20 ms later (capture 11)
        gevent.spawn_later(0.02, lambda: [lst.queue_frame(frame) for lst in targets])

    def heartbeat_event(self) -> Event:
        up = time.time() - self.started
        ms = int(up * 1000)
        secs, msec = divmod(ms, 1000)
        mins, s = divmod(secs, 60)
        hrs, m = divmod(mins, 60)
        days, h = divmod(hrs, 24)
        live = len(self.channels)
        return Event("HEARTBEAT", self.prelude("HEARTBEAT") + [
            ("Event-Info", "System Ready"),
            ("Up-Time", "0 years, %d days, %d hours, %d minutes, %d seconds, %d milliseconds, 0 microseconds"
             % (days, h, m, s, msec)),
            ("FreeSWITCH-Version", VERSION), ("Uptime-msec", str(ms)), ("Session-Count", str(live)),
            ("Max-Sessions", "10000"), ("Session-Per-Sec", "1000"), ("Session-Per-Sec-Last", "0"),
            ("Session-Per-Sec-Max", "0"), ("Session-Per-Sec-FiveMin", "0"),
            ("Session-Since-Startup", str(self.sessions_since_startup)),
            ("Session-Peak-Max", str(self.peak_sessions)), ("Session-Peak-FiveMin", str(self.peak_sessions)),
            ("Idle-CPU", "99.000000")])

    def status_text(self) -> str:
        up = int(time.time() - self.started)
        mins, s = divmod(up, 60)
        hrs, m = divmod(mins, 60)
        days, h = divmod(hrs, 24)
        live = len(self.channels)
        return ("UP 0 years, %d days, %d hours, %d minutes, %d seconds, 0 milliseconds, 0 microseconds\n"
                "FreeSWITCH (Version 1.11.3-dev git cc93a68 2026-08-21 14:10:14Z 64bit) is ready\n"
                "%d session(s) since startup\n"
                "%d session(s) - peak %d, last 5min %d \n"
                "0 session(s) per Sec out of max 1000, peak 0, last 5min 0 \n"
                "10000 session(s) max\nmin idle cpu 0.00/99.00\nCurrent Stack Size/Max 240K/8192K\n"
                % (days, h, m, s, self.sessions_since_startup, live, self.peak_sessions, self.peak_sessions))

    # -- channels -----------------------------------------------------------------------------
    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.uuid] = channel
        self.sessions_since_startup += 1
        self.peak_sessions = max(self.peak_sessions, len(self.channels))

    def remove_channel(self, channel: Channel) -> None:
        self.channels.pop(channel.uuid, None)
        for cb in tuple(self.on_channel_destroy):
            cb(channel)
