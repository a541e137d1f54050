"""--map targets, JSON arrays and objects for single-valued fields, visits checked as `kq visits log`
checks them, and every reject naming its column and value: each pinned by a test a clerk would notice."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3

from conftest import import_rows, write_csv

from kqtools.importer import run_import
from kqtools.readers import open_table

A, B, C = "91110108551385082Q", "91310000631696382C", "9144030071526726XG"


def load(db, kind, text, name="t.csv"):
    return run_import(db, open_table(io.BytesIO(text.encode("utf-8")), name), kind)


def rows_of(db_path, sql):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------- (a) --map targets
def test_map_to_a_field_the_kind_does_not_have_is_a_one_line_usage_error(kq, tmp_path, db_path):
    src = write_csv(tmp_path / "s.csv", ["统一代码X", "企业名称"], [[A, "甲公司"]])
    r = kq("import", "enterprises", src, "--map", "统一代码X=note")
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "'note'" in r.stderr and "uscc, name, district" in r.stderr
    assert not db_path.exists()  # refused before the database is even opened


def test_map_target_may_be_a_chinese_alias_of_a_field(kq, tmp_path, db_path):
    src = write_csv(tmp_path / "s.csv", ["统一社会信用代码", "企业名称", "经营场所"], [[A, "甲公司", "湖里区安岭路1号"]])
    r = kq("import", "enterprises", src, "--map", "经营场所=地址", "-f", "json")
    assert r.returncode == 0, r
    assert r.json()["unknown_columns"] == []
    assert rows_of(db_path, "SELECT address, extra FROM enterprises") == [("湖里区安岭路1号", None)]


def test_map_alias_target_also_supplies_a_required_field(kq, tmp_path, db_path):
    src = write_csv(tmp_path / "s.csv", ["统一代码X", "企业名称"], [[B, "乙公司"]])
    r = kq("import", "enterprises", src, "--map", "统一代码X=统一社会信用代码", "-f", "json")
    assert r.returncode == 0 and r.json()["inserted"] == 1, r
    assert rows_of(db_path, "SELECT uscc FROM enterprises") == [(B,)]


# ---------------------------------------------------------------- (b) JSON arrays and objects
def test_json_array_or_object_for_a_single_valued_field_is_rejected_per_row(db):
    text = "\n".join(json.dumps(o, ensure_ascii=False) for o in [
        {"uscc": A, "name": ["x"]},
        {"uscc": B, "name": "乙公司", "district": {"区": "湖里"}},
        {"uscc": C, "name": "丙公司", "备注": {"a": [1, 2]}},
    ]) + "\n"
    r = load(db, "enterprises", text, "t.jsonl")
    assert (r.inserted, r.rejected) == (1, 2)
    first, second = r.rejects
    assert (first.line, first.field, first.column, first.value) == (1, "name", "name", '["x"]')
    assert first.reason == "expected a single value, got a list"
    assert (second.line, second.field, second.value) == (2, "district", '{"区": "湖里"}')
    assert second.reason == "expected a single value, got an object"
    assert db.execute("SELECT count(*) FROM enterprises WHERE name LIKE '[%'").fetchone()[0] == 0
    # an unknown key keeps its object, as JSON
    extra = json.loads(db.execute("SELECT extra FROM enterprises WHERE uscc = ?", [C]).fetchone()[0])
    assert json.loads(extra["备注"]) == {"a": [1, 2]}


def test_list_fields_still_take_json_arrays(db):
    r = import_rows(db, "specialists", [
        {"id": "KJ1", "name": "张三", "districts": ["高新区", "经开区"], "kinds": ["zjtx", "高新技术企业"]},
        {"id": "KJ2", "name": ["李四"]},
    ])
    assert (r.inserted, r.rejected) == (1, 1)
    assert r.rejects[0].field == "name" and r.rejects[0].reason == "expected a single value, got a list"
    districts, kinds = db.execute("SELECT districts, kinds FROM specialists WHERE id = 'KJ1'").fetchone()
    assert json.loads(districts) == ["高新区", "经开区"] and json.loads(kinds) == ["zjtx", "hte"]


# ---------------------------------------------------------------- (c) visits as strict as `kq visits log`
def test_visits_with_unknown_specialist_or_future_date_are_rejected_per_row(db):
    import_rows(db, "specialists", [{"id": "KJ001", "name": "张三"}])
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    today = dt.date.today().isoformat()
    r = load(db, "visits", "统一社会信用代码,专员编号,走访日期\n"
                           f"{A},KJ001,2024-05-06\n"
                           f"{A},KJ999,2024-05-07\n"
                           f"{B},kj001,{tomorrow}\n"
                           f"{C},KJ001,{today}\n")
    assert (r.read, r.inserted, r.rejected) == (4, 2, 2)
    unknown, future = r.rejects
    assert (unknown.line, unknown.field, unknown.column, unknown.value) == (3, "specialist_id", "专员编号", "KJ999")
    assert unknown.reason == "no specialist with id KJ999; import specialists first"
    assert (future.line, future.field, future.column, future.value) == (4, "visited_on", "走访日期", tomorrow)
    assert "in the future" in future.reason
    assert db.execute("SELECT uscc, visited_on FROM visits ORDER BY uscc").fetchall() == [(A, "2024-05-06"), (C, today)]


def test_visits_into_a_database_without_specialists_are_all_rejected(kq, tmp_path, db_path):
    src = tmp_path / "v.jsonl"
    src.write_text(json.dumps({"uscc": A, "specialist_id": "S01", "visited_on": "2024-05-06"}) + "\n", encoding="utf-8")
    r = kq("import", "visits", src, "-f", "json")
    assert r.returncode == 1 and r.json()["rejected"] == 1, r
    assert "no specialist with id S01; import specialists first" in r.stderr
    assert rows_of(db_path, "SELECT count(*) FROM visits") == [(0,)]


# ---------------------------------------------------------------- (d) every reject has column and value
def test_schema_level_rejects_name_column_and_value(kq, tmp_path):
    src = tmp_path / "d.csv"
    src.write_text("统一社会信用代码,荣誉类型,级别,认定日期\n"
                   f"{A},专精特新中小企业,,2024-07-01\n"
                   f"{B},专精特新,无,2024-07-01\n"
                   f"{C},高新技术企业,,\n", encoding="utf-8")
    out = tmp_path / "rej.csv"
    r = kq("import", "designations", src, "--rejects", out)
    assert r.returncode == 1, r
    with out.open(encoding="utf-8-sig", newline="") as fh:
        got = [(x["行号"], x["错误原因"].split(":")[0], x["级别"], x["认定日期"]) for x in csv.DictReader(fh)]
    assert got == [("2", "级别", "", "2024-07-01"), ("3", "级别", "无", "2024-07-01"), ("4", "认定日期", "", "")]
    assert "line 2, column 级别: level: level is required" in r.stderr


def test_every_kind_of_reject_carries_column_and_value(db):
    r = load(db, "enterprises", "统一社会信用代码,企业名称,企业规模,成立日期\n"
                                f"{A},甲公司,规上,2010-01-01\n"
                                f"{B},,规下,2010-01-01\n"            # required value missing
                                f"{C},丙公司,中型,2010-01-01\n"      # unknown enumeration
                                f"{A},甲公司,规上,2010-01-01\n"      # duplicate of line 2
                                f"{B},乙公司,规下,2010-02-30\n"      # impossible date
                                f"{C},丙公司,规上,2010-01-01,多出\n")  # a stray cell beyond the header
    assert r.rejected == 5
    by_line = {x.line: x for x in r.rejects}
    assert all(isinstance(x.value, str) and x.column for x in r.rejects), r.rejects
    assert (by_line[3].column, by_line[3].value) == ("企业名称", "")
    assert (by_line[4].column, by_line[4].value) == ("企业规模", "中型")
    assert (by_line[5].column, by_line[5].value) == ("统一社会信用代码", A)
    assert (by_line[6].column, by_line[6].value) == ("成立日期", "2010-02-30")
    assert (by_line[7].column, by_line[7].value) == ("E", "多出")


def test_broken_jsonl_line_has_an_empty_value_not_none(db):
    r = load(db, "enterprises", json.dumps({"uscc": A, "name": "甲公司"}) + "\nnot json\n", "t.jsonl")
    assert r.rejected == 1 and r.rejects[0].value == "" and r.rejects[0].line == 2


# ---------------------------------------------------------------- XLSX number cells in unknown columns
def test_xlsx_number_cells_in_an_unknown_column_are_kept_as_excel_shows_them(db, tmp_path):
    import xlsxwriter

    path = tmp_path / "n.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["统一社会信用代码", "企业名称", "注册资本"])
    ws.write_row(1, 0, [A, "甲公司", 2778])
    ws.write_row(2, 0, [B, "乙公司", 1.5])
    ws.write_row(3, 0, [C, "丙公司", "500万"])
    wb.close()
    with open(path, "rb") as fh:
        r = run_import(db, open_table(fh, str(path)), "enterprises")
    assert (r.inserted, r.rejected) == (3, 0)
    got = {u: json.loads(x) for u, x in db.execute("SELECT uscc, extra FROM enterprises")}
    assert got == {A: {"注册资本": "2778"}, B: {"注册资本": "1.5"}, C: {"注册资本": "500万"}}


def test_json_objects_without_a_required_key_are_rejected_per_object(db):
    import_rows(db, "enterprises", [{"uscc": A, "name": "甲公司"}])
    r = load(db, "enterprises", json.dumps([{}, {"uscc": B}, {"uscc": C, "name": "丙公司"}], ensure_ascii=False), "t.json")
    assert (r.read, r.inserted, r.rejected) == (3, 1, 2)
    assert [(x.line, x.field, x.reason) for x in r.rejects] == [
        (1, "uscc", "required value missing: uscc"), (1, "name", "required value missing: name"),
        (2, "name", "required value missing: name")]
