"""Text decoded once per file and verified line by line (for :mod:`kqtools.readers`).

The encoding is what most of the first lines that are not plain ASCII are (UTF-8 or GB18030, a
superset of GBK), or what the clerk gives. The text is then decoded in blocks of whole lines, and
every line is checked against that encoding: a line that is not valid in it (a GBK line in a UTF-8
file), or that is UTF-8 in a GBK file (it would be stored as mojibake such as ``鐢插叕鍙镐竴``), is a
bad line naming the encoding it looks like. Clean blocks pay only the decode: an error handler marks
each bad byte as a lone surrogate and counts its calls (docs/design.md, "Import").
"""
from __future__ import annotations

import codecs
import io
import re
from typing import IO, Iterator

from .errors import KqtoolsError

BLOCK_BYTES = 1 << 20          # bytes decoded at a time
_GB = "gb18030"
_LABEL = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", _GB: "GBK/GB18030", "gbk": "GBK", "gb2312": "GB2312"}


class SourceError(KqtoolsError):
    """The source cannot be read as a table at all (one line: where and why)."""


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



def seekable(stream) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, ValueError, OSError):
        return False


def first_non_ascii_block(stream) -> bytes | None:
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


class TextLines:
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
            line = first + count_lines(text[:text.index("\x00")]) - 1
            raise SourceError(f"{self.name}: line {max(line, first)}: NUL bytes; this is a binary file, not CSV")
        n = count_lines(text)
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


def count_lines(text: str) -> int:
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
