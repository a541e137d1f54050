"""Write the binary part of the hostile-input corpus (workbooks, other encodings, raw bytes) into a folder.

    python tests/corpus/make_corpus.py DIR

The text cases are committed beside this script; these are generated because they are binary or
because their point is bytes an editor would change (a GBK line inside a UTF-8 file). Deterministic:
the same files every time. tests/test_import_corpus.py calls :func:`write_all` into a temporary folder.
"""
from __future__ import annotations

import datetime as dt
import io
import random
import re
import sys
import zipfile
from pathlib import Path

A, B, C, D = "91110108551385082Q", "91310000631696382C", "9144030071526726XG", "91440300708461136T"


def _lines(*items: tuple[str, str]) -> bytes:
    return b"".join(text.encode(enc) + b"\n" for text, enc in items)


def _xlsx(write) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties({"created": dt.datetime(2025, 1, 1)})
    ws = wb.add_worksheet("名录")
    write(wb, ws)
    wb.close()
    return buf.getvalue()


def _firms(ws):
    ws.write_row(0, 0, ["统一社会信用代码", "企业名称", "所属区域"])
    ws.write_row(1, 0, [A, "甲公司", "高新区"])
    ws.write_row(2, 0, [B, "乙公司", "经开区"])


def _without_dimension(data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = re.sub(rb"<dimension [^>]*/>", b"", body)
            zf.writestr(info, body)
    return out.getvalue()


def files() -> dict[str, bytes]:
    rnd = random.Random(11)
    out: dict[str, bytes] = {}
    out["mixed_gbk_in_utf8.csv"] = _lines(("统一社会信用代码,企业名称,所属区域", "utf-8"), (f"{A},甲公司一,高新区", "utf-8"),
                                          (f"{B},乙公司二,经开区", "gbk"), (f"{C},丙公司三,高新区", "utf-8"))
    out["mixed_utf8_in_gbk.csv"] = _lines(("统一社会信用代码,企业名称,所属区域", "gbk"), (f"{A},甲公司一,高新区", "gbk"),
                                          (f"{B},乙公司二,经开区", "gbk"), (f"{C},甲公司一,高新区", "utf-8"))
    out["gbk.csv"] = _lines(("统一社会信用代码,企业名称,所属区域", "gbk"), (f"{A},苏州甲乙丙科技有限公司,工业园区", "gbk"))
    out["binary.bin"] = bytes(rnd.randrange(256) for _ in range(4096))
    out["nul_bytes.csv"] = f"统一社会信用代码,企业名称\n{A},甲公司\n".encode() + b"\x00\x00\x01\x02" * 8
    out["utf16.txt"] = "统一社会信用代码\t企业名称\r\n".encode("utf-16") + f"{A}\t甲公司\r\n".encode("utf-16-le")
    firms = _xlsx(lambda wb, ws: _firms(ws))
    out["firms.xlsx"] = firms
    out["truncated.xlsx"] = firms[: len(firms) // 2]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hello.txt", "not a workbook")
    out["not_a_workbook.xlsx"] = buf.getvalue()
    out["old.xls"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)

    def stray(wb, ws):
        _firms(ws)
        ws.write(1048575, 16383, "x")
    out["stray_cell.xlsx"] = _xlsx(stray)

    def far(wb, ws):
        _firms(ws)
        ws.write(1048575, 200, "x")
    out["far_cell_no_dimension.xlsx"] = _without_dimension(_xlsx(far))

    def merged(wb, ws):
        ws.write_row(0, 0, ["统一社会信用代码", "企业名称", "所属区域"])
        ws.write_row(1, 0, [A, "甲公司"])
        ws.write_row(2, 0, [B, "乙公司"])
        ws.merge_range(1, 2, 2, 2, "高新区")
    out["merged.xlsx"] = _xlsx(merged)

    def year_date(wb, ws):
        ws.write_row(0, 0, ["统一社会信用代码", "年度", "营业收入"])
        ws.write(1, 0, A)
        ws.write_datetime(1, 1, dt.datetime(2025, 1, 15), wb.add_format({"num_format": "yyyy-mm-dd"}))
        ws.write_number(1, 2, 100)
        ws.write_row(2, 0, [B, 2025, 100])
    out["year_date_cell.xlsx"] = _xlsx(year_date)
    return out


def write_all(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files().items():
        (folder / name).write_bytes(data)


if __name__ == "__main__":
    write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
