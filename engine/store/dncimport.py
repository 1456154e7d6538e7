"""`jinqiao dnc import`: a do-not-call list from a file of numbers, or a CSV with number/list/reason/expires columns.

How it works: the file is read through `csvsource` (encoding chosen per file, lines bounded, lines that
do not decode or hold binary/control characters rejected with their number), rows are checked one by
one, and accepted numbers are upserted in batches of `DNC_BATCH`. A number given twice is rejected on
its second line (`FirstSeen` keeps the first lines on disk). Bad rows go to FILE.errors.csv through
`ErrorsFile`; good rows are kept.
"""
from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.store.csvexport import ErrorsFile
from engine.store.csvsource import FileFacts, open_rows
from engine.store.database import Store
from engine.store.errors import ImportFileError, InvalidPhoneNumber
from engine.store.firstseen import FirstSeen
from engine.store.phones import normalize

DNC_BATCH = 5000
_COLUMNS = {"number": ("number", "phone", "电话", "号码", "手机"), "list": ("list", "list_kind", "名单"),
            "reason": ("reason", "原因"), "expires": ("expires", "expires_at", "到期")}


@dataclass
class DncImportSummary:
    """What a DNC import did."""

    file: str
    added: int = 0
    replaced: int = 0
    rejected: int = 0
    errors_file: str | None = None


@dataclass
class _Entry:
    line: int
    e164: str
    kind: str
    reason: str
    expires: dt.datetime | None
    fields: list[str]


def import_dnc(store: Store, facts: FileFacts, *, grey: bool = False, source: str = "import",
               parse_when: Callable[[str, str], dt.datetime | None],
               progress: Callable[[int], None] = lambda n: None) -> DncImportSummary:
    """Import the inspected file into the DNC lists; raises ImportFileError when the file is unusable."""
    from engine.store.repos.dnc import DncRepository

    repo = DncRepository(store)
    default_kind = "grey" if grey else "black"
    header, rows = open_rows(facts, candidates=(",", "\t", ";"))
    head = [h.strip().lower().lstrip("\ufeff") for h in header]
    columns: dict[str, int | None] = {
        name: next((i for i, h in enumerate(head) if h in aliases), None) for name, aliases in _COLUMNS.items()}
    has_header = columns["number"] is not None
    if not has_header and len(head) > 1:
        rows.close()
        shown = ", ".join(h[:40] for h in head[:20]) + (", ..." if len(head) > 20 else "")
        raise ImportFileError(facts.path, 1, "number", f"no number/phone column in the header ({shown})")
    if not has_header:
        columns["number"] = 0
    errors_path = Path(f"{facts.path}.errors.csv")
    errors_path.unlink(missing_ok=True)
    summary = DncImportSummary(file=facts.path)
    records = rows if has_header else itertools.chain([(1, header)], rows)
    pending: list[_Entry] = []
    rejects: list[tuple[int, str, str, list[str]]] = []
    with FirstSeen() as first_seen, ErrorsFile(errors_path, header if has_header else ["number"]) as errors:
        def flush() -> None:
            repeats = first_seen.claim([(e.line, [e.e164]) for e in pending])
            for index, (_, first) in repeats.items():
                entry = pending[index]
                rejects.append((entry.line, "number", f"duplicate of line {first}", entry.fields))
            batch = [(e.e164, e.kind, e.reason, e.expires) for i, e in enumerate(pending) if i not in repeats]
            if batch:
                added, replaced = repo.add_many(batch, source)
                summary.added += added
                summary.replaced += replaced
            for line, field, message, fields in sorted(rejects, key=lambda r: r[0]):
                errors.add(line, field, message, fields)
            errors.flush()
            summary.rejected += len(rejects)
            pending.clear()
            rejects.clear()

        for line, fields in records:
            progress(1)
            if isinstance(fields, str):
                rejects.append((line, "", fields, []))
            elif fields and any(f.strip() for f in fields):
                entry = _entry(line, fields, columns, len(head), default_kind, store.region, parse_when, rejects)
                if entry is not None:
                    pending.append(entry)
            if len(pending) + len(rejects) >= DNC_BATCH:
                flush()
        flush()
    if summary.rejected:
        summary.errors_file = str(errors_path)
    return summary


def _entry(line: int, fields: list[str], columns: dict[str, int | None], width: int, default_kind: str,
           region: str, parse_when: Callable[[str, str], dt.datetime | None],
           rejects: list[tuple[int, str, str, list[str]]]) -> _Entry | None:
    def cell(name: str) -> Any:
        pos = columns[name]
        return fields[pos] if pos is not None else None

    try:
        number = cell("number").strip()
        e164 = normalize(number[1:] if number.startswith("'") else number, region)  # 'text marker of spreadsheets
        kind = (cell("list") or "").strip().lower() or default_kind
        if kind not in ("black", "grey"):
            raise ValueError(f"list must be black or grey, got {kind[:20]!r}")
        reason = cell("reason") or ""
        expires = parse_when(cell("expires"), "expires") if columns["expires"] is not None else None
    except IndexError:
        rejects.append((line, "", f"expected {width} fields, found {len(fields)}", fields))
        return None
    except (InvalidPhoneNumber, ValueError) as exc:
        rejects.append((line, "number", str(exc)[:300], fields))
        return None
    return _Entry(line, e164, kind, reason, expires, fields)
