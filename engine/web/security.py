"""Sign-in rate limit, CSRF tokens, roles and response headers for the web app (no Flask globals kept here)."""
from __future__ import annotations

import hmac
import os
import secrets
import stat
from collections import deque
from pathlib import Path
from typing import Callable


class LoginLimiter:
    """At most `attempts` failed sign-ins per key (user id, address) within `window` seconds. Pure: time passed in."""

    def __init__(self, attempts: int, window: float, max_keys: int = 100_000) -> None:
        self.attempts = attempts
        self.window = window
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, keys: tuple[str, ...], now: float) -> bool:
        return any(len(self._recent(key, now)) >= self.attempts for key in keys)

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        if len(self._failures) >= self.max_keys:  # bounded memory under a spray of made-up ids
            self._failures.clear()
        for key in keys:
            self._failures.setdefault(key, deque(maxlen=self.attempts)).append(now)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def load_secret_key(path: Path) -> bytes:
    """The key that signs session cookies: read from `path`, created there (mode 0600) on first use."""
    if path.exists():
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PermissionError(f"{path}: the web secret key file must not be readable by others (chmod 600)")
        key = path.read_bytes().strip()
        if len(key) < 32:
            raise ValueError(f"{path}: the web secret key must have at least 32 bytes")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def role_allows(role: str, wanted: tuple[str, ...]) -> bool:
    """admin may do what a supervisor may; nobody but an agent has an agent console."""
    return role in wanted or (role == "admin" and "supervisor" in wanted)


Clock = Callable[[], float]
