"""Validate the `webhooks:` config section (subscribers, timeouts, retry policy), errors located in the YAML.

Example:
    webhooks:
      timeout: 5                 # seconds per POST
      poll_every: 1.0            # seconds between looks at the outbox when nothing woke the worker
      keep_delivered_days: 7     # delivered events are then removed from the outbox (dead ones stay)
      retry: {first_delay: 2, max_delay: 600, max_attempts: 15, max_age: 86400}
      subscribers:
        crm:
          url: https://crm.example/hooks/jinqiao
          secret_file: /etc/jinqiao/crm-webhook.secret   # mode 0600; or env JINQIAO_WEBHOOK_CRM_SECRET
          events: [call.offered, call.ended]              # default: every event
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from engine.webhooks.events import KINDS
from engine.webhooks.policy import RetryPolicy
from engine.yamlsrc import LocatedYaml, SourceError

_TOP_KEYS = {"timeout", "poll_every", "retry", "subscribers", "keep_delivered_days"}
_SUBSCRIBER_KEYS = {"url", "secret_file", "events"}
_RETRY_KEYS = {"first_delay", "max_delay", "max_attempts", "max_age"}
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
MIN_SECRET_BYTES = 16


class WebhookConfigError(SourceError):
    """A problem in the `webhooks` configuration section, located at file:line:column."""


@dataclass(frozen=True)
class Subscriber:
    """One receiving system: where to POST, the shared secret that signs, and which event kinds it wants."""

    name: str
    url: str
    secret: bytes = field(repr=False)
    events: frozenset[str] = frozenset(KINDS)

    def wants(self, kind: str) -> bool:
        return kind in self.events


@dataclass(frozen=True)
class WebhookSettings:
    """The validated `webhooks:` section."""

    subscribers: tuple[Subscriber, ...] = ()
    timeout: float = 5.0
    poll_every: float = 1.0
    retry: RetryPolicy = RetryPolicy()
    keep_delivered_days: float = 7.0

    def subscriber(self, name: str) -> Subscriber | None:
        return next((s for s in self.subscribers if s.name == name), None)


def secret_env_name(name: str) -> str:
    return f"JINQIAO_WEBHOOK_{name.upper()}_SECRET"


def load_webhooks(raw: Mapping[str, Any] | None, source: LocatedYaml | None = None,
                  environ: Mapping[str, str] | None = None) -> WebhookSettings:
    """The `webhooks` section of the config; raises WebhookConfigError naming file, line and field."""
    environ = os.environ if environ is None else environ
    root = ("webhooks",)
    raw = raw or {}

    def fail(path: tuple, message: str) -> WebhookConfigError:
        err = (source or LocatedYaml("<webhooks>", None, {(): (1, 1)})).error(path, message)
        return WebhookConfigError(err.file, err.line, err.column, err.field_name, err.message)

    def mapping(value: Any, path: tuple, keys: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise fail(path, "expected a mapping")
        for key in value:
            if key not in keys:
                raise fail(path + (key,), f"unknown setting (known: {', '.join(sorted(keys))})")
        return value

    def number(value: Any, path: tuple, minimum: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (
                float("inf"), float("-inf")):
            raise fail(path, f"expected a number, got {value!r}")
        if value < minimum:
            raise fail(path, f"must be at least {minimum:g}, got {value!r}")
        return float(value)

    mapping(raw, root, _TOP_KEYS)
    kw: dict[str, Any] = {}
    if "timeout" in raw:
        kw["timeout"] = number(raw["timeout"], root + ("timeout",), 0.1)
    if "poll_every" in raw:
        kw["poll_every"] = number(raw["poll_every"], root + ("poll_every",), 0.05)
    if "keep_delivered_days" in raw:
        kw["keep_delivered_days"] = number(raw["keep_delivered_days"], root + ("keep_delivered_days",), 0.01)
    if "retry" in raw:
        retry = mapping(raw["retry"] or {}, root + ("retry",), _RETRY_KEYS)
        values = {key: number(retry[key], root + ("retry", key), 1 if key == "max_attempts" else 0.01)
                  for key in retry}
        if "max_attempts" in values:
            if values["max_attempts"] != int(values["max_attempts"]):
                raise fail(root + ("retry", "max_attempts"), "expected a whole number")
            values["max_attempts"] = int(values["max_attempts"])
        kw["retry"] = RetryPolicy(**values)
    subscribers = []
    raw_subs = raw.get("subscribers") or {}
    if not isinstance(raw_subs, dict):
        raise fail(root + ("subscribers",), "expected a mapping of subscriber name to its settings")
    for name, sub in raw_subs.items():
        path = root + ("subscribers", name)
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise fail(path, "a subscriber name is lower-case letters, digits and _ (at most 32), "
                             "starting with a letter")
        sub = mapping(sub or {}, path, _SUBSCRIBER_KEYS)
        url = sub.get("url")
        if not isinstance(url, str) or not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", url):
            raise fail(path + ("url",), f"expected an http(s) URL, got {url!r}")
        events = sub.get("events", list(KINDS))
        if not isinstance(events, list) or not events:
            raise fail(path + ("events",), f"expected a list of event kinds ({', '.join(KINDS)})")
        for i, kind in enumerate(events):
            if kind not in KINDS:
                raise fail(path + ("events", i), f"unknown event {kind!r} (known: {', '.join(KINDS)})")
        subscribers.append(Subscriber(name, url, _secret(name, sub, path, source, environ, fail), frozenset(events)))
    return WebhookSettings(subscribers=tuple(subscribers), **kw)


def _secret(name: str, sub: Mapping[str, Any], path: tuple, source: LocatedYaml | None,
            environ: Mapping[str, str], fail: Any) -> bytes:
    """The subscriber's secret from its file (owner-only) or its environment variable; never logged."""
    env = secret_env_name(name)
    if "secret_file" in sub:
        written = sub["secret_file"]
        if not isinstance(written, str) or not written:
            raise fail(path + ("secret_file",), "expected a file path")
        file = Path(written)
        if not file.is_absolute() and source is not None and not source.file.startswith("<"):
            file = Path(source.file).resolve().parent / file
        try:
            info = file.stat()
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise fail(path + ("secret_file",), f"{file} must be readable by its owner only (chmod 600)")
            secret = file.read_bytes().strip()
        except OSError as exc:
            raise fail(path + ("secret_file",), f"cannot read {file}: {exc.strerror}") from None
    elif env in environ:
        secret = environ[env].strip().encode("utf-8")
    else:
        raise fail(path, f"no secret: set secret_file (mode 0600) or the environment variable {env}")
    if len(secret) < MIN_SECRET_BYTES:
        raise fail(path + ("secret_file",) if "secret_file" in sub else path,
                   f"the secret must have at least {MIN_SECRET_BYTES} bytes")
    return secret
