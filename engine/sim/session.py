"""A channel's own thread: routing, running the extension's apps, parking, queued sendmsg commands, hangup."""
from __future__ import annotations

import logging
import time
import uuid as uuidlib
from typing import TYPE_CHECKING

import gevent

from engine.sim.apps import execute
from engine.sim.causes import str2cause
from engine.sim.channel import usec

if TYPE_CHECKING:
    from engine.sim.channel import Channel

log = logging.getLogger(__name__)


def process_messages(ch: Channel) -> None:
    """Run queued sendmsg commands (switch_ivr_parse_all_events), each followed by PRIVATE_COMMAND."""
    while ch.private and ch.up:
        cmd = ch.private.popleft()
        kind = cmd.header("call-command").strip()
        if kind == "execute":
            name = cmd.header("execute-app-name").strip()
            arg = cmd.header("execute-app-arg")
            if not arg and cmd.body and "text/plain" in cmd.header("content-type").lower():
                arg = cmd.body.decode("utf-8", "replace")
            loops = cmd.header("loops", "1").strip()
            count = int(loops) if loops.lstrip("-").isdigit() else 1
            i = 0
            outer, ch.current_locked = ch.current_locked, cmd.header("event-lock").lower() == "true"
            while ch.up and (count < 0 or i < count):
                if count != 1:
                    ch.set_var("current_loop", str(i + 1))
                    ch.set_var("total_loops", str(count))
                execute(ch, name, arg, cmd.header("Event-UUID") or None, cmd.header("Event-UUID-Name"))
                i += 1
                if ch.pending_transfer or ch.bridged_to is not None:
                    break
            ch.current_locked = outer
        elif kind == "hangup":
            ch.hangup(str2cause(cmd.header("hangup-cause", "NORMAL_CLEARING")))
        elif kind == "xferext":
            apps = [a.split(" ", 1) for a in [cmd.header("application")] if a]
            ch.pending_transfer = ("__xferext__", "inline", ",".join(
                "%s:%s" % (a[0], a[1] if len(a) > 1 else "") for a in apps))
        done = getattr(cmd, "done", None)
        if done is not None:
            done.set()
        ch.messages_processed += 1
        # captured: on a socket-controlled channel the first message is dequeued before park and fires
        # no PRIVATE_COMMAND (05a); messages to a parked channel all fire one (08, 12)
        if ch.messages_processed > 1 or not ch.controlled:
            block = cmd.line + "\n" + "".join("%s: %s\n" % kv for kv in cmd.headers.items()) + "\n"
            ch.fire("PRIVATE_COMMAND", [("Command", block)] + [(k, v) for k, v in cmd.headers.items()])


def park_loop(ch: Channel, until=None) -> None:
    """switch_ivr_park: CHANNEL_PARK, serve queued commands and DTMF until hangup/transfer/bridge, UNPARK."""
    ch.fire("CHANNEL_PARK")
    while ch.up and ch.pending_transfer is None and ch.bridged_to is None:
        if until is not None and until():
            break
        if ch.break_park:
            if not ch.controlled:
                break
            ch.break_park = False
            ch.break_pending = False
            if ch.uuid_bridge_to is not None:
                from engine.sim.bridge import do_uuid_bridge
                do_uuid_bridge(ch)          # a socket-controlled leg stays parked afterwards
            continue
        if ch.private:
            process_messages(ch)
            continue
        if ch.dtmf:
            ch.take_dtmf()
            continue
        ch.wait(None)
    ch.break_park = False
    ch.fire("CHANNEL_UNPARK")


def run_apps(ch: Channel, apps: list[tuple[str, str]]) -> None:
    """Execute an extension, following transfers; hang up after the last app; then the hangup tail."""
    i = 0
    while ch.up:
        if ch.pending_transfer is not None:
            exten, dp, ctx = ch.pending_transfer
            ch.pending_transfer = None
            apps = transfer_apps(ch, exten, dp, ctx)
            i = 0
            continue
        if i >= len(apps):
            if ch.private:
                process_messages(ch)
                continue
            ch.hangup("NORMAL_CLEARING")
            break
        name, arg = apps[i]
        i += 1
        execute(ch, name, arg)
        ch.break_pending = False
        while ch.up and ch.uuid_bridge_to is not None:
            from engine.sim.bridge import do_uuid_bridge
            ch.break_park = False
            if do_uuid_bridge(ch) and ch.uuid_bridge_to is None:
                park_loop(ch)               # park_after_bridge=true: wait for the next bridge or transfer
    ch.hangup_tail()


def transfer_apps(ch: Channel, exten: str, dp: str, ctx: str) -> list[tuple[str, str]]:
    """Go back to CS_ROUTING with a new destination and return the apps of the new extension."""
    if exten != "__xferext__":
        ch.profile.rdnis = ch.profile.destination_number
        ch.profile.transfer_source = "%d:%s:bl_xfer:%s/%s/%s" % (
            int(time.time()), uuidlib.uuid4(), exten, ctx, dp)
    ch.profile.destination_number = exten if exten != "__xferext__" else ch.profile.destination_number
    ch.profile.context = ctx if exten != "__xferext__" else ch.profile.context
    ch.profile.set_time("Channel-Transfer-Time", usec())
    ch.touch()
    if ch.direction == "inbound":
        # inbound legs: routing means RINGING again, then back to the real call state (capture 12)
        restore = ch.callstate
        ch.state = "CS_ROUTING"
        ch.touch()
        ch.set_callstate("RINGING")
        ch.set_state("CS_ROUTING")
        ch.target("CS_EXECUTE")
        ch.presence()
        if restore not in ("RINGING", "DOWN"):
            ch.state = "CS_EXECUTE"
            ch.touch()
            ch.set_callstate(restore)
    else:
        ch.set_state("CS_ROUTING")
        ch.target("CS_EXECUTE")
    ch.set_state("CS_EXECUTE")
    if dp == "inline":
        out = []
        for item in ctx.split(","):
            name, _, arg = item.partition(":")
            if name:
                out.append((name, arg))
        return out
    return ch.switch.dialplan.lookup(exten, ch)


def start_inbound(ch: Channel, apps: list[tuple[str, str]]) -> None:
    """An inbound call arrives: CS_NEW .. CS_EXECUTE (capture 03), then its extension runs in a greenlet."""
    sw = ch.switch
    sw.add_channel(ch)
    ch.set_state("CS_NEW", with_profile=False)
    ch.set_state("CS_INIT")
    ch.target("CS_ROUTING")
    ch.fire("CHANNEL_CREATE")
    ch.state = "CS_ROUTING"
    ch.touch()
    ch.set_callstate("RINGING")
    ch.set_state("CS_ROUTING")
    ch.target("CS_EXECUTE")
    ch.presence()
    ch.set_state("CS_EXECUTE")
    run_apps(ch, apps)


def spawn_inbound(ch: Channel, apps: list[tuple[str, str]]) -> gevent.Greenlet:
    ch.greenlet = gevent.spawn(start_inbound, ch, apps)
    return ch.greenlet
