"""Bulk-insert new customers and their numbers with each driver's fastest path (the import's hot spot).

Both functions write inside the caller's transaction, with ids the caller allocated, and store values
exactly as SQLAlchemy would: JSON as text, naive UTC timestamps, booleans as the database's own.
"""
from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

COLUMNS = ("name", "segment", "value_tier", "arpu", "tags", "language", "timezone", "account_no",
           "owner_agent_id", "marketing_consent", "do_not_disturb", "attributes", "created_at", "updated_at")
_SQLITE_CUSTOMERS = (f"INSERT INTO customers (id, {', '.join(COLUMNS)}) "
                     f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))})")
_SQLITE_PHONES = "INSERT INTO customer_phones (customer_id, e164, position) VALUES (?, ?, ?)"


def _stamp(params: list[dict[str, Any]]) -> str | None:
    if not params:
        return None
    when: dt.datetime = params[0]["created_at"]
    return when.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _values(cid: int, p: dict[str, Any], stamp: str | None) -> tuple:
    dumps = json.dumps
    return (cid, p["name"], p["segment"], p["value_tier"], p["arpu"], dumps(p["tags"]) if p["tags"] else "[]",
            p["language"], p["timezone"], p["account_no"], p["owner_agent_id"], p["marketing_consent"],
            p["do_not_disturb"], dumps(p["attributes"]) if p["attributes"] else "{}", stamp, stamp)


def sqlite_executemany(conn, ids: list[int], phones: list[list[str]], params: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    """sqlite3's own executemany (SQLAlchemy's per-row parameter processing costs more than the insert)."""
    cursor = conn.connection.driver_connection.cursor()
    try:
        stamp = _stamp(params)
        cursor.executemany(_SQLITE_CUSTOMERS, [_values(cid, p, stamp) for cid, p in zip(ids, params)])
        cursor.executemany(_SQLITE_PHONES, [(cid, number, i) for cid, numbers in zip(ids, phones)
                                            for i, number in enumerate(numbers)])
    finally:
        cursor.close()


def _csv_field(value: Any) -> str:
    """One field of PostgreSQL's COPY CSV format: unquoted empty is NULL, strings are always quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace('"', '""') + '"'


def postgres_copy(conn, ids: list[int], phones: list[list[str]], params: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    """COPY ... FROM STDIN through pg8000 (its executemany sends one statement per row)."""
    stamp = _stamp(params)
    customers = "".join(",".join(map(_csv_field, _values(cid, p, stamp))) + "\n" for cid, p in zip(ids, params))
    numbers = "".join(f"{cid},{number},{i}\n" for cid, nums in zip(ids, phones) for i, number in enumerate(nums))
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(f"COPY customers (id, {', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)",
                       stream=io.BytesIO(customers.encode("utf-8")))
        cursor.execute("COPY customer_phones (customer_id, e164, position) FROM STDIN WITH (FORMAT csv)",
                       stream=io.BytesIO(numbers.encode("utf-8")))
    finally:
        cursor.close()
