"""TtsService: turn prompt text into something FreeSWITCH can play, through the cache, with timeouts and fallbacks.

How it works: `render` looks the prompt up by its content key; on a miss it takes the key's render
lock, looks again (another greenlet or process may just have rendered it), runs espeak-ng, resamples to
the configured rate and stores the WAV. Waits are `os.waitpid`/`time.sleep` polls (tts.process), so under
the daemon's gevent monkey-patching a render yields to other calls; without gevent it works from threads.
With the `freeswitch` backend nothing is rendered: `prompt` returns a SpeakInstruction.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterable, Mapping

from tts.cache import AudioCache, cache_key
from tts.espeak import EspeakBackend, speakable_text
from tts.fsspeak import DEFAULT_SPEAK_ENGINE, FreeswitchSpeakBackend
from tts.model import (
    CacheStats, PrerenderFailure, PrerenderSummary, RenderedPrompt, SpeakInstruction, TtsError,
)
from tts.resample import Resampler, choose_resampler
from tts.wav import Pcm, wav_duration

log = logging.getLogger(__name__)

BACKENDS = ("espeak", "freeswitch")
SAMPLE_RATES = (8000, 16000)
AUDIO_FORMAT = "wav/pcm_s16le/mono"
DEFAULT_VOICES = {"zh": "cmn", "en": "en"}


def language_code(language: str) -> str:
    """`zh-CN` -> `zh`, `EN` -> `en`."""
    return str(language).strip().lower().replace("_", "-").split("-")[0]


class TtsService:
    """Renders and caches prompts for the IVR; one instance per daemon, shared by all calls."""

    def __init__(
        self,
        cache_dir: str,
        *,
        backend: str = "espeak",
        sample_rate: int = 8000,
        max_bytes: int = 512 * 2**20,
        timeout: float = 5.0,
        voices: Mapping[str, str] | None = None,
        speak_engine: str = DEFAULT_SPEAK_ENGINE,
        espeak_path: str = "espeak-ng",
        resampler: str = "auto",
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown TTS backend {backend!r} (one of {', '.join(BACKENDS)})")
        if sample_rate not in SAMPLE_RATES:
            raise ValueError(f"sample_rate must be one of {SAMPLE_RATES}, got {sample_rate}")
        if timeout <= 0 or max_bytes <= 0:
            raise ValueError("timeout and max_bytes must be positive")
        self.backend = backend
        self.sample_rate = sample_rate
        self.timeout = float(timeout)
        self.voices = {language_code(k): v for k, v in (voices or DEFAULT_VOICES).items()}
        self.cache = AudioCache(cache_dir, max_bytes)
        self._espeak = EspeakBackend(espeak_path)
        self._speak = FreeswitchSpeakBackend(speak_engine)
        self._resampler_choice = resampler
        self._resampler: Resampler | None = None

    @classmethod
    def from_config(cls, config: Any) -> "TtsService":
        """Build from an engine Config (uses `config.tts` and `config.tts_cache_dir`; no import of engine)."""
        section = config.tts
        return cls(
            config.tts_cache_dir,
            backend=section.backend,
            sample_rate=section.sample_rate,
            max_bytes=section.cache_max_mb * 2**20,
            timeout=section.render_timeout,
            voices={"zh": section.voice_zh, "en": section.voice_en},
            speak_engine=getattr(section, "speak_engine", DEFAULT_SPEAK_ENGINE) or DEFAULT_SPEAK_ENGINE,
        )

    # -- public API ------------------------------------------------------------------------------
    def voice_for(self, language: str) -> str:
        code = language_code(language)
        if code not in self.voices:
            raise TtsError(f"no voice configured for language {language!r} (have {', '.join(sorted(self.voices))})")
        return self.voices[code]

    def key_for(self, text: str, *, language: str = "zh", rate: int | None = None) -> str:
        """The cache key (sha256 hex) `render` uses for this prompt."""
        clean = speakable_text(text)
        return cache_key(clean, self.voice_for(language), rate, self.sample_rate, AUDIO_FORMAT,
                         self._backend_version())

    def render(self, text: str, *, language: str = "zh", rate: int | None = None) -> RenderedPrompt:
        """A WAV file of `text` at the configured rate; raises TtsError on bad text, failure or timeout."""
        try:
            return self._render(text, language, rate)
        except TtsError:
            self.cache.record_failure()
            raise

    def _render(self, text: str, language: str, rate: int | None) -> RenderedPrompt:
        if self.backend != "espeak":
            raise TtsError(f"the {self.backend!r} backend renders no files; use prompt() for a SpeakInstruction")
        voice = self.voice_for(language)
        clean = speakable_text(text)
        key = self.key_for(clean, language=language, rate=rate)
        hit = self._cached(key)
        if hit:
            return hit
        started = time.monotonic()
        deadline = started + self.timeout  # one budget for waiting on another renderer and rendering
        with self.cache.rendering(key, timeout=self.timeout):
            hit = self._cached(key)
            if hit:  # rendered by someone else while we waited
                return hit
            pcm = self._synthesize(clean, voice, rate, deadline=deadline)
            path = self.cache.store(key, pcm)
        log.info("tts rendered language=%s chars=%d audio=%.2fs in %.0f ms", language, len(clean),
                 pcm.duration_s, (time.monotonic() - started) * 1000)
        return RenderedPrompt(path, pcm.duration_s, cached=False)

    def render_or_fallback(
        self, text: str, *, language: str = "zh", fallback_path: str, rate: int | None = None
    ) -> str:
        """The rendered file's path, or `fallback_path` if rendering fails for any reason; never raises."""
        try:
            return self.render(text, language=language, rate=rate).path
        except Exception as exc:  # noqa: BLE001 - a prompt must never kill a call
            log.warning("tts render failed (%s); playing fallback %s", exc, fallback_path)
            return fallback_path

    def prompt(
        self, text: str, *, language: str = "zh", rate: int | None = None, fallback_path: str | None = None
    ) -> RenderedPrompt | SpeakInstruction:
        """What to play for `text`: a rendered file (espeak), or a SpeakInstruction (freeswitch backend).

        With `fallback_path`, a failed render yields RenderedPrompt(fallback_path, its duration or 0,
        cached=False) instead of raising TtsError.
        """
        try:
            if self.backend == "freeswitch":
                return self._speak.instruction(speakable_text(text), voice=self.voice_for(language))
            return self.render(text, language=language, rate=rate)
        except TtsError as exc:
            if fallback_path is None:
                raise
            log.warning("tts render failed (%s); playing fallback %s", exc, fallback_path)
            try:
                duration = wav_duration(fallback_path)
            except TtsError:
                duration = 0.0
            return RenderedPrompt(fallback_path, duration, cached=False)

    def prerender(self, texts: Iterable[tuple[str, str]]) -> PrerenderSummary:
        """Render every (text, language) pair not yet cached; failures are collected, not raised."""
        started = time.monotonic()
        rendered = cached = 0
        audio = 0.0
        failures: list[PrerenderFailure] = []
        seen: set[tuple[str, str]] = set()
        for text, language in texts:
            if (text, language) in seen:
                continue
            seen.add((text, language))
            try:
                result = self.render(text, language=language)
            except TtsError as exc:
                failures.append(PrerenderFailure(text, language, str(exc)))
                continue
            cached += result.cached
            rendered += not result.cached
            audio += result.duration_s
        return PrerenderSummary(rendered, cached, tuple(failures), audio, time.monotonic() - started)

    def stats(self) -> CacheStats:
        return self.cache.stats()

    # -- internals -------------------------------------------------------------------------------
    def _cached(self, key: str) -> RenderedPrompt | None:
        path = self.cache.lookup(key)
        if not path:
            return None
        try:
            return RenderedPrompt(path, wav_duration(path), cached=True)
        except TtsError:  # evicted by another process between lookup and read: render it again
            return None

    def _backend_version(self) -> str:
        return f"{self._espeak.version(self.timeout)}; resampler={self._get_resampler().name}"

    def _get_resampler(self) -> Resampler:
        if self._resampler is None:
            self._resampler = choose_resampler(self._resampler_choice)
        return self._resampler

    def _synthesize(self, text: str, voice: str, rate: int | None, *, deadline: float) -> Pcm:
        native = self._espeak.synthesize(text, voice=voice, rate=rate, timeout=self._left(deadline))
        data = self._get_resampler()(native.data, native.sample_rate, self.sample_rate, self._left(deadline))
        return Pcm(data, self.sample_rate)

    def _left(self, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TtsError(f"rendering did not finish within {self.timeout:.1f} s")
        return left
