"""Which line of an import file first gave each phone number, kept on disk so memory does not grow with the file.

How it works: a private temporary SQLite database (deleted when closed) holds number -> first line.
`claim` takes a batch of rows in file order, answers which rows repeat a number from an earlier row
(of this batch or of any batch before), and records the numbers of the others; one query and one
insert per batch, so the cost per row stays small and the memory is that of one batch.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence

_QUERY_CHUNK = 500
_SELECT = f"SELECT number, line FROM seen WHERE number IN ({','.join('?' * _QUERY_CHUNK)})"


class FirstSeen:
    """The line where each number of an import first appeared."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("")  # "": a temporary on-disk database, removed on close
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE seen (number TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID")

    def claim(self, rows: Sequence[tuple[int, Sequence[str]]]) -> dict[int, tuple[str, int]]:
        """rows: (line, numbers) in file order. Returns {index in rows: (number, line it first appeared on)}
        for the rows that repeat a number; the numbers of every other row are recorded."""
        wanted = sorted({n for _, numbers in rows for n in numbers})
        known: dict[str, int] = {}
        for i in range(0, len(wanted), _QUERY_CHUNK):
            chunk: list[str | None] = list(wanted[i:i + _QUERY_CHUNK])
            chunk += [None] * (_QUERY_CHUNK - len(chunk))  # one statement text: sqlite3 caches it once
            known.update(self._db.execute(_SELECT, chunk))
        repeats: dict[int, tuple[str, int]] = {}
        fresh: list[tuple[str, int]] = []
        for index, (line, numbers) in enumerate(rows):
            hit = next((n for n in numbers if n in known), None)
            if hit is not None:
                repeats[index] = (hit, known[hit])
                continue
            for n in numbers:
                known[n] = line
                fresh.append((n, line))
        self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", fresh)
        return repeats

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "FirstSeen":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
