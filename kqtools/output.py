"""Rendering records: terminal tables, CSV/TSV, JSON, JSONL and Excel workbooks.

Rows are plain dicts; ``columns`` fixes the order. Lists and dicts are shown as
JSON in text formats and kept as they are in JSON formats.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import IO, Iterable, Sequence

FORMATS = ("table", "csv", "tsv", "json", "jsonl")
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".json": "json", ".jsonl": "jsonl",
              ".ndjson": "jsonl", ".xlsx": "xlsx"}
_INJECTION = ("=", "+", "-", "@", "\t", "\r")


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
    """Stop Excel from reading a cell as a formula (CSV injection): prefix an apostrophe."""
    return "'" + text if text and text.startswith(_INJECTION) else text


def format_for_path(path: str) -> str:
    ext = Path(path).suffix.lower()
    if ext not in EXTENSIONS:
        raise ValueError(f"{path}: cannot tell the output format from the extension "
                         f"(use {', '.join(sorted(EXTENSIONS))})")
    return EXTENSIONS[ext]


def render(rows: Iterable[dict], columns: Sequence[str], fmt: str, out: IO[str], *,
           for_excel: bool = False) -> int:
    """Write rows to a text stream; returns the number of rows written."""
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
        writer = csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator="\r\n" if for_excel else "\n")
        writer.writerow(columns)
        for row in rows:
            cells = [cell_text(row.get(c)) for c in columns]
            if for_excel:
                cells = [neutralize(c) if isinstance(row.get(col), str) else c for c, col in zip(cells, columns)]
            writer.writerow(cells)
            n += 1
    elif fmt == "table":
        from tabulate import tabulate

        data = [[cell_text(row.get(c)) for c in columns] for row in rows]
        n = len(data)
        if n:
            out.write(tabulate(data, headers=list(columns), tablefmt="simple", disable_numparse=True))
            out.write("\n")
        else:
            out.write("(no rows)\n")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return n


def write_xlsx(path: str, sheets: dict[str, tuple[Sequence[str], Iterable[dict]]]) -> int:
    """A real workbook, one sheet per entry; strings are written as strings, never formulas."""
    import xlsxwriter

    total = 0
    with xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                    "strings_to_numbers": False, "strings_to_urls": False}) as book:
        bold = book.add_format({"bold": True})
        used = set()
        for title, (columns, rows) in sheets.items():
            name = _sheet_name(title, used)
            sheet = book.add_worksheet(name)
            sheet.write_row(0, 0, list(columns), bold)
            sheet.freeze_panes(1, 0)
            r = 0
            for r, row in enumerate(rows, start=1):
                for c, col in enumerate(columns):
                    value = row.get(col)
                    if value is None:
                        continue
                    if isinstance(value, bool):
                        sheet.write_boolean(r, c, value)
                    elif isinstance(value, (int, float)):
                        sheet.write_number(r, c, value)
                    else:
                        sheet.write_string(r, c, neutralize(cell_text(value)))
            total += r
            sheet.set_column(0, max(len(columns) - 1, 0), 16)
    return total


def _sheet_name(title: str, used: set) -> str:
    base = "".join("_" if ch in "[]:*?/\\" else ch for ch in str(title))[:31] or "Sheet"
    name, i = base, 2
    while name.lower() in used:
        suffix = f"~{i}"
        name, i = base[:31 - len(suffix)] + suffix, i + 1
    used.add(name.lower())
    return name


def write_file(path: str, rows: Iterable[dict], columns: Sequence[str], *, sheet: str = "Sheet1",
               sheets: dict | None = None) -> int:
    """``-o FILE``: the format comes from the extension; CSV gets a BOM so Excel reads Chinese."""
    fmt = format_for_path(path)
    if fmt == "xlsx":
        return write_xlsx(path, sheets or {sheet: (columns, rows)})
    if sheets:
        rows = (r for _, (_, rs) in sheets.items() for r in rs)
    encoding = "utf-8-sig" if fmt in ("csv", "tsv") else "utf-8"
    with open(path, "w", encoding=encoding, newline="") as fh:
        return render(rows, columns, fmt, fh, for_excel=fmt in ("csv", "tsv"))


def to_string(rows, columns, fmt="table") -> str:
    buf = io.StringIO()
    render(rows, columns, fmt, buf)
    return buf.getvalue()
