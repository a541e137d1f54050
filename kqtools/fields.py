"""Cell values as clerks type them, turned into canonical values. Plain functions, no I/O.

Every converter takes one raw cell (str, int, float, bool, date or datetime, as the
reader gives it) and returns the canonical value, or raises ``ValueError`` with a
reason a clerk can act on. Empty cells never reach a converter.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata

EMPTY = frozenset({"", "-", "--", "—", "——", "/", "无", "暂无", "null", "NULL", "None", "N/A", "n/a", "#N/A"})
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_NUMBER_CLEAN = re.compile(r"[,\s_]|(?<=\d)(万元|元|亩|吨|人|吨标准煤|tce|t)$")
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


def to_date(raw) -> str:
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat()
    if isinstance(raw, dt.date):
        return raw.isoformat()
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
                return dt.date(y, mo, d).isoformat()
            except ValueError:
                raise ValueError(f"no such date: {text}") from None
    if re.fullmatch(r"\d{5}(\.0+)?", text):
        return _excel_serial(float(text))
    raise ValueError(f"not a date: {text!r} (use 2024-07-01, 2024/7/1 or 2024年7月1日)")


def _excel_serial(value: float) -> str:
    if not 1 <= value < 2958466:
        raise ValueError(f"not a date: {value!r}")
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
    """Dates typed on the command line, in any form ``to_date`` accepts."""
    return dt.date.fromisoformat(to_date(text))
