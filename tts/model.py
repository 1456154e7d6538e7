"""The values the TTS package hands out: rendered prompts, speak instructions, summaries, stats, its error."""
from __future__ import annotations

from dataclasses import dataclass, field


class TtsError(RuntimeError):
    """A prompt could not be rendered (bad text, unknown language, backend failure or timeout)."""


@dataclass(frozen=True)
class RenderedPrompt:
    """A WAV file FreeSWITCH can play as is, and how long it lasts."""

    path: str  # absolute path
    duration_s: float
    cached: bool  # True when no render was needed (served from the cache)


@dataclass(frozen=True)
class SpeakInstruction:
    """Ask FreeSWITCH to speak the text itself (its `speak` app) instead of playing a file.

    Only data: engine/esl/commands.py turns it into the application string.
    """

    engine: str  # FreeSWITCH TTS module, e.g. "tts_commandline", "flite", "unimrcp"
    voice: str
    text: str


@dataclass(frozen=True)
class PrerenderFailure:
    """One prompt that could not be pre-rendered."""

    text: str
    language: str
    error: str


@dataclass(frozen=True)
class PrerenderSummary:
    """What `TtsService.prerender` did."""

    rendered: int = 0  # newly rendered files
    cached: int = 0  # already in the cache
    failures: tuple[PrerenderFailure, ...] = ()
    audio_s: float = 0.0  # total duration of all prompts
    elapsed_s: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def total(self) -> int:
        return self.rendered + self.cached + self.failed


@dataclass(frozen=True)
class CacheStats:
    """Cache counters: hits/misses/failures/evictions are this process's; bytes/files are on disk."""

    hits: int = 0
    misses: int = 0  # lookups that needed a render (successful renders)
    failures: int = 0  # renders that failed or timed out
    evictions: int = 0
    bytes: int = 0
    files: int = 0
    max_bytes: int = 0
    cache_dir: str = field(default="")
