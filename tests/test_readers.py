"""Readers: format and encoding detection, line numbers, hashing of what was read."""
from __future__ import annotations

import hashlib
import io

import pytest

from kqtools.readers import SourceError, detect_encoding, detect_format, open_table


@pytest.mark.parametrize("name,head,fmt", [
    ("a.csv", b"x", "csv"), ("a.TSV", b"x", "tsv"), ("a.xlsx", b"x", "xlsx"), ("a.json", b"x", "json"),
    ("a.jsonl", b"x", "jsonl"), ("-", b"PK\x03\x04....", "xlsx"), ("-", b"\xef\xbb\xbf[{}]", "json"),
    ("-", b' {"a": 1}\n', "jsonl"), ("-", b"a\tb\tc\n", "tsv"), ("-", b"a,b\tc,d\n", "csv"),
    ("data.txt", b"a\tb\n", "tsv"), ("data.txt", b"a,b\n", "csv"),
])
def test_detect_format(name, head, fmt):
    assert detect_format(name, head) == fmt


def test_old_xls_recognized_by_its_signature():
    assert detect_format("-", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") == "xls"
    assert detect_format("名单.xls", b"PK\x03\x04") == "xlsx"   # an .xlsx under an old name


@pytest.mark.parametrize("data,enc", [
    ("统一社会信用代码".encode("utf-8"), "utf-8"), (b"\xef\xbb\xbfabc", "utf-8-sig"),
    ("统一社会信用代码".encode("gbk"), "gb18030"), ("企业名称".encode("utf-16"), "utf-16"),
    ("ab,cd".encode("utf-16-le"), "utf-16-le"), (b"plain ascii", "utf-8"),
])
def test_detect_encoding(data, enc):
    assert detect_encoding(data, True) == enc


def test_utf8_cut_in_the_middle_of_a_character_is_still_utf8():
    data = "统一社会信用代码".encode("utf-8")[:-1]  # the sniffed head may end inside a character
    assert detect_encoding(data, complete=False) == "utf-8"


def test_csv_line_numbers_and_sha256():
    data = 'a,b\n1,"x\ny"\n\n2,3\r\n'.encode()
    src = open_table(io.BytesIO(data), "t.csv")
    assert list(src.rows) == [(1, ["a", "b"]), (2, ["1", "x\ny"]), (4, []), (5, ["2", "3"])]
    assert src.sha256 == hashlib.sha256(data).hexdigest()


def test_sha256_covers_bytes_the_reader_did_not_need():
    data = b"a,b\n" + b"1,2\n" * 100_000
    src = open_table(io.BytesIO(data), "t.csv")
    next(iter(src.rows))
    assert src.sha256 == hashlib.sha256(data).hexdigest()


def test_large_csv_in_blocks_keeps_line_numbers():
    rows = "".join(f'{i},"multi\nline {i}"\n' if i % 1000 == 0 else f"{i},v{i}\n" for i in range(50_000))
    src = open_table(io.BytesIO(("n,v\n" + rows).encode()), "t.csv")
    lines = {int(cells[0]): line for line, cells in src.rows if cells[0] != "n"}
    # every 1000th row spans two lines: row i starts at line 2 + i + (number of multi-line rows before it)
    for i in (0, 1, 999, 1000, 1001, 49_999):
        assert lines[i] == 2 + i + (i + 999) // 1000


def test_jsonl_broken_line_is_a_row_error():
    src = open_table(io.BytesIO(b'{"a": 1}\n{"a": \n[1]\n\n{"a": 2}\n'), "t.jsonl")
    got = list(src.rows)
    assert [line for line, _ in got] == [1, 2, 3, 5]
    assert "not JSON" in got[1][1] and "object" in got[2][1]


def test_json_wrapped_array_is_accepted():
    src = open_table(io.BytesIO(b'{"data": [{"a": 1}, {"a": 2}], "total": 2}'), "t.json")
    assert [obj for _, obj in src.rows] == [{"a": 1}, {"a": 2}]


def test_xlsx_rows_are_sheet_rows(tmp_path):
    import xlsxwriter

    path = tmp_path / "t.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    ws.write(3, 1, "header")  # first used row is row 4, column B
    ws.write(5, 1, "value")
    wb.close()
    src = open_table(open(path, "rb"), "t.xlsx")
    got = [(line, cells) for line, cells in src.rows if any(c not in ("", None) for c in cells)]
    assert [line for line, _ in got] == [4, 6]
    assert src.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("encoding", ["rot13", "base64", "no-such-codec"])
def test_a_codec_that_is_not_a_text_encoding_is_refused_in_one_line(encoding):
    with pytest.raises(SourceError, match=f"t.csv: unknown encoding '{encoding}'"):
        open_table(io.BytesIO(b"a,b\n1,2\n"), "t.csv", encoding=encoding)


def test_a_csv_row_on_a_line_in_another_encoding_is_a_bad_row_with_its_reason():
    from kqtools.readers import BadRow

    data = "a,b\n甲,乙\n".encode("utf-8") + "丙,丁\n".encode("gbk") + "戊,己\n".encode("utf-8")
    rows = list(open_table(io.BytesIO(data), "t.csv").rows)
    assert [line for line, _ in rows] == [1, 2, 3, 4]
    bad = rows[2][1]
    assert isinstance(bad, BadRow) and "looks like GBK/GB18030" in bad.reason and "\ufffd" in "".join(bad)
    assert rows[3] == (4, ["戊", "己"])
