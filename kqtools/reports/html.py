"""A report as one self-contained HTML page that reads well in an e-mail client.

Inline styles only (mail clients drop ``<style>`` blocks and ignore classes), layout tables at most
700 pixels wide, charts as inline SVG (:mod:`kqtools.reports.svg`), each followed by the table of its
numbers (a client that shows no SVG still shows the figures). No script, no external file, font or
image: the page refers to nothing outside itself. Detail tables are previewed (the first rows and
their count); the workbook has them whole. Standard library only.
"""
from __future__ import annotations

import datetime as dt
from html import escape
from itertools import islice
from typing import Iterable, Sequence

from . import svg
from .labels import label as L
from .model import Chart, Column, Report, Table

PREVIEW_ROWS = 20
_FONT = "font-family:'Microsoft YaHei','PingFang SC','Noto Sans CJK SC',sans-serif;"
_CELL = "border:1px solid #d9d9d9;padding:4px 6px;font-size:12px;"
_HEAD = _CELL + "background:#f2f2f2;font-weight:bold;text-align:center;"


def cell_text(value, kind: str) -> str:
    """A value as shown in the page (and in a text message): 1,234 / 35.0% / 2026-06-30 / 是."""
    if value is None or value == "":
        return ""
    if kind == "percent" and isinstance(value, (int, float)):
        return f"{value:.1%}"
    if kind == "money" and isinstance(value, (int, float)):
        return f"{value:,.2f}"
    if kind == "score" and isinstance(value, (int, float)):
        return f"{value:.4f}"
    if kind == "int" and isinstance(value, (int, float)):
        return f"{value:,.0f}"
    if kind == "number" and isinstance(value, (int, float)):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if kind == "bool" or isinstance(value, bool):
        return L("value.yes") if value else L("value.no")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _align(kind: str) -> str:
    return "text-align:right;" if kind in ("int", "number", "score", "money", "percent") else "text-align:left;"


def table_html(columns: Sequence[Column], rows: Iterable[dict]) -> str:
    head = "".join(f'<th style="{_HEAD}">{escape(c.label)}</th>' for c in columns)
    body = []
    for r in rows:
        body.append("<tr>" + "".join(f'<td style="{_CELL}{_align(c.kind)}">{escape(cell_text(r.get(c.key), c.kind))}</td>'
                                     for c in columns) + "</tr>")
    return (f'<table role="table" cellpadding="0" cellspacing="0" style="border-collapse:collapse;width:100%;'
            f'max-width:660px;margin:6px 0 14px 0;{_FONT}"><tr>{head}</tr>{"".join(body)}</table>')


def chart_svg(chart: Chart, table: Table) -> str:
    """The chart drawn from the rows of its summary table (the same numbers as the workbook's)."""
    rows = table.materialized()
    labels = {c.key: c.label for c in table.columns}
    categories = [str(r.get(chart.category) or "") for r in rows]
    series = [(labels[k], [r.get(k) or 0 for r in rows]) for k in chart.series]
    colors = [svg.color(k, i) for i, k in enumerate(chart.series)]
    empty = L("report.no_data")
    if chart.kind == "pie":
        return svg.pie_chart(chart.title, categories, series[0][1], empty=empty, unit=L("unit.firms"),
                             colors=[svg.color(str(r.get("key", "")), i) for i, r in enumerate(rows)])
    if chart.kind == "line":
        return svg.line_chart(chart.title, categories, series, empty=empty, colors=colors)
    goal = [r.get(chart.goal) or 0 for r in rows] if chart.goal else None
    return svg.bar_chart(chart.title, categories, series, stacked=chart.kind in ("stacked", "histogram"),
                         gap=chart.kind != "histogram", goal=goal, goal_name=labels.get(chart.goal, ""),
                         percent=chart.percent, empty=empty, colors=colors)


def _h(level: int, text: str) -> str:
    size = {1: 20, 2: 17, 3: 14}[level]
    return f'<h{level} style="{_FONT}font-size:{size}px;margin:18px 0 6px 0;color:#1f3864;">{escape(text)}</h{level}>'


def _p(text: str, small: bool = False) -> str:
    style = "font-size:12px;color:#666;" if small else "font-size:13px;color:#222;"
    return f'<p style="{_FONT}{style}margin:4px 0 8px 0;">{escape(text)}</p>'


def _facts(report: Report) -> str:
    cells = [(lbl, cell_text(v, kind)) for lbl, v, kind in report.facts]
    rows = []
    for i in range(0, len(cells), 3):
        chunk = cells[i:i + 3]
        rows.append("<tr>" + "".join(
            f'<td style="{_CELL}background:#f7f9fc;width:33%;"><div style="color:#666;">{escape(a)}</div>'
            f'<div style="font-size:16px;font-weight:bold;color:#1f3864;">{escape(b)}</div></td>' for a, b in chunk)
            + "".join(f'<td style="{_CELL}"></td>' for _ in range(3 - len(chunk))) + "</tr>")
    return (f'<table role="table" cellpadding="0" cellspacing="0" style="border-collapse:collapse;width:100%;'
            f'max-width:660px;margin:6px 0 10px 0;{_FONT}">{"".join(rows)}</table>')


def report_section(report: Report, level: int = 1, preview: int = PREVIEW_ROWS) -> str:
    """One report: title, key figures, each chart with its table, notes, previews of the details."""
    out = [_h(level, report.title)]
    if report.subtitle:
        out.append(_p(report.subtitle, small=True))
    out.append(_facts(report))
    charted = set()
    for chart in report.charts:
        table = report.table(chart.table)
        out.append(f'<div style="margin:10px 0 0 0;">{chart_svg(chart, table)}</div>')
        if chart.table not in charted:
            charted.add(chart.table)
            if table.note:
                out.append(_p(table.note, small=True))
            out.append(table_html(table.columns, table.iter_rows()))
    for table in report.summary:
        if table.key not in charted:
            out.append(_h(level + 1, table.title) + table_html(table.columns, table.iter_rows()))
    for note in report.notes:
        out.append(_p(note, small=True))
    if preview:
        for table in report.details:
            rows = table.iter_rows()
            head = list(islice(rows, preview))
            total = len(head) + sum(1 for _ in rows)
            out.append(_h(min(level + 1, 3), table.sheet or table.title))
            if table.note:
                out.append(_p(table.note, small=True))
            out.append(table_html(table.columns, head) if head else _p(L("report.no_data"), small=True))
            if total > len(head):
                out.append(_p(L("report.rows_more", n=f"{total:,}", shown=len(head)), small=True))
    return "".join(out)


def page(reports: Sequence[Report], title: str | None = None, intro: str | None = None,
         preview: int = PREVIEW_ROWS, generated: str | None = None) -> str:
    """The whole page: one report, or several under one title (the monthly briefing)."""
    title = title or reports[0].title
    body = []
    if len(reports) > 1 or intro:
        body.append(_h(1, title))
        if intro:
            body.append(_p(intro))
        body += [report_section(r, level=2, preview=preview) for r in reports]
    else:
        body.append(report_section(reports[0], level=1, preview=preview))
    if generated:
        body.append(_p(generated, small=True))
    return ('<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title></head>"
            f'<body style="margin:0;padding:0;background:#f4f4f4;">'
            f'<table role="presentation" width="700" cellpadding="0" cellspacing="0" align="center" '
            f'style="width:100%;max-width:700px;margin:0 auto;background:#ffffff;border-collapse:collapse;">'
            f'<tr><td style="padding:12px 20px 20px 20px;{_FONT}">{"".join(body)}</td></tr></table>'
            "</body></html>\n")
