"""Open the store: engine with SQLite pragmas (WAL, foreign keys) or PostgreSQL via pg8000, and sessions.

How it works: `open_store(url)` builds one SQLAlchemy engine per process. For SQLite every new
connection gets `journal_mode=WAL`, `foreign_keys=ON`, `synchronous=NORMAL` and a busy timeout, and
the parent directory of the file is created. A bare `postgresql://` URL is switched to the pure-Python
pg8000 driver so gevent's monkey-patched sockets make it cooperative. Repositories open one short
transaction per call through `Store.session()`, which also turns driver errors into the store's own
(StoreConflict for a refused write, StoreUnavailable for a lost or locked database).
"""
from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from engine.store.errors import StoreConflict, StoreError, StoreUnavailable
from engine.store.models import Base
from engine.store.phones import DEFAULT_REGION

log = logging.getLogger(__name__)
SQLITE_BUSY_TIMEOUT_S = 30


class Store:
    """A database: its engine and a session factory."""

    def __init__(self, engine: Engine, region: str = DEFAULT_REGION) -> None:
        self.engine = engine
        self.region = region  # default region for phone numbers written without a country code
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back if it raises."""
        with driver_errors():
            with self._sessions() as session:
                with session.begin():
                    yield session

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A plain Core connection for fast reads (screen-pop), with the same error translation."""
        with driver_errors():
            with self.engine.connect() as conn:
                yield conn

    def create_all(self) -> None:
        """Create every table directly (tests only; real databases use `jinqiao db upgrade`)."""
        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


@contextlib.contextmanager
def driver_errors() -> Iterator[None]:
    """Turn SQLAlchemy/driver errors into StoreConflict or StoreUnavailable."""
    try:
        yield
    except DBAPIError as exc:
        state, message = _diagnose(exc.orig)
        if isinstance(exc, IntegrityError) or state.startswith("23"):  # class 23: integrity violation
            raise StoreConflict(f"the database refused the change: {message}") from exc
        if isinstance(exc, (OperationalError, InterfaceError)):
            raise StoreUnavailable(f"database error: {message}") from exc
        raise
    except (OSError, SQLAlchemyTimeoutError, DisconnectionError) as exc:
        # A driver that fails while connecting (pg8000's socket reset or refused) raises the socket's own
        # error, and a pool that cannot hand out a connection its own: the database is unreachable.
        raise StoreUnavailable(f"database unreachable: {exc or exc.__class__.__name__}") from exc


def normalize_url(url: str) -> str:
    """Pick the gevent-friendly driver for PostgreSQL; leave other URLs alone."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+pg8000")
    return parsed.render_as_string(hide_password=False)


def open_store(url: str, echo: bool = False, region: str = DEFAULT_REGION) -> Store:
    """Open (without migrating) the database at a SQLAlchemy URL; raise StoreError for a bad URL.

    `region` (ISO 3166 code, default "CN") is how numbers without a country code are read.
    """
    try:
        parsed = make_url(normalize_url(url))
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends
        raise StoreError(f"bad database URL {url!r}: {exc}") from None
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            create_private_file(Path(database).expanduser())
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
    else:
        # Many greenlets (IVR lookups, ACD writes) share the pool; pg8000 yields to gevent while waiting.
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=30)
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.driver == "pg8000":
        # pg8000's executemany sends one INSERT per row; let SQLAlchemy batch rows into multi-row
        # INSERT ... VALUES statements instead (what it does for psycopg2 by default).
        engine.dialect.use_insertmanyvalues_wo_returning = True
    return Store(engine, region)


PRIVATE_FILE_MODE = 0o600
DATA_DIR_MODE = 0o750  # FreeSWITCH (in the engine's group) reads TTS prompts and writes recordings below it


def create_private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600; missing parent dirs 0750). SQLite gives its
    -wal and -shm files the database file's mode. An existing file is left as it is."""
    path.parent.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        pass


def open_private(path: str | Path, encoding: str = "utf-8", newline: str | None = None) -> Any:
    """Open a file for writing that only its owner can read (0600), e.g. an export holding customer data."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    os.fchmod(fd, PRIVATE_FILE_MODE)  # an existing file keeps its old mode through O_CREAT
    return os.fdopen(fd, "w", encoding=encoding, newline=newline)


def _diagnose(error: object) -> tuple[str, str]:
    """(SQLSTATE or "", one-line message) of a driver error; pg8000 puts both in a dict argument
    (and reports foreign-key violations as ProgrammingError, so the SQLSTATE is what counts)."""
    args = getattr(error, "args", ())
    if args and isinstance(args[0], dict):
        return str(args[0].get("C", "")), str(args[0].get("M", "")) or error.__class__.__name__
    text = str(error).strip()
    return "", text.splitlines()[0] if text else error.__class__.__name__


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    finally:
        cursor.close()
