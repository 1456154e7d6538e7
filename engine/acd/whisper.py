"""Whisper to the agent: what the agent hears after answering and before meeting the caller.

A queue's `whisper` setting is either an audio file (a path or a URL-like `scheme://` source, played as is)
or a text template rendered per call in a Jinja2 sandbox over `customer` (name, segment, value_tier, tags,
id), `queue`, `caller_number` and `waited` (seconds), then spoken with TTS. Missing values render empty, so
an unknown caller hears e.g. "VIP 客户 " rather than nothing. Templates are compiled when the config loads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

WHISPER_NAMES = frozenset({"customer", "queue", "caller_number", "waited"})
AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".flac", ".au", ".raw")
MAX_WHISPER_CHARS = 300


class WhisperError(ValueError):
    """A whisper setting that cannot be used; the message says why."""


def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=jinja2.Undefined, autoescape=False)


def is_audio(setting: str) -> bool:
    """True for a file or stream to play as is; False for text to speak."""
    text = setting.strip()
    if "{{" in text or "{%" in text:
        return False
    return text.startswith("/") or "://" in text or text.lower().endswith(AUDIO_SUFFIXES)


@dataclass(frozen=True)
class Whisper:
    """A validated whisper: an audio source, or a compiled text template."""

    source: str
    audio: bool

    @classmethod
    def parse(cls, setting: Any) -> "Whisper":
        """Validate the setting; raises WhisperError naming the problem (bad syntax, unknown variable)."""
        if not isinstance(setting, str) or not setting.strip():
            raise WhisperError("expected the text to say or an audio file to play")
        if is_audio(setting):
            return cls(setting.strip(), True)
        env = _env()
        try:
            unknown = meta.find_undeclared_variables(env.parse(setting)) - WHISPER_NAMES
        except jinja2.TemplateSyntaxError as exc:
            raise WhisperError(f"template error on line {exc.lineno}: {exc.message}") from None
        if unknown:
            raise WhisperError(f"unknown variable {sorted(unknown)[0]!r} "
                               f"(known: {', '.join(sorted(WHISPER_NAMES))})")
        return cls(setting, False)

    def text(self, context: Mapping[str, Any]) -> str:
        """The words for this call (text whispers only); never raises: a bad value renders as plain source."""
        try:
            rendered = _env().from_string(self.source).render(**context)
        except Exception:  # noqa: BLE001 - a whisper must never stop a call from being connected
            rendered = self.source
        return " ".join(rendered.split())[:MAX_WHISPER_CHARS]


def whisper_context(customer: Any, queue: str, caller_number: str, waited: float) -> dict[str, Any]:
    """The values a whisper template may use for one call."""
    info = None if customer is None else {
        "id": customer.customer_id, "name": customer.name, "segment": customer.segment,
        "value_tier": customer.value_tier, "tags": list(customer.tags)}
    return {"customer": info or {}, "queue": queue, "caller_number": caller_number, "waited": int(waited)}
