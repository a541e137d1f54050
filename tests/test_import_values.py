"""Headers and cell values as clerks write them, through the real import pipeline (in-process)."""
from __future__ import annotations

import io
import json

import pytest

from kqtools import fields as F
from kqtools.importer import run_import
from kqtools.kinds import get_kind, header_key
from kqtools.readers import open_table

A, B, C = "91110108551385082Q", "91310000631696382C", "9144030071526726XG"


def load_csv(db, kind, text, mapping=None, encoding="utf-8"):
    src = open_table(io.BytesIO(text.encode(encoding)), "t.csv")
    return run_import(db, src, kind, mapping=mapping)


def one(db, sql, *params):
    return db.execute(sql, params).fetchone()


@pytest.mark.parametrize("header", ["统一社会信用代码", "社会信用代码", "信用代码", " 统一社会信用代码 ", "＊统一社会信用代码",
                                    "uscc", "USCC"])
def test_uscc_header_aliases(db, header):
    r = load_csv(db, "enterprises", f"{header},企业名称\n{A},甲公司\n")
    assert (r.inserted, r.rejected) == (1, 0)


@pytest.mark.parametrize("header,field", [
    ("用地面积（亩）", "land_mu"), ("用地面积(亩)", "land_mu"), ("用地面积 （亩）", "land_mu"),
    ("营业收入（万元）", "revenue"), ("销售收入", "revenue"), ("实缴税收(万元)", "tax"), ("税收", "tax"),
    ("综合能耗（吨标准煤）", "energy_tce"), ("主要污染物排放量（吨）", "emissions_t"), ("研发投入", "rd_expense"),
    ("研发经费", "rd_expense"), ("年平均职工人数", "employees"), ("从业人数（人）", "employees"),
    ("重大安全环境事故", "incident"), ("年度", "year"), ("年份", "year"),
])
def test_metric_header_aliases_with_units_and_full_width(header, field):
    kind = get_kind("metrics")
    assert kind.headers[header_key(header)] == field


@pytest.mark.parametrize("header,field", [
    ("单位名称", "name"), ("所在区域", "district"), ("功能区", "district"), ("属地", "district"),
    ("行业代码", "industry_code"), ("规模", "size_class"), ("成立日期", "founded_on"),
])
def test_enterprise_header_aliases(header, field):
    assert get_kind("enterprises").headers[header_key(header)] == field


@pytest.mark.parametrize("header,field", [
    ("荣誉类型", "kind"), ("资质类型", "kind"), ("类型", "kind"), ("级别", "level"), ("层级", "level"),
    ("认定日期", "recognized_on"), ("认定时间", "recognized_on"), ("有效期至", "expires_on"),
    ("到期日期", "expires_on"), ("证书编号", "certificate_no"),
])
def test_designation_header_aliases(header, field):
    assert get_kind("designations").headers[header_key(header)] == field


def test_map_option_adds_a_header(db):
    r = load_csv(db, "enterprises", f"代码,企业\n{A},甲公司\n", mapping={"代码": "uscc", "企业": "name"})
    assert (r.inserted, r.rejected) == (1, 0)


@pytest.mark.parametrize("level,expected", [("国家级", "national"), ("省级", "provincial"), ("市级", "city"),
                                            ("区级", "district"), ("县级", "district"), ("national", "national")])
def test_level_values(db, level, expected):
    r = load_csv(db, "designations", f"信用代码,类型,级别,认定日期\n{A},专精特新,{level},2024-07-01\n")
    assert r.rejected == 0, r.rejects
    assert one(db, "SELECT level FROM designations")[0] == expected


@pytest.mark.parametrize("kind_text", ['专精特新"小巨人"', "专精特新小巨人", "专精特新“小巨人”", "专精特新「小巨人」",
                                       "专精特新“小巨人”企业"])
def test_little_giant_means_zjtx_national(db, kind_text):
    cell = '"' + kind_text.replace('"', '""') + '"'
    r = load_csv(db, "designations", f"信用代码,荣誉类型,认定日期\n{A},{cell},2024/7/1\n")
    assert r.rejected == 0, r.rejects
    assert one(db, "SELECT kind, level, expires_on FROM designations") == ("zjtx", "national", "2027-06-30")


def test_zjtx_without_level_is_rejected(db):
    r = load_csv(db, "designations", f"信用代码,荣誉类型,认定日期\n{A},专精特新,2024/7/1\n")
    assert r.rejected == 1 and r.rejects[0].field == "level"


@pytest.mark.parametrize("text,expected", [("规上", "above"), ("规下", "below"), ("规模以上", "above"), (" 规上 ", "above")])
def test_size_class_values(db, text, expected):
    load_csv(db, "enterprises", f"信用代码,企业名称,企业规模\n{A},甲,{text}\n")
    assert one(db, "SELECT size_class FROM enterprises")[0] == expected


@pytest.mark.parametrize("text,expected", [("是", 1), ("否", 0), ("yes", 1), ("无", None), ("", None), ("0", 0)])
def test_boolean_values(db, text, expected):
    load_csv(db, "metrics", f"信用代码,年度,重大安全环境事故\n{A},2024,{text}\n")
    assert one(db, "SELECT incident FROM metrics")[0] == expected


def test_unknown_enumeration_value_is_rejected_with_choices(db):
    r = load_csv(db, "enterprises", f"信用代码,企业名称,企业规模\n{A},甲,中等\n")
    assert r.rejected == 1
    assert r.rejects[0].field == "size_class" and "above" in r.rejects[0].reason


@pytest.mark.parametrize("text,expected", [("2024-07-01", "2024-07-01"), ("2024/7/1", "2024-07-01"),
                                           ("2024年7月1日", "2024-07-01"), ("2024.7.1", "2024-07-01"),
                                           ("20240701", "2024-07-01"), ("2024-07-01 00:00:00", "2024-07-01"),
                                           ("２０２４年７月１日", "2024-07-01"), ("45474", "2024-07-01")])
def test_dates(text, expected):
    assert F.to_date(text) == expected


@pytest.mark.parametrize("text", ["2024-02-30", "2024/13/1", "明年", "7/1/2024"])
def test_bad_dates_are_rejected(db, text):
    r = load_csv(db, "enterprises", f"信用代码,企业名称,成立日期\n{A},甲,{text}\n")
    assert r.rejected == 1 and r.rejects[0].field == "founded_on" and r.rejects[0].line == 2


@pytest.mark.parametrize("text,expected", [('"1,234.5"', 1234.5), ("1234", 1234.0), ('"12,345,678"', 12345678.0),
                                           ("１２３", 123.0), ("-5", -5.0), ("1 234", 1234.0), ("88万元", 88.0)])
def test_numbers_with_thousands_separators(db, text, expected):
    load_csv(db, "metrics", f"信用代码,年度,实缴税收（万元）\n{A},2024年,{text}\n")  # tax may be negative
    assert one(db, "SELECT tax, year FROM metrics") == (expected, 2024)


def test_bad_number_is_rejected(db):
    r = load_csv(db, "metrics", f"信用代码,年度,营业收入\n{A},2024,一百\n")
    assert r.rejected == 1 and r.rejects[0].field == "revenue" and "not a number" in r.rejects[0].reason


def test_unknown_columns_kept_in_extra_and_reported_once(db):
    r = load_csv(db, "enterprises", f"信用代码,企业名称,备注,负责人\n{A},甲,重点企业,王五\n{B},乙,,\n")
    assert r.unknown_columns == ["备注", "负责人"]
    extra = dict(db.execute("SELECT uscc, extra FROM enterprises").fetchall())
    assert json.loads(extra[A]) == {"备注": "重点企业", "负责人": "王五"}
    assert extra[B] is None
    assert json.loads(one(db, "SELECT unknown_columns FROM batches")[0]) == ["备注", "负责人"]


def test_unknown_keys_of_json_objects_kept(db):
    data = json.dumps([{"uscc": A, "name": "甲", "标签": ["a", "b"]}], ensure_ascii=False).encode()
    r = run_import(db, open_table(io.BytesIO(data), "t.json"), "enterprises")
    assert r.inserted == 1 and r.unknown_columns == ["标签"]
    assert json.loads(one(db, "SELECT extra FROM enterprises")[0]) == {"标签": '["a", "b"]'}


def test_list_fields_of_specialists(db):
    r = load_csv(db, "specialists", "工号,姓名,负责区域,服务企业类型,是否在岗\n"
                                    "s01,张三,高新区、经开区,专精特新|高新技术企业,否\n")
    assert r.rejected == 0, r.rejects
    rec = one(db, "SELECT id, districts, kinds, active FROM specialists")
    assert rec[0] == "S01" and json.loads(rec[1]) == ["高新区", "经开区"] and json.loads(rec[2]) == ["zjtx", "hte"]
    assert rec[3] == 0


def test_allowlisted_code_accepted(db):
    xiamen = "91350203M0001QKT19"
    r = load_csv(db, "enterprises", f"信用代码,企业名称\n{xiamen},厦门某公司\n")
    assert r.rejected == 1 and "allow-list" in r.rejects[0].reason
    from kqtools.storage import write_transaction
    with write_transaction(db):
        db.execute("INSERT INTO uscc_allowlist VALUES (?, 'confirmed by 市场监管局', '2024-01-01')", [xiamen])
    r = load_csv(db, "enterprises", f"信用代码,企业名称\n{xiamen},厦门某公司\n")
    assert (r.inserted, r.rejected) == (1, 0)


def test_credit_record_keys(db):
    r = load_csv(db, "credit", "信用代码,信用类型,纳税信用等级,年度\n"
                               f"{A},纳税信用等级,A级,2023\n{A},纳税信用等级,B,2024\n")
    assert r.rejected == 0, r.rejects
    assert db.execute("SELECT record_key, grade FROM credit_records ORDER BY year").fetchall() == [("2023", "A"), ("2024", "B")]


def test_text_beginning_like_a_formula_is_stored_as_text_and_counted(db):
    r = load_csv(db, "enterprises", f'信用代码,企业名称,备注\n{A},-2+3公司,"=cmd|\' /C calc\'!A0"\n'
                                    f'{B},+HYPERLINK("http://x"),@SUM(1)\n{C},丙公司,-5\n')
    assert (r.inserted, r.rejected) == (3, 0), r.rejects
    assert r.formula_like == 4  # -2+3公司, =cmd…, +HYPERLINK…, @SUM…; the number -5 is not formula-like
    assert dict(db.execute("SELECT uscc, name FROM enterprises")) == {A: "-2+3公司", B: '+HYPERLINK("http://x")', C: "丙公司"}
    assert json.loads(one(db, "SELECT extra FROM enterprises WHERE uscc = ?", A)[0]) == {"备注": "=cmd|' /C calc'!A0"}


def test_the_apostrophe_of_kqs_csv_export_is_removed_and_nothing_else(db):
    r = load_csv(db, "enterprises", f"信用代码,企业名称,联系电话,备注\n{A},'-2+3公司,'+86 138,'=1\n"
                                    f"{B},'乙公司',''@x,'\n")
    assert r.rejected == 0 and r.apostrophes_removed == 3
    got = {u: rest for u, *rest in db.execute("SELECT uscc, name, phone, extra FROM enterprises")}
    assert got[A] == ["-2+3公司", "+86 138", '{"备注": "=1"}']
    assert got[B] == ["'乙公司'", "''@x", '{"备注": "\'"}']  # not kq's neutralization: kept as written


def test_a_formula_in_a_number_or_date_column_is_rejected_with_advice(db):
    r = load_csv(db, "metrics", f"信用代码,年度,实缴税收\n{A},2024,=SUM(B2:B5)\n{B},2024,'-5\n")
    assert r.rejected == 1 and "spreadsheet formula" in r.rejects[0].reason and r.rejects[0].line == 2
    assert one(db, "SELECT tax FROM metrics")[0] == -5.0


def test_duplicate_of_an_unchanged_row_is_rejected_and_first_wins(db):
    load_csv(db, "enterprises", f"信用代码,企业名称\n{A},甲\n")
    r = load_csv(db, "enterprises", f"信用代码,企业名称\n{A},甲\n{A},甲（改名）\n{B},乙\n{B},乙2\n{B},乙3\n")
    assert (r.inserted, r.updated, r.unchanged, r.rejected) == (1, 0, 1, 3)
    assert [(x.line, x.reason) for x in r.rejects] == [
        (3, "duplicate uscc: the same record is on line 2"), (5, "duplicate uscc: the same record is on line 4"),
        (6, "duplicate uscc: the same record is on line 4")]
    assert dict(db.execute("SELECT uscc, name FROM enterprises").fetchall()) == {A: "甲", B: "乙"}


def test_rows_know_the_batch_and_line_that_listed_them(db):
    first = load_csv(db, "enterprises", f"信用代码,企业名称\n{A},甲\n{B},乙\n")
    second = load_csv(db, "enterprises", f"信用代码,企业名称\n{B},乙（新）\n{A},甲\n")
    got = {u: rest for u, *rest in db.execute("SELECT uscc, batch_id, seen_batch, seen_line FROM enterprises")}
    assert got[A] == [first.batch, second.batch, 3]   # unchanged: still from the first batch, listed in the second
    assert got[B] == [second.batch, second.batch, 2]


def test_duplicates_across_chunks(db, monkeypatch):
    import kqtools.importer as importer

    monkeypatch.setattr(importer.write, "CHUNK", 2)
    r = load_csv(db, "enterprises", f"信用代码,企业名称\n{A},甲\n{B},乙\n{C},丙\n{A},甲2\n{C},丙2\n")
    assert (r.inserted, r.rejected) == (3, 2)
    assert [x.line for x in r.rejects] == [5, 6]


def test_docs_reference_matches_the_schemas():
    from pathlib import Path

    from kqtools.kinds import reference_markdown

    doc = (Path(__file__).resolve().parent.parent / "docs" / "import.md").read_text(encoding="utf-8")
    generated = doc.split("<!-- generated:begin -->\n", 1)[1].split("<!-- generated:end -->", 1)[0]
    assert generated.strip() == reference_markdown().strip(), "run: python -m kqtools.kinds, paste into docs/import.md"
