"""Repositories: the only way the rest of the engine reads and writes the store."""
