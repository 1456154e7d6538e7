"""Store test fixtures: every `store` test runs on a real SQLite file and, when JINQIAO_TEST_PG_URL is
set, on a real PostgreSQL database whose schema is dropped and recreated for each test."""
from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import create_engine, text

from engine.store.database import Store, open_store

PG_ENV = "JINQIAO_TEST_PG_URL"
T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai


def reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'jinqiao.db'}"
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (scripts/test-postgres.sh start prints one)")
    reset_postgres(url)
    return url


@pytest.fixture
def empty_store(db_url: str):
    store = open_store(db_url)
    yield store
    store.dispose()


@pytest.fixture
def store(empty_store: Store) -> Store:
    empty_store.create_all()
    return empty_store


@pytest.fixture
def sqlite_store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'jinqiao.db'}")
    store.create_all()
    yield store
    store.dispose()
