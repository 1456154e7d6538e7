"""Tests of engine.store (SQLite always, PostgreSQL when JINQIAO_TEST_PG_URL is set)."""
