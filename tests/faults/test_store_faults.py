"""The store locked (SQLite: another process holds an exclusive lock) or unreachable (PostgreSQL behind a proxy
that is cut) while calls come and go (issue 12, faults): calls are still served during the outage, and once the
store is back every interaction, agent and recording is on the books; nothing was dropped."""
from __future__ import annotations

import os
import time
import uuid

import pytest

from engine.store import database

from .dbfaults import CuttableProxy, lock_sqlite
from .rig import RECONCILE_S, Center

OUTAGE_S = 3.0  # the store really fails (writes refused) for this long; the retry policy has no time budget


@pytest.fixture
def pg_url():
    base = os.environ.get("JINQIAO_TEST_PG_URL")
    if not base:
        pytest.skip("needs PostgreSQL (JINQIAO_TEST_PG_URL; scripts/run-tests.sh starts one)")
    from sqlalchemy import create_engine, text
    name = f"jq_faults_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield base.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _calls_through_an_outage(center: Center, outage) -> None:
    a = center.call("13800000001")
    center.until(lambda: center.bridged_any(a) is not None, what="A bridged")
    # When the store fails
    with outage():
        started = time.monotonic()
        # Then a caller arriving now is still served, and conversations end as usual
        b = center.call("13800000002")
        center.until(lambda: center.bridged_any(b) is not None, OUTAGE_S, "B served during the outage")
        center.agent_leg(center.bridged_any(a)).hangup("NORMAL_CLEARING")
        center.agent_leg(center.bridged_any(b)).hangup("NORMAL_CLEARING")
        center.until(lambda: a.hung_up and b.hung_up, OUTAGE_S, "both calls over during the outage")
        assert time.monotonic() - started < OUTAGE_S, "the test did not run inside the outage"
    # And once the store is back, nothing is missing
    center.settle(RECONCILE_S * 10)
    writes = center.engine.acd.writes
    assert writes.retries > 0, "the store never refused a write: no outage was tested"
    assert writes.failed == 0
    rows = center.books()
    assert sorted(row.agent_id for row in rows.values()) == ["1001", "1002"]
    assert all(row.bridged_at is not None and row.talk_seconds is not None for row in rows.values())
    assert set(center.recordings(rows).values()) == {1}


def test_a_locked_sqlite_store_loses_nothing(tmp_path, monkeypatch):
    # SQLite waits this long for a lock before it refuses (the engine's default is 30 s)
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    center = Center(tmp_path)
    try:
        class Locked:
            def __enter__(self):
                self.proc = lock_sqlite(str(tmp_path / "jq.db"), OUTAGE_S)

            def __exit__(self, *exc):
                self.proc.wait(OUTAGE_S + 10)
        _calls_through_an_outage(center, Locked)
    finally:
        center.close()


def test_an_unreachable_postgresql_store_loses_nothing(tmp_path, pg_url):
    from sqlalchemy.engine import make_url
    url = make_url(pg_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    center = Center(tmp_path, database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
    try:
        class Cut:
            def __enter__(self):
                self.at = time.monotonic()
                proxy.cut()

            def __exit__(self, *exc):
                import gevent
                gevent.sleep(max(0.0, OUTAGE_S - (time.monotonic() - self.at)))
                proxy.restore()
        _calls_through_an_outage(center, Cut)
    finally:
        center.close()
        proxy.close()
