"""Position and estimated-wait announcements for callers on hold: the estimate, the words, and the player."""
from __future__ import annotations

import logging
from typing import Any, Protocol


log = logging.getLogger(__name__)


class HandleTimes:
    """A moving average of handle time (talk + wrap-up) per queue, for the estimated wait."""

    def __init__(self, default_seconds: float = 180.0, weight: float = 0.2) -> None:
        self.default_seconds = default_seconds
        self.weight = weight
        self._average: dict[str, float] = {}

    def add(self, queue: str, seconds: float) -> None:
        old = self._average.get(queue)
        self._average[queue] = seconds if old is None else old + self.weight * (seconds - old)

    def average(self, queue: str) -> float:
        return self._average.get(queue, self.default_seconds)


def estimated_wait(position: int, agents_serving: int, average_handle_seconds: float) -> float:
    """Seconds until an agent is likely free for the caller at `position` (1 = next)."""
    return position * average_handle_seconds / max(1, agents_serving)


def announcement_text(position: int, wait_seconds: float, language: str = "zh") -> str:
    """What to say: the caller's place in line and the wait, rounded up to whole minutes."""
    minutes = max(1, int(-(-wait_seconds // 60)))
    if language.startswith("en"):
        return (f"You are number {position} in line. The estimated wait is about "
                f"{minutes} minute{'s' if minutes != 1 else ''}.")
    return f"您前面还有{position - 1}位客户，预计等待约{minutes}分钟。" if position > 1 else \
        f"您是下一位，预计等待约{minutes}分钟。"


class Announcer(Protocol):
    def announce(self, channel: Any, text: str, language: str) -> None: ...

    def render(self, text: str, language: str) -> str | None:
        """An audio file of `text` (for whispers), or None when it cannot be spoken."""


class SilentAnnouncer:
    """No announcements (the default when no TTS is configured)."""

    def announce(self, channel: Any, text: str, language: str) -> None:
        log.debug("call %s: announcement skipped (no TTS): %s", getattr(channel, "uuid", "?"), text)

    def render(self, text: str, language: str) -> str | None:
        return None
