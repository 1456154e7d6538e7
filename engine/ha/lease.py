"""The active engine's lease on PostgreSQL: one row, a holder, an expiry, and a fencing token.

How it works: the active engine renews the row every `ttl/5` seconds; the standby tries to take it every
`poll` seconds and succeeds only once it has expired (the active was killed, or paused longer than the
lease). Every change of holder adds one to the token. The new holder's store connections carry that token
(`SET jinqiao.fence`), and a trigger (migration 0008) refuses writes from connections whose token is no longer
the lease's, so an old active that wakes up after a takeover cannot write; its next renewal fails and it
stops. Expiry is judged by the database's clock (`now()`), never by the engines' clocks.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any

from sqlalchemy import event, text

log = logging.getLogger(__name__)
LEASE_NAME = "active"
FENCE_SETTING = "jinqiao.fence"


class HaUnsupported(Exception):
    """High availability was asked for on a store that cannot hold a shared lease."""


def require_postgresql(database_url: str) -> None:
    """Refuse HA on anything but PostgreSQL, with the reason and the fix."""
    if not database_url.startswith("postgresql"):
        kind = database_url.split(":", 1)[0] or "?"
        raise HaUnsupported(
            f"active/standby needs a PostgreSQL store shared by both engines (database.url is {kind}); "
            "SQLite is a file on one machine and cannot hold a lease for two engines. Set database.url to "
            "postgresql+pg8000://... or run one engine without --standby")


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """Take, renew and release the active lease (blocking database calls)."""

    def __init__(self, db: Any, *, ttl: float = 2.5, holder: str | None = None, name: str = LEASE_NAME) -> None:
        self.db = db  # a SQLAlchemy Engine on the shared PostgreSQL
        self.ttl = ttl
        self.holder = holder or holder_name()
        self.name = name
        self.token: int | None = None

    def try_acquire(self) -> int | None:
        """The fencing token when this engine now holds the lease (taken or kept), else None."""
        with self.db.begin() as conn:
            conn.execute(text("INSERT INTO engine_lease (name, holder, token, expires_at) "
                              "VALUES (:name, '', 0, now() AT TIME ZONE 'UTC') ON CONFLICT (name) DO NOTHING"),
                         {"name": self.name})
            row = conn.execute(text(
                "UPDATE engine_lease SET token = CASE WHEN holder = :me THEN token ELSE token + 1 END, "
                "holder = :me, expires_at = now() AT TIME ZONE 'UTC' + make_interval(secs => :ttl) "
                "WHERE name = :name AND (holder = :me OR expires_at <= now() AT TIME ZONE 'UTC') RETURNING token"),
                {"me": self.holder, "ttl": self.ttl, "name": self.name}).first()
        self.token = int(row[0]) if row is not None else None
        return self.token

    def renew(self) -> bool:
        """Extend the lease; False when it was lost (expired and taken by another engine)."""
        if self.token is None:
            return False
        with self.db.begin() as conn:
            row = conn.execute(text(
                "UPDATE engine_lease SET expires_at = now() AT TIME ZONE 'UTC' + make_interval(secs => :ttl) "
                "WHERE name = :name AND holder = :me AND token = :token RETURNING token"),
                {"me": self.holder, "ttl": self.ttl, "name": self.name, "token": self.token}).first()
        if row is None:
            self.token = None
        return row is not None

    def release(self) -> None:
        """Give the lease up at a clean stop, so the standby takes over at once."""
        if self.token is None:
            return
        with self.db.begin() as conn:
            conn.execute(text("UPDATE engine_lease SET expires_at = now() AT TIME ZONE 'UTC' - interval '1 second' "
                              "WHERE name = :name AND holder = :me AND token = :token"),
                         {"me": self.holder, "name": self.name, "token": self.token})
        self.token = None

    def current(self) -> tuple[str, int] | None:
        """(holder, token) of the lease row, for status pages and tests."""
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT holder, token FROM engine_lease WHERE name = :name"),
                               {"name": self.name}).first()
        return (str(row[0]), int(row[1])) if row is not None else None


def fence_connections(db: Any, token: int) -> None:
    """Every connection of `db` from now on writes under `token` (the trigger of migration 0008 checks it)."""
    value = str(int(token))

    @event.listens_for(db, "connect")
    def _set_fence(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET {FENCE_SETTING} = '{value}'")
        finally:
            cursor.close()
        dbapi_connection.commit()

    db.dispose()  # connections opened before the fence was known are not reused
