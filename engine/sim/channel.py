"""A simulated channel: running state, call state, caller profile, variables and the events they fire.

How it works: every event of a channel is built from the §4.2 prelude, optional headers placed before the
channel data (CALLSTATE, HANGUP_COMPLETE), the channel data (§4.3, cached and rebuilt only when something
changed), `variable_*` headers only for the event types that carry them, then the event's own headers.
The channel's greenlet runs its applications; other greenlets wake it through `poke()`.
"""
from __future__ import annotations

import time
import uuid as uuidlib
from collections import deque
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import Event as GEvent

from engine.sim.profile import CallerProfile
from engine.sim.wire import Event, Segment, _json_pair, _plain_line

if TYPE_CHECKING:
    from engine.sim.switch import Switch

STATE_NUMBERS = {"CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
                 "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8, "CS_RESET": 9,
                 "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12, "CS_NONE": 13}
CALLSTATE_NUMBERS = {"DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5,
                     "RING_WAIT": 6, "HANGUP": 7, "UNHELD": 8}
VARIABLE_EVENTS = frozenset(
    "CHANNEL_CREATE CHANNEL_ORIGINATE CHANNEL_UUID CHANNEL_ANSWER CHANNEL_PARK CHANNEL_UNPARK CHANNEL_BRIDGE "
    "CHANNEL_UNBRIDGE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE REQUEST_PARAMS "
    "CHANNEL_DATA CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_DESTROY SESSION_HEARTBEAT API RECORD_START "
    "RECORD_STOP PLAYBACK_START PLAYBACK_STOP CALL_UPDATE MEDIA_BUG_START MEDIA_BUG_STOP CHANNEL_HOLD CHANNEL_UNHOLD "
    "TEXT CUSTOM".split())
CODEC_HEADERS = [("Channel-Read-Codec-Name", "PCMU"), ("Channel-Read-Codec-Rate", "8000"),
                 ("Channel-Read-Codec-Bit-Rate", "64000"), ("Channel-Write-Codec-Name", "PCMU"),
                 ("Channel-Write-Codec-Rate", "8000"), ("Channel-Write-Codec-Bit-Rate", "64000")]


def usec() -> int:
    return int(time.time() * 1e6)


class Channel:
    """One call leg inside the simulator."""

    def __init__(self, switch: Switch, name: str, direction: str, profile: CallerProfile,
                 uuid: str | None = None, variables: dict[str, str] | None = None) -> None:
        self.switch = switch
        self.uuid = uuid or str(uuidlib.uuid4())
        self.name = name
        self.direction = direction
        self.state = "CS_NEW"
        self.state_number = 0
        self.callstate = "DOWN"
        self.answered = False
        self.early = False
        self.hit_dialplan = direction == "inbound"
        self.has_codec = False
        self.profile = profile
        profile.unique_id = self.uuid
        profile.channel_name = name
        now = usec()
        profile.set_time("Profile-Created-Time", now)
        profile.set_time("Channel-Created-Time", now)
        self.created = time.time()
        self.presence_id = ""
        self.other_type = ""
        self.other: Channel | None = None
        self.other_profile: CallerProfile | None = None
        self.hangup_cause = ""
        self.variables: dict[str, str] = {}
        self.variables.update({"direction": direction, "uuid": self.uuid, "session_id": "1",
                               "channel_name": name, "call_uuid": self.uuid})
        if variables:
            self.variables.update(variables)
        self.dtmf: deque[tuple[str, int]] = deque()
        self.private: deque[Any] = deque()
        self.break_pending = False
        self._wake = GEvent()
        self.held_by = 0                     # outbound/myevents listeners holding the session
        self._released = GEvent()
        self._released.set()
        self.destroyed = GEvent()
        self.hungup = GEvent()
        self.answered_evt = GEvent()
        self.bridged_to: Channel | None = None
        self.controlled = False
        self.current_app = ""
        self.apps: list[tuple[str, str]] = []
        self.played: list[str] = []
        self.first_prompt_at = 0.0  # epoch time the first playback started, for benchmarks
        self.recordings: dict[str, Any] = {}
        self.extension: list[tuple[str, str]] = []
        self.greenlet: gevent.Greenlet | None = None
        self._data_cache: list[tuple[str, str]] | None = None
        self._vars_cache: list[tuple[str, str]] | None = None
        self._segments: dict[str, Segment] = {}
        self._other_key: tuple[Any, str] = (None, "")
        self._var_json: dict[str, str | None] = {}
        self._var_plain: dict[str, str | None] = {}
        self._dirty_json: set[str] = set()
        self._dirty_plain: set[str] = set()
        self.events: list[str] = []          # names of the events fired, for tests
        self.on_reported: list[Any] = []     # called after CHANNEL_HANGUP_COMPLETE (listener notices)
        self.pending_transfer: tuple[str, str, str] | None = None
        self.exported: dict[str, str] = {}
        self.session_recordings: dict[str, Any] = {}
        self.recording_masks: dict[str, list[tuple[float, float]]] = {}  # path -> masked (from, to) seconds
        self.on_hangup: list[Any] = []
        self.on_cs_hangup: list[Any] = []
        self.break_park = False
        self.messages_processed = 0
        self.ring_indicated = False
        self.current_locked = False          # the running sendmsg had event-lock: true
        self.app_changed = GEvent()
        self.uuid_bridge_to: Any = None           # a pending engine.sim.bridge.UuidBridge
        self.endpoint: Any = None
        self.dest: Any = None
        self.machine_greeting_until = 0.0
        self.machine = False                 # an answering machine: answers, then talks for a while
        self.ok_at = 0.0                     # monotonic time the far end answered (its 200 OK), for benchmarks
        self.bridged_at = 0.0                # monotonic time of its last CHANNEL_BRIDGE, for benchmarks
        self.bridged_in_originate = False    # uuid_bridged while its originate was still running

    # -- data ---------------------------------------------------------------------------------
    @property
    def up(self) -> bool:
        return not self.hungup.is_set()

    def touch(self) -> None:
        self._data_cache = None

    def set_var(self, name: str, value: str | None) -> None:
        if value is None or value == "":
            self.variables.pop(name, None)
        else:
            self.variables[name] = str(value)
        self._vars_cache = None
        if name in self.variables:
            for cache, dirty in ((self._var_json, self._dirty_json), (self._var_plain, self._dirty_plain)):
                if cache:
                    cache[name] = None
                    dirty.add(name)
        else:
            self._var_json.pop(name, None)
            self._var_plain.pop(name, None)

    def get_var(self, name: str, default: str = "") -> str:
        return self.variables.get(name, default)

    def answer_state(self) -> str:
        if self.state_number >= 10 or self.hangup_cause:
            return "hangup"
        if self.answered:
            return "answered"
        if self.early:
            return "early"
        return "ringing"

    def state_headers(self, with_profile: bool = True) -> list[tuple[str, str]]:
        """The first part of §4.3 channel data: states, names, answer state, cause, codecs."""
        if self._data_cache is not None and with_profile:
            return self._data_cache
        out = [("Channel-State", self.state), ("Channel-Call-State", self.callstate),
               ("Channel-State-Number", str(self.state_number)), ("Channel-Name", self.name),
               ("Unique-ID", self.uuid), ("Call-Direction", self.direction),
               ("Presence-Call-Direction", self.direction),
               ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false")]
        if self.presence_id and with_profile:
            out.append(("Channel-Presence-ID", self.presence_id))
        out.append(("Channel-Call-UUID", self.variables.get("call_uuid", self.uuid)))
        out.append(("Answer-State", self.answer_state()))
        if self.hangup_cause:
            out.append(("Hangup-Cause", self.hangup_cause))
        if self.has_codec:
            out += CODEC_HEADERS
        if with_profile:
            self._data_cache = out
        return out

    def profile_segments(self) -> list[Segment]:
        """`Caller-*` and (once linked) `Other-Type` + `Other-Leg-*`, each a cached run of headers."""
        caller = self.profile.headers("Caller")
        seg = self._segments.get("caller")
        if seg is None or seg.headers is not caller:
            seg = self._segments["caller"] = Segment(caller)
        out = [seg]
        if self.other_profile is not None:
            other = self.other_profile.headers("Other-Leg", primary=False)
            key = self._other_key
            oseg = self._segments.get("other")
            if oseg is None or key[0] is not other or key[1] != self.other_type:
                oseg = self._segments["other"] = Segment([("Other-Type", self.other_type)] + other)
                self._other_key = (other, self.other_type)
            out.append(oseg)
        return out

    def channel_data(self, with_profile: bool = True) -> list[tuple[str, str]]:
        """§4.3 channel data without variables."""
        out = list(self.state_headers(with_profile))
        if with_profile:
            for seg in self.profile_segments():
                out += seg.headers
        return out

    def _vars_segment(self) -> Segment:
        variables = self.variable_headers()
        seg = self._segments.get("vars")
        if seg is None or seg.headers is not variables:
            seg = Segment(variables, self._vars_json_items, self._vars_plain_items)
            self._segments["vars"] = seg
        return seg

    def _vars_json_items(self) -> str:
        return self._vars_text(self._var_json, self._dirty_json, _json_pair, ",")

    def _vars_plain_items(self) -> str:
        return self._vars_text(self._var_plain, self._dirty_plain, _plain_line, "")

    def _vars_text(self, cache: dict[str, str | None], dirty: set[str], encode, sep: str) -> str:
        """Serialized variables, re-encoding only the ones set since the last call (same order as the dict)."""
        variables = self.variables
        if len(cache) != len(variables):
            cache.clear()
            for k, v in variables.items():
                cache[k] = encode("variable_" + k, v)
        else:
            for k in dirty:
                if k in variables:
                    cache[k] = encode("variable_" + k, variables[k])
        dirty.clear()
        return sep.join(cache.values())  # type: ignore[arg-type]

    def variable_headers(self) -> list[tuple[str, str]]:
        if self._vars_cache is None:
            self._vars_cache = [("variable_" + k, v) for k, v in self.variables.items()]
        return self._vars_cache

    def build(self, name: str, extra: list[tuple[str, str]] | None = None,
              before: list[tuple[str, str]] | None = None, with_profile: bool = True,
              with_vars: bool | None = None, body: str = "", subclass: str = "") -> Event:
        headers = self.switch.prelude(name, subclass)
        segments: list[tuple[int, Segment]] = []
        if before:
            headers += before
        if with_vars is None:
            with_vars = name in VARIABLE_EVENTS or self.variables.get("verbose_events") == "true"
        headers += self.state_headers(with_profile)
        if with_profile:
            for seg in self.profile_segments():
                segments.append((len(headers), seg))
                headers += seg.headers
        if with_vars:
            vseg = self._vars_segment()
            segments.append((len(headers), vseg))
            headers += vseg.headers
        if extra:
            headers += extra
        return Event(name, headers, body, subclass, self.uuid, segments=segments)

    def fire(self, name: str, extra: list[tuple[str, str]] | None = None, **kw: Any) -> None:
        """Fire a channel event; it is only built when some listener could take it (the sequence still counts)."""
        self.events.append(name)
        if not self.switch.wants(name, self.uuid):
            self.switch.sequence += 1
            return
        self.switch.fire(self.build(name, extra, **kw))

    # -- state machine ------------------------------------------------------------------------
    def set_state(self, state: str, fire: bool = True, with_profile: bool = True) -> None:
        """Enter running state `state` and fire CHANNEL_STATE (`Channel-State-Number` follows it)."""
        self.state = state
        if state != "CS_NONE" and not (self.state_number >= 10 and STATE_NUMBERS[state] < 10):
            self.state_number = STATE_NUMBERS[state]
        self.touch()
        if fire:
            self.fire("CHANNEL_STATE", with_profile=with_profile)

    def target(self, state: str) -> None:
        """The state machine has requested `state`: events fired now already carry its number (§4.3)."""
        self.state_number = STATE_NUMBERS[state]
        self.touch()

    def set_callstate(self, callstate: str) -> None:
        old = self.callstate
        self.callstate = callstate
        self.touch()
        self.fire("CHANNEL_CALLSTATE", before=[("Original-Channel-Call-State", old),
                                              ("Channel-Call-State-Number", str(CALLSTATE_NUMBERS[callstate]))])

    def _api_on(self, prefix: str) -> None:
        """switch_channel_api_on: run every `<prefix>*` variable as an API command (`cmd args`), right after
        the event, in the thread that marked the channel (switch_channel_perform_mark_answered)."""
        from engine.sim.api import run_api
        for name, value in list(self.variables.items()):
            if name.lower().startswith(prefix) and value:
                command, _, arg = value.partition(" ")
                run_api(self.switch, command, arg.strip(), None)

    def presence(self) -> None:
        if not self.presence_id:
            return
        status = {"RINGING": "Ringing", "EARLY": "EARLY", "ACTIVE": "Answered", "HANGUP": "Hangup"}.get(
            self.callstate, "CS_ROUTING")
        self.fire("PRESENCE_IN", [
            ("proto", "sip"), ("login", self.presence_id.split("@")[0]), ("from", self.presence_id),
            ("rpid", "unknown"), ("status", status), ("event_type", "presence"), ("alt_event_type", "dialog"),
            ("presence-call-info-state", self.callstate.lower()), ("presence-call-direction", self.direction),
            ("event_count", "1"), ("Presence-Calling-File", "switch_channel.c"),
            ("Presence-Calling-Function", "switch_channel_set_callstate"), ("Presence-Calling-Line", "303")])

    def codec(self) -> None:
        if self.has_codec:
            return
        self.has_codec = True
        self.touch()
        self.set_var("read_codec", "PCMU")
        self.set_var("read_rate", "8000")
        self.set_var("write_codec", "PCMU")
        self.set_var("write_rate", "8000")
        self.fire("CODEC", [("channel-read-codec-name", "PCMU"), ("channel-read-codec-rate", "8000"),
                            ("channel-read-codec-bit-rate", "64000")])
        self.fire("CODEC", [("Channel-Write-Codec-Name", "PCMU"), ("Channel-Write-Codec-Rate", "8000"),
                            ("Channel-Write-codec-bit-rate", "64000")])

    def ring_ready(self) -> None:
        if self.callstate in ("RINGING", "EARLY", "ACTIVE") and self.direction == "inbound" and self.early:
            return
        self.profile.set_time("Channel-Progress-Time", usec())
        self.touch()
        self.fire("CHANNEL_PROGRESS")
        if self.callstate != "RINGING":
            self.set_callstate("RINGING")

    def pre_answer(self) -> None:
        if self.early or self.answered:
            return
        self.codec()
        self.early = True
        self.profile.set_time("Channel-Progress-Media-Time", usec())
        self.set_var("endpoint_disposition", "EARLY MEDIA")
        self.touch()
        self.fire("CHANNEL_PROGRESS_MEDIA")
        self.set_callstate("EARLY")

    def answer(self) -> bool:
        if not self.up:
            return False
        if self.answered:
            return True
        if self.direction == "inbound":
            self.pre_answer()
        else:
            self.codec()
        self.answered = True
        self.answered_evt.set()
        self.profile.set_time("Channel-Answered-Time", usec())
        self.set_var("endpoint_disposition", "ANSWER")
        self.set_var("answer_epoch", str(int(time.time())))
        self.touch()
        self.fire("CHANNEL_ANSWER")
        self._api_on("api_on_answer")
        self.presence()
        self.set_callstate("ACTIVE")
        self.poke()
        return True

    def hangup(self, cause: str = "NORMAL_CLEARING", *, remote: bool = False) -> bool:
        """Mark the channel hung up and fire CHANNEL_HANGUP; the channel greenlet runs the tail.

        `remote`: the far end ended the call (a BYE, or a CANCEL before answer): sofia sets the SIP
        variables before CHANNEL_HANGUP, and `sip_hangup_disposition` right after it (captures 05b, 05c).
        """
        if not self.up:
            return False
        from engine.sim.causes import q850
        if remote and self.answered:  # sofia_handle_sip_i_bye
            self.set_var("sip_term_status", "200")
            self.set_var("proto_specific_hangup_cause", "sip:200")
            self.set_var("sip_term_cause", str(q850(cause)))
        elif remote:  # nua_i_cancel
            self.set_var("sip_hangup_disposition", "recv_cancel")
            self.set_var("sip_invite_failure_status", "487")
            self.set_var("sip_invite_failure_phrase", "CANCEL")
        self.hangup_cause = cause
        self.state_number = STATE_NUMBERS["CS_HANGUP"]
        self.profile.set_time("Channel-Hangup-Time", usec())
        self.touch()
        self.fire("CHANNEL_HANGUP")
        if remote and self.answered:
            self.set_var("sip_hangup_disposition", "recv_bye")
        self.hungup.set()
        if self.bridged_to is not None:
            self.bridged_to.poke()
        for cb in tuple(self.on_hangup):
            cb()
        self.poke()
        return True

    def hangup_tail(self) -> None:
        """CS_HANGUP .. CS_REPORTING .. HANGUP_COMPLETE, then DESTROY once no listener holds the session."""
        self.report()
        self.destroy()

    def report(self) -> None:
        """CS_HANGUP, callstate HANGUP, CS_REPORTING, CHANNEL_HANGUP_COMPLETE; then tell the listeners."""
        from engine.sim.causes import q850
        # switch_core_session_hangup_state: the cause variables exist from CS_HANGUP on, not on CHANNEL_HANGUP
        self.set_var("hangup_cause", self.hangup_cause)
        self.set_var("hangup_cause_q850", str(q850(self.hangup_cause)))
        if self.answered and "sip_hangup_disposition" not in self.variables:
            self.set_var("sip_hangup_disposition", "send_bye")  # sofia_on_hangup: we ended an answered call
        self.set_state("CS_HANGUP")
        for cb in tuple(self.on_cs_hangup):
            cb()
        self.set_callstate("HANGUP")
        self.target("CS_REPORTING")
        self.presence()
        now = time.time()
        answered_at = self.profile.times.get("Channel-Answered-Time", 0) / 1e6
        self.set_var("end_epoch", str(int(now)))
        self.set_var("start_epoch", str(int(self.created)))
        self.set_var("duration", str(int(now - self.created)))
        self.set_var("billsec", str(int(now - answered_at)) if answered_at else "0")
        self.set_var("billmsec", str(int((now - answered_at) * 1000)) if answered_at else "0")
        self.set_state("CS_REPORTING")
        self.fire("CHANNEL_HANGUP_COMPLETE", before=[("Hangup-Cause", self.hangup_cause)])
        for cb in tuple(self.on_reported):
            cb()

    def destroy(self) -> None:
        """CHANNEL_DESTROY and CS_DESTROY once no outbound/myevents listener holds the session."""
        self._released.wait()
        self.target("CS_DESTROY")
        self.fire("CHANNEL_DESTROY")
        self.set_state("CS_DESTROY")
        self.switch.remove_channel(self)
        self.destroyed.set()

    def hold_session(self) -> None:
        self.held_by += 1
        self._released.clear()

    def release_session(self) -> None:
        self.held_by = max(0, self.held_by - 1)
        if self.held_by == 0:
            self._released.set()

    def interrupt_media(self) -> None:
        """uuid_break / uuid_bridge: a playing app stops after the host's media-break latency; park at once."""
        latency = getattr(self.switch, "latency", None)
        delay = latency.media_break if latency is not None and self.current_app not in ("", "park") else 0.0
        if delay > 0:
            gevent.spawn_later(delay, self._break_now)
        else:
            self._break_now()

    def _break_now(self) -> None:
        if self.current_app and self.current_app != "park":
            self.break_pending = True
        self.poke()

    # -- waking and waiting -------------------------------------------------------------------
    def poke(self) -> None:
        """Wake the channel's greenlet: a digit, a hangup, a break or a queued command arrived."""
        self._wake.set()

    def wait(self, timeout: float | None) -> None:
        """Wait up to timeout real seconds for any poke (DTMF, hangup, break, message)."""
        if self._wake.is_set():
            self._wake.clear()
            return
        self._wake.wait(timeout)
        self._wake.clear()

    def queue_dtmf(self, digits: str, duration: int = 2000) -> None:
        for d in digits:
            self.dtmf.append((d, duration))
        self.poke()

    def take_dtmf(self) -> str | None:
        """Dequeue one digit and fire its DTMF event (as switch_channel_dequeue_dtmf does)."""
        if not self.dtmf:
            return None
        digit, duration = self.dtmf.popleft()
        self.fire("DTMF", [("DTMF-Digit", digit), ("DTMF-Duration", str(duration)), ("DTMF-Source", "RTP")])
        return digit
