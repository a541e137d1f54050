"""What an import keeps and says about rejected rows (issue 11 item 16, issue 18 item 8): the column
of every reject in the database as in the --rejects file, duplicate unknown headers kept apart,
personal data masked on stderr but kept in the file, old rejects purged."""
from __future__ import annotations

import csv
import io
import json
import sqlite3

from kqtools.importer import Reject, run_import
from kqtools.readers import open_table

A, B, C = "91110108551385082Q", "91310000631696382C", "9144030071526726XG"


def load(db, text, kind="enterprises"):
    return run_import(db, open_table(io.BytesIO(text.encode("utf-8")), "t.csv"), kind)


def test_duplicate_unknown_headers_keep_both_values_under_distinct_keys(db):
    r = load(db, f"统一社会信用代码,企业名称,备注,备注,备注\n{A},甲公司,重点,外资,\n{B},乙公司,,,三号\n")
    assert r.unknown_columns == ["备注", "备注 (2)", "备注 (3)"]
    extra = {u: json.loads(x) for u, x in db.execute("SELECT uscc, extra FROM enterprises")}
    assert extra == {A: {"备注": "重点", "备注 (2)": "外资"}, B: {"备注 (3)": "三号"}}


def test_the_database_keeps_the_column_of_each_reject_as_the_rejects_file_does(kq, tmp_path, db_path):
    src = tmp_path / "bad.csv"
    src.write_text(f"统一社会信用代码,企业名称,成立日期\n{A},甲公司,2024-02-30\n{B},,2020-01-01\n{C},丙公司,2020-01-01,多出\n",
                   encoding="utf-8")
    out = tmp_path / "rejects.csv"
    r = kq("import", "enterprises", src, "--rejects", out, "-f", "json")
    assert r.returncode == 1, r
    with out.open(encoding="utf-8-sig", newline="") as fh:
        in_file = list(csv.DictReader(fh))
    shown = kq("rejects", str(r.json()["batch"]), "-f", "jsonl").jsonl()
    assert [x["column"] for x in shown] == ["成立日期", "企业名称", "D"]
    assert [x["name"] for x in shown] == ["甲公司", None, "丙公司"]   # whose row it is
    assert [(int(x["行号"]), x["错误原因"]) for x in in_file] == [
        (x["line"], f"{x['column']}: {x['reason']}") for x in shown]


def test_stderr_masks_phone_and_id_numbers_but_the_rejects_file_keeps_them(kq, tmp_path):
    src = tmp_path / "people.csv"
    src.write_text("统一社会信用代码,企业名称,联系电话\n"
                   "362322198709086409,张三,13812345678\n"             # a resident ID in the code column
                   f"{A},甲公司,{'1' * 60}\n", encoding="utf-8")        # phone longer than 50 characters
    out = tmp_path / "rejects.csv"
    r = kq("import", "enterprises", src, "--rejects", out)
    assert r.returncode == 1, r
    assert "362322198709086409" not in r.stderr and "362***********6409" in r.stderr
    assert "resident ID" in r.stderr
    with out.open(encoding="utf-8-sig", newline="") as fh:
        values = [(row["统一社会信用代码"], row["联系电话"]) for row in csv.DictReader(fh)]
    assert values == [("362322198709086409", "13812345678"), (A, "1" * 60)]


def test_a_value_is_shown_only_where_it_helps_to_fix_the_row():
    from kqtools.importer.diagnostics import reject_line

    assert reject_line("f.csv", Reject(4, "founded_on", "2024-02-30", "no such date: 2024-02-30", "成立日期")) == \
        "f.csv: line 4, column 成立日期: founded_on: no such date: 2024-02-30"   # the reason already says it
    assert reject_line("f.csv", Reject(5, "size_class", "中型", "unknown value", "企业规模")).endswith("(value '中型')")
    assert "(value" not in reject_line("f.csv", Reject(6, "uscc", A, "duplicate uscc: the same record is on line 2"))
    assert "(value" not in reject_line("f.csv", Reject(7, "name", "无", "required value missing: name", "企业名称"))
    assert reject_line("f.csv", Reject(8, "phone", "0512-62345678", "longer than 5 characters", "电话")).endswith(
        "(value '0512-****5678')")


def test_purge_before_deletes_old_rejects_and_marks_their_batches(kq, tmp_path, db_path):
    src = tmp_path / "bad.csv"
    src.write_text(f"统一社会信用代码,企业名称\n{A},甲公司\n123,坏\n", encoding="utf-8")
    first = kq("import", "enterprises", src, "-f", "json").json()["batch"]
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE batches SET finished_at = '2024-01-02T10:00:00+08:00' WHERE id = ?", [first])
    conn.commit()
    second = kq("import", "enterprises", src, "-f", "json").json()["batch"]
    r = kq("rejects", "--purge-before", "2025-01-01", "-f", "json")
    assert r.returncode == 0 and r.json() == {"purged_before": "2025-01-01", "batches": 1, "rejects": 1}, r
    assert conn.execute("SELECT batch_id FROM rejects").fetchall() == [(second,)]
    assert conn.execute("SELECT rejected FROM batches WHERE id = ?", [first]).fetchone() == (1,)  # counts stay
    r = kq("rejects", str(first))
    assert r.returncode == 0 and r.stdout == "" and "were deleted on" in r.stderr
    assert kq("rejects").returncode == 2 and kq("rejects", "1", "--purge-before", "2025-01-01").returncode == 2
