"""Bridging two legs: the `bridge` app (§5.3), `uuid_bridge`, and the wait loop while bridged."""
from __future__ import annotations

import logging
import time
import uuid as uuidlib
from typing import TYPE_CHECKING

import gevent
from gevent.event import Event as GEvent

from engine.sim.causes import CAUSES
from engine.sim.channel import usec

if TYPE_CHECKING:
    from engine.sim.channel import Channel

log = logging.getLogger(__name__)
_DIALSTATUS = {"USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER", "NO_USER_RESPONSE": "NOANSWER",
               "ORIGINATOR_CANCEL": "CANCEL", "INVALID_NUMBER_FORMAT": "INVALIDARGS"}
_CONTINUE_ALWAYS = ("NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL")


def _cause_in(cause: str, spec: str) -> bool:
    for item in spec.split(","):
        item = item.strip()
        if item.upper() == cause or (item.isdigit() and CAUSES.get(cause) == int(item)):
            return True
    return False


def link(a: Channel, b: Channel, keep_profiles: bool = False) -> None:
    """CHANNEL_BRIDGE on A, CS_EXCHANGE_MEDIA on B, CALL_UPDATE on both."""
    a.bridged_to, b.bridged_to = b, a
    if not keep_profiles:
        a.other_type, a.other_profile = "originatee", b.profile.snapshot()
        if b.other_profile is None:
            b.other_type, b.other_profile = "originator", a.profile.snapshot()
    now = usec()
    a.bridged_at = b.bridged_at = time.monotonic()
    a.profile.set_time("Channel-Bridged-Time", now)
    b.profile.set_time("Channel-Bridged-Time", now)
    a.set_var("bridge_uuid", b.uuid)
    b.set_var("bridge_uuid", a.uuid)
    a.set_var("signal_bond", b.uuid)
    b.set_var("signal_bond", a.uuid)
    a.touch()
    b.touch()
    a.fire("CHANNEL_BRIDGE", [("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])
    b.set_state("CS_EXCHANGE_MEDIA")
    for me, peer in ((b, a), (a, b)):
        me.fire("CALL_UPDATE", before=[("Direction", "SEND"), ("Sent-Callee-ID-Name", peer.profile.caller_id_name),
                                       ("Sent-Callee-ID-Number", peer.profile.caller_id_number),
                                       ("Bridged-To", peer.uuid)])
    a.poke()
    b.poke()


def hold_bridge(ch: Channel) -> None:
    """Stay in the bridge loop (consuming DTMF) until this leg or its partner hangs up or it is unbridged."""
    while (ch.up and ch.bridged_to is not None and ch.bridged_to.up and ch.uuid_bridge_to is None
           and ch.pending_transfer is None):
        if ch.dtmf:
            ch.take_dtmf()
            continue
        if ch.private:
            from engine.sim.session import process_messages
            process_messages(ch)
            continue
        ch.wait(None)


def unlink(a: Channel, b: Channel) -> None:
    """End a bridge: the peer's cause lands on the survivor; CHANNEL_UNBRIDGE on A."""
    gone, other = (b, a) if not b.up else (a, b)
    other.set_var("last_bridge_hangup_cause", gone.hangup_cause or "NORMAL_CLEARING")
    gone.set_var("last_bridge_role", "originatee" if gone is b else "originator")
    a.fire("CHANNEL_UNBRIDGE", [("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])
    a.bridged_to = None
    b.bridged_to = None
    a.poke()
    b.poke()


def bridge_app(a: Channel, dial: str) -> None:
    sw = a.switch
    for key in ("originate_disposition", "DIALSTATUS", "originate_failed_cause"):
        a.set_var(key, None)
    leg, cause = sw.originator.originate(dial, 60.0, a_leg=a)
    if leg is None:
        a.set_var("originate_failed_cause", cause)
        a.set_var("originate_disposition", cause)
        a.set_var("DIALSTATUS", _DIALSTATUS.get(cause, cause))
        cof = a.get_var("continue_on_fail")
        failure_causes = a.get_var("failure_causes")
        keep = cause in _CONTINUE_ALWAYS
        if cof == "true" or (cof and cof != "false" and _cause_in(cause, cof)):
            keep = True
        if failure_causes:
            keep = not _cause_in(cause, failure_causes)
        if not keep and a.up:
            a.hangup(cause)
        return
    a.set_var("originate_disposition", "SUCCESS")
    a.set_var("DIALSTATUS", "SUCCESS")
    if not a.up:
        leg.hangup("ORIGINATOR_CANCEL")
        gevent.spawn(_leg_tail, leg)
        return
    a.profile.callee_id_name = leg.profile.callee_id_name
    a.profile.callee_id_number = leg.profile.callee_id_number
    a.touch()
    if not a.answered:
        a.answer()
    leg.other_profile = a.profile.snapshot()
    leg.touch()
    leg.fire("CHANNEL_OUTGOING")
    leg.greenlet = gevent.spawn(_leg_tail, leg)
    link(a, leg)
    hold_bridge(a)
    if a.up is False and leg.up:
        leg.hangup("NORMAL_CLEARING")
    unlink(a, leg)
    if not a.up or a.uuid_bridge_to is not None or a.pending_transfer is not None:
        return
    if a.get_var("hangup_after_bridge") in ("true", "explicit"):
        a.hangup(leg.hangup_cause or "NORMAL_CLEARING")
    elif a.get_var("park_after_bridge") == "true":
        a.pending_transfer = ("park", "inline", "park:")
    elif a.get_var("transfer_after_bridge"):
        bits = a.get_var("transfer_after_bridge").split(":")
        a.pending_transfer = (bits[0], bits[1] if len(bits) > 1 else "XML",
                              bits[2] if len(bits) > 2 else a.profile.context)


def _leg_tail(leg: Channel) -> None:
    """B-leg thread: wait out the bridge, then hang up with the A-leg's end and run its tail."""
    hold_bridge(leg)
    if leg.up:
        leg.hangup("NORMAL_CLEARING")
    leg.hangup_tail()


class UuidBridge:
    """One uuid_bridge request: both legs rendezvous after their current apps were interrupted."""

    def __init__(self, a: Channel, b: Channel) -> None:
        self.a, self.b = a, b
        self.ready = {a.uuid: GEvent(), b.uuid: GEvent()}
        self.linked = GEvent()


def do_uuid_bridge(ch: Channel) -> bool:
    """Run this leg's half of a uuid_bridge (capture 06b); returns True when the leg should park afterwards.

    The bridge ends when a leg hangs up (the other follows unless it has park_after_bridge=true) or when a
    leg is uuid_bridged elsewhere (the one left behind parks with park_after_bridge=true, else hangs up).
    """
    job: UuidBridge | None = ch.uuid_bridge_to
    ch.uuid_bridge_to = None
    if job is None:
        return False
    is_a = job.a is ch
    peer = job.b if is_a else job.a
    ch.set_state("CS_HIBERNATE")
    ch.set_state("CS_RESET")
    job.ready[ch.uuid].set()
    if is_a:
        job.ready[peer.uuid].wait(5.0)
        ch.set_state("CS_SOFT_EXECUTE")
        peer.set_state("CS_SOFT_EXECUTE")
        ch.fire("CHANNEL_EXECUTE", [("Application", "uuid_bridge"), ("Application-Data", peer.uuid),
                                    ("Application-UUID", str(uuidlib.uuid4()))])
        peer.fire("CHANNEL_EXECUTE", [("Application", "uuid_bridge"), ("Application-Data", ch.uuid),
                                      ("Application-UUID", str(uuidlib.uuid4()))])
        if ch.up and peer.up:
            link(ch, peer, keep_profiles=True)
        job.linked.set()
    else:
        job.linked.wait(5.0)
    hold_bridge(ch)
    if ch.bridged_to is peer:
        # this leg ends the bridge: it hung up, saw the peer go, or is being bridged elsewhere
        if not ch.up and peer.up and peer.uuid_bridge_to is None and peer.get_var("park_after_bridge") != "true":
            peer.hangup("NORMAL_CLEARING")
        a, b = (ch, peer) if is_a else (peer, ch)
        unlink(a, b)
    if ch.up and ch.uuid_bridge_to is None and ch.pending_transfer is None:
        if ch.get_var("park_after_bridge") == "true":
            return True
        ch.hangup("NORMAL_CLEARING")
    return False


def uuid_bridge_start(a: Channel, b: Channel) -> None:
    """uuid_bridge: link the profiles now, then interrupt both legs; each joins from its own greenlet."""
    a.other_type, a.other_profile = "originatee", b.profile.snapshot()
    b.other_type, b.other_profile = "originator", a.profile.snapshot()
    now = int(time.time())
    a.profile.transfer_source = "%d:%s:uuid_br:%s" % (now, uuidlib.uuid4(), b.uuid)
    b.profile.transfer_source = "%d:%s:uuid_br:%s" % (now, uuidlib.uuid4(), a.uuid)
    a.touch()
    b.touch()
    job = UuidBridge(a, b)
    for ch in (b, a):
        ch.target("CS_HIBERNATE")
        ch.uuid_bridge_to = job
        ch.break_park = True
        ch.interrupt_media()  # a caller on hold music joins once the music has stopped
