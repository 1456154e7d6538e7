"""Turn ORM rows and Core result rows into the frozen records of engine.store.records."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from engine.store import records

T = TypeVar("T")
_FIELDS: dict[type, tuple[str, ...]] = {}
_TUPLES = {"phones", "tags", "ivr_path", "ivr_digits"}
_ENUMS = {
    (records.Customer, "segment"): records.Segment,
    (records.DncEntry, "list_kind"): records.DncList,
    (records.Callback, "status"): records.CallbackStatus,
    (records.CampaignContact, "status"): records.ContactStatus,
}


def _fields(cls: type) -> tuple[str, ...]:
    if cls not in _FIELDS:
        _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return _FIELDS[cls]


def to_record(cls: type[T], row: Any, **overrides: Any) -> T:
    """Build `cls` from an ORM object or a Core row mapping; `overrides` win over row values."""
    getter = row.__getitem__ if isinstance(row, Mapping) else None
    values: dict[str, Any] = {}
    for name in _fields(cls):
        if name in overrides:
            value = overrides[name]
        elif getter is not None:
            try:
                value = getter(name)
            except KeyError:
                continue
        elif hasattr(row, name):
            value = getattr(row, name)
        else:
            continue
        if name in _TUPLES and value is not None:
            value = tuple(value)
        enum = _ENUMS.get((cls, name))
        if enum is not None and value is not None:
            value = enum(value)
        if isinstance(value, dict):
            value = dict(value)
        values[name] = value
    return cls(**values)
