"""CSV files whose structure is broken (issue 11, items 1-3): a quote that never closes, rows shorter
than the header, lines in another encoding. Nothing may be lost silently: the import stops naming the
line, or the row is rejected naming the line, or (Excel's dropped empty cells) nothing is overwritten."""
from __future__ import annotations

import io
import json
import sqlite3

import pytest

from kqtools.importer import run_import
from kqtools.readers import SourceError, open_table

A, B, C = "91110108551385082Q", "91310000631696382C", "9144030071526726XG"
CODES = [A, B, C, "91320505JXW8800083", "91440300708461136T", "91110000100005888C"]
HEADER = "统一社会信用代码,企业名称,所属区域,企业规模,成立日期"


def load(db, text: str | bytes, kind="enterprises", name="t.csv", **kw):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return run_import(db, open_table(io.BytesIO(data), name, **{k: v for k, v in kw.items() if k == "encoding"}),
                      kind, strict=kw.get("strict", False))


def dump(db):
    return db.execute("SELECT * FROM enterprises ORDER BY uscc").fetchall(), \
        db.execute("SELECT count(*) FROM batches").fetchone()[0]


# ---------------------------------------------------------------- 1. a quote that never closes
def test_an_unclosed_quote_in_an_unknown_column_stops_the_import_naming_its_line(db):
    text = "统一社会信用代码,企业名称,备注\n" + f'{A},甲公司,"重点企业\n' + "".join(
        f"{c},公司{i},一般\n" for i, c in enumerate(CODES[1:] * 7))  # 36 more rows, all swallowed by the quote
    before = dump(db)
    with pytest.raises(SourceError, match=r"t\.csv: line 2: a quoted cell that opens on this line never closes"):
        load(db, text)
    assert dump(db) == before  # nothing written, no batch


def test_an_unclosed_quote_stops_even_a_strict_import(kq, tmp_path, db_path):
    src = tmp_path / "firms.csv"
    src.write_text(f'统一社会信用代码,企业名称,备注\n{A},甲公司,ok\n{B},"乙公司,x\n{C},丙公司,y\n', encoding="utf-8")
    r = kq("import", "enterprises", src, "--strict")
    assert r.returncode == 2, r
    assert "firms.csv: line 3: a quoted cell" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_quote_that_closes_far_too_late_is_refused(db):
    # the quote opened on line 3 closes on line 5 and takes in two lines that look like rows
    text = (f"{HEADER}\n{A},甲公司,高新区,规上,2010-01-01\n{B},\"乙公司,经开区,规下,2011-01-01\n"
            f"{C},丙公司,高新区,规上,2012-01-01\n91320000134766569K,丁公司\",高新区,规上,2013-01-01\n")
    with pytest.raises(SourceError, match="line 3: a quoted cell .* takes in lines that look like rows"):
        load(db, text)


def test_a_cell_past_ten_thousand_characters_is_refused(db):
    text = f'{HEADER}\n{A},"{"长" * 10_001}",高新区,规上,2010-01-01\n'
    with pytest.raises(SourceError, match=r"line 2: a cell that starts on this line runs past 10,000 characters"):
        load(db, text)


def test_a_cell_spanning_more_than_twenty_lines_is_refused(db):
    note = "\n".join(f"第{i}行" for i in range(25))
    with pytest.raises(SourceError, match="line 2: a quoted cell .* does not close within 20 lines"):
        load(db, f'统一社会信用代码,企业名称,备注\n{A},甲公司,"{note}"\n')


def test_a_well_formed_multi_line_address_still_imports(db):
    r = load(db, f'统一社会信用代码,企业名称,地址\n{A},甲公司,"苏州工业园区\n星湖街328号"\n{B},乙公司,"厦门市,湖里区\r\n安岭路1号"\n')
    assert (r.inserted, r.rejected) == (2, 0)
    assert db.execute("SELECT address FROM enterprises ORDER BY uscc").fetchall() == [
        ("苏州工业园区\n星湖街328号",), ("厦门市,湖里区\r\n安岭路1号",)]


def test_a_quote_inside_a_cell_is_not_a_broken_file(db):
    r = load(db, f'统一社会信用代码,企业名称\n{A},"甲""科技""公司"\n{B},乙"公司\n')
    assert (r.inserted, r.rejected) == (2, 0)
    assert dict(db.execute("SELECT uscc, name FROM enterprises")) == {A: '甲"科技"公司', B: '乙"公司'}


# ---------------------------------------------------------------- 2. rows shorter than the header
def test_a_short_row_is_rejected_as_shifted_and_wipes_nothing(db):
    load(db, f"{HEADER}\n{A},甲公司,高新区,规上,2010-01-01\n{B},乙公司,经开区,规下,2011-01-01\n")
    r = load(db, f"{HEADER}\n{B},乙公司,经开区,规下,2011-01-01\n{A},甲公司\n")
    assert (r.read, r.rejected) == (2, 1)
    (rej,) = r.rejects
    assert rej.line == 3 and "row has 2 cells but the header has 5" in rej.reason and "shifted row" in rej.reason
    assert db.execute("SELECT district, size_class, founded_on FROM enterprises WHERE uscc = ?", [A]).fetchone() == \
        ("高新区", "above", "2010-01-01")


def test_rows_missing_empty_trailing_cells_as_excel_writes_them_change_nothing_they_lack(db):
    # Excel drops a trailing column that is empty over a run of rows: those rows are short together
    load(db, f"{HEADER},备注\n{A},甲公司,高新区,规上,2010-01-01,重点\n{B},乙公司,经开区,规下,2011-01-01,一般\n")
    r = load(db, f"{HEADER},备注\n{A},甲公司（新）,高新区\n{B},乙公司,\n{C},丙公司,高新区,规上,2012-01-01,新\n")
    assert (r.read, r.inserted, r.updated, r.rejected) == (3, 1, 2, 0), r.rejects
    assert r.short_rows == 2
    got = {u: rest for u, *rest in db.execute("SELECT uscc, name, district, size_class, founded_on, extra FROM enterprises")}
    # cells that are there are written (an empty one too: district of B); cells that are not are kept
    assert got[A] == ["甲公司（新）", "高新区", "above", "2010-01-01", '{"备注": "重点"}']
    assert got[B] == ["乙公司", None, "below", "2011-01-01", '{"备注": "一般"}']
    assert json.loads(got[C][-1]) == {"备注": "新"}


def test_a_short_row_lacking_some_unknown_columns_keeps_their_stored_values(db):
    load(db, f"统一社会信用代码,企业名称,备注,负责人\n{A},甲公司,重点,王五\n")
    r = load(db, f"统一社会信用代码,企业名称,备注,负责人\n{A},甲公司,一般\n")
    assert (r.updated, r.short_rows, r.rejected) == (1, 1, 0)
    assert json.loads(db.execute("SELECT extra FROM enterprises").fetchone()[0]) == {"备注": "一般", "负责人": "王五"}


def test_a_short_row_lacking_the_key_is_rejected(db):
    r = load(db, f"企业名称,所属区域,统一社会信用代码\n甲公司,高新区\n")
    assert r.rejected == 1 and "shifted row" in r.rejects[0].reason and r.rejects[0].column == "C"


def test_an_empty_cell_that_is_really_there_clears_the_stored_value(db):
    load(db, f"{HEADER}\n{A},甲公司,高新区,规上,2010-01-01\n")
    r = load(db, f"{HEADER}\n{A},甲公司,,规上,2010-01-01\n")
    assert r.updated == 1
    assert db.execute("SELECT district FROM enterprises").fetchone() == (None,)


def test_json_objects_without_a_key_leave_that_column_alone(db):
    load(db, f"{HEADER}\n{A},甲公司,高新区,规上,2010-01-01\n{B},乙公司,经开区,规下,2011-01-01\n")
    objs = [{"uscc": C, "name": "丙", "district": "新区"}, {"uscc": A, "name": "甲（新）"},
            {"uscc": B, "name": "乙", "district": None}]
    r = load(db, "\n".join(json.dumps(o, ensure_ascii=False) for o in objs) + "\n", name="t.jsonl")
    assert (r.inserted, r.updated, r.rejected) == (1, 2, 0)
    got = dict(db.execute("SELECT uscc, district FROM enterprises"))
    assert got == {A: "高新区", B: None, C: "新区"}   # A has no district key: kept; B's is null: cleared


# ---------------------------------------------------------------- 3. lines in another encoding
def mixed(lines: list[tuple[str, str]]) -> bytes:
    return b"".join(text.encode(enc) + b"\n" for text, enc in lines)


def test_a_gbk_line_in_a_utf8_file_is_rejected_with_its_line_and_the_encoding_it_looks_like(db):
    data = mixed([("统一社会信用代码,企业名称,所属区域", "utf-8"), (f"{A},甲公司一,高新区", "utf-8"),
                  (f"{B},乙公司二,经开区", "gbk"), (f"{C},丙公司三,高新区", "utf-8")])
    r = load(db, data)
    assert r.encoding == "utf-8" and (r.inserted, r.rejected) == (2, 1)
    (rej,) = r.rejects
    assert rej.line == 3 and "not UTF-8 text" in rej.reason and "looks like GBK/GB18030" in rej.reason
    assert dict(db.execute("SELECT uscc, name FROM enterprises")) == {A: "甲公司一", C: "丙公司三"}


def test_utf8_lines_in_a_gbk_file_are_rejected_not_stored_as_mojibake(db):
    data = mixed([("统一社会信用代码,企业名称,所属区域", "gbk"), (f"{A},甲公司一,高新区", "gbk"),
                  (f"{B},乙公司二,经开区", "gbk"), (f"{C},甲公司一,高新区", "utf-8")])
    r = load(db, data)
    assert r.encoding == "gb18030" and (r.inserted, r.rejected) == (2, 1)
    (rej,) = r.rejects
    assert rej.line == 4 and "UTF-8 text in a GBK/GB18030 file" in rej.reason
    names = [n for n, in db.execute("SELECT name FROM enterprises")]
    assert "鐢插叕鍙镐竴" not in "".join(names) and sorted(names) == ["乙公司二", "甲公司一"]


def test_the_encoding_is_what_most_lines_are(db):
    # GBK first line, then mostly UTF-8: the file is UTF-8 and the GBK line is the odd one out
    data = mixed([("统一社会信用代码,企业名称", "gbk")] + [(f"{c},公司{i}号", "utf-8") for i, c in enumerate(CODES)])
    with pytest.raises(SourceError, match="line 1: not UTF-8 text like the rest of the file; it looks like GBK"):
        load(db, data)  # a header that cannot be read stops the import
    data = mixed([("统一社会信用代码,企业名称", "utf-8"), (f"{A},甲公司", "gbk")] +
                 [(f"{c},公司{i}号", "utf-8") for i, c in enumerate(CODES[1:])])
    r = load(db, data)
    assert r.encoding == "utf-8" and r.rejected == 1 and r.rejects[0].line == 2


def test_a_pipe_whose_lines_are_mostly_in_another_encoding_stops_with_the_encoding_to_give(kq_proc, db_path):
    data = b"uscc,name\n" + b"\n" * 70_000 + "".join(f"{c},公司{i}\n" for i, c in enumerate(CODES)).encode("gbk")
    r = kq_proc("import", "enterprises", "-", input=data)  # a real pipe: it cannot be read twice
    assert r.returncode == 2, r
    assert "most lines are not UTF-8 text" in r.stderr and "--encoding gb18030" in r.stderr
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM enterprises").fetchone() == (0,)
