"""Reading tabular files as clerks receive them: CSV/TSV (UTF-8, UTF-8 with BOM, GBK/GB18030, UTF-16),
XLSX (:mod:`kqtools.workbooks`), JSON (an array of objects) and JSONL, from a path or stdin.

A reader yields ``(line, cells)``: ``line`` is where a clerk finds the row (CSV: the physical line it
starts on, header = line 1; XLSX: the sheet row; JSON: the object's position, 1-based; JSONL: the
line). Problems that make the whole source unusable raise :class:`SourceError` with one line; a
row that cannot be read is yielded as a :class:`BadRow` (tabular) or :class:`RowError` (JSONL) and
becomes a rejected row.

Text is decoded once per file and verified line by line (:mod:`kqtools.decoding`): a row on a line
in another encoding is a bad row naming the encoding it looks like. A quoted cell that does not close
(it runs to the end of the file, past :data:`MAX_CELL_CHARS` characters or :data:`MAX_CELL_LINES`
lines, or swallows lines that look like rows) stops the import, naming the line where it opened.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import IO, Iterator

from .decoding import (_MARKED, SourceError, TextLines, _read_upto, detect_encoding, first_non_ascii_block,
                       seekable)

__all__ = ["BadRow", "RowError", "Source", "SourceError", "detect_encoding", "detect_format", "open_table"]
from .fields import to_text

SNIFF_BYTES = 1 << 16
MAX_CELL_CHARS = 10_000        # no real cell is longer: a quote that never closes
MAX_CELL_LINES = 20            # nor spans more lines
FORMATS = ("csv", "tsv", "xlsx", "xls", "json", "jsonl")
_EXT = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".et": "xls",
        ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
csv.field_size_limit(MAX_CELL_CHARS)


class RowError(str):
    """Yielded instead of an object for a JSONL line that cannot be read: a per-row reject."""


class BadRow(list):
    """Yielded instead of the cells of a tabular row that cannot be read (a line in another
    encoding): the cells as best decoded (U+FFFD for bad bytes) and ``reason``, a per-row reject."""
    reason: str = ""


@dataclass
class Source:
    """An opened source: its format and encoding as detected, and the sha256 of the bytes read.

    ``stats`` counts what the reader changed or noticed for the summary (``merged_cells_filled``);
    ``first_col`` is the sheet column of the first cell of each row (XLSX; 0 = column A).
    """
    name: str
    format: str
    encoding: str | None = None
    sheet: str | None = None
    header_line: int = 1
    header: list[str] = field(default_factory=list)
    rows: Iterator[tuple[int, list]] = iter(())
    first_col: int = 0
    stats: dict = field(default_factory=dict)
    _hasher: "HashingReader | None" = None
    _digest: str | None = None

    @property
    def sha256(self) -> str:
        return self._digest or (self._hasher.hexdigest() if self._hasher else "")


class HashingReader(io.RawIOBase):
    """A binary stream that hashes what passes through it, with some bytes put back in front."""

    def __init__(self, raw: IO[bytes], prefix: bytes = b""):
        self.raw, self.prefix, self.sha = raw, prefix, hashlib.sha256(prefix)

    def readable(self):
        return True

    def readinto(self, b):
        if self.prefix:
            n = min(len(b), len(self.prefix))
            b[:n], self.prefix = self.prefix[:n], self.prefix[n:]
            return n
        data = self.raw.read(len(b))
        self.sha.update(data)
        b[:len(data)] = data
        return len(data)

    def hexdigest(self):
        # hash whatever the consumer did not read, so the digest is always of the whole source
        while True:
            data = self.raw.read(1 << 20)
            if not data:
                break
            self.sha.update(data)
        return self.sha.hexdigest()


def detect_format(name: str, head: bytes) -> str:
    import os.path

    ext = os.path.splitext(name.lower())[1]
    if ext in _EXT and name != "-":
        if _EXT[ext] in ("xls", "xlsx") and head.startswith(b"PK\x03\x04"):
            return "xlsx"   # an .xlsx saved under an old name (WPS does this)
        return _EXT[ext]
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):   # an OLE2 compound file: .xls (BIFF8), or WPS .et
        return "xls"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        return "jsonl"
    first = text.split(b"\n", 1)[0]
    return "tsv" if first.count(b"\t") > first.count(b",") else "csv"



def open_table(stream: IO[bytes], name: str, fmt: str | None = None, encoding: str | None = None,
               sheet: str | None = None) -> Source:
    """Detect the format and encoding of a binary stream and return a :class:`Source` of raw rows."""
    head = _read_upto(stream, SNIFF_BYTES)
    complete = len(head) < SNIFF_BYTES
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise SourceError(f"{name}: empty file")
    fmt = fmt or detect_format(name, head)
    if fmt in ("xlsx", "xls"):
        from .workbooks import open_xlsx

        return open_xlsx(head + stream.read(), name, sheet, fmt)
    if fmt not in ("csv", "tsv", "json", "jsonl"):
        raise SourceError(f"{name}: unknown format {fmt!r}")
    detected = encoding is None
    if detected:
        sample = head
        if sample.isascii() and not complete and seekable(stream):
            # the sniffed head is plain ASCII: GBK text may begin after a long ASCII stretch
            sample = first_non_ascii_block(stream) or head
        try:
            encoding = detect_encoding(sample, complete or sample is not head)
        except SourceError as exc:
            raise SourceError(f"{name}: {exc}") from None
    else:
        try:
            text_codec = getattr(codecs.lookup(encoding), "_is_text_encoding", True)  # not rot13, base64
        except LookupError:
            text_codec = False
        if not text_codec:
            raise SourceError(f"{name}: unknown encoding {encoding!r}")
    hasher = HashingReader(stream, head)
    src = Source(name=name, format=fmt, encoding=encoding, _hasher=hasher)
    text = TextLines(hasher, name, encoding, detected)
    if fmt in ("csv", "tsv"):
        src.rows = _csv_rows(text, "\t" if fmt == "tsv" else ",")
    elif fmt == "jsonl":
        src.rows = _jsonl_rows(text)
    else:
        src.rows = _json_rows(text)
    return src


# ------------------------------------------------------------------ rows
def _csv_rows(text: TextLines, delimiter: str):
    """``(line, cells)`` of a CSV/TSV text; rows on a bad line become :class:`BadRow`."""
    from itertools import chain

    name, bad, eof = text.name, text.bad, text.eof
    reader = csv.reader(chain.from_iterable(text.blocks(sentinel=True)), delimiter=delimiter, strict=False)
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if start - line > 1 or start > eof[0]:
                if start - line == 1:   # the sentinel line alone: the data ended outside any quote
                    return
                _check_multiline(cells, line, start, delimiter, name, start > eof[0])
            if bad and any(n in bad for n in range(line, start)):
                row = BadRow(_MARKED.sub("\ufffd", c) for c in cells)
                row.reason = next(bad[n] for n in range(line, start) if n in bad)
                yield line, row
                continue
            yield line, cells
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise SourceError(f"{name}: line {start}: a cell that starts on this line runs past {MAX_CELL_CHARS:,} "
                              f"characters: a quotation mark that never closes? (no real cell is that long)") from None
        raise SourceError(f"{name}: line {reader.line_num}: {exc}") from None


def _line_breaks(cell: str) -> int:
    n = cell.count("\n")
    return n + cell.count("\r") - cell.count("\r\n") if "\r" in cell else n


def _check_multiline(cells: list, line: int, end: int, delimiter: str, name: str, at_eof: bool) -> None:
    """A row spanning several lines is fine for a quoted address with a line break. It is a quote
    that never closed when it runs to the end of the file, when one cell spans more than
    :data:`MAX_CELL_LINES` lines, or when a cell takes in lines that look like rows of this file."""
    starts, n = [], line
    for cell in cells:
        starts.append(n)
        n += _line_breaks(cell)
    opened, why = line, None
    if at_eof:
        opened, why = starts[-1], "never closes (it runs to the end of the file)"
    else:
        for cell, first in zip(cells, starts):
            breaks = _line_breaks(cell)
            if not breaks:
                continue
            opened = first
            if breaks >= MAX_CELL_LINES:
                why = f"does not close within {MAX_CELL_LINES} lines"
            elif any(part.count(delimiter) >= max(2, len(cells) - 1) for part in cell.splitlines()[1:]):
                why = "takes in lines that look like rows of this file"
            if why:
                break
        if why is None and end - line > MAX_CELL_LINES:
            why = f"is part of a row that spans {end - line} lines"
    if why:
        raise SourceError(f"{name}: line {opened}: a quoted cell that opens on this line {why}; "
                          f"a quotation mark is missing its pair (nothing was imported)")


def _jsonl_rows(text: TextLines):
    line_no = 0
    for block in text.blocks():
        for line in block:
            line_no += 1
            if not line.strip():
                continue
            if line_no in text.bad:
                yield line_no, RowError(text.bad[line_no])
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_no, RowError(f"not JSON ({exc.msg}, column {exc.colno})")
                continue
            if not isinstance(obj, dict):
                yield line_no, RowError(f"expected one JSON object per line, got {type(obj).__name__}")
                continue
            yield line_no, obj


def _json_rows(text: TextLines):
    name = text.name
    whole = "".join(block.getvalue() for block in text.blocks())
    if text.bad:
        first = min(text.bad)
        raise SourceError(f"{name}: line {first}: {text.bad[first]}")
    try:
        data = json.loads(whole)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{name}: line {exc.lineno}, column {exc.colno}: not JSON: {exc.msg}") from None
    except RecursionError:
        raise SourceError(f"{name}: JSON nested too deeply to be a table") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            data = lists[0]  # {"data": [...]} as many systems export
    if not isinstance(data, list):
        what = "an object" if isinstance(data, dict) else type(data).__name__
        raise SourceError(f"{name}: expected a JSON array of objects, got {what}")
    for i, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            raise SourceError(f"{name}: item {i}: expected an object, got {type(obj).__name__}")
        yield i, obj


def cells_of(obj, header):
    """JSON objects become cells in header order."""
    return [obj.get(h) for h in header]


def is_blank(cells) -> bool:
    for c in cells:
        if c is None:
            continue
        if isinstance(c, str):
            if c.strip():
                return False
        else:
            return False
    return True


def header_text(cell) -> str:
    return "" if cell is None else to_text(cell)
