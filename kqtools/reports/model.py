"""What a report is, whatever it is written as: key figures, summary tables, charts over those
tables, and detail tables.

A report is plain data. :mod:`kqtools.reports.xlsx` writes it as a workbook (summary sheet with
native charts that reference the summary tables' cells, one sheet per detail table) and
:mod:`kqtools.reports.html` as one self-contained page (inline SVG from :mod:`kqtools.reports.svg`).
Detail rows may be a function returning a fresh iterator, so a report of 100,000 firms is streamed
from the database into the workbook instead of held in memory.

Standard library only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

#: Column kinds: how a value is written (Excel number format) and shown (HTML).
KINDS = ("text", "int", "number", "score", "money", "percent", "date", "bool")


@dataclass(frozen=True)
class Column:
    key: str                  #: the row dict's key (canonical, English)
    label: str                #: the header shown (Chinese)
    kind: str = "text"        #: one of :data:`KINDS`

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"column {self.key}: unknown kind {self.kind!r}")


@dataclass
class Table:
    key: str                                   #: canonical id, e.g. ``grades_by_district``
    title: str                                 #: shown above the table / as the sheet name
    columns: tuple[Column, ...]
    rows: Sequence[dict] | Callable[[], Iterable[dict]] = ()
    note: str | None = None                    #: one line under the title
    sheet: str | None = None                   #: sheet name of a detail table (default: the title)

    def iter_rows(self) -> Iterable[dict]:
        """The rows, afresh: a callable is called again, so a big table can be read twice."""
        return self.rows() if callable(self.rows) else iter(self.rows)

    def materialized(self) -> list[dict]:
        return list(self.iter_rows())


@dataclass(frozen=True)
class Chart:
    """A chart over one summary table: categories from one column, one series per value column.

    ``kind``: ``bar`` (columns side by side), ``stacked`` (stacked columns), ``pie`` (one series),
    ``line``, ``histogram`` (columns without gaps). ``goal``: a column drawn as a line across the
    bars (the target). ``percent``: values are shares (0..1).
    """

    key: str
    kind: str
    title: str
    table: str                                 #: key of a summary table of the same report
    category: str                              #: column key of the categories
    series: tuple[str, ...]                    #: column keys of the values
    goal: str | None = None
    percent: bool = False

    def __post_init__(self):
        if self.kind not in ("bar", "stacked", "pie", "line", "histogram"):
            raise ValueError(f"chart {self.key}: unknown kind {self.kind!r}")


@dataclass
class Report:
    name: str                                  #: canonical: score, lists, visits
    title: str
    subtitle: str = ""
    facts: list[tuple[str, object, str]] = field(default_factory=list)   #: (label, value, kind)
    summary: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    details: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)  #: what it was made from (canonical keys: year, run, version…)
    text_lines: list[str] = field(default_factory=list)  #: a few plain lines for a webhook / text body

    def table(self, key: str) -> Table:
        for t in self.summary:
            if t.key == key:
                return t
        raise KeyError(key)

    def check(self) -> "Report":
        """Every chart refers to a summary table and to columns it has (a bug otherwise)."""
        for c in self.charts:
            cols = {col.key for col in self.table(c.table).columns}
            missing = [k for k in (c.category, *c.series, *([c.goal] if c.goal else [])) if k not in cols]
            if missing:
                raise ValueError(f"chart {c.key}: table {c.table} has no column {', '.join(missing)}")
        return self
