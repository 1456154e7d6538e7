"""Alembic revision scripts, oldest first: 0001 the schema, 0002 import progress."""
