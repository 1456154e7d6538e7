"""Fill a campaign with contacts: a CSV file (imported as customers first) or a segment query over customers.

How it works: a CSV file goes through the customer import unchanged (`engine.store.importer`): the same
encoding detection, validation, upsert and FILE.errors.csv report of bad rows with line and reason.
Then the file is read once more and the first valid phone of every row that the report does not list
is enrolled in the campaign, with its customer and time zone. A segment query (`segment`,
`last_contact_before`, `tags`, `value_tier`) enrolls the primary number of each matching customer.
Numbers already in the campaign are skipped, so running an import twice is harmless.
"""
from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.dialer.campaigns import ContactSource
from engine.store.csvsource import map_columns, open_rows
from engine.store.database import Store
from engine.store.errors import InvalidPhoneNumber
from engine.store.importer import CustomerImport, ImportOptions, ImportSummary
from engine.store.phones import normalize_with_zone
from engine.store.repos.campaigns import CampaignRepository

_PHONES = re.compile(r"[,，;；/、|]")
Progress = Callable[[int], None]


@dataclass(frozen=True)
class EnrollSummary:
    """What filling a campaign did."""

    enrolled: int
    already_there: int
    customers: ImportSummary | None = None


def import_csv(store: Store, campaign_id: int, path: str | Path, options: ImportOptions | None = None,
               priority: int = 0, import_progress: Progress | None = None,
               enroll_progress: Progress | None = None) -> EnrollSummary:
    """Import FILE as customers (bad rows reported in FILE.errors.csv), then enroll its good rows."""
    options = options or ImportOptions()
    importer = CustomerImport(store, options, progress=import_progress)
    facts = importer.check(path)
    summary = importer.run(path, facts)
    rejected = _rejected_lines(summary.errors_file)
    header, rows = open_rows(facts, options.delimiter)
    columns = map_columns(facts.path, header, options.mapping, options.extra_columns)

    def numbers() -> Iterator[tuple[str, int | None, str | None]]:
        try:
            for line, fields in rows:
                if line in rejected or isinstance(fields, str) or len(fields) != columns.width:
                    continue
                number = _first_phone([fields[i] for i in columns.phone], store.region)
                if number is not None:
                    yield number[0], None, number[1]
        finally:
            rows.close()

    added, known = CampaignRepository(store).enroll(campaign_id, numbers(), priority, enroll_progress)
    return EnrollSummary(added, known, summary)


def enroll_query(store: Store, campaign_id: int, source: ContactSource, now: dt.datetime, priority: int = 0,
                 progress: Progress | None = None) -> EnrollSummary:
    """Enroll the primary number of every customer the segment query matches."""
    repo = CampaignRepository(store)
    before = now - source.last_contact_before if source.last_contact_before is not None else None
    members = repo.segment_members(source.segment, before, source.tags, source.value_tier_min, source.value_tier_max)
    added, known = repo.enroll(campaign_id, ((n, cid, zone) for n, cid, zone in members), priority, progress)
    return EnrollSummary(added, known)


def _first_phone(cells: list[str], region: str) -> tuple[str, str | None] | None:
    for cell in cells:
        for raw in _PHONES.split(cell):
            if raw.strip():
                try:
                    return normalize_with_zone(raw, region)
                except InvalidPhoneNumber:
                    return None
    return None


def _rejected_lines(errors_file: str | None) -> set[int]:
    """Line numbers the import's bad-row report lists."""
    if not errors_file or not Path(errors_file).exists():
        return set()
    with open(errors_file, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        return {int(row[0]) for row in reader if row and row[0].isdigit()}
