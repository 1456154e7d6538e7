"""In-memory stand-ins for the IVR's collaborators: a scripted CallChannel, a TTS service, an ACD gateway."""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from engine.esl.connection import CallHungUp
from engine.ivr.ports import (MemoryCallbacks, MemoryDirectory, MemoryInteractionLog, QueueOutcome, QueueRequest,
                              QueueResult)
from engine.ivr.registry import FlowRegistry, run_inline
from engine.ivr.runner import FlowRunner

FIXED_NOW = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)  # Wednesday 11:00 in Shanghai


class FakeChannel:
    """A CallChannel whose caller follows a script: keys for each collect, a hang-up after N commands."""

    def __init__(self, keys: list[str] | None = None, *, caller_number: str = "13800138000",
                 destination_number: str = "4001", uuid: str = "call-1", hang_up_at: int | None = None,
                 record_seconds: float = 4.0, bridge_result: str = "SUCCESS") -> None:
        self.keys = list(keys or [])
        self.caller_number, self.caller_name = caller_number, "Caller"
        self.destination_number, self.uuid = destination_number, uuid
        self.variables: dict[str, str] = {}
        self.hang_up_at, self.record_seconds, self.bridge_result = hang_up_at, record_seconds, bridge_result
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.hung_up = False

    def _command(self, command: str, **args: Any) -> None:
        if self.hung_up:
            raise CallHungUp(self.uuid)
        self.commands.append((command, args))
        if self.hang_up_at is not None and len(self.commands) >= self.hang_up_at:
            self.hung_up = True
            raise CallHungUp(self.uuid)

    def names(self) -> list[str]:
        return [name for name, _ in self.commands]

    @property
    def played(self) -> list[str]:
        """Every audio played, including collect prompts, in order."""
        return [args.get("path") or args.get("prompt") for name, args in self.commands
                if name in ("play", "collect")]

    def answer(self) -> None:
        self._command("answer")

    def play(self, path: str, *, terminators: str = "none") -> str:
        self._command("play", path=path)
        return ""

    def collect(self, *, prompt: str, min_digits: int, max_digits: int, tries: int = 1, timeout_ms: int = 5000,
                terminators: str = "#", invalid_prompt: str = "silence_stream://250", regexp: str = "\\d+",
                digit_timeout_ms: int | None = None, variable: str = "jq_digits") -> str:
        self._command("collect", prompt=prompt, min_digits=min_digits, max_digits=max_digits,
                      terminators=terminators, timeout_ms=timeout_ms)
        return self.keys.pop(0) if self.keys else ""

    def record(self, path: str, *, max_seconds: int, silence_threshold: int = 200, silence_seconds: int = 3,
               terminators: str = "#") -> float:
        self._command("record", path=path, max_seconds=max_seconds)
        return self.record_seconds

    def set_variable(self, name: str, value: str) -> None:
        self._command("set_variable", name=name, value=value)
        self.variables[name] = value

    def bridge(self, dial_string: str) -> str:
        self._command("bridge", dial_string=dial_string)
        return self.bridge_result

    def transfer(self, extension: str, dialplan: str = "XML", context: str = "default") -> None:
        self._command("transfer", extension=extension, context=context)

    def sleep(self, ms: int) -> None:
        self._command("sleep", ms=ms)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        if self.hung_up:
            return
        self.commands.append(("hangup", {"cause": cause}))
        self.hung_up = True


class FakeTts:
    """Renders text to a fake path that shows language and text, so tests can read what was said."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.rendered: list[tuple[str, str]] = []

    def render_or_fallback(self, text: str, *, language: str = "zh", fallback_path: str) -> str:
        if self.fail:
            return fallback_path
        self.rendered.append((text, language))
        return f"tts:{language}:{text}"


@dataclass
class FakeQueues:
    """An ACD that answers (or not) every call and remembers the requests."""

    outcome: QueueOutcome = QueueOutcome.ANSWERED
    requests: list[QueueRequest] = field(default_factory=list)
    detail: str = ""

    def enqueue(self, channel: Any, request: QueueRequest) -> QueueResult:
        channel.play(f"queue:{request.queue}")  # stands for the ACD's music on hold
        self.requests.append(request)
        return QueueResult(self.outcome, self.detail)


@dataclass
class Harness:
    """A flows directory plus a runner wired to in-memory collaborators."""

    flows_dir: Path
    tts: FakeTts = field(default_factory=FakeTts)
    directory: MemoryDirectory = field(default_factory=MemoryDirectory)
    queues: FakeQueues | None = field(default_factory=FakeQueues)
    callbacks: MemoryCallbacks = field(default_factory=MemoryCallbacks)
    log: MemoryInteractionLog = field(default_factory=MemoryInteractionLog)
    now: Callable[[], datetime] = lambda: FIXED_NOW
    default_flow: str = "main"
    queue_names: set[str] | None = None

    def write(self, name: str, text: str) -> Path:
        path = self.flows_dir / f"{name}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def runner(self) -> FlowRunner:
        registry = FlowRegistry(self.flows_dir, default_flow=self.default_flow, queues=self.queue_names,
                                check_interval=0.0, background=run_inline)
        report = registry.reload()
        assert report.ok, "\n".join(map(str, report.errors))
        return FlowRunner(registry, self.tts, self.directory, self.queues, self.callbacks, self.log,
                          now=self.now, recordings_dir=self.flows_dir / "recordings")

    def call(self, keys: list[str] | None = None, **channel_args: Any) -> tuple[FakeChannel, Any]:
        channel = FakeChannel(keys, **channel_args)
        record = self.runner().run(channel)
        return channel, record
