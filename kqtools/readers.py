"""Reading tabular files as clerks receive them: CSV/TSV (UTF-8, UTF-8 with BOM, GBK/GB18030, UTF-16),
XLSX (:mod:`kqtools.workbooks`), JSON (an array of objects) and JSONL, from a path or stdin.

A reader yields ``(line, cells)``: ``line`` is where a clerk finds the row (CSV: the physical line it
starts on, header = line 1; XLSX: the sheet row; JSON: the object's position, 1-based; JSONL: the
line). Problems that make the whole source unusable raise :class:`SourceError` with one line; a
row that cannot be read is yielded as a :class:`BadRow` (tabular) or :class:`RowError` (JSONL) and
becomes a rejected row.

Text is decoded once per file (the encoding is detected from the first lines that are not plain
ASCII, or given) and verified line by line: a line that is not valid in the file's encoding (a GBK
line in a UTF-8 file), or that is UTF-8 in a GBK file (it would be stored as mojibake such as
``鐢插叕鍙镐竴``), is a bad row naming the encoding it looks like. A quoted cell that does not close
(it runs to the end of the file, past :data:`MAX_CELL_CHARS` characters or :data:`MAX_CELL_LINES`
lines, or swallows lines that look like rows) stops the import, naming the line where it opened.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from typing import IO, Iterator

from .errors import KqtoolsError
from .fields import to_text

SNIFF_BYTES = 1 << 16
BLOCK_BYTES = 1 << 20          # bytes decoded at a time
MAX_CELL_CHARS = 10_000        # no real cell is longer: a quote that never closes
MAX_CELL_LINES = 20            # nor spans more lines
FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl")
_EXT = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx",
        ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
csv.field_size_limit(MAX_CELL_CHARS)
_GB = "gb18030"
_LABEL = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", _GB: "GBK/GB18030", "gbk": "GBK", "gb2312": "GB2312"}


class SourceError(KqtoolsError):
    """The source cannot be read as a table at all (one line: where and why)."""


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


def _line_encoding(line: bytes, final: bool = True) -> str | None:
    """``utf-8`` or ``gb18030`` for a line that is not plain ASCII, ``None`` for ASCII, ``""`` for
    neither (``final=False``: the line may end inside a character)."""
    if line.isascii():
        return None
    for encoding in ("utf-8", _GB):
        try:
            codecs.getincrementaldecoder(encoding)().decode(line, final=final)
            return encoding
        except UnicodeDecodeError:
            pass
    return ""


def detect_encoding(head: bytes, complete: bool) -> str:
    """utf-8-sig for a BOM; UTF-16 by its BOM or zero bytes; else what most of the lines that are
    not plain ASCII are: UTF-8 or GB18030 (a superset of GBK); utf-8 for plain ASCII."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4 and head.count(0) * 3 > len(head):  # UTF-16 without a BOM: every other byte is 0
        return "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
    lines = head.split(b"\n")
    counts = {"utf-8": 0, _GB: 0, "": 0}
    for i, line in enumerate(lines, 1):
        enc = _line_encoding(line, final=complete or i < len(lines))
        if enc is not None:
            counts[enc] += 1
    if counts[""] > counts["utf-8"] + counts[_GB]:
        raise SourceError("neither UTF-8 nor GBK/GB18030 text; is it a binary file? (use --encoding)")
    return _GB if counts[_GB] > counts["utf-8"] else "utf-8"


def open_table(stream: IO[bytes], name: str, fmt: str | None = None, encoding: str | None = None,
               sheet: str | None = None) -> Source:
    """Detect the format and encoding of a binary stream and return a :class:`Source` of raw rows."""
    head = _read_upto(stream, SNIFF_BYTES)
    complete = len(head) < SNIFF_BYTES
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise SourceError(f"{name}: empty file")
    fmt = fmt or detect_format(name, head)
    if fmt == "xlsx":
        from .workbooks import open_xlsx

        return open_xlsx(head + stream.read(), name, sheet)
    if fmt not in ("csv", "tsv", "json", "jsonl"):
        raise SourceError(f"{name}: unknown format {fmt!r}")
    detected = encoding is None
    if detected:
        sample = head
        if sample.isascii() and not complete and _seekable(stream):
            # the sniffed head is plain ASCII: GBK text may begin after a long ASCII stretch
            sample = _first_non_ascii_block(stream) or head
        try:
            encoding = detect_encoding(sample, complete or sample is not head)
        except SourceError as exc:
            raise SourceError(f"{name}: {exc}") from None
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise SourceError(f"{name}: unknown encoding {encoding!r}") from None
    hasher = HashingReader(stream, head)
    src = Source(name=name, format=fmt, encoding=encoding, _hasher=hasher)
    text = _Text(hasher, name, encoding, detected)
    if fmt in ("csv", "tsv"):
        src.rows = _csv_rows(text, "\t" if fmt == "tsv" else ",")
    elif fmt == "jsonl":
        src.rows = _jsonl_rows(text)
    else:
        src.rows = _json_rows(text)
    return src


def _seekable(stream) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, ValueError, OSError):
        return False


def _first_non_ascii_block(stream) -> bytes | None:
    """The first block of a seekable file that is not plain ASCII, cut at line ends (C-speed reads;
    the stream is rewound to where it was)."""
    start = stream.tell()
    try:
        carry = b""
        while True:
            block = stream.read(BLOCK_BYTES)
            if not block:
                return None
            if not block.isascii():
                lines = (carry + block).split(b"\n")
                return b"\n".join(lines[1:-1] if len(lines) > 2 else lines)
            carry = block[block.rfind(b"\n") + 1:]
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


# ------------------------------------------------------------------ decoding, verified per line
_MARKS = [0]   # how often the handler below ran: a block decoded without it has no bad bytes


def _mark_bad_bytes(exc: UnicodeDecodeError):
    """Decoding error handler: each bad byte becomes a lone surrogate U+DC00+byte, which no valid
    text contains, so the lines holding one can be found afterwards."""
    _MARKS[0] += 1
    return "".join(chr(0xDC00 + b) for b in exc.object[exc.start:exc.end]), exc.end


codecs.register_error("kq-mark", _mark_bad_bytes)
_MARKED = re.compile("[\udc00-\udcff]")
_ASC = rb"[\x00-\x09\x0b-\x7f]"
_MB = rb"(?:[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3})"
# a line that is valid UTF-8 and not plain ASCII (checked in GB18030 files: it would become mojibake)
# (searched in b"\n" + block: a literal first byte lets the regex engine jump from line to line)
_UTF8_LINE = re.compile(rb"\n" + _ASC + rb"*+" + _MB + rb"(?:" + _ASC + rb"|" + _MB + rb")*+(?=\r?\n|$)")
_CJK3 = re.compile(rb"[\xe0-\xef][\x80-\xbf]{2}")


class _Text:
    """The decoded text of a byte stream, as blocks of whole lines, verified line by line.

    ``bad`` maps a line number to the reason it cannot be read; the row readers turn the rows that
    touch such a line into bad rows. When most lines are bad, the encoding was guessed wrong: a
    :class:`SourceError` says which encoding to give instead.
    """

    def __init__(self, raw: IO[bytes], name: str, encoding: str, detected: bool):
        self.raw, self.name, self.encoding, self.detected = raw, name, encoding, detected
        self.bad: dict[int, str] = {}
        self.good = 0                           # lines not plain ASCII that fit (counted by block, roughly)
        self.lines = 0                          # lines handed out so far
        self.eof = [1 << 62]                    # the sentinel's line number, once the data has ended
        norm = codecs.lookup(encoding).name
        self.utf8 = norm in ("utf-8", "utf-8-sig")
        self.gb = norm in ("gb18030", "gbk", "gb2312")
        self.label = _LABEL.get(norm, encoding)
        self.line_safe = (not norm.startswith(("utf-16", "utf-32"))
                          and "\n,\"\t".encode(encoding, "replace") == b"\n,\"\t")

    def blocks(self, sentinel: bool = False) -> Iterator[io.StringIO]:
        """Whole lines in blocks (StringIO, newline=""). With ``sentinel``, then one line ``"`` that
        closes a quote still open at the end of the data; ``eof[0]`` is its line number."""
        if self.line_safe:
            yield from self._safe_blocks()
        else:
            yield from self._plain_blocks()
        self._judge(final=True)
        if sentinel:
            self.eof[0] = self.lines + 1
            yield io.StringIO('"\n', newline="")

    def _safe_blocks(self) -> Iterator[io.StringIO]:
        """Encodings in which b"\\n" is always a line end: read in blocks cut after a newline."""
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="kq-mark")
        carry = b""
        while True:
            data = self.raw.read(BLOCK_BYTES)
            if not data:
                if carry:
                    marks = _MARKS[0]
                    yield self._checked(decoder.decode(carry, final=True), carry, _MARKS[0] != marks)
                return
            data = carry + data if carry else data
            cut = data.rfind(b"\n") + 1
            if not cut:
                if len(data) > 16 * BLOCK_BYTES:
                    raise SourceError(f"{self.name}: line {self.lines + 1}: more than 16 MB without a line break; "
                                      f"this is not a table")
                carry = data
                continue
            chunk, carry = (data, b"") if cut == len(data) else (data[:cut], data[cut:])
            marks = _MARKS[0]
            text = decoder.decode(chunk)
            yield self._checked(text, chunk, _MARKS[0] != marks)

    def _plain_blocks(self) -> Iterator[io.StringIO]:
        """Encodings whose bytes cannot be cut at b"\\n" (UTF-16): decoded strictly by a text wrapper."""
        text = io.TextIOWrapper(io.BufferedReader(self.raw, 1 << 16), encoding=self.encoding, newline="")
        carry = ""
        try:
            while True:
                block = text.read(BLOCK_BYTES)
                if not block:
                    if carry:
                        yield self._checked(carry, None, False)
                    return
                cut = max(block.rfind("\n"), block.rfind("\r")) + 1
                if block.endswith("\r"):  # maybe the first half of \r\n
                    cut = block.rfind("\n") + 1
                chunk, carry = carry + block[:cut], block[cut:]
                if chunk:
                    yield self._checked(chunk, None, False)
        except UnicodeDecodeError as exc:
            raise SourceError(f"{self.name}: line {self.lines + 1} or after: bytes that are not valid "
                              f"{exc.encoding} text; use --encoding") from None

    def _checked(self, text: str, data: bytes | None, marked: bool) -> io.StringIO:
        """One block: a NUL means a binary file; marked bytes, or UTF-8 lines in a GB file, are bad lines."""
        first = self.lines + 1
        if "\x00" in text:
            line = first + _count_lines(text[:text.index("\x00")]) - 1
            raise SourceError(f"{self.name}: line {max(line, first)}: NUL bytes; this is a binary file, not CSV")
        n = _count_lines(text)
        self.lines += n
        if marked:
            self._find_marked(text, first)
        elif self.gb and data is not None and not data.isascii() and _UTF8_LINE.search(b"\n" + data):
            self._find_utf8(text, first)
        elif data is not None and not data.isascii():
            self.good += n
        return io.StringIO(text, newline="")

    def _find_marked(self, text: str, first: int) -> None:
        other = _GB if self.utf8 else "utf-8" if self.gb else None
        for i, line in enumerate(io.StringIO(text, newline=""), first):
            if _MARKED.search(line):
                raw = line.encode(self.encoding, "kq-unmark")
                if self.gb and raw and _decodes(raw, "utf-8"):
                    self.bad[i] = f"UTF-8 text in a {self.label} file; save the file in one encoding"
                elif other and raw and _decodes(raw, other):
                    self.bad[i] = (f"not {self.label} text like the rest of the file; it looks like "
                                   f"{_LABEL[other]}: save the file in one encoding")
                else:
                    self.bad[i] = f"bytes that are not valid {self.label} text"
            elif not line.isascii():
                self.good += 1
        self._judge()

    def _find_utf8(self, text: str, first: int) -> None:
        for i, line in enumerate(io.StringIO(text, newline=""), first):
            if line.isascii():
                continue
            raw = line.encode(self.encoding, "kq-unmark")
            if len(_CJK3.findall(raw)) >= 2 and _decodes(raw, "utf-8"):
                self.bad[i] = (f"UTF-8 text in a {self.label} file (it would be stored as "
                               f"{line.strip()[:12]}…); save the file in one encoding")
            else:
                self.good += 1
        self._judge()

    def _judge(self, final: bool = False) -> None:
        """A guessed encoding that most lines do not fit: stop and say which one to give."""
        bad = len(self.bad)
        if self.detected and bad and (final or bad > 100) and bad > self.good:
            other = "gb18030" if self.utf8 else "utf-8"
            why = " (the start of the file is plain ASCII, and a pipe cannot be read twice)" if self.utf8 else ""
            raise SourceError(f"{self.name}: line {min(self.bad)}: most lines are not {self.label} text{why}: "
                              f"run again with --encoding {other}")


def _count_lines(text: str) -> int:
    """Lines as ``StringIO(text, newline="")`` yields them: ended by \\n, \\r\\n or \\r."""
    n = text.count("\n")
    if "\r" in text:
        n += text.count("\r") - text.count("\r\n")
    return n + (0 if not text or text.endswith(("\n", "\r")) else 1)


def _unmark(exc: UnicodeEncodeError):
    """Encoding error handler, the inverse of ``kq-mark``: U+DC00+byte becomes the byte again."""
    chars = exc.object[exc.start:exc.end]
    if all(0xDC00 <= ord(c) <= 0xDCFF for c in chars):
        return bytes(ord(c) - 0xDC00 for c in chars), exc.end
    raise exc


codecs.register_error("kq-unmark", _unmark)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


# ------------------------------------------------------------------ rows
def _csv_rows(text: _Text, delimiter: str):
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


def _jsonl_rows(text: _Text):
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


def _json_rows(text: _Text):
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
