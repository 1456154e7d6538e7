"""Replay a captured inbound conversation (to_fs.txt) against the simulator, mapping captured UUIDs to ours."""
from __future__ import annotations

import os
import re

from .helpers import CAPTURES, Peer, commands_of, connect_inbound

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalise(text: str) -> str:
    return UUID.sub("<uuid>", text)


class Replayer:
    """Sends each captured command after the previous reply; learns captured->simulated UUIDs."""

    def __init__(self, sim, name: str, sub: str = "", real: list | None = None) -> None:
        self.sim = sim
        self.real_replies = [f for f in (real or []) if f.content_type in ("command/reply", "api/response")]
        self.commands = commands_of(os.path.join(CAPTURES, name, sub, "to_fs.txt"))
        self.uuids: dict[str, str] = {}
        self.peer: Peer | None = None
        self.subscribed = False

    def bind(self, captured: str, ours: str) -> None:
        self.uuids[captured] = ours

    def _map(self, text: str) -> str:
        for a, b in self.uuids.items():
            text = text.replace(a, b)
        return text

    def run(self, before_exit=None, hooks=None, tmp_path=None) -> list:
        """Replay; `hooks[i]` runs before command i; before_exit runs before `exit`."""
        hooks = hooks or {}
        for i, cmd in enumerate(self.commands):
            if i == 0:
                assert cmd.startswith("auth")
                self.peer = connect_inbound(self.sim.address)
                continue
            if i in hooks:
                hooks[i](self)
            if cmd.startswith("exit") and before_exit is not None:
                before_exit(self)
            cmd = self._map(cmd)
            if tmp_path is not None:
                cmd = cmd.replace("/srv/rec/", str(tmp_path) + "/")
            self.peer.send(cmd)
            if cmd.startswith("exit"):
                break
            mine = self.peer.next_reply(timeout=15)
            if cmd.startswith("bgapi") and self.subscribed:
                job = mine.h["Job-UUID"]
                self.peer.wait_event(lambda f: f.ev.get("Job-UUID") == job, timeout=15)
            if cmd.startswith("event"):
                self.subscribed = True
            k = sum(1 for f in self.peer.log if f.content_type in ("command/reply", "api/response")) - 1
            if k < len(self.real_replies):
                theirs = self.real_replies[k]
                ours_text = mine.h.get("Reply-Text", "") + mine.body.decode("utf-8", "replace")
                real_text = theirs.h.get("Reply-Text", "") + theirs.body.decode("utf-8", "replace")
                for a, b in zip(UUID.findall(real_text), UUID.findall(ours_text)):
                    self.uuids.setdefault(a, b)
        assert self.peer.wait_closed()
        return self.peer.log
