"""Store test fixtures: every `store` test runs on a real SQLite file and, when JINQIAO_TEST_PG_URL is
set, on a real PostgreSQL database. On PostgreSQL each test starts from empty tables (TRUNCATE ...
RESTART IDENTITY); tests of migrations get a dropped and recreated schema."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from engine.cli import main

from engine.store.database import open_store
from engine.store.models import Base

PG_ENV = "JINQIAO_TEST_PG_URL"


def reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


_pg_has_tables = {"yes": False}  # the PG schema currently holds exactly Base.metadata's tables


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'jinqiao.db'}"
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (scripts/test-postgres.sh start prints one)")
    return url


@pytest.fixture
def empty_store(db_url: str):
    """A database with no tables at all."""
    if db_url.startswith("postgresql"):
        reset_postgres(db_url)
        _pg_has_tables["yes"] = False
    store = open_store(db_url)
    yield store
    store.dispose()


@pytest.fixture
def store(db_url: str):
    """A database with every table, all empty."""
    store = open_store(db_url)
    if store.is_sqlite:
        store.create_all()
    elif _pg_has_tables["yes"]:
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with store.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        reset_postgres(db_url)
        store.create_all()
        _pg_has_tables["yes"] = True
    yield store
    store.dispose()


@pytest.fixture
def sqlite_store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'jinqiao.db'}")
    store.create_all()
    yield store
    store.dispose()


@pytest.fixture
def jq(tmp_path, monkeypatch):
    """Run `jinqiao ARGS...` against a fresh SQLite database; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("JINQIAO_DATABASE_URL", f"sqlite:///{tmp_path / 'jq.db'}")
    monkeypatch.delenv("JINQIAO_CONFIG", raising=False)

    def run(*args: str):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run
