"""Customer CSV import: encodings, column mapping, upsert idempotence, bad rows, bad files, resume."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from engine.store.errors import ImportFileError
from engine.store.importer import CustomerImport, ImportOptions
from engine.store.models import CustomerRow
from engine.store.repos.agents import AgentRepository
from engine.store.repos.callbacks import CallbackRepository
from engine.store.repos.customers import CustomerRepository
from engine.store.repos.dnc import DncRepository

CHINESE = "姓名,手机,客户等级,标签\n张伟,13812345678,贵宾,\"5g,family\"\n李娜,+86 139 1234 5678,新客户,\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def errors_of(path: Path) -> list[dict[str, str]]:
    with open(f"{path}.errors.csv", encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "utf-16"])
def test_excel_exports_in_each_encoding_import_the_same_customers(store, tmp_path, encoding: str) -> None:
    path = write(tmp_path / "c.csv", CHINESE, encoding)
    summary = CustomerImport(store).run(path)
    assert (summary.inserted, summary.rejected) == (2, 0)
    found = CustomerRepository(store).find_by_phone("13812345678")
    assert found is not None and found.name == "张伟" and found.segment.value == "vip" and found.tags == ("5g", "family")
    assert CustomerRepository(store).find_by_phone("13912345678").segment.value == "new"


def test_importing_the_same_file_twice_changes_nothing_the_second_time(store, tmp_path) -> None:
    path = write(tmp_path / "c.csv", CHINESE)
    CustomerImport(store).run(path)
    before = [(c.id, c.name, c.phones, c.segment, c.tags) for c in CustomerRepository(store).iter_all()]
    again = CustomerImport(store).run(path)
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 0)
    assert [(c.id, c.name, c.phones, c.segment, c.tags) for c in CustomerRepository(store).iter_all()] == before


def test_a_later_file_updates_fields_and_adds_numbers_to_existing_customers(store, tmp_path) -> None:
    CustomerImport(store).run(write(tmp_path / "a.csv", CHINESE))
    update = write(tmp_path / "b.csv", "phone,phone2,segment\n+8613812345678,010 1234 5678,loyal\n")
    summary = CustomerImport(store).run(update)
    assert (summary.inserted, summary.updated) == (0, 1)
    found = CustomerRepository(store).find_by_phone("01012345678")
    assert found is not None and found.name == "张伟" and found.segment.value == "loyal"
    assert found.phones == ("+8613812345678", "+861012345678")


def test_bad_rows_are_reported_with_line_and_reason_and_good_rows_are_kept(store, tmp_path) -> None:
    text = ("name,phone,segment,value_tier\n"
            "Good One,13812340001,new,1\n"        # 2
            "No Number,,new,1\n"                  # 3
            "Bad Number,12345,new,1\n"            # 4
            "Letters,call me,new,1\n"             # 5
            "Dup,+86 138 1234 0001,new,1\n"       # 6
            "Gold,13812340002,gold,1\n"           # 7
            "Short,13812340003\n"                 # 8
            "Long,13812340004,new,1,extra\n"      # 9
            "Tier,13812340005,new,high\n"         # 10
            "\"Multi\nLine, Name\",13812340006,vip,2\n"  # 11-12
            "Good Two,13812340007,loyal,3\n")     # 13
    path = write(tmp_path / "c.csv", text)
    summary = CustomerImport(store).run(path)
    assert (summary.inserted, summary.rejected) == (3, 8)
    errors = errors_of(path)
    assert [(e["line"], e["field"]) for e in errors] == [
        ("3", "phone"), ("4", "phone"), ("5", "phone"), ("6", "phone"), ("7", "segment"), ("8", ""), ("9", ""),
        ("10", "value_tier")]
    assert "line 2" in errors[3]["error"]
    assert "expected 4 fields, found 2" in errors[5]["error"]
    assert errors[4]["name"] == "Gold"  # the original row follows, under its own header
    repo = CustomerRepository(store)
    assert repo.find_by_phone("13812340006").name == "Multi\nLine, Name"
    assert repo.find_by_phone("13812340007").name == "Good Two"
    assert repo.count() == 3


def test_sql_metacharacters_and_quotes_are_just_data(store, tmp_path) -> None:
    name = "Robert'); DROP TABLE customers;--\" %"
    path = tmp_path / "c.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["name", "phone"], [name, "13812345678"]])
    CustomerImport(store).run(path)
    assert CustomerRepository(store).find_by_phone("13812345678").name == name


@pytest.mark.parametrize(("content", "message"), [
    (b"PK\x03\x04rest-of-a-zip", "xlsx"),
    (b"\x00\x01\x02binary\x00", "binary"),
    (b"", "empty"),
    (b"name,phone\n\xff\xfe\xfa\xfb\x80\x81,138\n", "cannot decode"),
])
def test_a_file_that_is_not_csv_text_is_refused_naming_the_file(store, tmp_path, content: bytes, message: str) -> None:
    path = tmp_path / "not.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message) as caught:
        CustomerImport(store).run(path)
    assert str(path) in str(caught.value)
    assert CustomerRepository(store).count() == 0


def test_a_header_without_a_phone_column_is_refused_at_line_1(store, tmp_path) -> None:
    path = write(tmp_path / "c.csv", "name,email\nA,a@example.com\n")
    with pytest.raises(ImportFileError, match=r"c\.csv:1: phone: no phone column"):
        CustomerImport(store).run(path)


def test_unknown_columns_are_refused_unless_ignored_or_kept_as_attributes(store, tmp_path) -> None:
    path = write(tmp_path / "c.csv", "name,phone,balance\nA,13812345678,12.5\n")
    with pytest.raises(ImportFileError, match="balance: unknown column"):
        CustomerImport(store).run(path)
    CustomerImport(store, ImportOptions(extra_columns="ignore")).run(path)
    assert CustomerRepository(store).find_by_phone("13812345678").attributes == {}
    CustomerImport(store, ImportOptions(extra_columns="attributes")).run(path)
    assert CustomerRepository(store).find_by_phone("13812345678").attributes == {"balance": "12.5"}


def test_columns_can_be_mapped_explicitly(store, tmp_path) -> None:
    path = write(tmp_path / "c.csv", "Kunde;Rufnummer;Saldo\nA;13812345678;9\n")
    options = ImportOptions(mapping={"name": "Kunde", "phone": "Rufnummer", "attr.balance": "Saldo"})
    assert CustomerImport(store, options).run(path).inserted == 1
    found = CustomerRepository(store).find_by_phone("13812345678")
    assert found.name == "A" and found.attributes == {"balance": "9"}
    with pytest.raises(ImportFileError, match="Nope"):
        CustomerImport(store, ImportOptions(mapping={"phone": "Nope"})).run(path)


def test_an_interrupted_import_keeps_whole_batches_and_resumes_after_the_last_one(store, tmp_path, monkeypatch) -> None:
    lines = ["name,phone"] + [f"C{i},1381234{i:04d}" for i in range(10)] + ["Bad,12345"]
    path = write(tmp_path / "c.csv", "\n".join(lines) + "\n")
    options = ImportOptions(batch_rows=4)
    real_insert = CustomerImport._insert
    calls = {"n": 0}

    def crash_on_second_batch(self, conn, rows, now):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        inserted = real_insert(self, conn, rows, now)
        if calls["n"] == 2:
            raise KeyboardInterrupt  # after writing rows: the whole batch must roll back
        return inserted

    monkeypatch.setattr(CustomerImport, "_insert", crash_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        CustomerImport(store, options).run(path)
    assert CustomerRepository(store).count() == 4  # only the first batch
    monkeypatch.setattr(CustomerImport, "_insert", real_insert)
    summary = CustomerImport(store, options).run(path)
    assert summary.resumed_from_line == 6
    assert (summary.inserted, summary.rejected) == (10, 1)
    assert CustomerRepository(store).count() == 10
    assert [e["line"] for e in errors_of(path)] == ["12"]
    with store.session() as s:
        assert s.query(CustomerRow).count() == 10


def test_numbers_owned_by_two_customers_in_one_row_are_rejected(store, tmp_path) -> None:
    repo = CustomerRepository(store)
    repo.upsert(["13812345678"])
    repo.upsert(["13912345678"])
    path = write(tmp_path / "c.csv", "name,phone\nBoth,13812345678;13912345678\n")
    summary = CustomerImport(store).run(path)
    assert summary.rejected == 1 and "different customers" in errors_of(path)[0]["error"]


def test_every_column_of_an_imported_customer_reads_back_as_given(store, tmp_path) -> None:
    AgentRepository(store).add("1001")
    path = write(tmp_path / "c.csv",
                 "name,phone,segment,value_tier,arpu,tags,language,timezone,account_no,owner_agent_id,"
                 "marketing_consent,do_not_disturb,attr.plan\n"
                 "Zhang,13812345678;01012345678,loyal,7,\"1,234.50\",b;a,zh,Asia/Urumqi,AC-9,1001,yes,no,gold\n")
    assert CustomerImport(store).run(path).inserted == 1
    imported = CustomerRepository(store).find_by_account("AC-9")
    assert imported is not None
    assert (imported.name, imported.phones, imported.segment.value, imported.value_tier, imported.arpu) == (
        "Zhang", ("+8613812345678", "+861012345678"), "loyal", 7, 1234.5)
    assert (imported.tags, imported.language, imported.timezone, imported.owner_agent_id) == (
        ("a", "b"), "zh", "Asia/Urumqi", "1001")
    assert (imported.marketing_consent, imported.do_not_disturb, imported.attributes) == (True, False, {"plan": "gold"})
    assert CustomerImport(store).run(path).unchanged == 1


def test_phone_numbers_never_appear_unmasked_in_logs(store, tmp_path, caplog) -> None:
    caplog.set_level("DEBUG", logger="engine.store")
    path = write(tmp_path / "c.csv", "name,phone\nA,13812345678\nB,13812345678\nC,1381234\n")
    CustomerImport(store).run(path)
    CustomerRepository(store).upsert(["13912345678"])
    CallbackRepository(store).request("13912345678", "abandoned", dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc), "acd")
    DncRepository(store).add("13712345678")
    assert caplog.records, "expected the store to log something at DEBUG/INFO"
    for digits in ("13812345678", "13912345678", "13712345678", "1381234"):
        assert digits not in caplog.text
