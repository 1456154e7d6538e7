"""Several FreeSWITCH nodes behind the one control interface (`api`, `bgapi`, handlers) the ACD, dialer and IVR use.

How it works: one `InboundConnection` per node, each with its own reconnect. The channel registry
(engine/esl/nodes.py) notes from each node's events which node created or destroyed which channel and which phone
registered where; then every handler runs, in that node's dispatcher greenlet but under one lock, so handlers of
two nodes' events never interleave (as with one node) and no event waits for an extra hand-over. A command is routed by what it names: a
`uuid_*` command goes to the node that has that channel (unknown channels are looked up with `uuid_exists` on
each node); an originate that names a live channel (an `api_on_answer` bridge, an eavesdrop target) runs on
that channel's node (FreeSWITCH can only bridge channels it has), any other originate on the node the selector
picks by load, recent failures and weight; `show channels` is asked of every node and the rows joined. A node
whose connection stays down for `lost_after` seconds is declared lost: its channels are forgotten and the
`on_node_lost` callbacks account for its calls and agents; `on_node_back` runs when it connects again.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import gevent
from gevent.event import AsyncResult
from gevent.lock import Semaphore

from engine.esl import commands
from engine.esl.inbound import EventHandler, InboundConnection
from engine.esl.nodes import ChannelRegistry, NodeSelector
from engine.esl.wire import ConnectionLost

log = logging.getLogger(__name__)
WATCH_EVERY = 0.1  # how often a node's connection state is looked at
# Originate failures that are the switch's (or its trunk's), not the called party's: they count against a node.
SWITCH_FAILURES = frozenset({"NORMAL_TEMPORARY_FAILURE", "SWITCH_CONGESTION", "DESTINATION_OUT_OF_ORDER",
                             "NETWORK_OUT_OF_ORDER", "GATEWAY_DOWN", "CHAN_NOT_IMPLEMENTED",
                             "RECOVERY_ON_TIMER_EXPIRE", "SERVICE_UNAVAILABLE"})


@dataclass(frozen=True)
class Node:
    """One FreeSWITCH node: its name, where other nodes reach its SIP profile, and its control connection."""

    name: str
    connection: InboundConnection
    weight: float = 1.0
    sip_address: str = ""  # host:port of its SIP profile, for agent legs placed from another node
    sip_profile: str = "internal"


class SwitchNodes:
    """The control connection of an engine with several FreeSWITCH nodes."""

    def __init__(self, nodes: Sequence[Node], *, lost_after: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        if not nodes:
            raise ValueError("at least one FreeSWITCH node")
        self.nodes = {node.name: node for node in nodes}
        self.selector = NodeSelector({node.name: node.weight for node in nodes})
        self.registry = ChannelRegistry()
        self.lost_after = lost_after
        self.clock = clock
        self.lost: set[str] = set()
        self._handlers: list[EventHandler] = []
        self._reconnect_callbacks: list[Callable[[], None]] = []
        self._lost_callbacks: list[Callable[[str, set[str], set[str]], None]] = []
        self._back_callbacks: list[Callable[[str], None]] = []
        self._watchers: list[gevent.Greenlet] = []
        self._handling = Semaphore()
        for node in nodes:
            node.connection.add_handler(lambda event, name=node.name: self._on_event(name, event))
            node.connection.on_reconnect(lambda name=node.name: self._node_up(name))

    # --- the InboundConnection interface ------------------------------------------------------------------------
    def start(self) -> "SwitchNodes":
        for node in self.nodes.values():
            node.connection.start()
            self._watchers.append(gevent.spawn(self._watch, node.name))
        return self

    def close(self) -> None:
        for watcher in self._watchers:
            watcher.kill(block=False)
        for node in self.nodes.values():
            node.connection.close()

    @property
    def connected(self) -> bool:
        return any(node.connection.connected for node in self.nodes.values())

    def wait_connected(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.connected:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            gevent.sleep(WATCH_EVERY / 2)
        return True

    @property
    def host(self) -> str:
        return self._first().connection.host

    @property
    def port(self) -> int:
        return self._first().connection.port

    @property
    def sessions(self) -> int:
        return sum(node.connection.sessions for node in self.nodes.values())

    def add_handler(self, handler: EventHandler) -> Callable[[], None]:
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler) if handler in self._handlers else None

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """`callback()` after any node (re)connects (the rebuild reads every node's channels)."""
        self._reconnect_callbacks.append(callback)

    def on_node_lost(self, callback: Callable[[str, set[str], set[str]], None]) -> None:
        """`callback(node, channel uuids it had, extensions registered on it)` when a node is declared lost."""
        self._lost_callbacks.append(callback)

    def on_node_back(self, callback: Callable[[str], None]) -> None:
        self._back_callbacks.append(callback)

    def api(self, command: str, timeout: float = 10.0, node: str | None = None) -> str:
        if node is None and command in commands.MERGED_LISTINGS:
            return self._listing(command, timeout)
        channel = commands.command_channel(command)
        if node is None and channel and self.registry.node_of(channel) is None:
            found = self._locate(channel, timeout)
            if found is None and command == commands.uuid_exists(channel):
                return "false"
            node = found
        target = self._target(command, node)
        try:
            reply = self.nodes[target].connection.api(command, timeout=timeout)
        except Exception:
            if commands.is_originate(command):
                self.selector.failed(target, self.clock())
            raise
        if commands.is_originate(command):
            self._judge_originate(target, reply)
        return reply

    def bgapi(self, command: str, job_uuid: str | None = None, timeout: float = 600.0,
              node: str | None = None) -> AsyncResult:
        channel = commands.command_channel(command)
        if node is None and channel and self.registry.node_of(channel) is None and len(self._up()) > 1:
            result = AsyncResult()

            def located() -> None:
                found = self._locate(channel, 10.0)
                self._send_bg(command, job_uuid, timeout, found).rawlink(lambda done: _copy(done, result))

            gevent.spawn(located)
            return result
        return self._send_bg(command, job_uuid, timeout, node)

    def sendevent(self, name: str, headers: Mapping[str, str], body: str | None = None, timeout: float = 10.0) -> str:
        """Fire an event into every connected node (an agent's phone or CLI may listen on any of them)."""
        replies, error = [], None
        for node in self._up() or [self._first()]:
            try:
                replies.append(node.connection.sendevent(name, headers, body, timeout=timeout))
            except Exception as exc:
                error = exc
        if not replies and error is not None:
            raise error
        return replies[0] if replies else ""

    # --- routing --------------------------------------------------------------------------------------------
    def node_of(self, uuid: str) -> str | None:
        return self.registry.node_of(uuid)

    def agent_route(self, extension: str, near: str | None = None) -> tuple[str | None, str | None]:
        """(node, SIP URI) for ringing an agent's phone: the node of the channel it will be bridged to (`near`),
        else the node its phone registered with, else the selector's pick. The URI (`ext@host:port`) is set
        when the phone registered with another node than the one placing the call: the leg then goes to that
        node over SIP (its dialplan hands it to `user/<ext>`, docs/deploy.md); None means `user/<ext>`."""
        node = self.registry.node_of(near) if near else None
        phone = self.registry.phone_node(extension)
        if node is None or not self.nodes[node].connection.connected:
            node = phone if phone is not None and self.nodes[phone].connection.connected else self._pick()
        if phone is None or node is None or phone == node or not self.nodes[phone].sip_address:
            return node, None
        return node, f"{extension}@{self.nodes[phone].sip_address}"

    def profile(self, node: str | None) -> str:
        return self.nodes[node].sip_profile if node in self.nodes else "internal"

    def _first(self) -> Node:
        return next(iter(self.nodes.values()))

    def _up(self) -> list[Node]:
        return [node for node in self.nodes.values() if node.connection.connected]

    def _pick(self) -> str | None:
        now = self.clock()
        for name, node in self.nodes.items():  # the connections' own state, not a watcher's last look
            self.selector.set_connected(name, node.connection.connected, now)
        return self.selector.pick(now, self.registry.counts())

    def _target(self, command: str, node: str | None) -> str:
        """The node a command goes to (and, for an originate, the node its new channels are noted on)."""
        if node is None:
            channel = commands.command_channel(command)
            if channel:
                node = self.registry.node_of(channel)
            elif commands.is_originate(command):
                named = commands.uuids_named(command)
                node = next((self.registry.node_of(u) for u in named if self.registry.node_of(u)), None)
                if node is None or not self.nodes[node].connection.connected:
                    node = self._pick()
        if node is None:
            up = self._up()
            node = (up[0] if up else self._first()).name
        if commands.is_originate(command):
            for uuid in commands.uuids_named(command):
                if self.registry.node_of(uuid) is None:
                    self.registry.add(uuid, node)
        return node

    def _send_bg(self, command: str, job_uuid: str | None, timeout: float, node: str | None) -> AsyncResult:
        target = self._target(command, node)
        job = self.nodes[target].connection.bgapi(command, job_uuid, timeout=timeout)
        if commands.is_originate(command):
            job.rawlink(lambda done: self._judge_originate(target, done.value) if done.successful()
                        else self.selector.failed(target, self.clock()))
        return job

    def _judge_originate(self, node: str, body: Any) -> None:
        text = str(body or "").strip()
        if text.startswith(commands.REPLY_ERR) and text[len(commands.REPLY_ERR):].split()[:1] and \
                text[len(commands.REPLY_ERR):].split()[0] in SWITCH_FAILURES:
            self.selector.failed(node, self.clock())

    def _locate(self, uuid: str, timeout: float) -> str | None:
        """Ask each connected node whether it has this channel; note and return the one that does."""
        try:
            question = commands.uuid_exists(uuid)
        except ValueError:
            return None
        for node in self._up():
            try:
                if node.connection.api(question, timeout=timeout).strip() == "true":
                    self.registry.add(uuid, node.name)
                    return node.name
            except Exception as exc:  # that node cannot answer now; another may
                log.debug("node %s: uuid_exists not answered (%s)", node.name, exc)
        return None

    def _listing(self, command: str, timeout: float) -> str:
        rows: list[Any] = []
        up = self._up()
        if not up:
            raise ConnectionLost("no FreeSWITCH node is connected")
        for node in up:
            text = node.connection.api(command, timeout=timeout)
            try:
                data = json.loads(text)
            except ValueError:
                raise RuntimeError(f"node {node.name}: unexpected reply to `{command}`: {text[:80]!r}") from None
            for row in data.get("rows", []) or []:
                if isinstance(row, dict) and row.get("uuid"):
                    self.registry.add(row["uuid"], node.name)
                rows.append(row)
        return json.dumps({"row_count": len(rows), "rows": rows})

    # --- events and node health ------------------------------------------------------------------------------
    def _on_event(self, node: str, event: Any) -> None:
        name = event.name
        if name == commands.EV_CHANNEL_CREATE:
            self.registry.add(event.get(commands.H_UNIQUE_ID) or "", node)
        elif name == commands.EV_CHANNEL_DESTROY:
            uuid = event.get(commands.H_UNIQUE_ID) or ""
            if self.registry.node_of(uuid) == node:
                self.registry.remove(uuid)
        elif name == commands.EV_HEARTBEAT:
            count = event.get(commands.H_SESSION_COUNT) or ""
            if count.isdigit():
                self.selector.heartbeat(node, int(count))
        elif name == commands.EV_CUSTOM:
            subclass = event.get(commands.H_SUBCLASS) or ""
            user = event.get(commands.H_REG_USERNAME) or event.get(commands.H_REG_USER) or ""
            if user and subclass == commands.SUBCLASS_SOFIA_REGISTER:
                self.registry.registered(user, node)
            elif user and subclass in (commands.SUBCLASS_SOFIA_UNREGISTER, commands.SUBCLASS_SOFIA_EXPIRE):
                self.registry.unregistered(user, node)
        with self._handling:
            for handler in list(self._handlers):
                try:
                    handler(event)
                except Exception:  # one broken handler must not keep the event from the others
                    log.exception("event handler failed on %s from node %s", name, node)

    def _node_up(self, name: str) -> None:
        self.selector.set_connected(name, True, self.clock())
        if name in self.lost:
            self.lost.discard(name)
            log.info("FreeSWITCH node %s is back", name)
            for callback in list(self._back_callbacks):
                gevent.spawn(callback, name)
        for callback in list(self._reconnect_callbacks):
            gevent.spawn(callback)

    def _watch(self, name: str) -> None:
        connection = self.nodes[name].connection
        down_since: float | None = None
        while True:
            gevent.sleep(WATCH_EVERY)
            if connection.connected:
                down_since = None
                continue
            now = time.monotonic()
            if down_since is None:
                down_since = now
                if self.selector.nodes[name].connected:
                    self.selector.set_connected(name, False, self.clock())
            elif name not in self.lost and now - down_since >= self.lost_after and connection.sessions:
                self._declare_lost(name)

    def _declare_lost(self, name: str) -> None:
        self.lost.add(name)
        channels = self.registry.forget_node(name)
        phones = {ext for ext in self.registry.phones_on(name)}
        log.warning("FreeSWITCH node %s lost (no control connection for %.1fs): %d channels, %d registered phones",
                    name, self.lost_after, len(channels), len(phones))
        for callback in list(self._lost_callbacks):
            try:
                callback(name, channels, phones)
            except Exception:
                log.exception("node %s: accounting for the lost node failed", name)


def _copy(done: AsyncResult, into: AsyncResult) -> None:
    if done.successful():
        into.set(done.value)
    else:
        into.set_exception(done.exception)
