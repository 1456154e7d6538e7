"""`jinqiao webhooks status|retry|test` against a real store and a real receiver."""
from __future__ import annotations

import os
import time

from click.testing import CliRunner

from engine.cli import main
from engine.store.database import open_store
from engine.store.migrate import upgrade
from engine.store.repos.webhooks import OutboxRepository
from engine.webhooks.config import Subscriber, WebhookSettings
from engine.webhooks.events import CALL_ENDED, WebhookEvent
from engine.webhooks.outbox import Outbox
from tests.webhooks.conftest import SECRET


def cli(tmp_path, monkeypatch, *args):
    monkeypatch.setenv("JINQIAO_CONFIG", str(tmp_path / "engine.yaml"))
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def setup(tmp_path, url: str):
    (tmp_path / "crm.secret").write_bytes(SECRET)
    os.chmod(tmp_path / "crm.secret", 0o600)
    (tmp_path / "engine.yaml").write_text(
        f"engine: {{data_dir: {tmp_path}}}\nwebhooks:\n  subscribers:\n"
        f"    crm: {{url: '{url}', secret_file: crm.secret}}\n")
    store = open_store(f"sqlite:///{tmp_path / 'jinqiao.db'}")
    upgrade(store.engine)
    return store


def test_status_shows_backlog_failures_and_dead_letters_and_retry_requeues(tmp_path, monkeypatch) -> None:
    store = setup(tmp_path, "http://127.0.0.1:9/h")
    try:
        outbox = Outbox(OutboxRepository(store), WebhookSettings((Subscriber("crm", "http://127.0.0.1:9/h", SECRET),)))
        for n in range(3):
            outbox.enqueue(WebhookEvent(CALL_ENDED, f"call-{n}", time.time(), {}))
        repo = OutboxRepository(store)
        repo.failed(1, "HTTP 503 Service Unavailable", time.time() + 60)
        repo.dead(2, "ConnectionRefusedError: [Errno 111] Connection refused", time.time())
        code, out, err = cli(tmp_path, monkeypatch, "webhooks", "status")
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0] == "subscriber\tpending\toldest_pending\tfailing\tdead\tdelivered"
        name, pending, oldest, failing, dead, delivered = lines[1].split("\t")
        assert (name, pending, failing, dead, delivered) == ("crm", "2", "1", "1", "0") and oldest.endswith("s")
        assert "2\tcrm\tcall.ended\tcall-1\t1\tdead\tConnectionRefusedError" in out
        assert "1\tcrm\tcall.ended\tcall-0\t1\tretry in " in out and "HTTP 503" in out
        code, out, err = cli(tmp_path, monkeypatch, "webhooks", "retry", "--dead")
        assert code == 0 and "requeued 1 event(s)" in out
        assert repo.get(2).dead_at is None and repo.get(2).attempts == 0
        code, out, err = cli(tmp_path, monkeypatch, "webhooks", "retry", "99")
        assert code == 2 and "no webhook event with id 99" in err
        code, out, err = cli(tmp_path, monkeypatch, "webhooks", "retry")
        assert code == 2 and "give one event ID or --dead" in err
    finally:
        store.dispose()


def test_test_posts_a_signed_event_the_receiver_verifies(tmp_path, monkeypatch, receiver) -> None:
    setup(tmp_path, receiver.url).dispose()
    code, out, err = cli(tmp_path, monkeypatch, "webhooks", "test", receiver.url)
    assert code == 0, err
    assert "delivered" in out and receiver.bad_signatures == 0 and receiver.accepted[0]["type"] == "webhook.test"
    receiver.fail_first = 10
    code, out, err = cli(tmp_path, monkeypatch, "webhooks", "test", receiver.url)
    assert code == 2 and "not delivered: HTTP 500" in err
    code, out, err = cli(tmp_path, monkeypatch, "webhooks", "test", "http://127.0.0.1:9/other")
    assert code == 2 and "no configured subscriber with url" in err
