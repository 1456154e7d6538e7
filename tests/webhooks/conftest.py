"""Webhook fixtures: a loopback receiver, and the store fixtures (SQLite and PostgreSQL) of tests/store."""
from __future__ import annotations

import pytest

from tests.store.conftest import db_url, sqlite_store, store  # noqa: F401  (fixtures: SQLite and PostgreSQL)
from tests.webhooks.receiver import Receiver

SECRET = b"s3cret-shared-with-the-crm-0123456789"


@pytest.fixture
def receiver():
    running = Receiver(SECRET).start()
    yield running
    running.stop()
