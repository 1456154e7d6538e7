"""Text-to-speech backends and a content-addressed audio cache (no FreeSWITCH imports).

Entry point: `TtsService` (render / render_or_fallback / prompt / prerender / stats); spoken forms of
numbers, money, dates and digits for the IVR `say` node live in `tts.spoken`.
"""
from tts import spoken
from tts.model import (
    CacheStats, PrerenderFailure, PrerenderSummary, RenderedPrompt, SpeakInstruction, TtsError,
)
from tts.service import TtsService

__all__ = [
    "CacheStats", "PrerenderFailure", "PrerenderSummary", "RenderedPrompt", "SpeakInstruction",
    "TtsError", "TtsService", "spoken",
]
