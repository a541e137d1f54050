"""XLSX workbooks as sources of rows (python-calamine, a Rust reader), made safe for hostile files.

- **Size first.** calamine builds a dense range of every sheet it reads, 32 bytes a cell: one stray
  value at XFD1048576 asks for 512 GiB and the process dies with a Rust abort. The sheet's declared
  ``<dimension>`` is read from the start of its XML (cheap); when it is missing or too large, the
  cells that actually hold a value are scanned (streaming XML) and a sheet whose values span more
  than :data:`MAX_CELLS` cells is refused with one line naming the far cell. A dimension that
  understates the cells is trusted (see docs/design.md, "Import").
- **Merged cells.** A vertically merged cell means the same value in every row it spans: the value
  is filled down into the rows below (first column of the range only) and counted in
  ``Source.stats["merged_cells_filled"]``. Horizontal merges (a title across columns) stay as they are.
- Rows are numbered as sheet rows (calamine yields from the sheet's first row, empty rows above the
  data included); ``Source.first_col`` is the sheet column of each row's first cell.
"""
from __future__ import annotations

import hashlib
import io
import re
import zipfile

from .readers import Source, SourceError

MAX_CELLS = 1 << 25            # 33.5 million cells (1 GiB for calamine): a million rows x 32 columns
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"\$?([A-Z]{1,3})\$?(\d{1,7})(?::\$?([A-Z]{1,3})\$?(\d{1,7}))?\"")
_REF = re.compile(r"([A-Z]{1,3})(\d{1,7})")


def open_xlsx(data: bytes, name: str, sheet: str | None, fmt: str = "xlsx") -> Source:
    """A workbook (``.xlsx``, or ``fmt="xls"``: Excel 97-2003 ``.xls``, read by the same reader) as a
    :class:`Source`. An ``.xls`` sheet holds at most 65,536 x 256 cells, under :data:`MAX_CELLS`, so
    its size needs no check."""
    import python_calamine

    digest = hashlib.sha256(data).hexdigest()
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = book.sheet_names
        if sheet is None:
            sheet_name = names[0]
        elif sheet in names:
            sheet_name = sheet
        elif sheet.isdigit() and 1 <= int(sheet) <= len(names):
            sheet_name = names[int(sheet) - 1]
        else:
            raise SourceError(f"{name}: no sheet {sheet!r}; sheets are {', '.join(names)}")
        errors = {}
        if fmt == "xlsx":
            check_sheet_size(data, name, sheet_name, names.index(sheet_name))
            errors = error_cells(data, names.index(sheet_name))
        ws = book.get_sheet_by_name(sheet_name)
        first_col = ws.start[1] if ws.start else 0
        merged = [((r0, c0), (r1, c1)) for (r0, c0), (r1, c1) in (ws.merged_cell_ranges or []) if r1 > r0]
        rows = ws.iter_rows()
    except SourceError:
        raise
    except Exception as exc:  # calamine raises several error types for broken zips
        if fmt == "xlsx":
            raise SourceError(f"{name}: not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from None
        raise SourceError(f"{name}: not a readable .xls (or WPS .et) workbook ({type(exc).__name__}: {exc}); "
                          f"save it as .xlsx in Excel or WPS and import that") from None

    src = Source(name=name, format=fmt, sheet=sheet_name, _digest=digest, first_col=first_col)

    def gen():
        try:
            numbered = _filled_down(rows, merged, first_col, src.stats) if merged else enumerate(rows, 1)
            if errors:
                yield from _with_errors(numbered, errors, first_col)
            else:
                yield from numbered  # (sheet row, cells), without a Python step per row
        except Exception as exc:  # noqa: BLE001
            raise SourceError(f"{name}: workbook damaged while reading ({exc})") from None

    src.rows = gen()
    return src


def _filled_down(rows, merged, first_col: int, stats: dict):
    """Rows with the value of each vertically merged range repeated in the rows below its first."""
    fills: dict[int, list[tuple[int, int]]] = {}   # sheet row index -> [(column index, first row index)]
    tops: dict[int, list[int]] = {}
    for (r0, c0), (r1, _) in merged:
        col = c0 - first_col
        if col < 0:
            continue
        tops.setdefault(r0, []).append(col)
        for r in range(r0 + 1, r1 + 1):
            fills.setdefault(r, []).append((col, r0))
    values: dict[tuple[int, int], object] = {}
    filled = 0
    for i, cells in enumerate(rows):
        for col in tops.get(i, ()):
            values[(i, col)] = cells[col] if col < len(cells) else None
        for col, top in fills.get(i, ()):
            value = values.get((top, col))
            if value not in (None, "") and col < len(cells) and cells[col] in (None, ""):
                cells[col] = value
                filled += 1
                stats["merged_cells_filled"] = filled
        yield i + 1, cells


_ERROR_CELL = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})(\d{1,7})"[^>]*?\bt="e"[^>]*>(.*?)</(?:\w+:)?c>', re.S)
_ERROR_CELL_T_FIRST = re.compile(rb'<(?:\w+:)?c\b[^>]*?\bt="e"[^>]*?\br="([A-Z]{1,3})(\d{1,7})"[^>]*>(.*?)</(?:\w+:)?c>', re.S)
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")


def error_cells(data: bytes, index: int) -> dict[tuple[int, int], str]:
    """``{(sheet row, sheet column): '#DIV/0!'}`` of the cells holding an Excel error value (``t="e"``).
    The reader gives such a cell as empty, which would store a failed formula as no value; the
    sheet's XML is searched once (a byte search that finds nothing in a sheet without errors)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        path = _sheet_path(zf, index)
        if path is None or path not in zf.NameToInfo:
            return {}
        xml = zf.read(path)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, SyntaxError):
        return {}
    if b't="e"' not in xml:
        return {}
    out = {}
    for pattern in (_ERROR_CELL, _ERROR_CELL_T_FIRST):
        for m in pattern.finditer(xml):
            v = _VALUE.search(m.group(3))
            out[(int(m.group(2)), _col_number(m.group(1).decode("ascii")))] = (
                v.group(1).decode("utf-8", "replace") if v else "#VALUE!")
    return out


def _with_errors(numbered, errors: dict, first_col: int):
    """Rows with each error cell's text (``#N/A``) put back where the reader left it empty."""
    by_row: dict[int, list[tuple[int, str]]] = {}
    for (r, c), text in errors.items():
        by_row.setdefault(r, []).append((c - 1 - first_col, text))
    for line, cells in numbered:
        for col, text in by_row.get(line, ()):
            if 0 <= col < len(cells):
                cells[col] = text
        yield line, cells


# ------------------------------------------------------------------ size check
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _sheet_path(zf: zipfile.ZipFile, index: int) -> str | None:
    """The zip member of the ``index``-th sheet (workbook order), from workbook.xml and its rels."""
    import xml.etree.ElementTree as ET

    book = ET.fromstring(zf.read("xl/workbook.xml"))
    sheets = [e for e in book.iter() if _local(e.tag) == "sheet"]
    if index >= len(sheets):
        return None
    rid = next((v for k, v in sheets[index].attrib.items() if _local(k) == "id"), None)
    rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    target = next((e.get("Target") for e in rels.iter() if _local(e.tag) == "Relationship" and e.get("Id") == rid),
                  None)
    if not target:
        return None
    return target.lstrip("/") if target.startswith("/") else "xl/" + target


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def check_sheet_size(data: bytes, name: str, sheet_name: str, index: int) -> None:
    """Refuse a sheet whose values span more than :data:`MAX_CELLS` cells, before calamine
    allocates them (see the module docstring)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        path = _sheet_path(zf, index)
        if path is None or path not in zf.NameToInfo:
            return  # an unusual layout: calamine reads it or says what is wrong
        with zf.open(path) as fh:
            head = fh.read(1 << 16)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, SyntaxError):
        return
    m = _DIMENSION.search(head)
    if m:
        g = [x.decode("ascii") if x else None for x in m.groups()]
        c1, r1 = _col_number(g[0]), int(g[1])
        c2, r2 = (_col_number(g[2]), int(g[3])) if g[2] else (c1, r1)
        if (abs(r2 - r1) + 1) * (abs(c2 - c1) + 1) <= MAX_CELLS:
            return
    low, high, far = _value_extent(zf, path)
    if low is None:
        return
    area = (high[0] - low[0] + 1) * (high[1] - low[1] + 1)
    if area > MAX_CELLS:
        from .importer.plan import column_letter

        cells = ", ".join(f"{column_letter(c - 1)}{r}" for r, c in far)
        raise SourceError(f"{name}: sheet {sheet_name!r}: a value in {cells} lies far from the rest: reading the "
                          f"sheet would take {area:,} cells (at most {MAX_CELLS:,}); delete the stray cell "
                          f"(Ctrl+End in Excel jumps to it) or copy the table to a new sheet")


def _value_extent(zf: zipfile.ZipFile, path: str):
    """(top-left, bottom-right, the cells that set the bottom and the right edge) of the cells holding a
    value, as (row, column) numbered from 1; streaming, for the rare sheet whose dimension cannot be trusted."""
    import xml.etree.ElementTree as ET

    lo_r = lo_c = hi_r = hi_c = None
    bottom = right = None
    row_no, col_no = 0, 0
    try:
        with zf.open(path) as fh:
            for event, elem in ET.iterparse(fh, events=("start", "end")):
                tag = _local(elem.tag)
                if event == "start":
                    if tag == "row":
                        r = elem.get("r")
                        row_no, col_no = (int(r) if r and r.isdigit() else row_no + 1), 0
                    continue
                if tag == "c":
                    m = _REF.fullmatch(elem.get("r") or "")
                    if m:
                        col_no, row_no = _col_number(m.group(1)), int(m.group(2))
                    else:
                        col_no += 1
                    if any(_local(ch.tag) in ("v", "is") for ch in elem):
                        if hi_r is None:
                            lo_r = hi_r = row_no
                            lo_c = hi_c = col_no
                            bottom = right = (row_no, col_no)
                        if row_no > hi_r:
                            hi_r, bottom = row_no, (row_no, col_no)
                        if col_no > hi_c:
                            hi_c, right = col_no, (row_no, col_no)
                        lo_r, lo_c = min(lo_r, row_no), min(lo_c, col_no)
                    elem.clear()
                elif tag == "row":
                    elem.clear()
    except ET.ParseError:
        return None, None, ()
    if hi_r is None:
        return None, None, ()
    return (lo_r, lo_c), (hi_r, hi_c), tuple(dict.fromkeys((bottom, right)))
