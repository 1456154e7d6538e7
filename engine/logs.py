"""Logging setup for the daemon and CLI (readable text or one JSON object per line), and a rate limit for
lines a misbehaving peer could repeat without end."""
from __future__ import annotations

import json
import logging
import sys
import time
from typing import Callable


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and any `call_id` passed in `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        call_id = getattr(record, "call_id", None)
        if call_id:
            entry["call_id"] = call_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "info", fmt: str = "text", stream=None) -> None:
    """Configure the root logger once (idempotent)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


class RateLimitedLog:
    """Log each kind of repeated line at most once per `interval` seconds; the next line that gets through
    says how many were suppressed meanwhile. A peer that sends 100,000 bad frames a second then costs a
    line every few seconds, not a log file per minute.

    `key` names the kind of line (e.g. "undecodable event"); at most `max_keys` kinds are tracked (the
    oldest is forgotten first), so keys made from peer data cannot grow memory either.
    """

    def __init__(self, logger: logging.Logger, interval: float = 10.0, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 256) -> None:
        self.logger = logger
        self.interval = interval
        self.max_keys = max_keys
        self._clock = clock
        self._seen: dict[str, list] = {}  # key -> [time of the last line logged, lines suppressed since]

    def log(self, level: int, key: str, msg: str, *args: object, exc_info: bool = False) -> bool:
        """Log `msg % args` unless a line of this kind was logged less than `interval` ago; True if logged."""
        now = self._clock()
        entry = self._seen.get(key)
        if entry is not None and now - entry[0] < self.interval:
            entry[1] += 1
            return False
        suppressed = entry[1] if entry is not None else 0
        if suppressed:
            msg += " (%d similar lines suppressed in the last %.0fs)"
            args = (*args, suppressed, now - entry[0])
        if entry is None and len(self._seen) >= self.max_keys:
            del self._seen[next(iter(self._seen))]
        self._seen.pop(key, None)
        self._seen[key] = [now, 0]
        self.logger.log(level, msg, *args, exc_info=exc_info)
        return True

    def warning(self, key: str, msg: str, *args: object) -> bool:
        return self.log(logging.WARNING, key, msg, *args)
