"""Read a spreadsheet export as CSV: detect its encoding and delimiter, map its header to customer fields.

How it works: one streaming pass hashes the file, counts its lines and checks that it decodes as
UTF-8 (with or without BOM), UTF-16 (Excel "Unicode text") or else GBK/GB18030 (Excel on Chinese
Windows). Files that are clearly not text (NUL bytes, a zip/xlsx or PDF signature) are refused with
a message saying what they are. The header row is matched against known column names in English and
Chinese, overridable with an explicit FIELD=COLUMN mapping; unknown columns are an error unless the
caller asks to ignore them or keep them as customer attributes.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.store.errors import ImportFileError

CHUNK = 1 << 20
FIELDS = ("name", "phone", "segment", "value_tier", "arpu", "tags", "language", "timezone", "account_no",
          "owner_agent_id", "marketing_consent", "do_not_disturb")
ALIASES = {
    "name": ("name", "customer", "customer name", "full name", "姓名", "客户名称", "客户姓名", "名称"),
    "phone": ("phone", "phone2", "phone3", "phones", "mobile", "tel", "telephone", "phone number", "number",
              "电话", "手机", "手机号", "手机号码", "电话号码", "联系电话", "固话", "备用电话"),
    "segment": ("segment", "level", "客户等级", "客户类型", "等级", "类型"),
    "value_tier": ("value_tier", "value tier", "tier", "价值等级", "价值层级"),
    "arpu": ("arpu", "月均消费", "arpu(元)"),
    "tags": ("tags", "tag", "labels", "标签"),
    "language": ("language", "lang", "语言"),
    "timezone": ("timezone", "time zone", "tz", "时区"),
    "account_no": ("account_no", "account", "account number", "账号", "帐号", "客户编号", "账户"),
    "owner_agent_id": ("owner_agent_id", "owner", "owner agent", "客户经理", "归属坐席", "专属坐席"),
    "marketing_consent": ("marketing_consent", "consent", "营销许可", "同意营销"),
    "do_not_disturb": ("do_not_disturb", "dnd", "免打扰", "勿扰"),
}
_SIGNATURES = {b"PK\x03\x04": "a zip archive or an Excel .xlsx workbook (save it as CSV)",
               b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook (save it as CSV)",
               b"%PDF": "a PDF document"}


@dataclass(frozen=True)
class FileFacts:
    """What the detection pass learned about a file."""

    path: str
    encoding: str
    sha256: str
    lines: int
    size: int


@dataclass(frozen=True)
class Columns:
    """Which CSV column (index) feeds which customer field."""

    phone: tuple[int, ...]
    fields: dict[str, int]
    attributes: dict[str, int] = field(default_factory=dict)
    width: int = 0


def inspect(path: str | Path, encoding: str | None = None) -> FileFacts:
    """Hash the file, count its lines and find an encoding that decodes all of it."""
    name = str(path)
    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise ImportFileError(name, 0, "", f"cannot read the file: {exc.strerror or exc}") from None
    if size == 0:
        raise ImportFileError(name, 1, "", "the file is empty")
    for magic, what in _SIGNATURES.items():
        if head.startswith(magic):
            raise ImportFileError(name, 1, "", f"not a CSV file: this is {what}")
    if encoding is None:
        if head.startswith(codecs.BOM_UTF8):
            candidates = ["utf-8-sig"]
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            candidates = ["utf-16"]
        else:
            if b"\x00" in head:
                raise ImportFileError(name, 1, "", "not a CSV file: it contains binary data (NUL bytes)")
            candidates = ["utf-8", "gb18030"]
    else:
        candidates = [encoding]
    problem = ""
    for candidate in candidates:
        digest, lines, bad_line = _scan(path, candidate)
        if bad_line is None:
            return FileFacts(name, candidate, digest, lines, size)
        problem = problem or f"line {bad_line} is not valid {candidate.upper()} text"
    tried = " or ".join(c.upper() for c in candidates)
    raise ImportFileError(name, bad_line or 1, "", f"cannot decode the file as {tried} ({problem}); "
                          "save it as UTF-8 CSV or pass --encoding")


def _scan(path: str | Path, encoding: str) -> tuple[str, int, int | None]:
    """(sha256, newline count, first line that fails to decode or None)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    digest = hashlib.sha256()
    lines = 0
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            final = not chunk
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                return "", lines, lines + chunk[: max(exc.start, 0)].count(b"\n") + 1
            if final:
                break
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return digest.hexdigest(), lines, None


def open_rows(facts: FileFacts, delimiter: str | None = None) -> tuple[list[str], Iterator[tuple[int, list[str] | str]]]:
    """The header and an iterator of (line number, fields) for data rows; a row that the CSV parser
    rejects comes as (line number, reason text) instead of a field list."""
    handle = open(facts.path, encoding=facts.encoding, newline="")
    first = handle.readline()
    if not first.strip():
        handle.close()
        raise ImportFileError(facts.path, 1, "", "the first line must be a header naming the columns")
    if delimiter is None:
        delimiter = max((",", "\t", ";", "|"), key=first.count)
    header = next(csv.reader([first], delimiter=delimiter))
    reader = csv.reader(handle, delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[str] | str]]:
        with handle:
            start = 2
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield start, f"malformed CSV: {exc}"
                    start = reader.line_num + 2
                    continue
                line, start = start, reader.line_num + 2
                if fields:
                    yield line, fields

    return header, rows()


def map_columns(file: str, header: list[str], mapping: dict[str, str], extra: str = "error") -> Columns:
    """Match header names to fields. mapping: FIELD -> column name (FIELD may be "attr.KEY").
    extra: what to do with unknown columns: "error", "ignore" or "attributes"."""
    names = [h.strip().lstrip("\ufeff") for h in header]
    index = {n.lower(): i for i, n in enumerate(names)}
    dupes = sorted({n for n in names if names.count(n) > 1 and n})
    if dupes:
        raise ImportFileError(file, 1, dupes[0], "the header names this column twice")
    phone: list[int] = []
    fields: dict[str, int] = {}
    attributes: dict[str, int] = {}
    used: set[int] = set()
    unknown: list[str] = []
    for target, column in mapping.items():
        pos = index.get(column.strip().lower())
        if pos is None:
            raise ImportFileError(file, 1, column, f"mapped column not in the header ({', '.join(names)})")
        if target.startswith("attr."):
            attributes[target[5:]] = pos
        elif target == "phone":
            phone.append(pos)
        elif target in FIELDS:
            fields[target] = pos
        else:
            raise ImportFileError(file, 1, target, f"unknown field to map to (known: {', '.join(FIELDS)}, attr.KEY)")
        used.add(pos)
    for pos, name in enumerate(names):
        if pos in used or not name:
            continue
        key = name.lower()
        target = next((f for f, aliases in ALIASES.items() if key in aliases), None)
        if target == "phone":
            phone.append(pos)
        elif target is not None and target not in fields:
            fields[target] = pos
        elif key.startswith("attr.") or extra == "attributes":
            attributes[name[5:] if key.startswith("attr.") else name] = pos
        elif extra == "error":
            unknown.append(name)
        else:
            continue
        used.add(pos)
    if not phone:
        raise ImportFileError(file, 1, "phone", f"no phone column in the header ({', '.join(names)}); "
                              "name one phone/电话/手机 or pass --map phone=COLUMN")
    if unknown:
        raise ImportFileError(file, 1, unknown[0], f"unknown column{'s' if len(unknown) > 1 else ''} "
                              f"{', '.join(unknown)} (map with --map FIELD=COLUMN, or pass --extra-columns "
                              "ignore|attributes)")
    return Columns(tuple(phone), fields, attributes, len(names))
