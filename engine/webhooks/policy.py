"""Retry policy (pure): exponential backoff with jitter, dead after too many attempts or too old."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """`first_delay` doubles per failed attempt up to `max_delay`; jitter takes off up to half of it."""

    first_delay: float = 2.0
    max_delay: float = 600.0
    max_attempts: int = 15
    max_age: float = 86400.0

    def delay(self, attempts: int, rand: float) -> float:
        """Seconds before the next try after `attempts` failures; `rand` in [0, 1) gives the jitter."""
        base = min(self.max_delay, self.first_delay * (2 ** max(0, attempts - 1)))
        return base * (0.5 + 0.5 * rand)

    def dead(self, attempts: int, age: float) -> bool:
        """Give up: this many attempts failed, or the event is older than `max_age` seconds."""
        return attempts >= self.max_attempts or age >= self.max_age
