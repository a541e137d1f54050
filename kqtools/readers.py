"""Reading tabular files as clerks receive them: CSV/TSV (UTF-8, UTF-8 with BOM, GBK/GB18030),
XLSX, JSON (an array of objects) and JSONL, from a path or stdin.

A reader yields ``(line, cells)``: ``line`` is where a clerk finds the row (CSV:
the physical line it starts on, header = line 1; XLSX: the sheet row; JSON: the
object's position, 1-based; JSONL: the line). Problems that make the whole source
unusable raise :class:`SourceError` with a one-line message.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import IO, Iterator

from .fields import to_text
from .errors import KqtoolsError

SNIFF_BYTES = 1 << 16
TEXT_BLOCK = 1 << 20  # characters decoded at a time
FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl")
_EXT = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx",
        ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
csv.field_size_limit(16 * 1024 * 1024)


class SourceError(KqtoolsError):
    """The source cannot be read as a table at all (one line: where and why)."""


@dataclass
class Source:
    """An opened source: its format and encoding as detected, and the sha256 of the bytes read."""
    name: str
    format: str
    encoding: str | None = None
    sheet: str | None = None
    header_line: int = 1
    header: list[str] = field(default_factory=list)
    rows: Iterator[tuple[int, list]] = iter(())
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
        return _EXT[ext]
    if ext == ".xls":
        raise SourceError(f"{name}: old .xls workbook; save it as .xlsx in Excel and import that")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise SourceError(f"{name}: old .xls workbook; save it as .xlsx in Excel and import that")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        return "jsonl"
    first = text.split(b"\n", 1)[0]
    return "tsv" if first.count(b"\t") > first.count(b",") else "csv"


def detect_encoding(head: bytes, complete: bool) -> str:
    """utf-8-sig for a BOM, utf-8 if the sample decodes, else gb18030 (a superset of GBK)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4 and head.count(0) * 3 > len(head):  # UTF-16 without a BOM: every other byte is 0
        return "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=complete)
        return "gb18030"
    except UnicodeDecodeError:
        raise SourceError("neither UTF-8 nor GBK/GB18030 text; is it a binary file? (use --encoding)") from None


def open_table(stream: IO[bytes], name: str, fmt: str | None = None, encoding: str | None = None,
               sheet: str | None = None) -> Source:
    """Detect the format and encoding of a binary stream and return a :class:`Source` of raw rows."""
    head = _read_upto(stream, SNIFF_BYTES)
    complete = len(head) < SNIFF_BYTES
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise SourceError(f"{name}: empty file")
    fmt = fmt or detect_format(name, head)
    if fmt == "xlsx":
        return _open_xlsx(head + stream.read(), name, sheet)
    if encoding is None:
        try:
            encoding = detect_encoding(head, complete)
        except SourceError as exc:
            raise SourceError(f"{name}: {exc}") from None
        if encoding == "utf-8" and not complete and _seekable(stream):
            # the sniffed head is only the start: GBK text may begin after a long ASCII stretch
            encoding = _utf8_or_gb18030(stream, head)
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise SourceError(f"{name}: unknown encoding {encoding!r}") from None
    hasher = HashingReader(stream, head)
    text = io.TextIOWrapper(io.BufferedReader(hasher, 1 << 16), encoding=encoding, newline="")
    src = Source(name=name, format=fmt, encoding=encoding, _hasher=hasher)
    if fmt in ("csv", "tsv"):
        src.rows = _csv_rows(text, name, "\t" if fmt == "tsv" else ",")
    elif fmt == "jsonl":
        src.rows = _jsonl_rows(text, name)
    elif fmt == "json":
        src.rows = _json_rows(text, name)
    else:
        raise SourceError(f"{name}: unknown format {fmt!r}")
    return src


def _seekable(stream) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, ValueError, OSError):
        return False


def _utf8_or_gb18030(stream, head: bytes) -> str:
    """Check the whole of a seekable file for UTF-8 (C-speed decoding, about 0.1 s per 100 MB), then
    rewind to where the head ended. A file that is not UTF-8 all the way through is read as GB18030."""
    start = stream.tell()
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head)
        while True:
            block = stream.read(1 << 20)
            if not block:
                decoder.decode(b"", final=True)
                return "utf-8"
            decoder.decode(block)
    except UnicodeDecodeError:
        return "gb18030"
    finally:
        stream.seek(start)


def _read_upto(stream, n):
    chunks, size = [], 0
    while size < n:
        data = stream.read(n - size)
        if not data:
            break
        chunks.append(data)
        size += len(data)
    return b"".join(chunks)


def _decode_guard(rows, name):
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        hint = "use --encoding"
        if exc.encoding.replace("_", "-").lower().startswith("utf-8"):
            sample = exc.object[exc.start:exc.start + 64]
            try:
                sample.decode("gb18030")
                hint = "the start of the file is plain ASCII, the rest looks like GBK: run again with --encoding gb18030"
            except UnicodeDecodeError:
                pass
        raise SourceError(f"{name}: bytes that are not valid {exc.encoding} text further into the file; {hint}") from None


def _text_blocks(text, name):
    """The text in blocks of whole lines (as StringIO), checked for NUL characters a block at a time:
    cheaper than looking at every row, and a NUL means a binary file, not CSV."""
    carry, lines_before = "", 0
    while True:
        block = text.read(TEXT_BLOCK)
        if not block:
            if carry:
                yield io.StringIO(carry, newline="")
            return
        if "\x00" in block:
            line = lines_before + carry.count("\n") + block[:block.index("\x00")].count("\n") + 1
            raise SourceError(f"{name}: line {line}: NUL bytes; this is a binary file, not CSV")
        cut = block.rfind("\n") + 1
        if not cut:
            carry += block
            continue
        chunk, carry = carry + block[:cut], block[cut:]
        lines_before += chunk.count("\n")
        yield io.StringIO(chunk, newline="")


def _csv_rows(text, name, delimiter):
    def gen():
        from itertools import chain

        reader = csv.reader(chain.from_iterable(_text_blocks(text, name)), delimiter=delimiter, strict=False)
        start = 1
        try:
            for cells in reader:
                line, start = start, reader.line_num + 1
                yield line, cells
        except csv.Error as exc:
            raise SourceError(f"{name}: line {reader.line_num}: {exc}") from None
    return _decode_guard(gen(), name)


class RowError(str):
    """Yielded instead of cells for a line that cannot be read (a broken JSONL line): a per-row reject."""


def _jsonl_rows(text, name):
    def gen():
        for line_no, line in enumerate(text, start=1):
            if not line.strip():
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
    return _decode_guard(gen(), name)


def _json_rows(text, name):
    def gen():
        try:
            data = json.load(text)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{name}: line {exc.lineno}, column {exc.colno}: not JSON: {exc.msg}") from None
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
    return _decode_guard(gen(), name)


def _open_xlsx(data: bytes, name: str, sheet: str | None) -> Source:
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
        ws = book.get_sheet_by_name(sheet_name)
        # iter_rows() yields from the sheet's first row (empty rows above the data included), so the
        # sheet row is the position + 1 (tests/test_readers.py checks this against a real workbook)
        offset = 1
        rows = ws.iter_rows()
    except SourceError:
        raise
    except Exception as exc:  # calamine raises several error types for broken zips
        raise SourceError(f"{name}: not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from None

    def gen():
        try:
            yield from enumerate(rows, offset)  # (sheet row, cells), without a Python step per row
        except Exception as exc:  # noqa: BLE001
            raise SourceError(f"{name}: workbook damaged while reading ({exc})") from None

    return Source(name=name, format="xlsx", sheet=sheet_name, rows=gen(), _digest=digest)


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
