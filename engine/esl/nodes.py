"""Which FreeSWITCH node takes a new call, and which node owns a channel or an agent's phone (pure, time passed in).

How it works: `NodeSelector` scores each connected node by its load (channels in use: the larger of what its
events show and its last HEARTBEAT `Session-Count`), plus a penalty per recent failure (an originate the switch
itself failed, or a lost connection) within `failure_window`, divided by the node's weight; the lowest score
wins, and a disconnected node is never picked. `ChannelRegistry` maps channel UUIDs to the node that has them
(so a command about a channel goes to that node) and agent extensions to the node their phone registered with.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Mapping

FAILURE_WINDOW = 60.0  # seconds a failure keeps counting against a node
FAILURE_PENALTY = 5.0  # each recent failure weighs like this many channels in use


@dataclass
class NodeHealth:
    """What the selector knows of one node."""

    name: str
    weight: float = 1.0
    connected: bool = False
    heartbeat_sessions: int = 0
    failures: deque = field(default_factory=deque)  # times of recent failures, oldest first


class NodeSelector:
    """Picks the node for a new call by health, load and weight."""

    def __init__(self, weights: Mapping[str, float], *, failure_window: float = FAILURE_WINDOW,
                 failure_penalty: float = FAILURE_PENALTY) -> None:
        self.nodes = {name: NodeHealth(name, weight) for name, weight in weights.items()}
        self.failure_window, self.failure_penalty = failure_window, failure_penalty

    def set_connected(self, name: str, connected: bool, now: float) -> None:
        node = self.nodes[name]
        if node.connected and not connected:
            self.failed(name, now)
        node.connected = connected

    def failed(self, name: str, now: float) -> None:
        self.nodes[name].failures.append(now)

    def heartbeat(self, name: str, sessions: int) -> None:
        self.nodes[name].heartbeat_sessions = max(0, sessions)

    def recent_failures(self, name: str, now: float) -> int:
        failures = self.nodes[name].failures
        while failures and failures[0] < now - self.failure_window:
            failures.popleft()
        return len(failures)

    def score(self, name: str, now: float, channels: int = 0) -> float:
        node = self.nodes[name]
        load = max(channels, node.heartbeat_sessions) + self.failure_penalty * self.recent_failures(name, now)
        return (load + 1.0) / node.weight

    def pick(self, now: float, channels: Mapping[str, int] | None = None,
             among: Iterable[str] | None = None) -> str | None:
        """The connected node with the lowest score (ties: the first configured); None when none is connected."""
        channels = channels or {}
        allowed = set(self.nodes if among is None else among)
        best: tuple[float, int] | None = None
        chosen = None
        for order, (name, node) in enumerate(self.nodes.items()):
            if not node.connected or name not in allowed:
                continue
            key = (self.score(name, now, channels.get(name, 0)), order)
            if best is None or key < best:
                best, chosen = key, name
        return chosen


class ChannelRegistry:
    """Channel UUID -> node, and agent extension -> the node its phone registered with."""

    def __init__(self) -> None:
        self._channels: dict[str, str] = {}
        self._per_node: dict[str, set[str]] = {}
        self._phones: dict[str, str] = {}

    def add(self, uuid: str, node: str) -> None:
        old = self._channels.get(uuid)
        if old == node:
            return
        if old is not None:
            self._per_node[old].discard(uuid)
        self._channels[uuid] = node
        self._per_node.setdefault(node, set()).add(uuid)

    def remove(self, uuid: str) -> None:
        node = self._channels.pop(uuid, None)
        if node is not None:
            self._per_node[node].discard(uuid)

    def node_of(self, uuid: str) -> str | None:
        return self._channels.get(uuid)

    def on_node(self, node: str) -> set[str]:
        return set(self._per_node.get(node, ()))

    def counts(self) -> dict[str, int]:
        return {node: len(uuids) for node, uuids in self._per_node.items()}

    def forget_node(self, node: str) -> set[str]:
        """Drop every channel of a node (it is gone); returns their UUIDs."""
        uuids = self._per_node.pop(node, set())
        for uuid in uuids:
            self._channels.pop(uuid, None)
        return uuids

    def registered(self, extension: str, node: str) -> None:
        self._phones[extension] = node

    def unregistered(self, extension: str, node: str) -> None:
        if self._phones.get(extension) == node:
            del self._phones[extension]

    def phone_node(self, extension: str) -> str | None:
        return self._phones.get(extension)

    def phones_on(self, node: str) -> set[str]:
        return {ext for ext, where in self._phones.items() if where == node}
