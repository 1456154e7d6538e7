"""Report tests use the store's fixtures: a real SQLite file and, when configured, PostgreSQL."""
from tests.store.conftest import db_url, store  # noqa: F401  (pytest fixtures)
