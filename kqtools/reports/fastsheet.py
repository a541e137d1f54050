"""The rows of big detail sheets, written as worksheet XML directly (about ten times faster than a cell
at a time through XlsxWriter), and spliced into the workbook XlsxWriter wrote around them.

Why: XlsxWriter spends ~8 µs a cell in Python (argument checks, a cell object, escaping, XML
elements), so the 1.6 million cells of a 100,000-firm score report took ~25 s of CPU here. Rows of a
detail sheet are uniform (one kind per column), so they are formatted here in one f-string per cell
into a temporary file, in the same form XlsxWriter's constant-memory mode writes (inline strings,
``<c r="B2" s="3"><v>…</v></c>``). XlsxWriter still writes everything else — the summary sheet and its
charts (with their cached values, since nothing is flushed), styles, each detail sheet's header,
frozen pane, autofilter and column widths — and :func:`splice` puts the rows into each detail sheet's
``<sheetData>`` while copying the package. Standard library only.
"""
from __future__ import annotations

import datetime as dt
import re
import zipfile
from typing import IO, Iterable, Sequence

from .model import Column

_EPOCH = dt.date(1899, 12, 30)          # Excel's day 0 (1900 date system, after the 1900-02-29 bug)
_NUMERIC = ("int", "number", "score", "money", "percent")
# XML 1.0 cannot carry these: Excel writes them as _xHHHH_ (and a literal _xHHHH_ with its underscore escaped)
_CONTROL = {c: f"_x{c:04X}_" for c in (*range(0, 9), 11, 12, *range(14, 32))}
_LITERAL_ESCAPE = re.compile(r"_x[0-9A-Fa-f]{4}_")
_XML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", **_CONTROL})


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def xml_text(s: str) -> str:
    if "_x" in s:
        s = _LITERAL_ESCAPE.sub(lambda m: "_x005F" + m.group(0), s)
    return s.translate(_XML)


def excel_serial(value) -> float | None:
    """An ISO date (or date/datetime) as Excel's serial day number; None when it is not a date."""
    if isinstance(value, dt.datetime):
        delta = value.replace(tzinfo=None) - dt.datetime(1899, 12, 30)
        return delta.days + delta.seconds / 86400
    if isinstance(value, dt.date):
        return (value - _EPOCH).days
    if isinstance(value, str) and len(value) >= 10:
        try:
            return (dt.date.fromisoformat(value[:10]) - _EPOCH).days
        except ValueError:
            return None
    return None


def write_rows(rows: Iterable[dict], columns: Sequence[Column], styles: dict, out: IO[str],
               first_row: int = 2, yes_no: tuple[str, str] = ("yes", "no")) -> tuple[int, list[int]]:
    """Write ``<row>`` elements for ``rows`` from sheet row ``first_row`` (1-based) to ``out``.

    ``styles``: column kind -> XlsxWriter xf index (numbers, dates). Returns (rows written, display
    width of the widest value of each column: a CJK character counts two).
    """
    letters = [column_letter(i) for i in range(len(columns))]
    widths = [0] * len(columns)
    plan = [(c.key, c.kind, letters[i], styles.get(c.kind, 0), i) for i, c in enumerate(columns)]
    n = 0
    buf: list[str] = []
    for n, row in enumerate(rows, start=1):
        r = first_row + n - 1
        cells = []
        get = row.get
        for key, kind, letter, style, i in plan:
            v = get(key)
            if v is None or v == "":
                continue
            if kind in _NUMERIC and isinstance(v, (int, float)) and not isinstance(v, bool):
                text = str(v) if isinstance(v, int) else f"{v:.16G}"
                cells.append(f'<c r="{letter}{r}" s="{style}"><v>{text}</v></c>')
                w = len(f"{v:,.2f}") if kind != "percent" else 6
            elif kind == "date" and (serial := excel_serial(v)) is not None:
                cells.append(f'<c r="{letter}{r}" s="{style}"><v>{serial:.16G}</v></c>')
                w = 10
            else:
                s = (yes_no[0] if v else yes_no[1]) if kind == "bool" else (v if isinstance(v, str) else str(v))
                t = ' xml:space="preserve"' if s[:1].isspace() or s[-1:].isspace() else ""
                cells.append(f'<c r="{letter}{r}" t="inlineStr"><is><t{t}>{xml_text(s)}</t></is></c>')
                w = (len(s.encode("utf-8")) + len(s)) >> 1
            if w > widths[i]:
                widths[i] = w
        buf.append(f'<row r="{r}">{"".join(cells)}</row>')
        if len(buf) >= 512:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))
    return n, widths


def _sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part (``xl/worksheets/sheet2.xml``), from workbook.xml and its relationships."""
    from html import unescape

    book = z.read("xl/workbook.xml").decode("utf-8")
    rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8")
    targets = {m.group(1): m.group(2) for m in re.finditer(r'<Relationship Id="([^"]+)"[^>]*Target="([^"]+)"', rels)}
    parts = {}
    for m in re.finditer(r'<sheet name="([^"]*)" sheetId="\d+" r:id="([^"]+)"', book):
        target = targets[m.group(2)]
        parts[unescape(m.group(1))] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return parts


def splice(package: str, target, rows_xml: dict[str, tuple[str, int, int]]) -> None:
    """Copy the workbook ``package`` to ``target`` (path or binary file), putting into each sheet named
    in ``rows_xml`` (name -> (file of ``<row>`` elements, rows, columns)) its rows after the header and
    its dimension. Every other part is copied as it is."""
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        parts = {part: name for name, part in _sheet_parts(src).items() if name in rows_xml}
        for info in src.infolist():
            if info.filename not in parts:
                dst.writestr(info, src.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
                continue
            path, n, ncols = rows_xml[parts[info.filename]]
            xml = src.read(info.filename).decode("utf-8")
            head, sep, tail = xml.partition("</sheetData>")
            if not sep:
                raise RuntimeError(f"{info.filename}: no </sheetData> in the sheet XlsxWriter wrote")
            head = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{column_letter(ncols - 1)}{n + 1}"/>',
                          head, count=1)
            with dst.open(info.filename, "w", force_zip64=True) as out, open(path, "rb") as rows:
                out.write(head.encode("utf-8"))
                while chunk := rows.read(1 << 20):
                    out.write(chunk)
                out.write((sep + tail).encode("utf-8"))
