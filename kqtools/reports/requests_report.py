"""The firm requests report (诉求办理情况, issue #16), read through ``storage.request_views``: requests by
status, by category, and the on-time rate by department, with the year's requests as the detail.

Registered as ``requests`` in :data:`kqtools.reports.REPORTS`; the figures are those of
``kq requests stats`` (see :mod:`kqtools.request_reports` for each one), for the requests received in
the year, as of its last day (or today in the current year).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter

from .labels import label as L, optional
from .model import Chart, Column, Report, Table


def requests_report(db, year: int | None = None, today: dt.date | None = None, rules: str | None = None) -> Report:
    from ..clock import today as clock_today
    from ..request_reports import NONE_KEY, TOTAL_KEY
    from ..requests import STATUSES
    from ..storage.request_views import list_requests, stats

    today = today or clock_today()
    year = year or today.year
    as_of = min(dt.date(year, 12, 31), today)
    first, last = f"{year}-01-01", f"{year}-12-31"
    listed = list_requests(db, as_of=as_of, rules_name=rules)
    rows = [r for r in listed.rows if r["received_on"] and first <= r["received_on"] <= last]
    by_status = Counter(r["status"] for r in rows)
    status_rows = [{"key": s, "status": L(f"status.{s}"), "requests": by_status.get(s, 0)} for s in STATUSES]

    def keyed(view):
        """The view's rows without the total, the most requests first, named ((未填) for none)."""
        out = [{**r, "label": L("value.none") if r["key"] in (None, NONE_KEY) else str(r["key"])}
               for r in view.rows if r["key"] != TOTAL_KEY]
        return sorted(out, key=lambda r: -(r["received"] or 0))

    by_category = stats(db, year=year, by="category", as_of=as_of, rules_name=rules)
    by_department = stats(db, year=year, by="department", as_of=as_of, rules_name=rules)
    total = next((r for r in by_category.rows if r["key"] == TOTAL_KEY), {})
    counts = (Column("received", L("col.received"), "int"), Column("closed", L("col.closed"), "int"),
              Column("open", L("col.open"), "int"), Column("overdue", L("col.overdue"), "int"))
    summary = [
        Table("requests_by_status", L("table.requests_by_status"),
              (Column("status", L("col.status")), Column("requests", L("col.requests"), "int")), status_rows),
        Table("requests_by_category", L("table.requests_by_category"),
              (Column("label", L("col.category")), *counts), keyed(by_category)),
        Table("requests_by_department", L("table.requests_by_department"),
              (Column("label", L("col.department")), *counts, Column("on_time_rate", L("col.on_time_rate"), "percent"),
               Column("satisfied_rate", L("col.satisfied_rate"), "percent")), keyed(by_department),
              note=L("note.on_time")),
    ]
    charts = [
        Chart("requests_by_status", "bar", L("chart.requests_by_status"), "requests_by_status", "status",
              ("requests",)),
        Chart("requests_by_category", "bar", L("chart.requests_by_category"), "requests_by_category", "label",
              ("received", "closed")),
        Chart("requests_by_department", "bar", L("chart.requests_by_department"), "requests_by_department", "label",
              ("on_time_rate",), percent=True),
    ]
    detail = Table("requests", L("sheet.requests"), (
        Column("id", L("col.request_id"), "int"), Column("external_id", L("col.external_id")),
        Column("uscc", L("col.uscc")), Column("name", L("col.name")), Column("category", L("col.category")),
        Column("priority", L("col.priority")), Column("status", L("col.status")),
        Column("department", L("col.department")), Column("received_on", L("col.received_on"), "date"),
        Column("due_on", L("col.due_on"), "date"), Column("days_overdue", L("col.days_overdue"), "int"),
        Column("summary", L("col.summary"))),
        lambda: ({**r, "status": L(f"status.{r['status']}"),
                  "priority": optional(f"priority.{r['priority']}", r["priority"] or "")} for r in rows))
    facts = [(L("fact.report_year"), str(year), "text"), (L("fact.visits_as_of"), as_of.isoformat(), "date"),
             (L("fact.requests_received"), total.get("received", 0), "int"),
             (L("fact.requests_closed"), total.get("closed", 0), "int"),
             (L("fact.requests_open"), total.get("open", 0), "int"),
             (L("fact.requests_overdue"), total.get("overdue", 0), "int"),
             (L("fact.on_time_rate"), total.get("on_time_rate"), "percent"),
             (L("fact.satisfied_rate"), total.get("satisfied_rate"), "percent"),
             (L("fact.days_to_close"), total.get("avg_working_days_to_close"), "number")]
    title = L("requests.title", year=year)
    shown = [f"{k} {f'{v:.0%}' if kind == 'percent' and v is not None else v}" for k, v, kind in facts[2:]
             if v is not None]
    return Report("requests", title, L("requests.subtitle", as_of=as_of.isoformat()), facts, summary, charts,
                  [detail], notes=list(dict.fromkeys(listed.warnings + by_category.warnings)),
                  params={"year": year, "as_of": as_of.isoformat()},
                  text_lines=[title + ":" + ",".join(shown)]).check()
