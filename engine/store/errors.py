"""The store layer's error types: one base class, each message something a user can act on."""
from __future__ import annotations


class StoreError(Exception):
    """Any problem raised by the store layer."""


class InvalidPhoneNumber(StoreError, ValueError):
    """A phone number that cannot be parsed, or that is not a valid number."""


class SchemaOutdated(StoreError):
    """The database schema is older (or newer) than this engine; the message names the command to run."""


class StoreConflict(StoreError):
    """The database refused a write: a duplicate key or a reference to a row that does not exist."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or is locked for too long."""


class NotFound(StoreError, LookupError):
    """A referenced row (agent, campaign, customer, ...) does not exist."""


class ImportFileError(StoreError):
    """A file that cannot be imported at all (not CSV, unknown encoding, bad header): names file, line and field."""

    def __init__(self, file: str, line: int, field: str, message: str) -> None:
        self.file, self.line, self.field, self.message = file, line, field, message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")
