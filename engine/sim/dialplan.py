"""The sim's dialplan (DID -> apps) and originate: dial-string parsing and ringing outbound legs (§6)."""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent
from gevent.event import AsyncResult

from engine.sim.channel import Channel
from engine.sim.profile import CallerProfile
from engine.sim.endpoints import OUTCOME_CAUSES

if TYPE_CHECKING:
    from engine.sim.switch import Switch

log = logging.getLogger(__name__)


@dataclass
class Route:
    """An extension: apps to run, optionally ending with a `socket` to the engine."""

    did: str
    socket: str | None = None
    apps: list[tuple[str, str]] = field(default_factory=list)

    def extension(self) -> list[tuple[str, str]]:
        out = list(self.apps)
        if self.socket:
            out.append(("socket", self.socket))
        return out


class Dialplan:
    """DID -> Route lookup (exact match; `*` is a catch-all route when present)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}

    def add(self, route: Route) -> None:
        self.routes[route.did] = route

    def lookup(self, exten: str, ch: Channel | None = None) -> list[tuple[str, str]]:
        route = self.routes.get(exten) or self.routes.get("*")
        if route is None:
            return [("hangup", "NO_ROUTE_DESTINATION")]
        return route.extension()


def _split_vars(block: str) -> dict[str, str]:
    out: dict[str, str] = {}
    delim = ","
    if block.startswith("^^") and len(block) > 2:
        delim, block = block[2], block[3:]
    parts = re.split(r"(?<!\\)" + re.escape(delim), block)
    for p in parts:
        k, sep, v = p.partition("=")
        if sep:
            out[k.strip()] = v.replace("\\" + delim, delim).strip("'")
    return out


def parse_dial_string(dial: str) -> tuple[dict[str, str], list[list[tuple[dict[str, str], str]]]]:
    """`{g=1}[l=2]user/1001,user/1002|sofia/gw/x` -> (global vars, groups of (leg vars, target))."""
    glob: dict[str, str] = {}
    s = dial.strip()
    while s[:1] in ("{", "<"):
        close = "}" if s[0] == "{" else ">"
        end = s.find(close)
        if end < 0:
            break
        glob.update(_split_vars(s[1:end]))
        s = s[end + 1:]
    groups = []
    for group in re.split(r"\|(?![^\[]*\])", s):
        legs = []
        for leg in re.split(r"(?<!\\),(?![^\[]*\])", group):
            leg = leg.strip()
            lv: dict[str, str] = {}
            while leg.startswith("["):
                end = leg.find("]")
                lv.update(_split_vars(leg[1:end]))
                leg = leg[end + 1:]
            if leg:
                legs.append((lv, leg))
        if legs:
            groups.append(legs)
    return glob, groups


def target_number(target: str) -> str:
    """The dialed number in sofia/internal/N@host, sofia/gateway/gw/N, loopback/N, user/N ..."""
    body = target.split("/")[-1]
    return body.split("@")[0]


class Originator:
    """Creates and rings outbound legs; returns the answered one or a failure cause."""

    def __init__(self, switch: Switch) -> None:
        self.switch = switch

    def new_leg(self, target: str, vars_: dict[str, str], a_leg: Channel | None) -> Channel | str:
        sw = self.switch
        directory = sw.directory
        number = target_number(target)
        if target.startswith("error/"):
            return target[6:].upper() or "NORMAL_CLEARING"
        ep = dest = None
        if target.startswith("user/"):
            ep = directory.endpoints.get(number)
            if ep is None:
                return "USER_NOT_REGISTERED"
            if not ep.registered:
                return "USER_NOT_REGISTERED"
            name = "sofia/internal/%s@127.0.0.1:%d" % (number, ep.port)
        else:
            dest = directory.destination(number)
            if dest.outcome == "not_registered":
                return "USER_NOT_REGISTERED"
            name = target
        uuid = vars_.get("origination_uuid")
        if uuid and uuid in sw.channels:
            return "NORMAL_TEMPORARY_FAILURE"
        if a_leg is not None:
            ap = a_leg.profile
            profile = CallerProfile(direction="outbound", logical_direction="outbound", username=ap.username,
                                    dialplan=ap.dialplan, caller_id_name=ap.caller_id_name,
                                    caller_id_number=ap.caller_id_number, orig_caller_id_name=ap.caller_id_name,
                                    orig_caller_id_number=ap.caller_id_number, network_addr=ap.network_addr,
                                    ani=ap.ani, context=ap.context, source=ap.source)
        else:
            profile = CallerProfile(direction="outbound", logical_direction="outbound", dialplan="",
                                    network_addr="", context="default", source="src/switch_ivr_originate.c")
            profile.caller_id_number = profile.orig_caller_id_number = profile.ani = "0000000000"
        if vars_.get("origination_caller_id_name"):
            profile.caller_id_name = profile.orig_caller_id_name = vars_["origination_caller_id_name"]
        if vars_.get("origination_caller_id_number"):
            num = vars_["origination_caller_id_number"]
            profile.caller_id_number = profile.orig_caller_id_number = profile.ani = num
        profile.callee_id_name, profile.callee_id_number = "Outbound Call", number
        profile.destination_number = number
        vars_out = {"is_outbound": "true", "dialed_user": number if ep else "", "originate_endpoint":
                    "user" if ep else "sofia"}
        if a_leg is not None:
            vars_out.update(a_leg.exported)
        vars_out.update({k: v for k, v in vars_.items() if k != "origination_uuid"})
        leg = Channel(sw, name, "outbound", profile, uuid=uuid, variables={k: v for k, v in vars_out.items() if v})
        leg.hit_dialplan = False
        leg.endpoint = ep
        leg.dest = dest  # one directory look-up per leg: a population counts each as one attempt
        if ep:
            leg.presence_id = "%s@127.0.0.1" % number
            leg.set_var("presence_id", leg.presence_id)
            ep.rings += 1
        if a_leg is not None:
            leg.other_type = "originator"
            leg.other_profile = a_leg.profile.snapshot()
            leg.set_var("call_uuid", a_leg.uuid)
        return leg

    def ring(self, leg: Channel, timeout: float, winner: AsyncResult, a_leg: Channel | None) -> None:
        """Drive one leg to answer or failure (runs in its own greenlet)."""
        sw = self.switch
        sw.add_channel(leg)
        leg.state = "CS_NONE"
        leg.state_number = 1
        leg.fire("CHANNEL_OUTGOING")
        leg.set_state("CS_INIT")
        leg.target("CS_ROUTING")
        leg.fire("CHANNEL_CREATE")
        leg.fire("CHANNEL_ORIGINATE")
        leg.set_state("CS_ROUTING")
        leg.target("CS_CONSUME_MEDIA")
        leg.presence()
        leg.set_state("CS_CONSUME_MEDIA")
        ep, dest = leg.endpoint, leg.dest
        start = time.monotonic()
        deadline = start + sw.scaled(timeout)
        cause = None
        answer_after: float | None
        if ep is not None:
            answer_after = ep.answer_after
            if ep.reject_cause:
                cause, answer_after = ep.reject_cause, None
                self._wait(leg, start + sw.scaled(0.1), winner)
        else:
            outcome = dest.outcome
            answer_after = dest.after if outcome in ("answer", "machine") else None
            if outcome in OUTCOME_CAUSES:
                cause = OUTCOME_CAUSES[outcome]
                self._wait(leg, start + sw.scaled(dest.after), winner)
        leg.profile.network_addr = "127.0.0.1"     # the far end answered the INVITE with something
        leg.touch()
        if leg.up and cause is None:
            leg.ring_ready()
            if a_leg is not None and a_leg.up and not (a_leg.answered or a_leg.early or a_leg.ring_indicated):
                a_leg.ring_indicated = True          # the caller hears ringback: CHANNEL_PROGRESS on A (06a)
                a_leg.profile.set_time("Channel-Progress-Time", int(time.time() * 1e6))
                a_leg.touch()
                a_leg.fire("CHANNEL_PROGRESS")
            target = deadline if answer_after is None else min(deadline, start + sw.scaled(answer_after))
            self._wait(leg, target, winner)
            if leg.up and answer_after is not None and time.monotonic() >= start + sw.scaled(answer_after) - 1e-4 \
                    and not winner.ready():
                leg.ok_at = time.monotonic()  # the phone's 200 OK
                latency = getattr(sw, "latency", None)
                if latency is not None and latency.answer_signal > 0:
                    gevent.sleep(latency.answer_signal)
                if leg.up and not winner.ready():
                    self._answer(leg)
                    winner.set(leg)  # the first answer wins at once; the originate itself goes on a while
                    return
                cause = leg.hangup_cause
            if leg.up:
                cause = "NO_ANSWER"
        if leg.up:
            leg.hangup(cause or "NORMAL_CLEARING")
        leg.report()
        gevent.spawn(leg.destroy)

    def _finish_originate(self, leg: Channel, seconds: float) -> None:
        """The originate goes on for a while after the answer; a uuid_bridge of the leg meanwhile cancels it
        (the real switch ends it `-ERR ORIGINATOR_CANCEL` while the leg stays up and bridged)."""
        until = time.monotonic() + seconds
        while leg.up and leg.uuid_bridge_to is None:
            remaining = until - time.monotonic()
            if remaining <= 0:
                return
            leg.wait(remaining)
        if leg.up and leg.uuid_bridge_to is not None:
            leg.bridged_in_originate = True

    def _wait(self, leg: Channel, until: float, winner: AsyncResult) -> None:
        while leg.up and not winner.ready():
            remaining = until - time.monotonic()
            if remaining <= 0:
                return
            leg.wait(remaining)

    def _answer(self, leg: Channel) -> None:
        leg.answer()
        ep, dest = leg.endpoint, leg.dest
        hangup_after = ep.hangup_after if ep is not None else dest.hangup_after
        if dest is not None and dest.outcome == "machine":
            leg.machine = True
            leg.machine_greeting_until = time.monotonic() + self.switch.scaled(dest.machine_greeting)
        if hangup_after is not None:
            def _bye() -> None:
                self.switch.sleep(hangup_after)
                leg.hangup("NORMAL_CLEARING", remote=True)  # the phone sends BYE
            gevent.spawn(_bye)

    def _answered(self, leg: Channel) -> None:
        """The end of a successful originate, after its post-answer work (capture 04f: ~20 ms later)."""
        if leg.endpoint is not None and leg.other_profile is None:
            leg.fire("CHANNEL_OUTGOING")
        if leg.other_profile is None:
            # originate without an A-leg: sofia flips the caller id on answer (switch_channel_flip_cid)
            p = leg.profile
            p.caller_id_name, p.callee_id_name = p.callee_id_name, p.caller_id_name
            p.caller_id_number, p.callee_id_number = p.callee_id_number, p.caller_id_number
            leg.hit_dialplan = True
            leg.touch()
            leg.fire("CALL_UPDATE", before=[("Direction", "RECV")])

    def _bridged_during_originate(self, leg: Channel) -> None:
        """The leg was taken by uuid_bridge before its originate returned: the originate reports a failure,
        the leg lives on in the bridge (and hangs up or parks after it, as any uuid_bridged leg)."""
        kind = leg.get_var("originate_endpoint") or "sofia"
        self.switch.log(3, "switch_ivr_originate.c", "switch_ivr_originate", 2768,
                        "Cannot create outgoing channel of type [%s] cause: [ORIGINATOR_CANCEL]" % kind, leg.uuid)

        def _thread() -> None:
            from engine.sim.bridge import do_uuid_bridge
            from engine.sim.session import park_loop
            while leg.up and leg.uuid_bridge_to is not None:
                leg.break_park = False
                if do_uuid_bridge(leg) and leg.uuid_bridge_to is None:
                    park_loop(leg)
            if leg.up:
                leg.hangup("NORMAL_CLEARING")
            leg.hangup_tail()
        leg.greenlet = gevent.spawn(_thread)

    def originate(self, dial: str, timeout: float = 60.0, a_leg: Channel | None = None,
                  extra: dict[str, str] | None = None) -> tuple[Channel | None, str]:
        """Ring the dial string; (answered leg, "SUCCESS") or (None, cause)."""
        glob, groups = parse_dial_string(dial)
        if extra:
            glob = {**extra, **glob}
        if "originate_timeout" in glob and glob["originate_timeout"].isdigit():
            timeout = float(glob["originate_timeout"])
        if a_leg is not None and a_leg.get_var("call_timeout").isdigit():
            timeout = float(a_leg.get_var("call_timeout"))
        cause = "NO_ROUTE_DESTINATION" if not groups else "NORMAL_CLEARING"
        for group in groups:
            winner: AsyncResult = AsyncResult()
            legs: list[Channel] = []
            for lv, target in group:
                made = self.new_leg(target, {**glob, **lv}, a_leg)
                if isinstance(made, str):
                    cause = made
                else:
                    legs.append(made)
            if not legs:
                continue
            leg_timeout = {leg.uuid: float(lv.get("leg_timeout", timeout)) for leg, (lv, _) in zip(legs, group)}
            threads = [gevent.spawn(self.ring, leg, leg_timeout.get(leg.uuid, timeout), winner, a_leg)
                       for leg in legs]
            watcher = None
            if a_leg is not None:
                def _cancel() -> None:
                    a_leg.hungup.wait()
                    if not winner.ready():
                        for leg in legs:
                            leg.hangup("ORIGINATOR_CANCEL")
                watcher = gevent.spawn(_cancel)
            done = gevent.spawn(lambda: gevent.joinall(threads))
            gevent.wait([winner, done], count=1)
            if watcher is not None:
                watcher.kill(block=False)
            if winner.ready():
                won = winner.get()
                for leg in legs:
                    if leg is not won:
                        leg.hangup("LOSE_RACE")
                latency = getattr(self.switch, "latency", None)
                self._finish_originate(won, latency.originate_return if latency is not None else 0.0)
                if won.bridged_in_originate:
                    self._bridged_during_originate(won)
                    return None, "ORIGINATOR_CANCEL"
                self._answered(won)
                return won, "SUCCESS"
            causes = [leg.hangup_cause for leg in legs]
            cause = causes[-1] if causes else cause
            if a_leg is not None and not a_leg.up:
                return None, "ORIGINATOR_CANCEL"
        return None, cause
