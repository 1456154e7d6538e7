"""The `webhooks:` section: every mistake is located (file:line field), secrets come from 0600 files or env."""
from __future__ import annotations

import os

import pytest

from engine.config import build_config
from engine.daemon import preflight
from engine.webhooks.config import WebhookConfigError, load_webhooks
from engine.yamlsrc import load_text

SECRET = "a-secret-of-at-least-16-bytes"


def settings(text: str, tmp_path, environ=None):
    path = tmp_path / "engine.yaml"
    path.write_text(text)
    config = build_config(load_text(text, str(path)), environ={})
    return load_webhooks(config.webhooks, config.source, environ or {})


def secret_file(tmp_path, mode=0o600, text=SECRET):
    path = tmp_path / "crm.secret"
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return path


def test_a_subscriber_with_a_private_secret_file_relative_to_the_config(tmp_path) -> None:
    secret_file(tmp_path)
    got = settings("webhooks:\n  timeout: 3\n  retry: {max_attempts: 4}\n  subscribers:\n"
                   "    crm: {url: 'https://crm.example/h', secret_file: crm.secret, events: [call.ended]}\n", tmp_path)
    [crm] = got.subscribers
    assert (crm.name, crm.url, crm.secret, crm.events) == ("crm", "https://crm.example/h", SECRET.encode(),
                                                           frozenset({"call.ended"}))
    assert got.timeout == 3 and got.retry.max_attempts == 4
    assert SECRET not in repr(got)  # never printed with the settings


def test_the_secret_may_come_from_the_environment(tmp_path) -> None:
    got = settings("webhooks:\n  subscribers:\n    erp: {url: 'http://127.0.0.1:9/h'}\n", tmp_path,
                   {"JINQIAO_WEBHOOK_ERP_SECRET": SECRET})
    assert got.subscribers[0].secret == SECRET.encode() and len(got.subscribers[0].events) == 6


@pytest.mark.parametrize("body, where", [
    ("  subscribers:\n    crm: {url: 'ftp://x', secret_file: crm.secret}\n", r":3:\d+: webhooks.subscribers.crm.url: "
                                                                            r"expected an http\(s\) URL"),
    ("  subscribers:\n    crm: {url: 'http://x/', secret_file: crm.secret, events: [call.maybe]}\n",
     r":3:\d+: webhooks.subscribers.crm.events\[0\]: unknown event 'call.maybe'"),
    ("  subscribers:\n    crm: {url: 'http://x/', secret_file: crm.secret, colour: red}\n",
     r":3:\d+: webhooks.subscribers.crm.colour: unknown setting"),
    ("  subscribers:\n    CRM!: {url: 'http://x/'}\n", r":3:\d+: webhooks.subscribers.CRM!: a subscriber name"),
    ("  subscribers:\n    crm: {url: 'http://x/'}\n", r":3:\d+: webhooks.subscribers.crm: no secret: .*"
                                                      r"JINQIAO_WEBHOOK_CRM_SECRET"),
    ("  timeout: 0\n", r":2:\d+: webhooks.timeout: must be at least 0.1"),
    ("  retry: {max_attempts: 2.5}\n", r":2:\d+: webhooks.retry.max_attempts: expected a whole number"),
])
def test_mistakes_are_located(tmp_path, body, where) -> None:
    secret_file(tmp_path)
    with pytest.raises(WebhookConfigError, match="engine.yaml" + where):
        settings("webhooks:\n" + body, tmp_path)


def test_a_secret_file_others_can_read_or_a_short_secret_is_refused(tmp_path) -> None:
    text = "webhooks:\n  subscribers:\n    crm: {url: 'http://x/', secret_file: crm.secret}\n"
    secret_file(tmp_path, mode=0o644)
    with pytest.raises(WebhookConfigError, match=r"secret_file: .*crm.secret must be readable by its owner only"):
        settings(text, tmp_path)
    secret_file(tmp_path, text="short")
    with pytest.raises(WebhookConfigError, match="at least 16 bytes"):
        settings(text, tmp_path)


def test_preflight_reports_a_bad_webhooks_section(tmp_path) -> None:
    text = "webhooks:\n  subscribers:\n    crm: {url: nope}\n"
    path = tmp_path / "engine.yaml"
    path.write_text(text)
    config = build_config(load_text(text, str(path)), environ={})
    problems = preflight(config, check_store=False)
    assert any("webhooks.subscribers.crm.url: expected an http(s) URL" in p for p in problems)
