"""The store's CLI groups, driven through the real `jinqiao` entry point on a SQLite file."""
from __future__ import annotations

from engine.store.migrate import head_revision


def test_db_upgrade_current_and_downgrade_one_step(jq) -> None:
    head = head_revision()
    previous = f"{int(head) - 1:04d}"
    code, out, _ = jq("db", "current")
    assert code == 1 and "outdated" in out  # scripts can test for it
    code, out, _ = jq("db", "upgrade")
    assert code == 0 and f"empty -> {head}" in out
    code, out, _ = jq("db", "current")
    assert code == 0 and "current" in out
    code, _out, err = jq("db", "downgrade", "-1")  # no --yes, nobody to answer: nothing is dropped
    assert code == 2 and "not confirmed" in err
    assert "current" in jq("db", "current")[1]
    code, out, _ = jq("db", "downgrade", "-1", "--yes")
    assert code == 0 and f"{head} -> {previous}" in out
    assert f"already at {head}" not in jq("db", "upgrade")[1]


def test_commands_refuse_an_unmigrated_database_and_say_what_to_run(jq) -> None:
    code, _, err = jq("agents", "list")
    assert code == 2 and "jinqiao db upgrade" in err and len(err.strip().splitlines()) == 1


def test_customers_import_show_and_export_round_trip(jq, tmp_path) -> None:
    jq("db", "upgrade")
    source = tmp_path / "c.csv"
    source.write_text("姓名,手机,客户等级,attr.plan\n张伟,13812345678,贵宾,gold\n坏,12345,新客户,\n", encoding="gbk")
    code, out, _ = jq("customers", "import", str(source))
    assert code == 0 and "1 inserted, 0 updated, 0 unchanged, 1 rejected" in out and ".errors.csv" in out
    code, out, _ = jq("customers", "show", "+86 138 1234 5678")
    assert code == 0 and "张伟" in out and "segment=vip" in out
    exported = tmp_path / "out.csv"
    assert jq("customers", "export", "-o", str(exported))[0] == 0
    assert "attr.plan" in exported.read_text(encoding="utf-8-sig").splitlines()[0]
    code, out, _ = jq("customers", "import", str(exported))
    assert code == 0 and "0 inserted, 0 updated, 1 unchanged, 0 rejected" in out


def test_import_errors_are_one_line_naming_file_line_and_field(jq, tmp_path) -> None:
    jq("db", "upgrade")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,email\nA,a@x\n", encoding="utf-8")
    code, _, err = jq("customers", "import", str(bad))
    assert code == 2 and f"{bad}:1: phone:" in err and len(err.strip().splitlines()) == 1
    code, _, err = jq("customers", "import", "--map", "oops", str(bad))
    assert code == 2 and "FIELD=COLUMN" in err
    assert jq("customers", "show", "13900000000")[0] == 2


def test_agents_skills_and_dispositions(jq) -> None:
    jq("db", "upgrade")
    code, out, _ = jq("agents", "add", "1001", "--name", "Li", "--skill", "billing=7")
    assert code == 0 and "billing=7" in out
    assert jq("agents", "set-skill", "1001", "vip", "9")[0] == 0
    code, _, err = jq("agents", "set-skill", "1001", "vip", "11")
    assert code == 2 and "proficiency" in err
    assert "billing=7, vip=9" in jq("agents", "list")[1]
    assert jq("agents", "remove", "1001")[0] == 0
    assert "1001" not in jq("agents", "list")[1]
    assert jq("agents", "remove", "1001")[0] == 2
    assert jq("dispositions", "add", "SALE", "Sale made", "--success")[0] == 0
    assert "SALE" in jq("dispositions", "list")[1]
    assert jq("dispositions", "remove", "SALE")[0] == 0
    assert "SALE" not in jq("dispositions", "list")[1]


def test_dnc_add_check_import_remove(jq, tmp_path) -> None:
    jq("db", "upgrade")
    assert jq("dnc", "add", "13812345678", "--reason", "asked")[0] == 0
    assert "black list" in jq("dnc", "check", "0086 138 1234 5678")[1]
    # A listed number is not silently moved to the weaker grey list, and a past expiry is refused.
    code, _, err = jq("dnc", "add", "13812345678", "--grey")
    assert code == 2 and "--replace" in err and "(asked)" in err
    assert "black list" in jq("dnc", "check", "13812345678")[1]
    assert jq("dnc", "add", "13612345678", "--expires", "2020-01-01")[0] == 2
    listing = tmp_path / "dnc.csv"
    listing.write_text("number,list,reason\n13912345678,grey,complaint\nbad,black,x\n13912345678,black,dup\n")
    code, out, _ = jq("dnc", "import", str(listing))
    assert code == 0 and "1 added, 0 replaced, 2 rejected" in out
    assert "grey list" in jq("dnc", "check", "13912345678")[1]
    plain = tmp_path / "plain.txt"
    plain.write_text("13700000001\n13700000002\n")
    assert "2 added" in jq("dnc", "import", str(plain))[1]
    assert jq("dnc", "remove", "13812345678")[0] == 0
    assert "not on a do-not-call list" in jq("dnc", "check", "13812345678")[1]
    assert jq("dnc", "check", "not-a-number")[0] == 2
    prose = tmp_path / "notes.txt"
    prose.write_text("This is not a list of numbers.\nNor is this.\n")
    code, _out, err = jq("dnc", "import", str(prose))
    assert code == 2 and "no valid row" in err


def test_an_unreachable_database_is_one_line_and_exit_code_2(jq) -> None:
    code, _, err = jq("db", "--database-url", "postgresql://nobody@127.0.0.1:1/none", "current")
    assert code == 2 and "cannot open the database" in err and len(err.strip().splitlines()) == 1
