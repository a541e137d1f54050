"""A report as an Excel workbook (XlsxWriter): the summary sheet with native charts first, then one
sheet per detail table.

* **Summary sheet** (``汇总``): title, key figures, then each summary table (caption, header, rows);
  every chart is a native Excel chart whose categories and values are ranges of those tables
  (``'汇总'!$A$9:$A$14``), placed to the right of its table.
* **Detail sheets**: Chinese headers, a frozen header row, an autofilter over the data, numbers as
  numbers (money ``#,##0.00``, shares ``0.0%``), dates as real Excel dates, reasons as readable text
  (never JSON), column widths fitted to the content (a CJK character counts two).

The detail rows never pass through XlsxWriter: :mod:`kqtools.reports.fastsheet` writes them as sheet
XML into temporary files (one streamed pass over each table, so 100,000 results cost a few MB) and
splices them into the package XlsxWriter wrote around them. XlsxWriter itself holds only the small
summary sheet in memory (not its constant-memory mode), so the charts carry their cached values and
show in previewers that draw the cache (phones, mail attachments) as well as in Excel, WPS and
LibreOffice.
"""
from __future__ import annotations

import datetime as dt
from typing import IO

from ..i18n import display_width
from . import svg
from .model import Chart, Report, Table

MAX_WIDTH, MIN_WIDTH = 60, 6
_FORMATS = {"int": "#,##0", "number": "#,##0.####", "score": "0.0000", "money": "#,##0.00", "percent": "0.0%",
            "date": "yyyy-mm-dd"}
_BAD_SHEET_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})
CHART_COL, CHART_W, CHART_H, ROW_PX = 9, 560, 300, 20


def sheet_name(title: str, used: set) -> str:
    base = str(title).translate(_BAD_SHEET_CHARS).strip("'")[:31] or "Sheet"
    name, i = base, 2
    while name.lower() in used:
        suffix = f"~{i}"
        name, i = base[:31 - len(suffix)] + suffix, i + 1
    used.add(name.lower())
    return name


def as_date(value):
    """An ISO date (or date-time) text as a date; anything else unchanged."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value


class _Writer:
    def __init__(self, book):
        self.book = book
        self.fmt = {k: book.add_format({"num_format": v}) for k, v in _FORMATS.items()}
        self.header = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True,
                                       "valign": "vcenter", "align": "center"})
        self.caption = book.add_format({"bold": True, "font_size": 12, "font_color": "#1F3864"})
        self.title = book.add_format({"bold": True, "font_size": 16, "font_color": "#1F3864"})
        self.note = book.add_format({"italic": True, "font_color": "#666666"})
        self.fact_label = book.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
        self.used: set = set()

    def cell_writer(self, ws, kind: str, widths: list, c: int):
        """A function ``put(row, value)`` for column ``c`` of ``kind`` that also tracks the width."""
        fmt = self.fmt.get(kind)
        yes, no = _yes_no()

        if kind == "date":
            def put(r, v):
                d = as_date(v)
                if isinstance(d, (dt.date, dt.datetime)):
                    ws.write_datetime(r, c, d if isinstance(d, dt.datetime) else dt.datetime(d.year, d.month, d.day),
                                      fmt)
                    if widths[c] < 10:
                        widths[c] = 10
                else:
                    text(r, v)
        elif kind in ("int", "number", "score", "money", "percent"):
            def put(r, v):
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    ws.write_number(r, c, v, fmt)
                    w = len(f"{v:,.2f}") if kind != "percent" else 6
                    if w > widths[c]:
                        widths[c] = w
                else:
                    text(r, v)
        elif kind == "bool":
            def put(r, v):
                text(r, yes if v else no)
        else:
            put = None

        def text(r, v):
            s = v if isinstance(v, str) else str(v)
            ws.write_string(r, c, s)
            w = (len(s.encode("utf-8")) + len(s)) >> 1
            if w > widths[c]:
                widths[c] = w

        return put or text

    def table(self, ws, table: Table, top: int) -> tuple[int, int]:
        """Header at ``top``, rows below; returns (first data row, last data row) (last < first: none)."""
        cols = table.columns
        widths = [display_width(c.label) for c in cols]
        ws.write_row(top, 0, [c.label for c in cols], self.header)
        puts = [(i, c.key, self.cell_writer(ws, c.kind, widths, i)) for i, c in enumerate(cols)]
        r = top
        for r, row in enumerate(table.iter_rows(), start=top + 1):
            get = row.get
            for i, key, put in puts:
                v = get(key)
                if v is not None and v != "":
                    put(r, v)
        self.widths = widths
        return top + 1, r

    @staticmethod
    def fit(ws, widths: list) -> None:
        for i, w in enumerate(widths):
            ws.set_column(i, i, min(max(w + 2, MIN_WIDTH), MAX_WIDTH))


def _yes_no():
    from .labels import label

    return label("value.yes"), label("value.no")


def write_workbook(report: Report, target: str | IO[bytes]) -> dict:
    """Write the report to ``target`` (a path, or a binary file object); returns what was written:
    ``{"sheets": [...], "charts": n, "rows": {sheet: n}}``.

    The detail rows are written first, by :mod:`kqtools.reports.fastsheet`, into temporary files (one
    pass over each table, measuring the columns); then XlsxWriter writes the workbook around them
    (summary sheet and charts, each detail sheet's header, frozen pane, autofilter over the rows and
    fitted widths); then the rows are spliced into the package written to ``target``.
    """
    import tempfile
    from pathlib import Path

    import xlsxwriter

    from . import fastsheet
    from .labels import label

    options = {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False,
               "default_date_format": "yyyy-mm-dd"}
    written = {"sheets": [], "charts": 0, "rows": {}}
    with tempfile.TemporaryDirectory(prefix="kq-report-") as scratch:
        package = str(Path(scratch) / "book.xlsx")
        book = xlsxwriter.Workbook(package, options)
        w = _Writer(book)
        # the styles the spliced rows refer to: the xf index XlsxWriter gives each format when a cell uses it
        styles = {kind: fmt._get_xf_index() for kind, fmt in w.fmt.items()}
        summary_name = sheet_name(label("sheet.summary"), w.used)
        details = []
        for i, table in enumerate(report.details):
            path = Path(scratch) / f"rows{i}.xml"
            with open(path, "w", encoding="utf-8") as fh:
                n, widths = fastsheet.write_rows(table.iter_rows(), table.columns, styles, fh,
                                                 yes_no=_yes_no())
            name = sheet_name(table.sheet or table.title, w.used)
            details.append((name, table, str(path), n, widths))
        ws = book.add_worksheet(summary_name)
        written["sheets"].append(summary_name)
        _summary_sheet(book, w, ws, summary_name, report, written)
        rows_xml = {}
        for name, table, path, n, widths in details:
            ds = book.add_worksheet(name)
            written["sheets"].append(name)
            ds.freeze_panes(1, 0)
            ds.set_row(0, 30)
            ds.write_row(0, 0, [c.label for c in table.columns], w.header)
            ds.autofilter(0, 0, max(n, 1), len(table.columns) - 1)
            w.fit(ds, [max(display_width(c.label), x) for c, x in zip(table.columns, widths)])
            rows_xml[name] = (path, n, len(table.columns))
            written["rows"][name] = n
        book.close()
        fastsheet.splice(package, target, rows_xml)
    return written


def _summary_sheet(book, w: "_Writer", ws, summary_name: str, report: Report, written: dict) -> None:
    """Title, key figures, the summary tables, and the charts over them (to the right)."""
    ws.write_string(0, 0, report.title, w.title)
    if report.subtitle:
        ws.write_string(1, 0, report.subtitle, w.note)
    row = 3
    widths = [0, 0]
    for lbl, value, kind in report.facts:
        ws.write_string(row, 0, lbl, w.fact_label)
        widths[0] = max(widths[0], display_width(lbl))
        put = w.cell_writer(ws, kind, widths, 1)
        if value is not None:
            put(row, value)
        row += 1
    row += 1
    places: dict[str, tuple[int, int]] = {}
    for table in report.summary:
        ws.write_string(row, 0, table.title, w.caption)
        row += 1
        if table.note:
            ws.write_string(row, 0, table.note, w.note)
            row += 1
        first, last = w.table(ws, table, row)
        places[table.key] = (first, last)
        widths = [max(a, b) for a, b in zip(widths + [0] * len(w.widths), w.widths + [0] * len(widths))]
        row = last + 2
    for note in report.notes:
        ws.write_string(row, 0, note, w.note)
        row += 1
    w.fit(ws, widths)                # the title and notes overflow into the empty cells beside them
    chart_row = 3
    for chart in report.charts:
        first, last = places[chart.table]
        anchor = max(chart_row, first - 2)
        ws.insert_chart(anchor, CHART_COL, _chart(book, summary_name, chart, report.table(chart.table), first, last),
                        {"x_offset": 10, "y_offset": 4})
        chart_row = anchor + CHART_H // ROW_PX + 2
        written["charts"] += 1


def _chart(book, sheet: str, chart: Chart, table: Table, first: int, last: int):
    """A native chart over rows ``first..last`` of ``table`` on the summary sheet."""
    cols = {c.key: i for i, c in enumerate(table.columns)}
    header = first - 1
    last = max(last, first)                       # an empty table still gives a valid (one blank row) range
    kind = {"bar": {"type": "column"}, "stacked": {"type": "column", "subtype": "stacked"},
            "histogram": {"type": "column", "subtype": "stacked"}, "pie": {"type": "pie"},
            "line": {"type": "line"}}[chart.kind]
    c = book.add_chart(kind)
    cat = [sheet, first, cols[chart.category], last, cols[chart.category]]
    for i, key in enumerate(chart.series):
        series = {"name": [sheet, header, cols[key]], "categories": cat,
                  "values": [sheet, first, cols[key], last, cols[key]]}
        colour = svg.color(key, i)
        if chart.kind == "pie":
            rows = table.materialized()
            series["points"] = [{"fill": {"color": svg.color(str(r.get("key", "")), j)}} for j, r in enumerate(rows)]
            series["data_labels"] = {"percentage": True, "category": True, "separator": "\n"}
        elif chart.kind == "line":
            series["line"] = {"color": colour, "width": 2.25}
            series["marker"] = {"type": "circle", "size": 5, "fill": {"color": colour}, "border": {"color": colour}}
        else:
            series["fill"] = {"color": colour}
            series["border"] = {"none": True}
            if chart.kind == "histogram":
                series["gap"] = 5
        c.add_series(series)
    if chart.goal:
        goal = book.add_chart({"type": "line"})
        goal.add_series({"name": [sheet, header, cols[chart.goal]], "categories": cat,
                         "values": [sheet, first, cols[chart.goal], last, cols[chart.goal]],
                         "line": {"color": svg.GOAL_COLOR, "width": 2, "dash_type": "dash"}})
        c.combine(goal)
    c.set_title({"name": chart.title, "name_font": {"size": 12, "bold": True}})
    c.set_size({"width": CHART_W, "height": CHART_H})
    if chart.kind != "pie":
        c.set_legend({"position": "top"})
        c.set_y_axis({"num_format": "0%" if chart.percent else "#,##0", "major_gridlines": {
            "visible": True, "line": {"color": "#E0E0E0"}}})
        c.set_x_axis({"num_font": {"rotation": -45} if last - first >= 8 else {}})
    else:
        c.set_legend({"position": "right"})
    return c
