"""XLSX workbooks as clerks send them (issue 11, items 5, 13 and 14): a stray cell far away, merged
cells, date cells in the year column, tables that do not start in column A."""
from __future__ import annotations

import datetime as dt
import json
import re
import resource
import sqlite3
import subprocess
import sys
import zipfile

import pytest
import xlsxwriter

from kqtools.importer import run_import
from kqtools.readers import SourceError, open_table

A, B, C = "91110108551385082Q", "91310000631696382C", "9144030071526726XG"


def workbook(path, write):
    wb = xlsxwriter.Workbook(str(path))
    write(wb, wb.add_worksheet("名录"))
    wb.close()
    return path


def firms(ws, row=0, col=0):
    ws.write_row(row, col, ["统一社会信用代码", "企业名称", "所属区域"])
    ws.write_row(row + 1, col, [A, "甲公司", "高新区"])
    ws.write_row(row + 2, col, [B, "乙公司", "经开区"])


def rewrite_sheet(path, change):
    """Rewrite the first sheet's XML of a workbook with ``change(xml bytes) -> bytes``."""
    src = zipfile.ZipFile(path)
    items = [(i, src.read(i)) for i in src.infolist()]
    src.close()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in items:
            out.writestr(info, change(data) if info.filename == "xl/worksheets/sheet1.xml" else data)
    return path


def kq_limited(db_path, *args):
    """`kq` in a child process with 2 GB of address space: a regression that lets the Excel reader
    allocate the whole sheet fails here quickly instead of taking the machine's memory."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    return subprocess.run([sys.executable, "-m", "kqtools", "--db", str(db_path), *map(str, args)],
                          capture_output=True, text=True, preexec_fn=limit, timeout=120)


def test_a_stray_cell_at_xfd1048576_is_refused_in_one_line_not_a_crash(tmp_path, db_path):
    def write(wb, ws):
        firms(ws)
        ws.write(1048575, 16383, "x")
    r = kq_limited(db_path, "import", "enterprises", workbook(tmp_path / "stray.xlsx", write))
    assert r.returncode == 2, r
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr and "panic" not in r.stderr
    assert "stray.xlsx: sheet '名录': a value in XFD1048576 lies far from the rest" in r.stderr
    assert "17,179,869,184 cells" in r.stderr


def test_a_far_cell_is_found_even_when_the_sheet_declares_no_dimension(tmp_path, db_path):
    def write(wb, ws):
        firms(ws)
        ws.write(1048575, 200, "x")
    path = rewrite_sheet(workbook(tmp_path / "nodim.xlsx", write), lambda x: re.sub(rb"<dimension [^>]*/>", b"", x))
    r = kq_limited(db_path, "import", "enterprises", path)
    assert r.returncode == 2 and "a value in GS1048576 lies far from the rest" in r.stderr, r


def test_formatting_far_away_without_a_value_does_not_stop_the_import(db, tmp_path):
    def write(wb, ws):
        firms(ws)
        ws.write_blank(1048575, 16383, None, wb.add_format({"bold": True}))  # the used range reaches XFD1048576
    path = workbook(tmp_path / "styled.xlsx", write)
    assert b'<dimension ref="A1:XFD1048576"/>' in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    with open(path, "rb") as fh:
        r = run_import(db, open_table(fh, str(path)), "enterprises")
    assert (r.inserted, r.rejected) == (2, 0)


def test_a_vertically_merged_cell_is_filled_down_and_the_summary_says_so(kq, tmp_path, db_path):
    def write(wb, ws):
        ws.write_row(0, 0, ["统一社会信用代码", "企业名称", "所属区域", "备注"])
        ws.write_row(1, 0, [A, "甲公司"])
        ws.write_row(2, 0, [B, "乙公司"])
        ws.write_row(3, 0, [C, "丙公司", "经开区"])
        ws.merge_range(1, 2, 2, 2, "高新区")          # 所属区域 of rows 2-3: one merged cell
        ws.merge_range(4, 0, 4, 3, "合计：3家")         # a total row across the columns: not filled
    r = kq("import", "enterprises", workbook(tmp_path / "merged.xlsx", write), "-f", "json")
    s = r.json()
    assert s["merged_cells_filled"] == 1 and s["inserted"] == 3, r
    assert "filled 1 cell down from merged cells" in r.stderr
    conn = sqlite3.connect(db_path)
    assert dict(conn.execute("SELECT uscc, district FROM enterprises")) == {A: "高新区", B: "高新区", C: "经开区"}


def test_a_date_cell_in_the_year_column_says_it_is_a_date(db, tmp_path):
    def write(wb, ws):
        ws.write_row(0, 0, ["统一社会信用代码", "年度", "营业收入"])
        ws.write_row(1, 0, [A])
        ws.write_datetime(1, 1, dt.datetime(2025, 1, 15), wb.add_format({"num_format": "yyyy-mm-dd"}))
        ws.write_number(1, 2, 100)
        ws.write_row(2, 0, [B, 45672, 100])  # the same date as a plain number
        ws.write_row(3, 0, [C, 2025, 100])
    path = workbook(tmp_path / "m.xlsx", write)
    with open(path, "rb") as fh:
        r = run_import(db, open_table(fh, str(path)), "metrics")
    assert r.inserted == 1 and [(x.line, x.reason) for x in r.rejects] == [
        (2, "a date, not a year (2025-01-15): put the year, e.g. 2025"),
        (3, "a date, not a year (2025-01-15, which Excel keeps as 45672): put the year, e.g. 2025")]


def test_columns_are_named_by_their_sheet_letter_when_the_table_starts_in_column_b(db, tmp_path):
    def write(wb, ws):
        firms(ws, row=2, col=1)
        ws.write(4, 4, "多出")  # beyond the header: the stray cell is in column E of the sheet
    path = workbook(tmp_path / "b.xlsx", write)
    with open(path, "rb") as fh:
        r = run_import(db, open_table(fh, str(path)), "enterprises")
    (rej,) = r.rejects
    assert (rej.line, rej.column, rej.value) == (5, "E", "多出")


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path):
    path = tmp_path / "x.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "not a workbook")
    with pytest.raises(SourceError, match="x.xlsx: not a readable .xlsx workbook"):
        with open(path, "rb") as fh:
            list(open_table(fh, str(path)).rows)


def test_extra_keeps_xlsx_numbers_as_excel_shows_them(db, tmp_path):
    def write(wb, ws):
        ws.write_row(0, 0, ["统一社会信用代码", "企业名称", "注册资本", "从业人数"])
        ws.write_row(1, 0, [A, "甲公司", 2778, 12.5])
    path = workbook(tmp_path / "n.xlsx", write)
    with open(path, "rb") as fh:
        run_import(db, open_table(fh, str(path)), "enterprises")
    assert json.loads(db.execute("SELECT extra FROM enterprises").fetchone()[0]) == {"注册资本": "2778", "从业人数": "12.5"}
