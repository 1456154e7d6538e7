"""Alembic migrations, the start-up schema check, and the SQLite connection settings."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from engine.store import migrate
from engine.store.database import normalize_url, open_store
from engine.store.errors import SchemaOutdated, StoreError
from engine.store.models import Base


def test_upgrade_from_empty_reaches_head_and_matches_the_models(empty_store) -> None:
    migrate.upgrade(empty_store.engine)
    assert migrate.current_revision(empty_store.engine) == migrate.head_revision()
    with empty_store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    migrate.check_schema_current(empty_store.engine)  # does not raise


def _model_diff(store) -> list:
    with store.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_downgrade_one_step_removes_the_newest_change_and_upgrade_restores_it(empty_store) -> None:
    migrate.upgrade(empty_store.engine)
    head = migrate.head_revision()
    migrate.downgrade(empty_store.engine, "-1")
    assert migrate.current_revision(empty_store.engine) == f"{int(head) - 1:04d}"
    assert _model_diff(empty_store) != []  # the newest change is gone
    assert "customers" in set(inspect(empty_store.engine).get_table_names())
    migrate.upgrade(empty_store.engine)
    assert _model_diff(empty_store) == []


def test_an_empty_database_is_refused_with_the_command_to_run(empty_store) -> None:
    with pytest.raises(SchemaOutdated, match="run `jinqiao db upgrade`"):
        migrate.check_schema_current(empty_store.engine)


def test_an_outdated_schema_is_refused_naming_both_revisions(empty_store) -> None:
    migrate.upgrade(empty_store.engine, "0001")
    with pytest.raises(SchemaOutdated) as caught:
        migrate.check_schema_current(empty_store.engine)
    assert "0001" in str(caught.value) and migrate.head_revision() in str(caught.value)
    assert "jinqiao db upgrade" in str(caught.value)


def test_a_schema_newer_than_the_engine_is_refused(empty_store) -> None:
    migrate.upgrade(empty_store.engine)
    with empty_store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaOutdated, match="newer than this engine"):
        migrate.check_schema_current(empty_store.engine)


def test_sqlite_store_creates_its_directory_uses_wal_and_enforces_foreign_keys(tmp_path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'jq.db'}")
    try:
        store.create_all()
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        with pytest.raises(IntegrityError):
            with store.engine.begin() as conn:
                conn.execute(text("INSERT INTO customer_phones (customer_id, e164, position) VALUES (424242, '+1', 0)"))
    finally:
        store.dispose()


def test_a_postgres_url_without_a_driver_gets_the_gevent_friendly_pg8000() -> None:
    assert normalize_url("postgresql://u:p@db/jq").startswith("postgresql+pg8000://u:p@db/jq")
    assert normalize_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_a_malformed_database_url_is_a_clear_store_error() -> None:
    with pytest.raises(StoreError, match="bad database URL"):
        open_store("not a url")
