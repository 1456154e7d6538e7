"""Alembic environment and revision scripts of the store (run through engine.store.migrate)."""
