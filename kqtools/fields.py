"""Cell values as clerks type them, turned into canonical values. Plain functions, no I/O.

Every converter takes one raw cell (str, int, float, bool, date or datetime, as the
reader gives it) and returns the canonical value, or raises ``ValueError`` with a
reason a clerk can act on. Empty cells never reach a converter.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata

EMPTY = frozenset({"", "-", "--", "—", "——", "/", "无", "暂无", "null", "NULL", "None", "N/A", "n/a"})
# what Excel shows in a cell whose formula failed: a row holding one is rejected, never read as empty
# (``N/A`` typed by a clerk means "not applicable" and stays empty; ``#N/A`` is the error of a lookup)
EXCEL_ERRORS = frozenset({"#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
                          "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#UNKNOWN!", "#CONNECT!", "#BUSY!"})
EXCEL_ERROR_REASON = "Excel error value: the formula of this cell failed in Excel; fix it there or type the value"
_EXCEL_EPOCH = dt.date(1899, 12, 30)
MIN_DATE, MAX_DATE = dt.date(1900, 1, 1), dt.date(2100, 12, 31)   # the dates a record of a firm can carry
_MAX_SERIAL = (MAX_DATE - _EXCEL_EPOCH).days                         # 73415: Excel's number for 2100-12-31
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
# a count may carry its counting word (120人); units of measure are read per field (kqtools.units)
_NUMBER_CLEAN = re.compile(r"[,\s_]|(?<=\d)(人|名|个|家)$")
_LIST_SPLIT = re.compile(r"[|;,、，；/\n]+")
_KEY_DROP = re.compile(r"[\s\"'“”‘’「」『』《》〈〉]+")


def is_empty(raw) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return raw.strip() in EMPTY
    return False


def lookup_key(text: str) -> str:
    """How enumeration values and headers are compared: NFKC, no spaces or quotes, lower case."""
    return _KEY_DROP.sub("", unicodedata.normalize("NFKC", text)).lower()


def to_text(raw) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # Excel stores 13812345678 as a float
    if isinstance(raw, (dt.date, dt.datetime)):
        return raw.isoformat()
    return str(raw).strip()


def to_code(raw) -> str:
    """Short codes (industry code, specialist id): NFKC, upper case, no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", to_text(raw))).upper()


def to_date(raw, bounded: bool = True) -> str:
    """A date as ISO text, between 1900-01-01 and 2100-12-31 (a year 0001 or 2173 is a typing slip
    or a number read as a date, never a firm's date); ``bounded=False``: any valid date."""
    if isinstance(raw, dt.datetime):
        raw = raw.date()
    if isinstance(raw, dt.date):
        return _in_range(raw, raw.isoformat()) if bounded else raw.isoformat()
    if isinstance(raw, bool):
        raise ValueError("not a date")
    if isinstance(raw, (int, float)):
        return _excel_serial(raw)
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            try:
                day = dt.date(y, mo, d)
            except ValueError:
                raise ValueError(f"no such date: {text}") from None
            return _in_range(day, text) if bounded else day.isoformat()
    if re.fullmatch(r"\d{5}(\.0+)?", text):
        return _excel_serial(float(text))
    raise ValueError(f"not a date: {text!r} (use 2024-07-01, 2024/7/1 or 2024年7月1日)")


def _in_range(day: dt.date, shown: str) -> str:
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(f"{shown}: not a real date for a firm's records (dates run from 1900 to 2100)")
    return day.isoformat()


def _excel_serial(value: float) -> str:
    """An Excel date number (days since 1899-12-30), for the dates 1900-01-01 to 2100-12-31."""
    if value != value or not 2 <= value <= _MAX_SERIAL:
        shown = int(value) if value == value and float(value).is_integer() else value
        day = ""
        if value == value and 1 <= value < 2958466:
            day = f" (as an Excel date number it would be {(_EXCEL_EPOCH + dt.timedelta(days=int(value))).isoformat()})"
        raise ValueError(f"not a date: {shown}{day}; dates run from 1900 to 2100")
    return (_EXCEL_EPOCH + dt.timedelta(days=int(value))).isoformat()


def to_number(raw) -> float:
    if isinstance(raw, bool):
        raise ValueError("not a number")
    if isinstance(raw, (int, float)):
        value = float(raw)
    else:
        text = _NUMBER_CLEAN.sub("", unicodedata.normalize("NFKC", str(raw)).strip())
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"not a number: {str(raw).strip()!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"not a number: {raw!r}")
    return value


def to_integer(raw) -> int:
    if isinstance(raw, str):
        text = unicodedata.normalize("NFKC", raw).strip().removesuffix("年").removesuffix("年度")
        raw = text
    value = to_number(raw)
    if not value.is_integer():
        raise ValueError(f"not a whole number: {raw!r}")
    return int(value)


def to_year(raw) -> int:
    """A year (2024, "2024年", "2024年度"). A date in the year column says so, whether it came as a
    date cell, as date text or as the number Excel keeps for a date (45658 = 2025-01-01)."""
    if isinstance(raw, (dt.date, dt.datetime)):
        day = raw.date() if isinstance(raw, dt.datetime) else raw
        raise ValueError(f"a date, not a year ({day.isoformat()}): put the year, e.g. {day.year}")
    if isinstance(raw, str):
        text = unicodedata.normalize("NFKC", raw).strip()
        if any(p.match(text) for p in _DATE_PATTERNS[:2]):
            try:
                day = dt.date.fromisoformat(to_date(text))
            except ValueError:
                day = None
            if day is not None:
                raise ValueError(f"a date, not a year ({day.isoformat()}): put the year, e.g. {day.year}")
    value = to_integer(raw)
    if MAX_DATE.year < value <= _MAX_SERIAL and not isinstance(raw, str) or (
            isinstance(raw, str) and re.fullmatch(r"\d{5}(\.0+)?", raw.strip()) and MAX_DATE.year < value <= _MAX_SERIAL):
        day = _EXCEL_EPOCH + dt.timedelta(days=value)
        raise ValueError(f"a date, not a year ({day.isoformat()}, which Excel keeps as {value}): "
                         f"put the year, e.g. {day.year}")
    return value


_TRUE = frozenset({"是", "有", "y", "yes", "true", "1", "√", "✓", "t", "发生", "1.0"})
_FALSE = frozenset({"否", "无", "n", "no", "false", "0", "×", "✗", "f", "未发生", "0.0"})


def to_boolean(raw) -> bool:
    if isinstance(raw, bool):
        return raw
    key = lookup_key(to_text(raw))
    if key in _TRUE:
        return True
    if key in _FALSE or key == "":
        return False
    raise ValueError(f"not yes/no: {to_text(raw)!r} (use 是/否)")


def to_list(raw) -> list[str]:
    if isinstance(raw, (list, tuple)):
        items = [to_text(x) for x in raw]
    else:
        items = _LIST_SPLIT.split(to_text(raw))
    return [x.strip() for x in items if x.strip()]


def add_years(iso_date: str, years: int) -> str:
    """The day before the same date ``years`` later (a 3-year certificate from 2023-11-06 runs to 2026-11-05)."""
    d = dt.date.fromisoformat(iso_date)
    try:
        end = d.replace(year=d.year + years)
    except ValueError:  # 29 February
        end = d.replace(year=d.year + years, day=28)
    return (end - dt.timedelta(days=1)).isoformat()


def parse_date_arg(text: str) -> dt.date:
    """Dates typed on the command line, in any form ``to_date`` accepts (the command decides the range)."""
    return dt.date.fromisoformat(to_date(text, bounded=False))
