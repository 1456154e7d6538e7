"""The rate-limited log used for lines a misbehaving peer can repeat: one line per kind per interval."""
from __future__ import annotations

import logging

from engine.logs import RateLimitedLog


def test_a_repeated_line_is_logged_once_per_interval_with_the_count_suppressed(caplog) -> None:
    caplog.set_level(logging.WARNING)
    now = [100.0]
    limited = RateLimitedLog(logging.getLogger("jq.test"), interval=10, clock=lambda: now[0])
    logged = [limited.warning("bad", "bad frame %d", n) for n in range(1000)]
    assert logged.count(True) == 1
    limited.warning("other", "another kind")  # a different kind is not held back by the first
    now[0] += 10
    limited.warning("bad", "bad frame %d", 1000)
    assert [r.getMessage() for r in caplog.records] == [
        "bad frame 0", "another kind", "bad frame 1000 (999 similar lines suppressed in the last 10s)"]


def test_keys_made_from_peer_data_cannot_grow_memory_without_bound() -> None:
    limited = RateLimitedLog(logging.getLogger("jq.test"), max_keys=8, clock=lambda: 0.0)
    for n in range(10_000):
        limited.warning(f"kind {n}", "line")
    assert len(limited._seen) <= 8
