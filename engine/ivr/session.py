"""One call's walk through a flow: its variables, customer, prompt rendering and the funnel record.

How it works: `CallSession.walk(flow)` runs nodes one after another on the call's greenlet; each node's
`run` returns the next node id (None ends the flow or returns from a subflow). Prompts are rendered
here: a template that cannot be rendered for this call (missing variable, bad value) falls back to the
node's `fallback`, then the flow's `fallback`, then a short silence, so a bad prompt never drops a call.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from engine.esl import commands
from engine.ivr.channel import CallHungUp
from engine.ivr.digits import mask_digits
from engine.ivr.fields import LANGUAGES, Prompt
from engine.ivr.lookups import HttpLookup, TableStore
from engine.ivr.nodes.base import FlowFinished
from engine.ivr.ports import CallbackStore, CustomerDirectory, InteractionLog, IvrRecord, QueueGateway
from engine.ivr.templates import Template, TemplateRenderError

if TYPE_CHECKING:
    from engine.ivr.flow import Flow

log = logging.getLogger(__name__)

SILENCE = commands.silence(250)
MAX_STEPS = 1000  # nodes per call; bounds a flow that loops through menus forever
MAX_SUBFLOW_DEPTH = 8


class SpeechFailed(Exception):
    """A prompt has no audio (TTS failed or was too slow, its file is gone); its fallback plays instead."""


@dataclass
class FlowServices:
    """Everything nodes need besides the channel; built once by FlowRunner."""

    tts: Any  # tts.TtsService: render_or_fallback(text, *, language, fallback_path) -> path
    directory: CustomerDirectory
    queues: QueueGateway | None
    callbacks: CallbackStore
    interactions: InteractionLog
    now: Callable[[], datetime]
    tables: TableStore
    http: HttpLookup
    recordings_dir: Path
    store_timeout: float = 3.0  # longest a caller waits for a callback request or survey score to be stored


@dataclass
class CallSession:
    """The state of one call in the IVR."""

    channel: Any  # engine.esl.connection.CallChannel
    services: FlowServices
    flows: Mapping[str, "Flow"]  # snapshot of the registry when the call arrived
    record: IvrRecord
    vars: dict[str, Any] = field(default_factory=dict)
    customer: dict[str, Any] = field(default_factory=dict)
    flow: "Flow | None" = None
    node_id: str = ""
    steps: int = 0
    depth: int = 0
    on_node_done: Callable[[], None] | None = None

    @property
    def uuid(self) -> str:
        return self.record.call_uuid

    @property
    def language(self) -> str:
        lang = self.vars.get("language")
        if lang in LANGUAGES:
            return str(lang)
        return self.flow.language if self.flow else "zh"

    def call_info(self) -> dict[str, Any]:
        return {
            "uuid": self.record.call_uuid,
            "caller_number": self.record.caller_number,
            "caller_name": getattr(self.channel, "caller_name", "") or "",
            "destination_number": self.record.destination_number,
            "flow": self.record.flow,
            "started_at": self.record.started_at,
        }

    def context(self) -> dict[str, Any]:
        return {"customer": self.customer, "call": self.call_info(), "vars": self.vars,
                "language": self.language, "now": self.services.now()}

    # -- walking ---------------------------------------------------------------------------------------
    def walk(self, flow: "Flow") -> None:
        """Run `flow` from its start node until a node returns None."""
        outer_flow, outer_node = self.flow, self.node_id
        self.flow = flow
        for name, value in flow.initial_vars.items():
            self.vars.setdefault(name, value)
        node_id: str | None = flow.start
        try:
            while node_id is not None:
                self.steps += 1
                if self.steps > MAX_STEPS:
                    log.warning("[%s] flow %s: more than %d nodes on one call; ending", self.uuid, flow.name,
                                MAX_STEPS)
                    raise FlowFinished("step_limit")
                node = flow.nodes[node_id]
                self.node_id = node_id
                self.record.path.append(node_id if self.depth == 0 else f"{flow.name}:{node_id}")
                log.debug("[%s] %s.%s (%s)", self.uuid, flow.name, node_id, node.TYPE)
                node_id = node.run(self)
                if self.on_node_done is not None:
                    self.on_node_done()
        finally:
            self.flow, self.node_id = outer_flow, outer_node

    def call_subflow(self, name: str) -> bool:
        """Run another flow as a subroutine; False if it does not exist or nesting is too deep."""
        sub = self.flows.get(name)
        if sub is None or self.depth >= MAX_SUBFLOW_DEPTH:
            log.warning("[%s] subflow %s %s", self.uuid, name, "not found" if sub is None else "nested too deep")
            return False
        self.depth += 1
        try:
            self.walk(sub)
        finally:
            self.depth -= 1
        return True

    # -- rendering -------------------------------------------------------------------------------------
    def render(self, template: Template | None) -> str:
        """Render a template for this call; raises TemplateRenderError."""
        if template is None:
            return ""
        return template.render(self.context())

    def render_or(self, template: Template | None, default: Any) -> Any:
        try:
            return self.render(template)
        except TemplateRenderError as exc:
            log.warning("[%s] %s: %s; using %r", self.uuid, self.node_id, exc, default)
            return default

    def prompt_path(self, prompt: Prompt | None, fallback: Prompt | None = None) -> str:
        """The audio to play for `prompt`: its file, or its text spoken by TTS; falls back, never fails.

        A prompt that cannot be played (its template does not render for this call, or TTS fails or
        does not finish in time) gives way to `fallback`, then the flow's `fallback`, then a short silence.
        """
        flow_fallback = self.flow.fallback if self.flow else None
        for candidate in (prompt, fallback, flow_fallback):
            if candidate is None:
                continue
            try:
                return self._resolve(candidate)
            except TemplateRenderError as exc:
                log.warning("[%s] %s: prompt not rendered (%s); trying fallback", self.uuid, self.node_id, exc)
            except SpeechFailed as exc:
                log.warning("[%s] %s: %s; trying fallback", self.uuid, self.node_id, exc)
        return SILENCE

    def speech_or_fallback(self, text: str, language: str, fallback: Prompt | None) -> str:
        """Audio for `text`; when TTS fails, the node's `fallback`, then the flow's, then silence."""
        try:
            return self.speech(text, language)
        except SpeechFailed as exc:
            log.warning("[%s] %s: %s; playing fallback", self.uuid, self.node_id, exc)
            return self.prompt_path(None, fallback)

    def _resolve(self, prompt: Prompt) -> str:
        language = prompt.language or self.language
        path = prompt.file_for(language)
        if path:
            if not os.path.isfile(path):  # checked at load; deleted or renamed since
                raise SpeechFailed(f"audio file missing: {path}")
            return path
        assert prompt.tts is not None
        text = prompt.tts.pick(language).render(self.context()).strip()
        return self.speech(text, language) if text else SILENCE

    def speech(self, text: str, language: str) -> str:
        """Audio for `text`: a file rendered by the TTS service, or FreeSWITCH's own TTS; raises SpeechFailed."""
        tts = self.services.tts
        try:
            if getattr(tts, "backend", "espeak") == "freeswitch":
                return self._freeswitch_speech(text, language)
            path = tts.render_or_fallback(text, language=language, fallback_path="")
        except CallHungUp:
            raise
        except Exception as exc:  # a TTS failure must not drop the call
            log.exception("[%s] %s: TTS failed", self.uuid, self.node_id)
            raise SpeechFailed(f"TTS failed: {type(exc).__name__}") from None
        if not path:
            raise SpeechFailed("TTS did not render the text in time")
        return str(path)

    def _freeswitch_speech(self, text: str, language: str) -> str:
        instruction = self.services.tts.prompt(text, language=language)
        for name, value in ((commands.VAR_TTS_ENGINE, instruction.engine), (commands.VAR_TTS_VOICE, instruction.voice)):
            if self.channel.variables.get(name) != value:
                self.channel.set_variable(name, value)
        # FreeSWITCH expands ${...} in application data: caller data in the text must stay text
        return commands.say_path(instruction.text)

    def play(self, prompt: Prompt | None, fallback: Prompt | None = None) -> None:
        if prompt is None:
            return
        self.channel.play(self.prompt_path(prompt, fallback))

    def note_digits(self, digits: str, mask: bool) -> None:
        self.record.digits.append((self.node_id, mask_digits(digits) if mask else digits))
