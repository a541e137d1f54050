"""Write the office-file fixtures of issue 13 into fixtures/office/ (run from the repository root):

    python tools/make_office_fixtures.py [OUTDIR]

Files shaped like the ones Chinese offices send, for `kq import` and the tests:

- ``亩均效益指标（含合计）.xlsx``  metrics: a title row, a two-row merged header (groups 企业信息 / 经济指标
  over the fields), ``序号``, units in the headers (平方米, 元, 千元, 万千瓦时, 吨标煤), three footer rows
  (合计, 填表人/审核人, 盖章); the year only in the title (``2025年亩均效益指标``);
- ``专精特新名单.xls``          designations as an Excel 97-2003 workbook, with no ``kind`` column (the whole
  file is one kind: ``--set kind=专精特新 --set level=省级``);
- ``亩均指标2024年度.csv``      metrics whose year is in the title (2025) and the file name (2024): refused;
- ``信用记录.csv``             penalties whose case number (处罚文书编号) kq does not know as a header: imported
  keyed by the date, then again with ``--map 处罚文书编号=reference``: the same records, now keyed by it;
  ``信用记录（含文书号）.csv`` the same with a header kq knows (决定书文号) and one record graver.

The .xls is written by a minimal BIFF8 writer below (an OLE2 compound file holding one ``Workbook``
stream: BOF, BOUNDSHEET, a sheet of LABEL and NUMBER records, EOF), since no Python library that
writes .xls is a dependency of kq. Deterministic: the same bytes on every run.
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kqtools.uscc import make_uscc  # noqa: E402

CODES = [make_uscc("91", "320411", f"MA{n:06d}") for n in range(1, 7)]


# ------------------------------------------------------------------ .xls (BIFF8 in OLE2)
def _record(rtype: int, data: bytes) -> bytes:
    return struct.pack("<HH", rtype, len(data)) + data


def _unicode(text: str, short: bool = False) -> bytes:
    body = text.encode("utf-16-le")
    head = struct.pack("<B", len(text)) if short else struct.pack("<H", len(text))
    return head + b"\x01" + body


def _sheet(rows: list[list]) -> bytes:
    out = [_record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 0x06))]
    ncols = max(len(r) for r in rows)
    out.append(_record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, ncols, 0)))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, (int, float)):
                out.append(_record(0x0203, struct.pack("<HHHd", r, c, 15, float(value))))
            else:
                out.append(_record(0x0204, struct.pack("<HHH", r, c, 15) + _unicode(str(value))))
    out.append(_record(0x000A, b""))
    return b"".join(out)


def _xf(style: bool) -> bytes:
    # font 0, format 0 (General), a cell or style XF; the rest as Excel writes its defaults
    return _record(0x00E0, struct.pack("<HHHBBBBIIH", 0, 0, 0xFFF5 if style else 0x0001, 0x20, 0, 0, 0,
                                       0, 0, 0x20C0))


def biff8_workbook(sheet_name: str, rows: list[list]) -> bytes:
    """A one-sheet .xls workbook (the ``Workbook`` stream, then wrapped in OLE2 by :func:`ole2`)."""
    font = _record(0x0031, struct.pack("<HHHHHBBBB", 200, 0, 0x7FFF, 400, 0, 0, 0, 0x86, 0) + _unicode("宋体", True))
    head = [_record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x06)),
            _record(0x0042, struct.pack("<H", 1200)), font, font, font, font]
    head += [_xf(True)] * 15 + [_xf(False)]
    eof = _record(0x000A, b"")
    sheet_rec_len = len(_record(0x0085, struct.pack("<IBB", 0, 0, 0) + _unicode(sheet_name, True)))
    offset = sum(map(len, head)) + sheet_rec_len + len(eof)
    bound = _record(0x0085, struct.pack("<IBB", offset, 0, 0) + _unicode(sheet_name, True))
    stream = b"".join(head) + bound + eof + _sheet(rows)
    return stream


def ole2(stream: bytes, name: str = "Workbook") -> bytes:
    """The stream in a minimal OLE2 compound file (512-byte sectors; padded past the 4,096-byte
    mini-stream cutoff, so it sits in ordinary sectors)."""
    stream = stream + bytes(max(0, 4096 - len(stream)))
    stream += bytes(-len(stream) % 512)
    n = len(stream) // 512
    end, free, fat_sect = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    fat = [fat_sect] + [i + 1 for i in range(1, n)] + [end] + [end]   # sector 0 FAT, 1..n stream, n+1 directory
    fat += [free] * (128 - len(fat))
    dir_sector = n + 1
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x003E, 0x0003, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 40, 0, 1, dir_sector, 0, 4096, end, 0, end, 0)
    difat = [0] + [free] * 108
    struct.pack_into("<109I", header, 76, *difat)

    def entry(ename: str, etype: int, child: int, start: int, size: int) -> bytes:
        raw = ename.encode("utf-16-le") + b"\x00\x00"
        e = bytearray(128)
        e[0:len(raw)] = raw
        struct.pack_into("<HBBIII", e, 64, len(raw), etype, 1, free, free, child)
        struct.pack_into("<III", e, 116, start, size, 0)
        return bytes(e)

    directory = (entry("Root Entry", 5, 1, end, 0) + entry(name, 2, free, 1, len(stream))
                 + bytes(128) * 2)
    return bytes(header) + struct.pack("<128I", *fat) + stream + directory


# ------------------------------------------------------------------ the fixtures
def metrics_workbook(path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    ws = wb.add_worksheet("亩均指标")
    ws.merge_range(0, 0, 0, 8, "2025年亩均效益指标")
    for col, text in enumerate(["序号"]):
        ws.merge_range(1, col, 2, col, text)
    ws.merge_range(1, 1, 1, 2, "企业信息")
    ws.merge_range(1, 3, 1, 7, "经济指标")
    ws.merge_range(1, 8, 2, 8, "备注")
    ws.write_row(2, 1, ["统一社会信用代码", "企业名称", "用地面积（平方米）", "营业收入（元）", "税收（千元）",
                        "用电量（万千瓦时）", "综合能耗（吨标煤）"])
    data = [
        [1, CODES[0], "常州甲精密机械有限公司", 6667, 350_000_000, 5000, 120.5, 800, ""],
        [2, CODES[1], "常州乙新材料科技有限公司", "8000平方米", "3.5亿元", "1200元", 88, 640.25, "重点企业"],
        [3, CODES[2], "常州丙电子有限公司", 20000, 98_000_000, 2600, 35, 210, ""],
    ]
    for i, row in enumerate(data):
        ws.write_row(3 + i, 0, row)
    ws.write_row(6, 0, ["合计", "", "", 34667, 448_000_000, 8800, 243.5, 1650.25, ""])
    ws.merge_range(7, 0, 7, 8, "填表人：王敏          审核人：李强          填报日期：2026年1月15日")
    ws.merge_range(8, 0, 8, 8, "（单位盖章）")
    wb.close()


def designations_xls(path: Path) -> None:
    rows = [["2025年省级专精特新中小企业名单（第一批）"], [],
            ["序号", "统一社会信用代码", "企业名称", "认定日期"],
            [1, CODES[3], "常州丁智能装备有限公司", "2025-06-30"],
            [2, CODES[4], "常州戊生物医药有限公司", "2025-06-30"],
            [3, CODES[5], "常州己汽车零部件有限公司", 45838]]   # an Excel date number: 2025-06-30
    path.write_bytes(ole2(biff8_workbook("名单", rows)))


def two_years_csv(path: Path) -> None:
    path.write_text("2025年亩均效益指标\n统一社会信用代码,企业名称,营业收入（万元）\n"
                    f"{CODES[0]},常州甲精密机械有限公司,35000\n", encoding="utf-8-sig")


def credit_csvs(outdir: Path) -> None:
    head = "统一社会信用代码,企业名称,信用类型,严重程度,处罚日期,罚款金额（元）"
    (outdir / "信用记录.csv").write_text(   # 处罚文书编号 is no header kq knows: kept in extra until --map
        f"{head},处罚文书编号\n{CODES[0]},常州甲精密机械有限公司,行政处罚,一般,2025-03-01,50000,常环罚〔2025〕12号\n"
        f"{CODES[1]},常州乙新材料科技有限公司,行政处罚,一般,2025-04-10,8000,常市监罚〔2025〕88号\n", encoding="utf-8-sig")
    (outdir / "信用记录（含文书号）.csv").write_text(
        f"{head},决定书文号\n{CODES[0]},常州甲精密机械有限公司,行政处罚,较重,2025-03-01,50000,常环罚〔2025〕12号\n"
        f"{CODES[1]},常州乙新材料科技有限公司,行政处罚,一般,2025-04-10,8000,常市监罚〔2025〕88号\n", encoding="utf-8-sig")


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    metrics_workbook(outdir / "亩均效益指标（含合计）.xlsx")
    designations_xls(outdir / "专精特新名单.xls")
    two_years_csv(outdir / "亩均指标2024年度.csv")
    credit_csvs(outdir)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fixtures" / "office")
