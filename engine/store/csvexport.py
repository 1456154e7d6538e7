"""The one CSV writer for exports and `.errors.csv` files: cells a spreadsheet would run as formulas are defused.

How it works: Excel, WPS and LibreOffice treat a cell that starts with `=`, `+`, `-` or `@` (and, in
some versions, a tab or carriage return) as a formula, so a customer named `=HYPERLINK(...)` or a
rejected row echoed into `.errors.csv` could run code or leak data when the file is opened. In the
default (safe) mode such a cell is written with a leading apostrophe, which spreadsheets show as text
and hide. `raw=True` writes every value unchanged, for files that go back into `jinqiao ... import`
rather than into a spreadsheet.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_PREFIX = "'"


def safe_cell(value: Any) -> str:
    """The text of a cell as written in safe mode (None is an empty cell)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # a number (e.g. -1) is data, not a formula
    text = "" if value is None else str(value)
    return TEXT_PREFIX + text if text.startswith(FORMULA_STARTS) else text


def raw_cell(value: Any) -> str:
    return "" if value is None else str(value)


class CsvExport:
    """Writes rows to a text stream as CSV; safe (formulas defused) unless raw."""

    def __init__(self, out: IO[str], *, raw: bool = False, delimiter: str = ",") -> None:
        self._writer = csv.writer(out, delimiter=delimiter)
        self._cell = raw_cell if raw else safe_cell
        self.rows = 0

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([self._cell(value) for value in row])
        self.rows += 1

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class ErrorsFile:
    """`FILE.errors.csv`: a header of line, field, error and the input's columns, then one row per rejected line.

    Opened on the first rejected row (so a clean import leaves no file), written in safe mode, UTF-8 with
    a BOM so Excel reads it. `append=True` continues a file left by an interrupted run.
    """

    def __init__(self, path: str | Path, header: Iterable[str], *, append: bool = False) -> None:
        self.path = Path(path)
        self.header = list(header)
        self.append = append
        self.count = 0
        self._handle: IO[str] | None = None
        self._writer: CsvExport | None = None

    def add(self, line: int, field: str, error: str, fields: Iterable[Any] = ()) -> None:
        if self._writer is None:
            fresh = not (self.append and self.path.exists())
            # Rejected rows hold customer data: readable by the owner only (0600), like every export.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if fresh else os.O_APPEND), 0o600)
            os.fchmod(fd, 0o600)
            self._handle = os.fdopen(fd, "w", encoding="utf-8-sig" if fresh else "utf-8", newline="")
            self._writer = CsvExport(self._handle)
            if fresh:
                self._writer.writerow(["line", "field", "error", *self.header])
        self._writer.writerow([line, field, error, *fields])
        self.count += 1

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle, self._writer = None, None

    def __enter__(self) -> "ErrorsFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
