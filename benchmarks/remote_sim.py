"""The FreeSWITCH simulator in its own process, driven by JSON lines (for the production benchmarks).

Run as `python benchmarks/remote_sim.py <password> <time_scale>`; the parent uses `RemoteSim`. Commands: setup
(endpoints, route, music), place (n calls), status (calls up / bridged / hung up, logins, counts of command
lines containing given texts), hangup_agents (end n agent legs), wait_idle, quit.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

HERE = os.path.abspath(__file__)


class JsonLineProcess:
    """A child process spoken to in JSON lines: one command line in, one reply line out."""

    def __init__(self, argv: list[str], cwd: str | None = None) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1)
        self.port = self._read()["port"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the simulator process ended")
        return json.loads(line)

    def ask(self, **command) -> dict:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read()


class RemoteSim(JsonLineProcess):
    def __init__(self, password: str, time_scale: float = 0.05) -> None:
        root = os.path.dirname(os.path.dirname(HERE))
        super().__init__([sys.executable, HERE, password, str(time_scale)], cwd=root)

    def wait(self, predicate, timeout: float, interval: float = 0.02, **status_args) -> dict | None:
        deadline = time.monotonic() + timeout
        while True:
            status = self.ask(cmd="status", **status_args)
            if predicate(status):
                return status
            if time.monotonic() > deadline:
                return None
            time.sleep(interval)

    def close(self) -> None:
        try:
            self.ask(cmd="quit")
            self.proc.wait(10)
        except Exception:
            self.proc.kill()


def serve(password: str, time_scale: float) -> None:
    from gevent import monkey

    monkey.patch_all()
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
    import gevent
    from gevent.fileobject import FileObjectThread

    from engine.esl import commands
    from engine.sim import FreeSwitchSim

    sim = FreeSwitchSim(password=password, time_scale=time_scale)
    sim.start()
    out = sys.stdout
    out.write(json.dumps({"port": sim.address[1]}) + "\n")
    out.flush()
    calls: dict[str, object] = {}
    first_prompt: dict[str, float] = {}  # caller uuid -> seconds from its answer to its first playback

    for line in FileObjectThread(sys.stdin, "r"):
        command = json.loads(line)
        reply: dict = {"ok": True}
        cmd = command["cmd"]
        if cmd == "setup":
            for ext in command.get("agents", []):
                sim.add_endpoint(ext, answer_after=command.get("answer_after", 0.2),
                                 hangup_after=command.get("hangup_after"))
            sim.route(command["did"], socket=command["socket"],
                      after=[tuple(step) for step in command.get("after", [])])
            sim.set_sound(commands.MUSIC_ON_HOLD, 3600)
            for path, seconds in command.get("sounds", {}).items():
                sim.set_sound(path, seconds)
        elif cmd == "place":  # n calls, spread evenly over `window` seconds (0: at once)
            base = command.get("number_base", 13900000000)
            n, window = command["n"], command.get("window", 0.0)
            started = time.monotonic()
            for i in range(n):
                due = started + window * i / n
                if due > time.monotonic():
                    gevent.sleep(due - time.monotonic())
                call = sim.place_call(command["did"], str(base + len(calls)))
                calls[call.uuid] = call
            reply["placed"], reply["window_s"] = len(calls), round(time.monotonic() - started, 3)
        elif cmd == "uuids":
            reply["uuids"] = list(calls)
        elif cmd == "status":
            up = [c for c in calls.values() if not c.hung_up]
            bridged = sum(1 for c in up if sim.channels.get(c.uuid) is not None
                          and sim.channels[c.uuid].bridged_to is not None)
            log = list(sim.command_log)
            reply.update(placed=len(calls), up=len(up), hung_up=len(calls) - len(up), bridged=bridged,
                         logins=sum(1 for x in log if x.startswith("auth")),
                         counts={text: sum(1 for x in log if text in x) for text in command.get("count", [])})
            if command.get("causes"):
                import collections
                reply["causes"] = dict(collections.Counter(
                    f"{c.hangup_cause}:{'+'.join(a for a, _ in c.apps[:3])}" for c in calls.values() if c.hung_up))
            if command.get("first_prompts"):
                reply["first_prompts"] = _first_prompts(calls)
        elif cmd == "hangup_agents":
            legs = [ch for ch in list(sim.channels.values()) if ch.variables.get(commands.VAR_AGENT_ID)]
            for ch in legs[:command["n"]]:
                ch.hangup("NORMAL_CLEARING")
            reply["ended"] = min(len(legs), command["n"])
        elif cmd == "hangup_all":
            for ch in list(sim.channels.values()):
                ch.hangup("NORMAL_CLEARING")
        elif cmd == "wait_idle":
            reply["idle"] = sim.wait_until(lambda: not sim.channels, command["timeout"])
        elif cmd == "quit":
            out.write(json.dumps(reply) + "\n")
            out.flush()
            break
        out.write(json.dumps(reply) + "\n")
        out.flush()
    sim.stop()


def _first_prompts(calls: dict) -> list[float]:
    """Per answered call: ms from its answer to its first playback starting (the caller hears something)."""
    out = []
    for call in calls.values():
        channel = call.channel
        answered = channel.profile.times.get("Channel-Answered-Time", 0) / 1e6
        if answered and channel.first_prompt_at:
            out.append(max(0.0, channel.first_prompt_at - answered) * 1000.0)
    return out


if __name__ == "__main__":
    serve(sys.argv[1], float(sys.argv[2]))
