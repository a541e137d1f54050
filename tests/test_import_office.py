"""Office files read right or refused loudly (issue 13): units, Excel error values, real header
layouts and footers, --set and the year in the title, .xls, Chinese value aliases and messages."""
from __future__ import annotations

import sqlite3
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import make_office_fixtures as fx  # noqa: E402

A, B, C = fx.CODES[:3]


def table(db_path, sql, *params):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def csv_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8-sig")
    return path


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    out = tmp_path_factory.mktemp("office")
    fx.main(out)
    return out


# ---------------------------------------------------------------- 1. units
@pytest.mark.parametrize("header,cell,field,expected", [
    ("营业收入（元）", "350,000,000", "revenue", 35000.0),
    ("营业收入(千元)", "5000", "revenue", 500.0),
    ("营业收入万元", "88", "revenue", 88.0),
    ("营业收入（亿元）", "3.5", "revenue", 35000.0),
    ("用地面积（平方米）", "6667", "land_mu", 10.0005),
    ("用地面积（㎡）", "6667", "land_mu", 10.0005),
    ("用地面积（亩）", "12", "land_mu", 12.0),
    ("用地面积（公顷）", "2", "land_mu", 30.0),
    ("用电量（千瓦时）", "1200", "electricity_kwh", 1200.0),
    ("用电量（万千瓦时）", "1.5", "electricity_kwh", 15000.0),
    ("综合能耗（吨标准煤）", "800", "energy_tce", 800.0),
    ("综合能耗（吨标煤）", "800", "energy_tce", 800.0),
    ("综合能耗（万吨标准煤）", "0.12", "energy_tce", 1200.0),
    ("排放量（吨）", "3", "emissions_t", 3.0),
    ("排放量（千克）", "2500", "emissions_t", 2.5),
])
def test_a_unit_in_the_header_is_converted_exactly(kq, tmp_path, db_path, header, cell, field, expected):
    src = csv_file(tmp_path / "m.csv", f'统一社会信用代码,年度,{header}\n{A},2025,"{cell}"\n')
    r = kq("import", "metrics", src, "-f", "json")
    assert r.returncode == 0, r
    assert table(db_path, f"SELECT {field} FROM metrics") == [(expected,)]
    if "亩" not in header and "万元" not in header and "千瓦时）" != header[-4:] and expected != float(cell.replace(",", "")):
        assert any(header in line for line in r.json()["converted"]), r.json()


@pytest.mark.parametrize("cell,field,expected", [
    ("1200元", "revenue", 0.12), ("3.5亿元", "revenue", 35000.0), ("5000千元", "revenue", 500.0),
    ("88万元", "revenue", 88.0), ("350,000,000 元", "revenue", 35000.0),
    ("8000平方米", "land_mu", 12.0), ("6667 平方米", "land_mu", 10.0005), ("12亩", "land_mu", 12.0),
    ("1.5万千瓦时", "electricity_kwh", 15000.0), ("800吨标煤", "energy_tce", 800.0),
    ("2500千克", "emissions_t", 2.5),
])
def test_a_unit_in_a_cell_is_converted_exactly(kq, tmp_path, db_path, cell, field, expected):
    header = {"revenue": "营业收入", "land_mu": "用地面积", "electricity_kwh": "用电量", "energy_tce": "综合能耗",
              "emissions_t": "排放量"}[field]
    src = csv_file(tmp_path / "m.csv", f'统一社会信用代码,年度,{header}\n{A},2025,"{cell}"\n')
    r = kq("import", "metrics", src, "-f", "json")
    assert r.returncode == 0, r
    assert table(db_path, f"SELECT {field} FROM metrics") == [(expected,)]


def test_the_summary_and_kq_imports_say_which_columns_were_converted(kq, tmp_path):
    src = csv_file(tmp_path / "m.csv", f"统一社会信用代码,年度,营业收入（元）,税收\n{A},2025,1200,3.5亿元\n")
    r = kq("import", "metrics", src, "-f", "json")
    assert r.json()["converted"] == ["营业收入（元）: 元 → 万元 × 0.0001", "税收: 1 cell in 亿元 → 万元 × 10000"]
    assert "converted 营业收入（元）: 元 → 万元 × 0.0001" in r.stderr
    listed = kq("imports", "-f", "jsonl").jsonl()[0]
    assert listed["converted"] == "营业收入（元）: 元 → 万元 × 0.0001; 税收: 1 cell in 亿元 → 万元 × 10000"


def test_a_header_unit_that_does_not_fit_the_field_stops_the_import(kq, tmp_path, db_path):
    src = csv_file(tmp_path / "m.csv", f"统一社会信用代码,年度,税收（平方米）\n{A},2025,12\n")
    r = kq("import", "metrics", src)
    assert r.returncode == 2, r
    assert "column 税收（平方米）: unit 平方米 does not fit tax, which is in 万元" in r.stderr
    assert table(db_path, "SELECT count(*) FROM metrics") == [(0,)]


def test_a_header_unit_kq_cannot_read_stops_the_import(kq, tmp_path):
    r = kq("import", "metrics", csv_file(tmp_path / "m.csv", f"统一社会信用代码,年度,营业收入（美元）\n{A},2025,12\n"))
    assert r.returncode == 2 and "unknown unit '美元': revenue is in 万元 (kq reads 元, " in r.stderr, r


def test_a_cell_unit_that_does_not_fit_rejects_the_row(kq, tmp_path, db_path):
    src = csv_file(tmp_path / "m.csv", f"统一社会信用代码,年度,税收\n{A},2025,12平方米\n{B},2025,5美元\n{C},2025,7\n")
    r = kq("import", "metrics", src, "-f", "json")
    assert r.returncode == 1 and r.json()["rejected"] == 2, r
    assert "line 2, column 税收: tax: unit 平方米 does not fit tax, which is in 万元" in r.stderr
    assert "line 3, column 税收: tax: unknown unit '美元'" in r.stderr
    assert table(db_path, "SELECT uscc, tax FROM metrics") == [(C, 7.0)]


@given(st.decimals(min_value=0, max_value=10**12, places=4, allow_nan=False))
def test_yuan_to_wanyuan_is_the_decimal_shifted_four_places(value):
    from kqtools.kinds import units_table
    from kqtools.units import quantity_converter

    convert = quantity_converter("revenue", "万元", units_table(), units_table().find("元"))
    assert convert(str(value)) == float(Decimal(value).scaleb(-4))
    assert quantity_converter("land_mu", "亩", units_table())(f"{value}平方米") == float(Fraction(value) * 15 / 10000)


# ---------------------------------------------------------------- 2. Excel error values
@pytest.mark.parametrize("error", ["#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!"])
def test_an_excel_error_value_as_text_rejects_the_row(kq, tmp_path, db_path, error):
    src = csv_file(tmp_path / "m.csv", f"统一社会信用代码,企业名称,年度,营业收入\n{A},甲,2025,{error}\n{B},{error},2025,1\n")
    r = kq("import", "metrics", src, "-f", "json")
    assert r.returncode == 1 and r.json()["rejected"] == 2, r
    assert f"line 2, column 营业收入: revenue: Excel error value" in r.stderr
    assert f"line 3, column 企业名称: name: Excel error value" in r.stderr
    assert table(db_path, "SELECT count(*) FROM metrics") == [(0,)]


def test_excel_error_cells_of_a_workbook_reject_the_row(kq, tmp_path, db_path):
    import xlsxwriter

    path = tmp_path / "m.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["统一社会信用代码", "年度", "营业收入", "税收"])
    ws.write_row(1, 0, [A, 2025])
    ws.write_formula(1, 2, "=1/0", None, "#DIV/0!")
    ws.write_number(1, 3, 5)
    ws.write_row(2, 0, [B, 2025, 10])
    ws.write_formula(2, 3, "=NA()", None, "#N/A")
    ws.write_row(3, 0, [C, 2025, 10, 1])
    wb.close()
    r = kq("import", "metrics", path, "-f", "json")
    assert r.returncode == 1 and r.json()["rejected"] == 2, r
    assert "line 2, column 营业收入: revenue: Excel error value" in r.stderr
    assert "line 3, column 税收: tax: Excel error value" in r.stderr
    assert table(db_path, "SELECT uscc FROM metrics") == [(C,)]


def test_na_typed_by_a_clerk_still_means_no_value(kq, tmp_path, db_path):
    r = kq("import", "metrics", csv_file(tmp_path / "m.csv", f"统一社会信用代码,年度,营业收入\n{A},2025,N/A\n"))
    assert r.returncode == 0, r
    assert table(db_path, "SELECT revenue FROM metrics") == [(None,)]


# ---------------------------------------------------------------- 3. header layouts and footers
METRICS_ROWS = [(A, 2025, 10.0005, 35000.0, 500.0, 1205000.0, 800.0), (B, 2025, 12.0, 35000.0, 0.12, 880000.0, 640.25),
                (C, 2025, 30.0, 9800.0, 260.0, 350000.0, 210.0)]


@pytest.mark.parametrize("options", [(), ("--header-row", "3"), ("--header-row", "2")])
def test_title_two_row_merged_header_serial_numbers_and_footers(kq, fixtures, db_path, options):
    r = kq("import", "metrics", fixtures / "亩均效益指标（含合计）.xlsx", "-f", "json", *options)
    assert r.returncode == 0, r
    s = r.json()
    assert (s["read"], s["inserted"], s["rejected"], s["skipped"]) == (3, 3, 0, 3)
    assert s["unknown_columns"] == ["备注"]   # 序号 is left out; 备注 kept in extra
    assert s["set"] == {"year": "2025 from the title on line 1"}
    assert table(db_path, "SELECT uscc, year, land_mu, revenue, tax, electricity_kwh, energy_tce FROM metrics "
                          "ORDER BY uscc") == sorted(METRICS_ROWS)
    assert "skipped 3 rows below the data" in r.stderr
    assert "经济指标 / 营业收入（元）: 元 → 万元 × 0.0001" in s["converted"]   # the two header rows joined


def test_a_header_row_that_splits_a_column_is_joined_and_mapped(kq, tmp_path, db_path):
    src = csv_file(tmp_path / "m.csv", f"统一社会信用代码,企业名称,年度,用地面积（亩）,\n,,,自有,租赁\n"
                                       f"{A},甲,2025,12,3\n{B},乙,2025,8,0\n")
    r = kq("import", "metrics", src, "--map", "用地面积（亩） / 自有=land_mu", "-f", "json")
    assert r.returncode == 0, r
    assert r.json()["unknown_columns"] == ["用地面积（亩） / 租赁"]
    assert table(db_path, "SELECT uscc, land_mu, extra FROM metrics ORDER BY uscc") == sorted([
        (A, 12.0, '{"用地面积（亩） / 租赁": "3"}'), (B, 8.0, '{"用地面积（亩） / 租赁": "0"}')])


def test_a_row_without_a_code_between_data_rows_is_still_rejected(kq, tmp_path, db_path):
    src = csv_file(tmp_path / "m.csv", f"统一社会信用代码,年度,营业收入\n{A},2025,1\n,2025,2\n{B},2025,3\n合计,,6\n"
                                       f"填表人：王敏,,\n,,\n（盖章）\n")
    r = kq("import", "metrics", src, "-f", "json")
    s = r.json()
    assert r.returncode == 1 and (s["read"], s["inserted"], s["rejected"], s["skipped"]) == (3, 2, 1, 3), r
    assert "line 3, column 统一社会信用代码: uscc: required value missing" in r.stderr


def test_a_trailing_row_without_a_code_is_skipped_not_rejected(kq, tmp_path):
    src = csv_file(tmp_path / "m.csv", f"统一社会信用代码,企业名称,年度,营业收入\n{A},甲,2025,100\n,以上数据截至2025年底,,\n")
    s = kq("import", "metrics", src, "-f", "json").json()
    assert (s["inserted"], s["rejected"], s["skipped"]) == (1, 0, 1)


def test_header_row_that_is_blank_is_refused(kq, tmp_path):
    r = kq("import", "metrics", csv_file(tmp_path / "m.csv", f"\n统一社会信用代码,年度\n{A},2025\n"), "--header-row", "1")
    assert r.returncode == 2 and "--header-row 1: no header on that row" in r.stderr, r


# ---------------------------------------------------------------- 4. --set and the year of the title
def test_set_fills_a_field_for_every_row_with_value_aliases(kq, fixtures, db_path):
    r = kq("import", "designations", fixtures / "专精特新名单.xls", "--set", "kind=专精特新", "--set", "level=省级", "-f", "json")
    assert r.returncode == 0, r
    s = r.json()
    assert (s["format"], s["inserted"], s["set"]) == ("xls", 3, {"kind": "专精特新", "level": "省级"})
    assert table(db_path, "SELECT uscc, kind, level, recognized_on, expires_on FROM designations ORDER BY uscc") == [
        (code, "zjtx", "provincial", "2025-06-30", "2028-06-29") for code in sorted(fx.CODES[3:6])]


def test_a_bad_set_value_rejects_every_row_naming_the_option(kq, tmp_path):
    src = csv_file(tmp_path / "d.csv", f"统一社会信用代码,认定日期\n{A},2025-06-30\n")
    r = kq("import", "designations", src, "--set", "kind=专精特新", "--set", "level=乡镇级")
    assert r.returncode == 1 and "column --set: level: unknown value '乡镇级'; expected one of 国家级, 省级" in r.stderr, r


def test_set_of_a_field_the_file_has_a_column_for_is_refused(kq, tmp_path):
    r = kq("import", "metrics", csv_file(tmp_path / "m.csv", f"统一社会信用代码,年度\n{A},2025\n"), "--set", "year=2024")
    assert r.returncode == 2 and "--set year=… but column 年度 gives year already" in r.stderr, r


def test_set_of_an_unknown_field_is_a_usage_error(kq, tmp_path):
    r = kq("import", "metrics", csv_file(tmp_path / "m.csv", f"统一社会信用代码,年度\n{A},2025\n"), "--set", "colour=red")
    assert r.returncode == 2 and "metrics has no field 'colour'" in r.stderr, r


def test_the_year_from_the_file_name(kq, tmp_path, db_path):
    src = csv_file(tmp_path / "亩均指标2025年度.csv", f"统一社会信用代码,营业收入\n{A},5\n")
    s = kq("import", "metrics", src, "-f", "json").json()
    assert s["set"] == {"year": "2025 from the file name"}
    assert table(db_path, "SELECT year, revenue FROM metrics") == [(2025, 5.0)]


def test_two_different_years_ask_for_set_year(kq, fixtures, db_path):
    r = kq("import", "metrics", fixtures / "亩均指标2024年度.csv")
    assert r.returncode == 2, r
    assert "2025 (the title on line 1) and 2024 (the file name); say which with --set year=YEAR" in r.stderr
    r = kq("import", "metrics", fixtures / "亩均指标2024年度.csv", "--set", "year=2025年", "-f", "json")
    assert r.returncode == 0 and table(db_path, "SELECT year FROM metrics") == [(2025,)], r


def test_no_year_anywhere_still_names_the_missing_column(kq, tmp_path):
    r = kq("import", "metrics", csv_file(tmp_path / "m.csv", f"统一社会信用代码,营业收入\n{A},5\n"))
    assert r.returncode == 2 and "no column for required field 'year'" in r.stderr, r


# ---------------------------------------------------------------- 6. value aliases and messages
@pytest.mark.parametrize("kind,header,value,column,expected", [
    ("designations", "荣誉类型", '国家级专精特新"小巨人"', "kind, level", ("zjtx", "national")),
    ("designations", "荣誉类型", '专精特新"小巨人"企业', "kind, level", ("zjtx", "national")),
    ("designations", "荣誉类型", "省级专精特新", "kind, level", ("zjtx", "provincial")),
    ("designations", "荣誉类型", "省级专精特新中小企业", "kind, level", ("zjtx", "provincial")),
    ("enterprises", "企业规模", "小微", "size_class", ("below",)),
    ("enterprises", "企业规模", "小型", "size_class", ("below",)),
    ("enterprises", "企业规模", "微型", "size_class", ("below",)),
])
def test_chinese_value_aliases(kq, tmp_path, db_path, kind, header, value, column, expected):
    extra = ",认定日期" if kind == "designations" else ",企业名称"
    cell = ",2025-06-30" if kind == "designations" else ",甲公司"
    src = csv_file(tmp_path / "x.csv", f'统一社会信用代码,{header}{extra}\n{A},"{value.replace(chr(34), chr(34) * 2)}"{cell}\n')
    r = kq("import", kind, src)
    assert r.returncode == 0, r
    table_name = "designations" if kind == "designations" else "enterprises"
    assert table(db_path, f"SELECT {column} FROM {table_name}") == [expected]


@pytest.mark.parametrize("value,active", [("在岗", 1), ("在职", 1), ("离岗", 0), ("离职", 0), ("是", 1), ("否", 0)])
def test_specialists_on_duty_words(kq, tmp_path, db_path, value, active):
    r = kq("import", "specialists", csv_file(tmp_path / "s.csv", f"工号,姓名,状态,负责区域\nkj001,张三,{value},全区\n"))
    assert r.returncode == 0, r
    assert table(db_path, "SELECT id, active, districts FROM specialists") == [("KJ001", active, "[]")]


@pytest.mark.parametrize("value", ["全区", "全部", "不限"])
def test_all_districts_words_mean_every_district(kq, tmp_path, db_path, value):
    r = kq("import", "specialists", csv_file(tmp_path / "s.csv", f"工号,姓名,负责区域\nKJ001,张三,{value}\nKJ002,李四,高新区、经开区\n"))
    assert r.returncode == 0, r
    assert table(db_path, "SELECT id, districts FROM specialists ORDER BY id") == [
        ("KJ001", "[]"), ("KJ002", '["高新区", "经开区"]')]


def test_a_refused_enumeration_lists_the_chinese_values(kq, tmp_path):
    src = csv_file(tmp_path / "d.csv", f"统一社会信用代码,荣誉类型,级别,认定日期\n{A},专精特新,乡镇级,2025-06-30\n")
    r = kq("import", "designations", src)
    assert r.returncode == 1, r
    assert "expected one of 国家级, 省级, 市级, 区级 (national, provincial, city, district)" in r.stderr


# ---------------------------------------------------------------- 5. .xls
def test_an_xls_workbook_imports_like_an_xlsx(kq, fixtures, db_path):
    r = kq("import", "designations", fixtures / "专精特新名单.xls", "--set", "kind=专精特新", "--set", "level=省级",
           "--sheet", "名单", "-f", "json")
    assert r.returncode == 0 and r.json()["sheet"] == "名单", r
    # the title row and the blank row above the header are skipped; the Excel date number is a date
    assert table(db_path, "SELECT recognized_on FROM designations") == [("2025-06-30",)] * 3


def test_a_file_that_is_not_really_an_xls_is_refused_in_one_line(kq, tmp_path):
    path = tmp_path / "x.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    r = kq("import", "enterprises", path)
    assert r.returncode == 2 and "x.xls: not a readable .xls (or WPS .et) workbook" in r.stderr, r


# ---------------------------------------------------------------- 8. re-import by another key, undo
def dump(db_path, *tables):
    conn = sqlite3.connect(db_path)
    try:
        return {t: conn.execute(f"SELECT rowid, * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    finally:
        conn.close()


def test_reimport_with_a_better_mapping_updates_the_records_and_undo_restores_them(kq, fixtures, db_path):
    src = fixtures / "信用记录.csv"
    first = kq("import", "credit", src, "-f", "json").json()
    assert first["inserted"] == 2 and first["unknown_columns"] == ["处罚文书编号"]
    before = dump(db_path, "credit_records", "enterprises")
    r = kq("import", "credit", src, "--map", "处罚文书编号=reference", "-f", "json")
    s = r.json()
    assert (s["inserted"], s["updated"], s["rekeyed"]) == (0, 2, 2), r
    assert "2 records already stored without a case number (文书号) updated under it" in r.stderr
    assert table(db_path, "SELECT uscc, record_key, reference FROM credit_records ORDER BY uscc") == [
        (A, "常环罚〔2025〕12号", "常环罚〔2025〕12号"), (B, "常市监罚〔2025〕88号", "常市监罚〔2025〕88号")]
    undo = kq("imports", "undo", str(s["batch"]), "-f", "json")
    assert undo.returncode == 0, undo
    assert undo.json()["restored"] == 2
    assert dump(db_path, "credit_records", "enterprises") == before
    listed = {b["batch"]: b for b in kq("imports", "-f", "jsonl").jsonl()}
    assert listed[s["batch"]]["undone_by"] == undo.json()["batch"] and listed[undo.json()["batch"]]["kind"] == "undo"
    again = kq("imports", "undo", str(s["batch"]))
    assert again.returncode == 2 and "was undone already" in again.stderr


def test_undo_of_a_batch_that_inserted_deletes_its_rows_and_the_firms_it_created(kq, fixtures, tmp_path, db_path):
    kq("import", "metrics", csv_file(tmp_path / "m.csv", f"统一社会信用代码,企业名称,年度,营业收入\n{C},丙,2024,1\n"))
    before = dump(db_path, "metrics", "enterprises")
    s = kq("import", "metrics", fixtures / "亩均效益指标（含合计）.xlsx", "-f", "json").json()
    assert s["inserted"] == 3 and s["new_enterprises"] == 2
    assert kq("imports", "undo", str(s["batch"])).returncode == 0
    assert dump(db_path, "metrics", "enterprises") == before


def test_undo_refuses_when_a_later_batch_changed_the_rows_and_force_keeps_those(kq, fixtures, tmp_path, db_path):
    kq("import", "credit", fixtures / "信用记录.csv")
    s = kq("import", "credit", fixtures / "信用记录.csv", "--map", "处罚文书编号=reference", "-f", "json").json()
    later = kq("import", "credit", fixtures / "信用记录（含文书号）.csv", "-f", "json").json()   # A: 一般 -> 较重
    assert (later["updated"], later["unchanged"]) == (1, 1)
    state = dump(db_path, "credit_records", "enterprises")
    r = kq("imports", "undo", str(s["batch"]), "-f", "jsonl")
    assert r.returncode == 1, r
    assert r.jsonl() == [{"table": "credit_records", "key": f"{A}/admin_penalty/常环罚〔2025〕12号",
                          "changed_by": later["batch"], "what": "changed since"}]
    assert "nothing was undone (--force reverts the rest and keeps those)" in r.stderr
    assert dump(db_path, "credit_records", "enterprises") == state
    forced = kq("imports", "undo", str(s["batch"]), "--force")
    assert forced.returncode == 0, forced
    assert table(db_path, "SELECT uscc, record_key, severity FROM credit_records ORDER BY uscc") == [
        (A, "常环罚〔2025〕12号", "serious"), (B, "2025-04-10", "general")]


# ---------------------------------------------------------------- 9. fixable rejects
def fix_rows(rows, fixes):
    for row in rows:
        for column, value in fixes.get(int(row["行号"]), {}).items():
            row[column] = value
    return rows


def test_rejects_file_round_trip_csv(kq, tmp_path, db_path):
    import csv

    src = csv_file(tmp_path / "m.csv", f"序号,统一社会信用代码,企业名称,年度,营业收入（元）,税收,备注\n"
                                       f"1,{A},甲,2025,1200,#DIV/0!,重点\n2,{B},乙,2025年x,5,3,\n3,{C},丙,2025,7,1,\n")
    out = tmp_path / "问题行.csv"
    r = kq("import", "metrics", src, "--rejects", out, "-f", "json")
    assert r.returncode == 1 and r.json()["rejected"] == 2, r
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["序号", "统一社会信用代码", "企业名称", "年度", "营业收入（元）", "税收", "备注", "行号", "错误原因"]
    assert [(r_["行号"], r_["错误原因"].split(":")[0], r_["备注"]) for r_ in rows] == [("2", "税收", "重点"), ("3", "年度", "")]
    fix_rows(rows, {2: {"税收": "4"}, 3: {"年度": "2025"}})
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    again = kq("import", "metrics", out, "-f", "json")
    assert again.returncode == 0, again
    s = again.json()
    assert (s["inserted"], s["rejected"], s["unknown_columns"]) == (2, 0, ["备注"])   # 行号, 错误原因 left out
    assert table(db_path, "SELECT uscc, revenue, tax, extra FROM metrics ORDER BY uscc") == sorted([
        (A, 0.12, 4.0, '{"备注": "重点"}'), (B, 0.0005, 3.0, None), (C, 0.0007, 1.0, None)])


def test_rejects_file_round_trip_xlsx_from_an_office_workbook(kq, tmp_path, db_path):
    import xlsxwriter
    from python_calamine import CalamineWorkbook

    path = tmp_path / "in.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.merge_range(0, 0, 0, 3, "2025年亩均效益指标")
    ws.write_row(1, 0, ["序号", "统一社会信用代码", "企业名称", "营业收入（元）"])
    ws.write_row(2, 0, [1, A, "甲", "12x"])
    ws.write_row(3, 0, [2, B, "乙", 50000])
    ws.write_row(4, 0, [3, C, "丙", "3.5平方米"])
    ws.write_row(5, 0, ["合计"])
    wb.close()
    out = tmp_path / "问题行.xlsx"
    r = kq("import", "metrics", path, "--rejects", out, "-f", "json")
    assert r.returncode == 1 and (r.json()["rejected"], r.json()["skipped"]) == (2, 1), r
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_index(0).to_python()
    assert rows[0] == ["序号", "统一社会信用代码", "企业名称", "营业收入（元）", "year", "行号", "错误原因"]
    fixed = tmp_path / "fixed.xlsx"
    wb = xlsxwriter.Workbook(str(fixed))
    ws = wb.add_worksheet()
    for i, row in enumerate(rows):
        ws.write_row(i, 0, [("120000" if i and j == 3 else v) for j, v in enumerate(row)])
    wb.close()
    again = kq("import", "metrics", fixed, "-f", "json")
    assert again.returncode == 0, again
    assert table(db_path, "SELECT uscc, year, revenue FROM metrics ORDER BY uscc") == sorted([
        (A, 2025, 12.0), (B, 2025, 5.0), (C, 2025, 12.0)])


def test_kq_rejects_shows_the_column_and_the_firms_name(kq, tmp_path):
    src = csv_file(tmp_path / "m.csv", f"统一社会信用代码,企业名称,年度,税收\n{A},常州甲公司,2025,#N/A\n")
    batch = kq("import", "metrics", src, "-f", "json").json()["batch"]
    assert kq("rejects", str(batch), "-f", "jsonl").jsonl() == [
        {"line": 2, "column": "税收", "name": "常州甲公司", "field": "tax", "value": "#N/A",
         "reason": "Excel error value: the formula of this cell failed in Excel; fix it there or type the value"}]


def test_an_xls_on_stdin_is_known_by_its_signature(kq, fixtures, db_path):
    data = (fixtures / "专精特新名单.xls").read_bytes()
    r = kq("import", "designations", "-", "--set", "kind=高新技术企业", "-f", "json", input=data)
    assert r.returncode == 0 and (r.json()["format"], r.json()["inserted"]) == ("xls", 3), r


def test_a_file_without_any_figure_is_refused_as_metrics(kq, tmp_path, db_path):
    """A 专精特新 list imported as metrics by mistake (its year taken from the title) used to insert
    rows with no figure at all and exit 0; a metrics file must name at least one figure."""
    src = csv_file(tmp_path / "专精特新名单.csv", "2025年专精特新企业名单\n"
                   "统一社会信用代码,企业名称,认定日期\n91320412MA9999996Q,常州某某科技有限公司,2025-03-01\n")
    r = kq("import", "metrics", src)
    assert r.returncode == 2, r
    assert "no column for any metrics field besides the key" in r.stderr and "认定日期" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert table(db_path, "SELECT count(*) FROM metrics") == [(0,)]
    # one figure is enough
    ok = csv_file(tmp_path / "m.csv", "统一社会信用代码,年度,营业收入（万元）\n91320412MA9999996Q,2025,100\n")
    assert kq("import", "metrics", ok).returncode == 0
