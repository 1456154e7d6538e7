"""Lookup backends for the IVR `lookup` node: data tables shipped with the flows, and HTTP business systems.

How it works: `TableStore` reads `<flows_dir>/data/<name>.yaml|.yml|.csv` (reloaded when the file
changes) into {key: record}. `HttpLookup.get_json` fetches a JSON object with urllib, bounded by a
gevent timeout: when the socket module is monkey-patched urllib is already cooperative; otherwise the
request runs in gevent's thread pool so the call greenlets keep running while it waits.
"""
from __future__ import annotations

import csv
import json
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import gevent.monkey

from engine.yamlsrc import SourceError, load_file

log = logging.getLogger(__name__)

TABLE_SUFFIXES = (".yaml", ".yml", ".csv")
MAX_RESPONSE_BYTES = 256 * 1024


class LookupError_(Exception):
    """A lookup backend failed (timeout, HTTP error, unreadable data); the node takes `on_failure`."""


@dataclass
class TableStore:
    """Key -> record tables from data files in one directory."""

    data_dir: Path
    _cache: dict[str, tuple[float, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def path_of(self, name: str) -> Path | None:
        for suffix in TABLE_SUFFIXES:
            candidate = self.data_dir / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
        return None

    def find(self, table: str, key: str) -> dict[str, Any] | None:
        """The record for `key` in `table`, or None; raises LookupError_ if the table cannot be read."""
        return self.load(table).get(str(key))

    def load(self, table: str) -> dict[str, dict[str, Any]]:
        path = self.path_of(table)
        if path is None:
            raise LookupError_(f"data table {table!r} not found in {self.data_dir}")
        try:
            mtime = path.stat().st_mtime
        except OSError as exc:
            raise LookupError_(f"cannot read {path}: {exc}") from None
        cached = self._cache.get(table)
        if cached and cached[0] == mtime:
            return cached[1]
        with self._lock:
            rows = read_table(path)
            self._cache[table] = (mtime, rows)
        return rows


def read_table(path: Path) -> dict[str, dict[str, Any]]:
    """Read a YAML mapping {key: {field: value}} or list of records (first field is the key), or a CSV."""
    try:
        if path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as fh:
                reader = csv.DictReader(fh)
                key_field = (reader.fieldnames or [""])[0]
                return {row[key_field]: dict(row) for row in reader if row.get(key_field)}
        data = load_file(path).data  # bounded: no aliases, size and depth limits, located errors
    except SourceError as exc:
        raise LookupError_(str(exc)) from None
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise LookupError_(f"cannot read {path}: {exc}") from None
    if isinstance(data, dict):
        return {str(k): dict(v) if isinstance(v, dict) else {"value": v} for k, v in data.items()}
    if isinstance(data, list):
        out: dict[str, dict[str, Any]] = {}
        for row in data:
            if isinstance(row, dict) and row:
                out[str(next(iter(row.values())))] = dict(row)
        return out
    raise LookupError_(f"{path}: expected a mapping or a list of records")


@dataclass
class HttpLookup:
    """GET a JSON object from a business system, never blocking the other calls longer than `timeout`."""

    user_agent: str = "jinqiao-ivr"

    def get_json(self, url: str, timeout: float) -> dict[str, Any] | None:
        """The JSON object at `url`; None on 404; raises LookupError_ on any other failure or timeout."""
        if not url.startswith(("http://", "https://")):
            raise LookupError_(f"only http(s) URLs can be looked up, got {url[:40]!r}")
        try:
            with gevent.Timeout(timeout, LookupError_(f"no answer within {timeout:g}s")):
                if gevent.monkey.is_module_patched("socket"):
                    return self._fetch(url, timeout)
                return gevent.get_hub().threadpool.apply(self._fetch, (url, timeout))
        except LookupError_:
            raise
        except Exception as exc:  # the fetch raised in the pool: report, do not crash the call
            raise LookupError_(f"{type(exc).__name__}: {exc}") from None

    def _fetch(self, url: str, timeout: float) -> dict[str, Any] | None:
        request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": self.user_agent})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked)
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise LookupError_(f"HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise LookupError_(f"{type(exc).__name__}: {exc}") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise LookupError_("response too large")
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise LookupError_(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise LookupError_("expected a JSON object")
        return data
