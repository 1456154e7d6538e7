"""Engine-side wiring for scenario tests: the simulator, the OutboundServer and a FlowRunner over real sockets."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from engine.esl.connection import OutboundServer
from engine.ivr.ports import MemoryCallbacks, MemoryDirectory, MemoryInteractionLog
from engine.ivr.registry import FlowRegistry
from engine.ivr.runner import FlowRunner
from engine.sim import FreeSwitchSim, SimCall
from tests.ivr.fakes import FIXED_NOW, FakeQueues

PROMPT_SECONDS = 1.0  # simulated length of every TTS prompt


class SimTts:
    """A TTS service whose 'files' the simulator knows the length of; remembers the text of each path."""

    def __init__(self, sim: FreeSwitchSim, folder: Path) -> None:
        self.sim, self.folder = sim, folder
        self.texts: dict[str, str] = {}

    def render_or_fallback(self, text: str, *, language: str = "zh", fallback_path: str) -> str:
        digest = hashlib.sha1(f"{language}:{text}".encode()).hexdigest()[:16]
        path = str(self.folder / f"{digest}.wav")
        if path not in self.texts:
            self.texts[path] = text
            self.sim.set_sound(path, PROMPT_SECONDS)
        return path


@dataclass
class SimEngine:
    """The simulator plus the IVR served over an outbound socket."""

    sim: FreeSwitchSim
    flows_dir: Path
    work_dir: Path
    dids: dict[str, str]
    directory: MemoryDirectory = field(default_factory=MemoryDirectory)
    queues: FakeQueues = field(default_factory=FakeQueues)
    callbacks: MemoryCallbacks = field(default_factory=MemoryCallbacks)
    log: MemoryInteractionLog = field(default_factory=MemoryInteractionLog)
    now: Callable[[], Any] = lambda: FIXED_NOW
    server: OutboundServer | None = None
    tts: Any = None  # a SimTts unless a real TtsService is given

    def start(self) -> "SimEngine":
        registry = FlowRegistry(self.flows_dir, dids=self.dids)
        report = registry.reload()
        assert report.ok, "\n".join(map(str, report.errors))
        if self.tts is None:
            self.tts = SimTts(self.sim, self.work_dir)
        runner = FlowRunner(registry, self.tts, self.directory, self.queues, self.callbacks, self.log,
                            now=lambda: self.now(), recordings_dir=self.work_dir / "recordings")
        self.server = OutboundServer("127.0.0.1", 0, runner.run, linger=1).start()
        host, port = self.server.address
        for did in self.dids:
            self.sim.route(did, socket=f"{host}:{port} async full")
        return self

    def stop(self) -> None:
        if self.server:
            self.server.stop(timeout=1.0)

    def said(self, call: SimCall) -> list[str]:
        """The texts of the prompts the caller heard, in order."""
        texts = getattr(self.tts, "texts", {})
        return [texts.get(p, p.removeprefix("say:")) for p in call.played]

    def collects(self, call: SimCall) -> int:
        return sum(1 for app, _ in call.apps if app == "play_and_get_digits")

    def answer(self, call: SimCall, keys: list[str], timeout: float = 10.0) -> None:
        """Answer each collect/menu prompt in turn: press `key` once that prompt has started ('' = say nothing)."""
        seen = 0
        for key in keys:
            assert self.sim.wait_until(lambda: call.hung_up or self.collects(call) > seen, timeout)
            if call.hung_up:
                return
            seen = self.collects(call)
            if key:
                call.press(key)

    def finished(self, count: int = 1, timeout: float = 10.0) -> list:
        """Wait until `count` calls have left the IVR; their records."""
        assert self.sim.wait_until(lambda: len(self.log.records) >= count, timeout), self.log.records
        return self.log.records
