"""Read a spreadsheet export as CSV: detect its encoding and delimiter, map its header to customer fields.

How it works: one streaming pass hashes the file, counts its lines and checks that it decodes as
UTF-8 (with or without BOM), UTF-16 (Excel "Unicode text") or else GBK/GB18030 (Excel on Chinese
Windows). When some lines are not UTF-8, the file's encoding is decided by the majority of its
non-ASCII lines (GB18030 decodes almost any bytes, so it is never chosen by merely not failing), and
the lines that do not decode in the chosen encoding are reported, each as a rejected row, instead of
being imported as mojibake. Files that are clearly not text (NUL bytes at the start, a zip/xlsx or PDF
signature) are refused with a message saying what they are. Lines are read one at a time and bounded
(`MAX_LINE_BYTES`, `MAX_RECORD_CHARS`, the csv module's field limit, `MAX_COLUMNS`); a line with a NUL,
a byte-order mark past the start of the file, or another control character is rejected with its
number. The header row is matched against known column names in English and Chinese, overridable with
an explicit FIELD=COLUMN mapping; unknown columns are an error unless the caller asks to ignore them or
keep them as customer attributes.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.store.errors import ImportFileError

CHUNK = 1 << 20
MAX_LINE_BYTES = 1 << 20     # one physical line
MAX_RECORD_CHARS = 1 << 20   # one row (a quoted field may span lines)
MAX_COLUMNS = 1000           # header columns; more is refused before any mapping work
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
    bad_lines: int = 0  # lines that do not decode in `encoding`; each is reported as a rejected row


@dataclass(frozen=True)
class Columns:
    """Which CSV column (index) feeds which customer field."""

    phone: tuple[int, ...]
    fields: dict[str, int]
    attributes: dict[str, int] = field(default_factory=dict)
    width: int = 0


def _ascii_compatible(encoding: str) -> bool:
    return "\n".encode(encoding) == b"\n"


def inspect(path: str | Path, encoding: str | None = None) -> FileFacts:
    """Hash the file, count its lines and choose its encoding (see the module docstring)."""
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
            encoding = "utf-8-sig"
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        elif b"\x00" in head:
            raise ImportFileError(name, 1, "", "not a CSV file: it contains binary data (NUL bytes)")
    codecs.lookup(encoding or "utf-8")  # an unknown --encoding raises LookupError here
    if encoding is not None and not _ascii_compatible(encoding):
        digest, lines, bad_line = _scan(path, encoding)
        if bad_line is not None:
            raise ImportFileError(name, bad_line, "", f"cannot decode the file as {encoding.upper()} (line "
                                  f"{bad_line} is not valid {encoding.upper()} text); save it as UTF-8 CSV")
        return FileFacts(name, encoding, digest, lines, size)
    digest, lines, bad_line = _scan(path, encoding or "utf-8")
    if bad_line is None:
        return FileFacts(name, encoding or "utf-8", digest, lines, size)
    candidates = [encoding] if encoding else ["utf-8", "gb18030"]
    survey = _survey(path, candidates)
    if encoding is None and survey["utf-8"][0] < survey["utf-8"][1]:
        encoding = "gb18030"  # most non-ASCII lines are not UTF-8: an export from Excel on Chinese Windows
    encoding = encoding or "utf-8"
    good, bad, first_bad = survey[encoding]
    if bad > good:
        tried = " or ".join(c.upper() for c in candidates)
        raise ImportFileError(name, first_bad, "", f"cannot decode the file as {tried} (line {first_bad} is not "
                              f"valid {encoding.upper()} text); save it as UTF-8 CSV or pass --encoding")
    return FileFacts(name, encoding, digest, lines, size, bad_lines=bad)


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
                while chunk:  # finish the hash and the count: the caller may still use this encoding
                    digest.update(chunk)
                    lines += chunk.count(b"\n")
                    chunk = fh.read(CHUNK)
                return digest.hexdigest(), lines, lines + 1  # refined by _survey
            if final:
                break
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return digest.hexdigest(), lines, None


def _survey(path: str | Path, encodings: list[str]) -> dict[str, list[int]]:
    """For each encoding: [non-ASCII lines that decode, lines that do not, first line that does not]."""
    out = {e: [0, 0, 0] for e in encodings}
    for number, raw in _physical_lines(path):
        if raw.isascii():
            continue
        for encoding in encodings:
            counts = out[encoding]
            try:
                raw.decode(encoding)
                counts[0] += 1
            except UnicodeDecodeError:
                counts[1] += 1
                counts[2] = counts[2] or number
    return out


def _physical_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each line, over-long lines cut at MAX_LINE_BYTES (binary read, bounded memory)."""
    number = 0
    with open(path, "rb") as fh:
        while True:
            raw = fh.readline(MAX_LINE_BYTES)
            if not raw:
                return
            number += 1
            if not raw.endswith(b"\n") and len(raw) == MAX_LINE_BYTES:
                while True:  # skip the rest of the line
                    more = fh.readline(MAX_LINE_BYTES)
                    if not more or more.endswith(b"\n"):
                        break
            yield number, raw


class _RecordTooLong(Exception):
    pass


class LineReader:
    """Decoded lines for the csv module, one at a time; notes every line it had to refuse, and why.

    A refused line is still handed on (decoded with replacement characters, or empty when over-long)
    so the CSV structure stays in step; the row it belongs to is then reported instead of imported.
    """

    def __init__(self, path: str, encoding: str) -> None:
        self.path, self.encoding = path, encoding
        self.line = 0
        self.problems: list[tuple[int, str]] = []
        self._record_chars = 0
        self._bytes = _ascii_compatible(encoding)
        self._fh: Any = open(path, "rb") if self._bytes else open(path, encoding=encoding, newline="")
        self._decoder_name = encoding.upper().replace("-SIG", "")
        if self._bytes and encoding.lower().replace("_", "-") in ("utf-8-sig", "utf8-sig"):
            if self._fh.read(3) != codecs.BOM_UTF8:
                self._fh.seek(0)
            self.encoding = "utf-8"

    def close(self) -> None:
        self._fh.close()

    def __iter__(self) -> "LineReader":
        return self

    def record_done(self) -> list[tuple[int, str]]:
        """The problems noted since the previous record; starts counting the next record's size."""
        problems, self.problems = self.problems, []
        self._record_chars = 0
        return problems

    def __next__(self) -> str:
        raw = self._fh.readline(MAX_LINE_BYTES if self._bytes else MAX_RECORD_CHARS)
        if not raw:
            raise StopIteration
        self.line += 1
        newline = "\n" if self._bytes else ""
        if len(raw) >= (MAX_LINE_BYTES if self._bytes else MAX_RECORD_CHARS) and not raw.endswith(
                b"\n" if self._bytes else "\n"):
            while True:
                more = self._fh.readline(MAX_LINE_BYTES)
                if not more or more.endswith(b"\n" if self._bytes else "\n"):
                    break
            self.problems.append((self.line, f"line longer than {MAX_LINE_BYTES // 1024} KiB"))
            return newline or "\n"
        if self._bytes:
            try:
                text = raw.decode(self.encoding)
            except UnicodeDecodeError as exc:
                self.problems.append((self.line, f"not valid {self._decoder_name} text (byte {exc.start + 1} of "
                                                 "the line); fix the line or save the file as UTF-8"))
                text = raw.decode(self.encoding, "replace")
        else:
            text = raw
        bad = _BAD_CHARS.search(text.rstrip("\r\n"))
        if bad is not None and not (bad.group() == "\ufeff" and self.line == 1 and bad.start() == 0):
            char = bad.group()
            what = ("a NUL byte (binary data)" if char == "\x00" else
                    "a byte-order mark (U+FEFF) inside the file: were two files joined?" if char == "\ufeff" else
                    f"the control character U+{ord(char):04X}")
            self.problems.append((self.line, f"contains {what}"))
            text = _BAD_CHARS.sub("", text)
        self._record_chars += len(text)
        if self._record_chars > MAX_RECORD_CHARS:
            self._record_chars = 0
            raise _RecordTooLong(f"a row longer than {MAX_RECORD_CHARS // 1024} KiB (an unclosed quote?)")
        return text


_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]")


def _clip_list(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(n[:40] for n in names[:limit])
    return shown + (f", ... ({len(names)} columns)" if len(names) > limit else "")


def open_rows(facts: FileFacts, delimiter: str | None = None, candidates: tuple[str, ...] = (",", "\t", ";", "|")
              ) -> tuple[list[str], Iterator[tuple[int, list[str] | str]]]:
    """The header and an iterator of (line number, fields) for data rows; a row that cannot be imported
    (malformed CSV, a line that does not decode, binary or control characters, over a size bound)
    comes as (line number, reason text) instead of a field list."""
    reader_lines = LineReader(facts.path, facts.encoding)
    try:
        first = next(reader_lines, "")
        problems = reader_lines.record_done()
    except _RecordTooLong as exc:
        reader_lines.close()
        raise ImportFileError(facts.path, 1, "", f"the header is {exc}") from None
    if problems:
        reader_lines.close()
        raise ImportFileError(facts.path, 1, "", f"cannot read the header: {problems[0][1]}")
    if not first.strip():
        reader_lines.close()
        raise ImportFileError(facts.path, 1, "", "the first line must be a header naming the columns")
    if delimiter is None:
        delimiter = max(candidates, key=first.count)
    try:
        header = next(csv.reader([first], delimiter=delimiter))
    except csv.Error as exc:
        reader_lines.close()
        raise ImportFileError(facts.path, 1, "", f"the header is not valid CSV: {exc}") from None
    if len(header) > MAX_COLUMNS:
        reader_lines.close()
        raise ImportFileError(facts.path, 1, "", f"the header has {len(header)} columns; at most {MAX_COLUMNS}")
    reader = csv.reader(reader_lines, delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[str] | str]]:
        try:
            while True:
                start = reader_lines.line + 1
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    reader_lines.record_done()
                    yield start, f"malformed CSV: {exc}"
                    continue
                except _RecordTooLong as exc:
                    reader_lines.record_done()
                    yield start, str(exc)
                    continue
                problems = reader_lines.record_done()
                if problems:
                    line, reason = problems[0]
                    yield line, reason if line == start else f"{reason} (line {line})"
                elif fields:
                    yield start, fields
        finally:
            reader_lines.close()

    return header, rows()


def map_columns(file: str, header: list[str], mapping: dict[str, str], extra: str = "error") -> Columns:
    """Match header names to fields. mapping: FIELD -> column name (FIELD may be "attr.KEY").
    extra: what to do with unknown columns: "error", "ignore" or "attributes"."""
    if len(header) > MAX_COLUMNS:
        raise ImportFileError(file, 1, "", f"the header has {len(header)} columns; at most {MAX_COLUMNS}")
    names = [h.strip().lstrip("\ufeff") for h in header]
    index = {n.lower(): i for i, n in enumerate(names)}
    dupes = sorted(n for n, count in Counter(names).items() if count > 1 and n)
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
            raise ImportFileError(file, 1, column, f"mapped column not in the header ({_clip_list(names)})")
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
        raise ImportFileError(file, 1, "phone", f"no phone column in the header ({_clip_list(names)}); "
                              "name one phone/电话/手机 or pass --map phone=COLUMN")
    if unknown:
        raise ImportFileError(file, 1, unknown[0], f"unknown column{'s' if len(unknown) > 1 else ''} "
                              f"{_clip_list(unknown)} (map with --map FIELD=COLUMN, or pass --extra-columns "
                              "ignore|attributes)")
    return Columns(tuple(phone), fields, attributes, len(names))
