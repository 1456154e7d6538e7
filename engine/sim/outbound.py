"""The `socket` dialplan app: connect out to the engine's outbound server and hand it the channel (§3)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import gevent
from gevent import socket

from engine.sim.listener import Listener
from engine.sim.session import park_loop, process_messages
from engine.sim.wire import disconnect_notice

if TYPE_CHECKING:
    from engine.sim.channel import Channel

log = logging.getLogger(__name__)
FIRST_COMMAND_TIMEOUT = 25.0


_RESOLVED: dict[str, str] = {}


def _resolve(host: str) -> str:
    """Resolve once per host name (the threadpool resolver is costly with thousands of calls)."""
    ip = _RESOLVED.get(host)
    if ip is None:
        ip = _RESOLVED[host] = socket.gethostbyname(host)
    return ip


def parse_socket_arg(arg: str) -> tuple[list[tuple[str, int]], bool, bool]:
    words = arg.split()
    hosts = []
    for item in (words[0] if words else "").split("|"):
        item = item.split("/")[0]
        host, _, port = item.partition(":")
        if host:
            hosts.append((host, int(port) if port else 8084))
    return hosts, "async" in words[1:], "full" in words[1:]


def socket_app(ch: Channel, arg: str) -> None:
    hosts, async_mode, full = parse_socket_arg(arg)
    sock = None
    for host, port in hosts:
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(5)
            sock.connect((_resolve(host), port))
            sock.settimeout(None)
            ch.set_var("socket_host", host)
            break
        except OSError as exc:
            log.info("sim %s: socket to %s:%s failed: %s", ch.uuid, host, port, exc)
    if sock is None:
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lst = Listener(ch.switch, sock, outbound_session=ch, async_mode=async_mode, full=full)
    ch.controlled = True
    ch.hold_session()
    closed = lst.closed

    def _reported() -> None:
        from engine.sim.commands import session_reported
        session_reported(lst)
    ch.on_reported.append(_reported)
    lst.on_close.append(ch.release_session)
    lst.on_close.append(ch.poke)
    gevent.spawn(lst.run)
    if not lst.connected.wait(ch.switch.scaled(FIRST_COMMAND_TIMEOUT) or FIRST_COMMAND_TIMEOUT):
        lst.send(disconnect_notice(ch.uuid))
        lst.close_after_flush()
        ch.controlled = False
        return
    # FreeSWITCH parks right after the connect reply; a client that sends its next command at once
    # (myevents) usually sees CHANNEL_PARK (05b, 05c). Wait briefly for that command to keep this stable.
    lst.settled.wait(0.05)
    if not async_mode:
        # static mode: the listener runs the channel; commands execute as they arrive
        while ch.up and not closed.is_set():
            if ch.private:
                process_messages(ch)
                continue
            ch.wait(None)
    else:
        park_loop(ch, until=closed.is_set)
        # A transfer ends the park and the socket app returns, but the listener stays bound to the
        # session (events keep flowing) until the channel ends or the client closes (socket_function).
    # mod_event_socket: the `resume` command or the channel variable socket_resume=true (switch_true) make the
    # dialplan go on after the socket app when the client goes away; otherwise the channel is hung up.
    resume = lst.resume or ch.get_var("socket_resume").lower() in ("true", "yes", "on", "1", "enabled", "active",
                                                                  "allow")
    if closed.is_set() and ch.up and not resume:
        ch.hangup("NORMAL_CLEARING")
    ch.controlled = False
