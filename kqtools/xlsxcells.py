"""Workbook cells: how a value kq exports becomes an Excel cell a section chief can use as it is.

A column's cells are typed by **what the column is** (its canonical name, and the import kind whose
field it may be) and by **the value's shape**, never by guessing from any string:

- a *date column* — a field of ``format: date`` in an import schema, a name ending in ``_on``, or a
  name in :data:`DATE_NAMES` — holding ``YYYY-MM-DD`` (or a date) gets a date cell shown
  ``yyyy-mm-dd``; anything else in it stays text;
- a *time column* — a name ending in ``_at`` or in :data:`TIME_NAMES` — holding an ISO timestamp
  gets a date-and-time cell shown ``yyyy-mm-dd hh:mm``, in local time (``Settings.tz``) when the
  stored value carries an offset or ``Z`` (a value without one is already local time, as kq stores
  it); a bare date in a time column is a date cell; a date or datetime object (a time the command
  already put in local time) is a date or date-and-time cell in any column;
- *money* — a number in a field whose schema unit is 万元, or a name in :data:`MONEY_NAMES` —
  ``#,##0.00``; *rates* (:data:`RATE_NAMES`, fractions of 1) ``0.0%``; *scores and other
  decimals* (:data:`DECIMAL_NAMES`) ``0.00``; other numbers as Excel shows them (integers as
  integers); numbers are number cells, never text — except an integer of 16 digits or more, which
  Excel would round (kept as text, exact);
- lists and dicts (a list entry's ``details``, a specialist's ``districts``, and the JSON text of
  the columns in :data:`JSON_TEXT_NAMES`) are readable text, never JSON: a dict as
  ``key: value; key: value`` (keys and enumerated values labelled in the chosen language where
  the catalog has labels), a list of records one per line, a list of plain values joined with
  ``、`` (Chinese) or ``, ``; the importer splits both back into a list;
- text longer than :data:`MAX_WIDTH` columns, or of several lines, is wrapped, never cut.

Widths are display widths (a CJK or full-width character counts two, ``unicodedata``'s W and F),
taken from the header and the first :data:`SAMPLE_ROWS` rows, kept within :data:`MIN_WIDTH` ..
:data:`MAX_WIDTH`.

Standard library only, plus :mod:`kqtools.labels` for readable text. The name lists are data: a
new date, money or rate column is one entry here (or a schema field), not an ``if``.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Callable, Sequence

from .i18n import display_width as line_width

#: columns of dates that no import schema declares and whose names do not end in ``_on``
DATE_NAMES = frozenset({"date", "since", "until", "valid_from", "valid_until", "as_of", "credit_as_of",
                        "inputs_as_of"})
DATE_SUFFIXES = ("_on",)
#: columns of timestamps whose names do not end in ``_at``
TIME_NAMES = frozenset({"at", "time", "when", "fire_time", "last_fire", "next_fire"})
TIME_SUFFIXES = ("_at",)
#: money columns (万元) that no import schema declares; the schemas' 万元 fields are added to these
MONEY_NAMES = frozenset({"registered_capital"})
#: fractions of 1 shown as percentages
RATE_NAMES = frozenset({"share", "goal", "on_time_rate", "satisfied_rate", "change"})
#: columns whose stored text is a JSON document (a job run's ``result``): shown readable too
JSON_TEXT_NAMES = frozenset({"result"})
#: decimals shown with two places: scores, points, ratios to a benchmark
DECIMAL_NAMES = frozenset({"score", "base_score", "raw_score", "bonus_points", "points", "score_a", "score_b",
                           "ratio", "benchmark", "weight", "cap", "avg_working_days_to_close", "land_mu",
                           "rented_out_mu", "expected"})
#: the import kinds whose schemas declare date and money fields
SCHEMA_KINDS = ("enterprises", "designations", "metrics", "credit", "specialists", "visits", "requests")
MONEY_UNIT = "万元"

DATE_FORMAT, TIME_FORMAT = "yyyy-mm-dd", "yyyy-mm-dd hh:mm"
MONEY_FORMAT, RATE_FORMAT, DECIMAL_FORMAT = "#,##0.00", "0.0%", "0.00"

#: Excel keeps 15 significant digits: a larger integer (a code stored as a number) would be rounded
EXACT_INTEGER = 10 ** 15
SAMPLE_ROWS = 1000
MIN_WIDTH, MAX_WIDTH = 6, 60
#: room for the header's filter button (Excel draws it over the last two characters)
FILTER_ROOM = 2

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?")
#: day 0 of Excel's 1900 date system is 1899-12-30 for every date from 1900-03-01 on
_EXCEL_DAY0 = dt.date(1899, 12, 30).toordinal()
_FIRST_SERIAL_DATE = dt.date(1900, 3, 1)     # before it Excel counts a 29 February 1900 that never was


# ---------------------------------------------------------------- what a column is
@functools.lru_cache(maxsize=None)
def _schema_names() -> tuple[frozenset, frozenset]:
    """(date fields, money fields) over every import schema."""
    from .labels import _schema

    dates, money = set(), set()
    for kind in SCHEMA_KINDS:
        for name, prop in _schema(kind)["properties"].items():
            if prop.get("format") == "date":
                dates.add(name)
            if MONEY_UNIT in str(prop.get("description", "")).split():
                money.add(name)
    return frozenset(dates), frozenset(money)


def column_type(name: str) -> str | None:
    """``date``, ``time``, ``money``, ``rate``, ``decimal``, ``json`` or None (typed by the value alone)."""
    dates, money = _schema_names()
    if name in dates or name in DATE_NAMES or name.endswith(DATE_SUFFIXES):
        return "date"
    if name in TIME_NAMES or name.endswith(TIME_SUFFIXES):
        return "time"
    if name in money or name in MONEY_NAMES:
        return "money"
    if name in RATE_NAMES:
        return "rate"
    if name in DECIMAL_NAMES:
        return "decimal"
    if name in JSON_TEXT_NAMES:
        return "json"
    return None


def field_type(shown: str) -> str | None:
    """The :func:`column_type` of a field named in a field/value table: by its canonical name, or
    by its label in the current language (a label two types share types nothing)."""
    from .i18n import current

    return column_type(shown) or _label_types(current()).get(shown)


@functools.lru_cache(maxsize=None)
def _label_types(lang: str) -> dict:
    """label -> column type, over every column the catalog labels (context ``column`` or
    ``column:KIND``) and every import field (headed with its first Chinese schema alias)."""
    from .i18n import catalog
    from .labels import COLUMN, _schema, schema_field_label

    book = catalog(lang)
    if book is None:                       # English: a field is shown by its canonical name
        return {}
    labelled = [(schema_field_label(k, n), n) for k in SCHEMA_KINDS for n in _schema(k)["properties"]]
    for key in book.keys():
        context, sep, name = key.partition("\x04")
        if sep and (context == COLUMN or context.startswith(COLUMN + ":")):
            labelled.append((book.find(key), name))
    out: dict = {}
    for label, name in labelled:
        typed = column_type(name)
        if label:
            out[label] = typed if out.get(label, typed) == typed else None
    return {label: typed for label, typed in out.items() if typed is not None}


# ---------------------------------------------------------------- values
def excel_date(value) -> float | None:
    """The Excel serial of a date value (``2024-07-01`` or a date), None when it is not one."""
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, str):
        if len(value) != 10 or not _DATE.fullmatch(value):
            return None
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.date) or value < _FIRST_SERIAL_DATE:
        return None
    return float(value.toordinal() - _EXCEL_DAY0)


def excel_time(value, tz) -> float | None:
    """The Excel serial of a timestamp (ISO text or a datetime), in ``tz`` when the value has an
    offset; None when it is not one."""
    if isinstance(value, str):
        if not _TIMESTAMP.fullmatch(value):
            return None
        try:
            value = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is not None:
        value = value.astimezone(tz).replace(tzinfo=None)
    if value.date() < _FIRST_SERIAL_DATE:
        return None
    midnight = value.replace(hour=0, minute=0, second=0, microsecond=0)
    return (value.toordinal() - _EXCEL_DAY0) + (value - midnight).total_seconds() / 86400


def _json_or_text(text: str):
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def display_width(text: str) -> int:
    """Columns ``text`` takes: two for a wide or full-width character, the widest line of several."""
    return max(map(line_width, text.split("\n"))) if "\n" in text else line_width(text)


class Readable:
    """Lists and dicts as text a person reads (never JSON); keys and enumerated values labelled in
    the current language when ``labelled``."""

    def __init__(self, labelled: bool):
        self.labelled = labelled
        self._keys: dict = {}
        self._values: dict = {}

    def __call__(self, value) -> str:
        if isinstance(value, dict):
            return self._dict(value, "; ")
        if isinstance(value, list):
            if any(isinstance(v, (dict, list)) for v in value):
                return "\n".join(self._inner(v) for v in value)
            return self._join([self._scalar(v) for v in value])
        return self._scalar(value)

    def _join(self, items: list[str]) -> str:
        from .i18n import DEFAULT, current

        return (", " if not self.labelled or current() == DEFAULT else "、").join(items)

    def _dict(self, value: dict, sep: str) -> str:
        parts = []
        for k, v in value.items():
            if v is None or v == "" or v == [] or v == {}:
                continue
            parts.append(f"{self._key(k)}: {self._inner(self._value(k, v))}")
        return sep.join(parts)

    def _inner(self, value) -> str:
        if isinstance(value, dict):
            return self._dict(value, ", ")
        if isinstance(value, list):
            if any(isinstance(v, dict) for v in value):
                return "; ".join(f"({self._dict(v, ', ')})" if isinstance(v, dict) else self._inner(v) for v in value)
            return self._join([self._inner(v) for v in value])
        return self._scalar(value)

    def _scalar(self, value) -> str:
        from .output import cell_text

        return cell_text(value)

    def _key(self, key) -> str:
        if not self.labelled:
            return str(key)
        if key not in self._keys:
            from .labels import column_label

            self._keys[key] = column_label(str(key))
        return self._keys[key]

    def _value(self, key, value):
        if not self.labelled or not isinstance(value, (str, bool, list)):
            return value
        show = self._values.get(key)
        if show is None:
            from .labels import value_mapper

            show = self._values[key] = value_mapper(str(key))
        return show(value)


# ---------------------------------------------------------------- a sheet's cells
def workbook_formats(book) -> dict:
    """The cell formats of one workbook, made once (XlsxWriter keeps every format it is given)."""
    specs = {"date": {"num_format": DATE_FORMAT}, "time": {"num_format": TIME_FORMAT},
             "money": {"num_format": MONEY_FORMAT}, "rate": {"num_format": RATE_FORMAT},
             "decimal": {"num_format": DECIMAL_FORMAT}, "wrap": {"text_wrap": True, "valign": "top"},
             "header": {"bold": True}}
    return {name: book.add_format(spec) for name, spec in specs.items()}


def local_zone(name: str):
    """The ``tzinfo`` of ``Settings.tz`` (``Asia/Shanghai``); an unknown name is refused in one line."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from .errors import KqtoolsError
    from .i18n import _

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise KqtoolsError(_("$KQ_TZ: {tz!r} is not a time zone (such as Asia/Shanghai)").format(tz=name)) from None


class SheetCells:
    """Writes one sheet's cells: the writer of each column chosen once from the column's type,
    widths measured on the header and the first :data:`SAMPLE_ROWS` rows."""

    def __init__(self, sheet, heads: Sequence[str], fields: Sequence[str], formats: dict, tz, labelled: bool):
        self.sheet, self.formats, self.tz = sheet, formats, tz
        self.heads = list(heads)
        self.readable = Readable(labelled)
        self.types = [column_type(str(f)) for f in fields]
        self.widths = [display_width(str(h)) + FILTER_ROOM for h in self.heads]
        self.writers: list[Callable] = [self._writer(t) for t in self.types]
        #: a record shown as field/value rows (``kq enterprises show``): each value typed by its row's field
        self.record = list(fields) == ["field", "value"]
        self._typed: dict = {}

    def write_header(self) -> None:
        self.sheet.write_row(0, 0, self.heads, self.formats["header"])
        self.sheet.freeze_panes(1, 0)

    def _writer(self, kind: str | None) -> Callable:
        sheet, fm = self.sheet, self.formats
        number_format = fm.get(kind) if kind in ("money", "rate", "decimal") else None

        def write_moment(r, c, value) -> str | None:
            if isinstance(value, dt.datetime):
                serial = excel_time(value, self.tz)
                if serial is not None:
                    sheet.write_number(r, c, serial, fm["time"])
                    return "yyyy-mm-dd hh:mm"
            else:
                serial = excel_date(value)
                if serial is not None:
                    sheet.write_number(r, c, serial, fm["date"])
                    return "yyyy-mm-dd"
            sheet.write_string(r, c, str(value))
            return str(value)

        def write(r, c, value) -> str | None:
            """Write one cell; returns its text as shown (for the width) when that is cheap to know."""
            if value is None:
                return None
            if isinstance(value, dt.date) and kind is None:      # a date or time object is what it is
                return write_moment(r, c, value)
            if kind == "date" or kind == "time":
                serial = excel_date(value)
                if serial is not None:
                    sheet.write_number(r, c, serial, fm["date"])
                    return "yyyy-mm-dd"
                if kind == "time":
                    serial = excel_time(value, self.tz)
                    if serial is not None:
                        sheet.write_number(r, c, serial, fm["time"])
                        return "yyyy-mm-dd hh:mm"
            if isinstance(value, bool):
                sheet.write_boolean(r, c, value)
                return "FALSE"
            if isinstance(value, int) and -EXACT_INTEGER < value < EXACT_INTEGER:
                sheet.write_number(r, c, value, number_format)
                return f"{value:,}.00" if kind == "money" else str(value)
            if isinstance(value, float):
                if value != value or value in (float("inf"), float("-inf")):
                    sheet.write_string(r, c, str(value))
                    return str(value)
                sheet.write_number(r, c, value, number_format)
                if kind == "money":
                    return f"{value:,.2f}"
                if kind == "rate":
                    return f"{value * 100:.1f}%"
                if kind == "decimal":
                    return f"{value:.2f}"
                return f"{value:.10g}"                 # Excel's General shows about ten digits
            if kind == "json" and isinstance(value, str) and value[:1] in ("{", "["):
                value = _json_or_text(value)
            text = self.readable(value) if isinstance(value, (list, dict)) else str(value)
            if "\n" in text or 2 * len(text) > MAX_WIDTH and display_width(text) > MAX_WIDTH:
                sheet.write_string(r, c, text, fm["wrap"])
            else:
                sheet.write_string(r, c, text)
            return text
        return write

    def write_row(self, r: int, row: dict) -> None:
        measure = r <= SAMPLE_ROWS
        writers = self.writers
        if self.record:
            kind = field_type(str(row.get(self.heads[0])))
            if kind not in self._typed:
                self._typed[kind] = self._writer(kind)
            writers = [writers[0], self._typed[kind]]
        for c, (head, write) in enumerate(zip(self.heads, writers)):
            shown = write(r, c, row.get(head))
            if measure and shown:
                w = display_width(shown)
                if w > self.widths[c]:
                    self.widths[c] = w

    def finish(self, n_rows: int) -> None:
        """Widths and the autofilter: XlsxWriter writes them into the sheet when the workbook
        closes, so constant-memory mode allows them after the rows."""
        for c, w in enumerate(self.widths):
            self.sheet.set_column(c, c, min(max(w + 1, MIN_WIDTH), MAX_WIDTH))
        if self.widths:
            self.sheet.autofilter(0, 0, n_rows, len(self.widths) - 1)
