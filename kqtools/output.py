"""Rendering records: terminal tables, CSV/TSV, JSON, JSONL and Excel workbooks.

Rows are plain dicts; ``columns`` fixes the order. Lists and dicts are shown as
JSON in text formats and kept as they are in JSON formats.

What is safe where:

- **Spreadsheets** (CSV/TSV meant for Excel: ``-o x.csv``, and ``-f csv``/``-f tsv`` when standard
  output is a regular file): a text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return would be read as a formula (CSV injection: ``=HYPERLINK(…)``), so it gets an
  apostrophe in front (:func:`neutralize`; kq's importer removes exactly that apostrophe again).
  XLSX string cells are never formulas: written as they are. A pipe gets the data as it is.
- **Terminals** (tables, one-line messages): control characters and terminal escape sequences in
  any value are shown escaped (``\\x1b[31m``, ``\\n``; :func:`printable`), so a firm name cannot
  recolour the terminal, move the cursor or forge a line. Machine output (JSON, JSONL, CSV) keeps
  the data as it is (JSON escapes control characters itself).
- **Files** (``-o``): written through :func:`kqtools.files.replace_file`: private (``file_mode``),
  never through a symbolic link, replaced whole or not at all.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import IO, Iterable, Sequence

from .files import DEFAULT_MODE, OutputFileError, check_target, replace_file
from .i18n import char_width, display_width
from .settings import DEFAULT_TZ

EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".json": "json", ".jsonl": "jsonl",
              ".ndjson": "jsonl", ".xlsx": "xlsx"}
#: what a spreadsheet reads as the start of a formula (OWASP, CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# C0 controls, DEL, C1 controls (ESC and CSI start terminal sequences), the line and paragraph
# separators, and the bidirectional controls that reorder how text is shown ("Trojan Source")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _json_default(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if not value.is_integer() else str(int(value))
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value)


def neutralize(text: str) -> str:
    """Stop a spreadsheet from reading a text cell as a formula (CSV injection): an apostrophe in
    front of a cell beginning with ``= + - @``, a tab or a carriage return."""
    return "'" + text if text and text.startswith(FORMULA_STARTS) else text


def _escape(m: re.Match) -> str:
    ch = m.group()
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) <= 0xFF else f"\\u{ord(ch):04x}")


def printable(text: str) -> str:
    """``text`` safe to show on a terminal: control characters (ESC of a terminal escape sequence,
    CR, LF, tab, DEL, C1, bidirectional overrides) written as visible escapes: ``\\x1b[31m``."""
    return _CONTROL.sub(_escape, text) if _CONTROL.search(text) else text


def format_for_path(path: str) -> str:
    ext = Path(path).suffix.lower()
    if ext not in EXTENSIONS:
        raise OutputFileError(f"{path}: cannot tell the output format from the extension "
                              f"(use {', '.join(sorted(EXTENSIONS))})")
    return EXTENSIONS[ext]


def check_output_path(path: str) -> str:
    """Before any work: the format of ``-o path``, and a target kq will write (not a symbolic link,
    not a folder, in a folder that exists); raises :class:`~kqtools.files.OutputFileError`."""
    fmt = format_for_path(path)
    check_target(path)
    return fmt


def render(rows: Iterable[dict], columns: Sequence[str], fmt: str, out: IO[str], *,
           for_excel: bool = False, formula_safe: bool | None = None, width: int | None = None,
           uncut: Iterable[str] = ()) -> int:
    """Write rows to a text stream; returns the number of rows written.

    ``for_excel``: a CSV/TSV file for Excel (CRLF line ends, formula-like text neutralized).
    ``formula_safe``: neutralize formula-like text in CSV/TSV (default: as ``for_excel``); set for a
    standard output redirected to a file. Tables show control characters escaped, lists and
    objects as readable text (never JSON), and with ``width`` the longest texts cut with ``…`` so
    that every line fits ``width`` display columns (:func:`fit_table`; ``uncut``: columns never
    cut, such as credit codes). Other formats are never cut."""
    if formula_safe is None:
        formula_safe = for_excel
    n = 0
    # one encoder for all rows: json.dumps with options builds a new one per call (~1.4x slower)
    encode = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode
    if fmt == "jsonl":
        # lines written a batch at a time: on a pipe, stdout is line-buffered and each write a system call
        batch = []
        for row in rows:
            batch.append(encode({c: row.get(c) for c in columns}))
            n += 1
            if len(batch) == 256:
                out.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            out.write("\n".join(batch) + "\n")
    elif fmt == "json":
        out.write("[")
        for row in rows:
            out.write(",\n " if n else "\n ")
            out.write(encode({c: row.get(c) for c in columns}))
            n += 1
        out.write("\n]\n" if n else "]\n")
    elif fmt in ("csv", "tsv"):
        delimiter, ending = ("," if fmt == "csv" else "\t"), ("\r\n" if for_excel else "\n")
        writer = csv.writer(out, delimiter=delimiter, lineterminator=ending)
        # the csv module quotes a cell holding a line ending's characters only: with "\n" a bare CR
        # would go out unquoted and split the row for every reader; such rows are quoted whole
        quoted = csv.writer(out, delimiter=delimiter, lineterminator=ending, quoting=csv.QUOTE_ALL)
        writer.writerow(columns)
        for row in rows:
            cells = [cell_text(row.get(c)) for c in columns]
            if formula_safe:
                cells = [neutralize(c) if isinstance(row.get(col), str) else c for c, col in zip(cells, columns)]
            (quoted if not for_excel and any("\r" in c for c in cells) else writer).writerow(cells)
            n += 1
    elif fmt == "table":
        from tabulate import tabulate

        data = [[printable(readable(row.get(c))) for c in columns] for row in rows]
        n = len(data)
        if n:
            headers = [printable(str(c)) for c in columns]
            if width:
                data = fit_table(headers, data, width, keep=[c in set(uncut) for c in columns])
            out.write(tabulate(data, headers=headers, tablefmt="simple", disable_numparse=True))
            out.write("\n")
        else:
            out.write("(no rows)\n")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return n


def readable(value) -> str:
    """A cell as a person reads it in a table: lists and objects as text, never JSON
    (``{"A": 57, "B": 103}`` -> ``A: 57, B: 103``; a list of objects one after another, ``; ``)."""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {readable(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, (list, tuple)):
        nested = any(isinstance(v, (dict, list, tuple)) for v in value)
        return ("; " if nested else ", ").join(readable(v) for v in value)
    return cell_text(value)


def cut(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` display columns, ending in ``…`` when cut; never in the
    middle of a character (a CJK character that would not fit whole is left out)."""
    if display_width(text) <= width:
        return text
    room, kept = width - 1, []
    for ch in text:
        w = char_width(ch)
        if w > room:
            break
        kept.append(ch)
        room -= w
    return "".join(kept) + "…"


#: a table cut to fit keeps at least this many columns of a text
MIN_CUT = 10
#: tabulate's "simple" table: two spaces between columns, and a header at least two wider than its text
_GAP, _HEAD_PAD = 2, 2


def fit_table(headers: list[str], data: list[list[str]], width: int, keep: Sequence[bool] = ()) -> list[list[str]]:
    """Cut texts of a table (with ``…``) so that its lines fit ``width`` display columns.

    The columns come most important first, so the last ones are cut first: each down to its
    header or :data:`MIN_CUT` columns at least, then the one before it, and so on; a column ``keep``
    names is never cut (codes, times). When that is not enough the table is as narrow as those
    floors make it (choose fewer columns with ``--columns``)."""
    natural = [max([display_width(h) + _HEAD_PAD] + [display_width(r[i]) for r in data])
               for i, h in enumerate(headers)]
    excess = sum(natural) + _GAP * (len(headers) - 1) - width
    if excess <= 0:
        return data
    limits = list(natural)
    for i in reversed(range(len(headers))):
        if keep and keep[i]:
            continue
        floor = min(natural[i], max(display_width(headers[i]) + _HEAD_PAD, MIN_CUT))
        take = min(natural[i] - floor, excess)
        limits[i] -= take
        excess -= take
        if excess <= 0:
            break
    return [[cut(cell, limit) for cell, limit in zip(row, limits)] for row in data]


def write_xlsx(path: str, sheets: dict[str, tuple[Sequence[str], Iterable[dict]]], *,
               mode: int = DEFAULT_MODE, tz: str = DEFAULT_TZ) -> int:
    """A real workbook, one sheet per entry; strings are written as strings, never formulas (so
    they are never neutralized either: ``-2+3公司`` stays as it is). Timestamps with an offset are
    shown in the time zone ``tz`` (``Settings.tz``). Written whole or not at all, private
    (``mode``); returns the number of rows written."""
    import xlsxwriter
    from xlsxwriter.exceptions import XlsxWriterException

    with replace_file(path, mode, binary=True) as fh:
        sink = _Sink(fh)
        book = xlsxwriter.Workbook(sink, {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_numbers": False, "strings_to_urls": False})
        try:
            total = _fill_workbook(book, sheets, tz)
        except BaseException:
            _discard(book)
            raise
        try:
            book.close()
        except XlsxWriterException as exc:  # FileCreateError wraps the OSError of a full disk
            sink.fh = None                  # the zip writer left half-way must not write on when it is freed
            cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else None
            if cause is not None:
                raise cause from None
            raise OutputFileError(f"{path}: cannot write the workbook: {exc}") from None
    return total


class _Sink:
    """The open temporary file as XlsxWriter's zip writer sees it. When closing the workbook fails
    (a full disk), the zip writer is abandoned mid-way and later tries to finish itself when it is
    freed, after the file is closed ("Exception ignored in ZipFile.__del__" on stderr): from then on
    the sink takes everything and writes nothing, keeping only the position the zip writer expects."""

    def __init__(self, fh):
        self.fh, self.pos = fh, 0

    def write(self, data) -> int:
        n = self.fh.write(data) if self.fh is not None else len(data)
        self.pos += n
        return n

    def tell(self) -> int:
        return self.fh.tell() if self.fh is not None else self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if self.fh is not None:
            self.pos = self.fh.seek(offset, whence)
        elif whence == 0:
            self.pos = offset
        elif whence == 1:
            self.pos += offset
        return self.pos

    def flush(self) -> None:
        if self.fh is not None:
            self.fh.flush()


def _fill_workbook(book, sheets, tz: str = DEFAULT_TZ) -> int:
    """Each table on its own sheet, every sheet ready to use as it is: bold frozen header, an
    autofilter over the data, widths fitted to the content, dates as date cells, money with two
    decimals, lists and dicts as readable text (:mod:`kqtools.xlsxcells`). Rows are written in
    order (constant-memory mode); the columns' canonical names come with relabelled headers
    (:class:`kqtools.labels.Heads`), plain headers are the canonical names themselves."""
    from .xlsxcells import SheetCells, local_zone, workbook_formats

    zone, formats = local_zone(tz), workbook_formats(book)
    used: set = set()
    total = 0
    for title, (columns, rows) in sheets.items():
        sheet = book.add_worksheet(_sheet_name(title, used))
        fields = getattr(columns, "fields", None)
        cells = SheetCells(sheet, list(columns), fields or list(columns), formats, zone, labelled=fields is not None)
        cells.write_header()
        r = 0
        for r, row in enumerate(rows, start=1):
            cells.write_row(r, row)
        total += r
        cells.finish(r)
    return total


def _discard(book) -> None:
    """Remove the temporary files of a workbook that will not be closed (constant-memory mode keeps
    one per sheet in the temporary folder)."""
    import contextlib
    import os

    for sheet in book.worksheets():
        fh = getattr(sheet, "row_data_fh", None)
        name = getattr(sheet, "row_data_filename", None)
        with contextlib.suppress(Exception):
            if fh is not None:
                fh.close()
        with contextlib.suppress(Exception):
            if name:
                os.unlink(name)


def _sheet_name(title: str, used: set) -> str:
    base = "".join("_" if ch in "[]:*?/\\" else ch for ch in str(title))[:31] or "Sheet"
    name, i = base, 2
    while name.lower() in used:
        suffix = f"~{i}"
        name, i = base[:31 - len(suffix)] + suffix, i + 1
    used.add(name.lower())
    return name


def write_file(path: str, rows: Iterable[dict], columns: Sequence[str], *, sheet: str = "Sheet1",
               sheets: dict | None = None, mode: int = DEFAULT_MODE, tz: str = DEFAULT_TZ) -> int:
    """``-o FILE``: the format comes from the extension; CSV gets a BOM so Excel reads Chinese and
    formula-like text neutralized. Written whole or not at all, private (``mode``): see
    :func:`kqtools.files.replace_file`. Returns the number of rows written."""
    fmt = format_for_path(path)
    if fmt == "xlsx":
        return write_xlsx(path, sheets or {sheet: (columns, rows)}, mode=mode, tz=tz)
    if sheets:
        rows = (r for _, (_, rs) in sheets.items() for r in rs)
    encoding = "utf-8-sig" if fmt in ("csv", "tsv") else "utf-8"
    with replace_file(path, mode, encoding=encoding, newline="") as fh:
        return render(rows, columns, fmt, fh, for_excel=fmt in ("csv", "tsv"))


def write_document(path: str, document, *, mode: int = DEFAULT_MODE) -> None:
    """One JSON document (``kq enterprises show -o firm.json``), written as :func:`write_file` does."""
    if format_for_path(path) != "json":
        raise OutputFileError(f"{path}: this is written as .json (or .xlsx)")
    with replace_file(path, mode, encoding="utf-8") as fh:
        json.dump(document, fh, ensure_ascii=False, indent=1, default=_json_default)
        fh.write("\n")


def to_string(rows, columns, fmt="table") -> str:
    buf = io.StringIO()
    render(rows, columns, fmt, buf)
    return buf.getvalue()
