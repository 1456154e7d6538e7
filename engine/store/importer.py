"""Bulk customer import: validate each CSV row, upsert by phone in batched transactions, resume after a crash.

How it works: rows are validated one by one (phones to E.164 with their time zone, every field
checked); a bad row goes to FILE.errors.csv with its line number, field and reason, and the good rows
go on. Accepted rows are written in batches: one query finds which numbers already exist, new
customers and their numbers are inserted with executemany, existing ones are updated only when
something changed. Each batch commits together with the import's progress row (import_runs), so a
crash leaves whole batches only, and running the same import again resumes after the last committed
batch. A number that appears twice in one file is rejected on its second line (the first lines of
numbers are kept on disk by `FirstSeen`, so memory stays that of one batch however long the file).
Lines that do not decode, or hold binary or control characters, are rejected rows like any other.
`.errors.csv` is written through `ErrorsFile` (cells that a spreadsheet would run as formulas are
defused). A phone cell may start with an apostrophe (as the safe export writes `'+86...`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update

from engine.store.bulk import postgres_copy, sqlite_executemany
from engine.store.csvexport import ErrorsFile
from engine.store.csvsource import Columns, FileFacts, inspect, map_columns, open_rows
from engine.store.database import Store
from engine.store.errors import InvalidPhoneNumber
from engine.store.firstseen import FirstSeen
from engine.store.models import CustomerPhoneRow, CustomerRow, ImportRunRow
from engine.store.phones import mask, normalize_with_zone
from engine.store.customer_fields import clean_field

log = logging.getLogger(__name__)
BATCH_ROWS = 50000
SQLITE_IMPORT_CACHE_KIB = 128 * 1024
_PHONE_SPLIT = str.maketrans({c: ";" for c in ",，;；/、|"})
_CUSTOMER_COLUMNS = ("name", "segment", "value_tier", "arpu", "tags", "language", "timezone", "account_no",
                     "owner_agent_id", "marketing_consent", "do_not_disturb", "attributes")


@dataclass
class ImportSummary:
    """What an import did."""

    file: str
    encoding: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    resumed_from_line: int | None = None
    errors_file: str | None = None
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return self.inserted + self.updated + self.unchanged + self.rejected


@dataclass
class _Row:
    line: int
    phones: list[str]
    values: dict[str, Any]
    zone: str | None
    fields: list[str]


@dataclass
class ImportOptions:
    """How to read the file."""

    mapping: dict[str, str] = field(default_factory=dict)
    extra_columns: str = "error"  # error | ignore | attributes
    encoding: str | None = None
    delimiter: str | None = None
    batch_rows: int = BATCH_ROWS

    def key(self, region: str) -> str:
        text = json.dumps([sorted(self.mapping.items()), self.extra_columns, self.encoding, self.delimiter, region])
        return hashlib.sha256(text.encode()).hexdigest()[:32]


class CustomerImport:
    """Import one CSV file of customers into a store."""

    def __init__(self, store: Store, options: ImportOptions | None = None,
                 progress: Callable[[int], None] | None = None) -> None:
        self.store = store
        self.options = options or ImportOptions()
        self.progress = progress or (lambda n: None)

    def check(self, path: str | Path) -> FileFacts:
        """Inspect the file and its header without importing; raise ImportFileError for an unusable file."""
        facts = inspect(path, self.options.encoding)
        header, rows = open_rows(facts, self.options.delimiter)
        next(rows, None)  # enter the generator so that close() closes the file
        rows.close()
        map_columns(facts.path, header, self.options.mapping, self.options.extra_columns)
        return facts

    def run(self, path: str | Path, facts: FileFacts | None = None) -> ImportSummary:
        """Import the file (resuming an interrupted run of the same file); raise ImportFileError if unreadable."""
        started = time.perf_counter()
        facts = facts or inspect(path, self.options.encoding)
        header, rows = open_rows(facts, self.options.delimiter)
        columns = map_columns(facts.path, header, self.options.mapping, self.options.extra_columns)
        self._header = [h.strip().lstrip("\ufeff") for h in header]
        summary = ImportSummary(file=facts.path, encoding=facts.encoding)
        run_id, resume_after = self._start_run(facts.path, facts.sha256, summary)
        errors_path = Path(f"{facts.path}.errors.csv")
        if resume_after is None and errors_path.exists():
            errors_path.unlink()
        batch: list[_Row] = []
        skipped: list[_Row] = []
        rejects: list[list[str]] = []
        last_line = resume_after or 1
        first_seen = FirstSeen()
        errors = ErrorsFile(errors_path, self._header, append=True)
        try:
            for line, fields in rows:
                row = self._prepare(line, fields, columns, rejects)
                if resume_after is not None and line <= resume_after:
                    rejects.clear()  # already reported by the interrupted run
                    if row is not None:  # its numbers still count as seen
                        skipped.append(row)
                        if len(skipped) >= self.options.batch_rows:
                            first_seen.claim([(r.line, r.phones) for r in skipped])
                            skipped = []
                    self.progress(1)
                    continue
                if skipped:
                    first_seen.claim([(r.line, r.phones) for r in skipped])
                    skipped = []
                last_line = line
                if row is not None:
                    batch.append(row)
                if len(batch) + len(rejects) >= self.options.batch_rows:
                    self._commit(batch, rejects, run_id, last_line, summary, errors, first_seen)
                    batch, rejects = [], []
            if skipped:
                first_seen.claim([(r.line, r.phones) for r in skipped])
            self._commit(batch, rejects, run_id, last_line, summary, errors, first_seen, finished=True)
        finally:
            rows.close()
            first_seen.close()
            errors.close()
        summary.seconds = time.perf_counter() - started
        if summary.rejected:
            summary.errors_file = str(errors_path)
        log.info("import of %s: %d inserted, %d updated, %d unchanged, %d rejected in %.1fs", facts.path,
                 summary.inserted, summary.updated, summary.unchanged, summary.rejected, summary.seconds)
        return summary

    # -- one row ---------------------------------------------------------------------------------------
    def _prepare(self, line: int, fields: list[str] | str, columns: Columns,
                 rejects: list[list[str]]) -> _Row | None:
        if isinstance(fields, str):
            rejects.append([str(line), "", fields])
            return None
        if len(fields) != columns.width:
            rejects.append([str(line), "", f"expected {columns.width} fields, found {len(fields)}", *fields])
            return None
        region = self.store.region
        phones: list[str] = []
        zone = None
        for pos in columns.phone:
            for raw in fields[pos].translate(_PHONE_SPLIT).split(";"):
                raw = raw.strip()
                if raw.startswith("'"):  # a spreadsheet's text marker, as the safe export writes it
                    raw = raw[1:]
                if not raw:
                    continue
                try:
                    e164, number_zone = normalize_with_zone(raw, region)
                except InvalidPhoneNumber as exc:
                    rejects.append([str(line), "phone", str(exc), *fields])
                    return None
                if e164 not in phones:
                    phones.append(e164)
                    zone = zone or number_zone
        if not phones:
            rejects.append([str(line), "phone", "missing phone number", *fields])
            return None
        values: dict[str, Any] = {}
        for name, pos in columns.fields.items():
            text = fields[pos].strip()
            if not text:
                continue
            try:
                values[name] = clean_field(name, text)
            except ValueError as exc:
                rejects.append([str(line), name, str(exc), *fields])
                return None
        if columns.attributes:
            attrs = {k: fields[p].strip() for k, p in columns.attributes.items() if fields[p].strip()}
            if attrs:
                values["attributes"] = attrs
        return _Row(line, phones, values, zone, fields)

    # -- one batch -------------------------------------------------------------------------------------
    def _commit(self, batch: list[_Row], rejects: list[list[str]], run_id: int, last_line: int,
                summary: ImportSummary, errors: ErrorsFile, first_seen: FirstSeen, finished: bool = False) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        repeats = first_seen.claim([(row.line, row.phones) for row in batch])
        for index, (e164, first) in repeats.items():
            row = batch[index]
            rejects.append([str(row.line), "phone", f"number {mask(e164)} already appears on line {first}", *row.fields])
        if repeats:
            batch = [row for i, row in enumerate(batch) if i not in repeats]
        counts = {"inserted": 0, "updated": 0, "unchanged": 0}
        with self.store.session() as s:
            conn = s.connection()
            if self.store.is_sqlite:  # keep the phone index in memory: random keys touch most of its pages
                conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KIB}")
            conn.execute(update(ImportRunRow).where(ImportRunRow.id == run_id).values(last_line=last_line))
            numbers = [p for row in batch for p in row.phones]
            owner: dict[str, int] = {}
            for i in range(0, len(numbers), 5000):
                chunk = numbers[i:i + 5000]
                owner.update(conn.execute(select(CustomerPhoneRow.e164, CustomerPhoneRow.customer_id)
                                          .where(CustomerPhoneRow.e164.in_(chunk))).all())
            fresh: list[_Row] = []
            existing: dict[int, list[_Row]] = {}
            for row in batch:
                ids = {owner[p] for p in row.phones if p in owner}
                if len(ids) > 1:
                    rejects.append([str(row.line), "phone", "the numbers belong to different customers "
                                    f"({', '.join(map(str, sorted(ids)))})", *row.fields])
                elif ids:
                    existing.setdefault(ids.pop(), []).append(row)
                else:
                    fresh.append(row)
            counts["inserted"] = self._insert(conn, fresh, now)
            updated, unchanged = self._update(conn, existing, owner, now)
            counts["updated"], counts["unchanged"] = updated, unchanged
            conn.execute(update(ImportRunRow).where(ImportRunRow.id == run_id).values(
                inserted=ImportRunRow.inserted + counts["inserted"], updated=ImportRunRow.updated + counts["updated"],
                unchanged=ImportRunRow.unchanged + counts["unchanged"], rejected=ImportRunRow.rejected + len(rejects),
                **({"status": "done", "finished_at": now} if finished else {})))
        summary.inserted += counts["inserted"]
        summary.updated += counts["updated"]
        summary.unchanged += counts["unchanged"]
        summary.rejected += len(rejects)
        for reject in sorted(rejects, key=lambda r: int(r[0])):
            errors.add(int(reject[0]), reject[1], reject[2], reject[3:])
        errors.flush()
        self.progress(len(batch) + len(rejects))

    def _insert(self, conn, rows: list[_Row], now: dt.datetime) -> int:  # type: ignore[no-untyped-def]
        if not rows:
            return 0
        params = []
        for row in rows:
            v = row.values
            params.append({
                "name": v.get("name", ""), "segment": v.get("segment", "prospect"), "value_tier": v.get("value_tier"),
                "arpu": v.get("arpu"), "tags": v.get("tags", []), "language": v.get("language"),
                "timezone": v.get("timezone") or row.zone, "account_no": v.get("account_no"),
                "owner_agent_id": v.get("owner_agent_id"), "marketing_consent": v.get("marketing_consent"),
                "do_not_disturb": v.get("do_not_disturb", False), "attributes": v.get("attributes", {}),
                "created_at": now, "updated_at": now,
            })
        if self.store.is_sqlite:
            # The batch already holds SQLite's write lock (the progress row is updated first), so
            # nobody else can insert: number the rows ourselves and use a plain executemany.
            first = (conn.execute(select(func.max(CustomerRow.id))).scalar() or 0) + 1
            ids = list(range(first, first + len(params)))
            sqlite_executemany(conn, ids, [row.phones for row in rows], params)
            return len(rows)
        if self.store.engine.dialect.driver == "pg8000":
            # Ids come from the table's sequence in one round trip; rows go in with COPY.
            ids = sorted(conn.execute(text("SELECT nextval(pg_get_serial_sequence('customers', 'id')) "
                                           "FROM generate_series(1, :n)"), {"n": len(params)}).scalars())
            postgres_copy(conn, ids, [row.phones for row in rows], params)
            return len(rows)
        result = conn.execute(insert(CustomerRow).returning(CustomerRow.id, sort_by_parameter_order=True), params)
        ids = [r[0] for r in result]
        phone_rows = [{"customer_id": cid, "e164": p, "position": i}
                      for cid, row in zip(ids, rows) for i, p in enumerate(row.phones)]
        conn.execute(insert(CustomerPhoneRow), phone_rows)
        return len(rows)

    def _update(self, conn, existing: dict[int, list[_Row]], owner: dict[str, int],  # type: ignore[no-untyped-def]
                now: dt.datetime) -> tuple[int, int]:
        if not existing:
            return 0, 0
        table = CustomerRow.__table__
        current = {r.id: dict(r._mapping) for r in conn.execute(
            select(table).where(table.c.id.in_(list(existing))))}
        positions: dict[int, int] = {}
        for cid, n in conn.execute(select(CustomerPhoneRow.customer_id, CustomerPhoneRow.position)
                                   .where(CustomerPhoneRow.customer_id.in_(list(existing)))).all():
            positions[cid] = max(positions.get(cid, -1), n)
        changes: list[dict[str, Any]] = []
        new_phones: list[dict[str, Any]] = []
        updated = unchanged = 0
        for cid, rows in existing.items():
            original = current[cid]
            record = dict(original)
            for row in rows:
                before = dict(record)
                for key, value in row.values.items():
                    record[key] = {**(record.get(key) or {}), **value} if key == "attributes" else value
                added = [p for p in row.phones if p not in owner]
                for p in added:
                    positions[cid] = positions.get(cid, -1) + 1
                    new_phones.append({"customer_id": cid, "e164": p, "position": positions[cid]})
                    owner[p] = cid
                if record != before or added:
                    updated += 1
                else:
                    unchanged += 1
            if record != original:
                changes.append({"b_id": cid, **{k: record[k] for k in _CUSTOMER_COLUMNS}, "updated_at": now})
        if changes:
            stmt = update(CustomerRow.__table__).where(CustomerRow.__table__.c.id == bindparam("b_id"))
            conn.execute(stmt.values({k: bindparam(k) for k in (*_CUSTOMER_COLUMNS, "updated_at")}), changes)
        if new_phones:
            conn.execute(insert(CustomerPhoneRow), new_phones)
        return updated, unchanged

    # -- bookkeeping -----------------------------------------------------------------------------------
    def _start_run(self, path: str, sha256: str, summary: ImportSummary) -> tuple[int, int | None]:
        key = self.options.key(self.store.region)
        with self.store.session() as s:
            run = s.scalars(select(ImportRunRow).where(ImportRunRow.file_sha256 == sha256,
                                                       ImportRunRow.options_key == key,
                                                       ImportRunRow.status == "running")
                            .order_by(ImportRunRow.id.desc())).first()
            if run is not None:
                summary.resumed_from_line = run.last_line + 1
                summary.inserted, summary.updated = run.inserted, run.updated
                summary.unchanged, summary.rejected = run.unchanged, run.rejected
                log.info("resuming the import of %s after line %d", path, run.last_line)
                return run.id, run.last_line
            run = ImportRunRow(file_name=path[-500:], file_sha256=sha256, options_key=key, status="running",
                               last_line=1, inserted=0, updated=0, unchanged=0, rejected=0,
                               started_at=dt.datetime.now(dt.timezone.utc))
            s.add(run)
            s.flush()
            return run.id, None
