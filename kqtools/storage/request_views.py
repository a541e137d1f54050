"""Firm requests in the database: the views (list, show, stats, top, a firm's requests).

Read only. Days overdue and days to close are counted on the rules' working-day calendar through
one :class:`kqtools.workdays.WorkdayIndex` per command (a table of running counts built once), so a
list of 100,000 requests costs two list look-ups a row, never a walk over the calendar per row.
A view that meets a year nobody knows the holidays of counts that year Monday to Friday and says so
in ``warnings`` (steps refuse instead: they store what they compute).
"""
from __future__ import annotations

import datetime as dt
import json

from .. import clock
from .. import request_reports as P
from .. import requests as Q
from ..i18n import _
from .request_rules import load as load_rules, remember, work_calendar
from .requests import REQUEST_COLUMNS, _conn, fetch

LIST_COLUMNS = ["id", "external_id", "uscc", "name", "category", "priority", "status", "department",
                "co_departments", "received_on", "due_on", "days_overdue", "level", "specialist", "summary"]
TIMELINE_COLUMNS = ["at", "step", "by", "note", "status", "detail"]
FIRM_COLUMNS = ["id", "received_on", "category", "summary", "priority", "status", "department", "due_on",
                "satisfaction", "closed_on"]
STATS_BY = ("category", "department", "district", "specialist", "month")


class View:
    """Rows of a view and the warnings that go with them (years counted by weekday)."""

    def __init__(self, rows: list, warnings: list | None = None):
        self.rows, self.warnings = rows, warnings or []


def _rules(db, rules_name):
    loaded = load_rules(db, rules_name)
    remember(db, loaded)
    return loaded.rules


def _guessed(calendar) -> list[str]:
    if not calendar.guessed:
        return []
    years = ", ".join(map(str, sorted(calendar.guessed)))
    return [f"the working days of {years} are unknown ({calendar.source}): counted Monday to Friday; add "
            f"[calendar.\"YEAR\"] to the requests rules (kq rules show requests shows the format)"]


def _category_filter(conn, rules, category: str) -> list[str]:
    """The stored category texts that mean ``category`` (its name and aliases; an unknown text as written)."""
    wanted = rules.category(category)
    if wanted is None:
        return [category.strip()]
    stored = [c for c, in conn.execute("SELECT DISTINCT category FROM requests")]
    return [c for c in stored if rules.category(c) == wanted] or [wanted]


def list_requests(db, *, as_of: dt.date | None = None, rules_name: str | None = None, status: str | None = None,
                  overdue: bool = False, due_within: int | None = None, department: str | None = None,
                  category: str | None = None, specialist: str | None = None) -> View:
    """Requests with ``days_overdue`` (working days past due, for requests still with their department;
    None when not overdue) and their level. ``overdue`` and ``due_within`` together give either
    (what is burning); other filters narrow. Ordered by due date when filtered on it, else by id."""
    conn = _conn(db)
    rules = _rules(db, rules_name)
    calendar = work_calendar(rules).lenient()
    as_of = as_of or clock.today()
    day = as_of.isoformat()
    where, args = [], []
    if status:
        if status.strip().lower() == "open":
            where.append("r.status != 'closed'")
        else:
            try:
                args.append(Q.parse_status(status))
            except Q.RequestError as exc:
                raise Q.RequestError(_("{exc}, or open (anything not closed)").format(exc=exc)) from None
            where.append("r.status = ?")
    due_terms = []
    if overdue:
        due_terms.append("r.due_on < ?")
        args.append(day)
    if due_within is not None:
        if due_within < 0:
            raise Q.RequestError(_("--due-within: a number of working days, 0 or more"))
        due_terms.append("r.due_on BETWEEN ? AND ?")
        args += [day, calendar.add(as_of, due_within).isoformat()]
    if due_terms:
        where.append("r.status IN ('routed', 'in_progress') AND (" + " OR ".join(due_terms) + ")")
    if department:
        where.append("(r.department = ? OR EXISTS (SELECT 1 FROM json_each(r.co_departments) j WHERE j.value = ?))")
        args += [department.strip()] * 2
    if category:
        texts = _category_filter(conn, rules, category)
        where.append(f"r.category IN ({', '.join('?' * len(texts))})")
        args += texts
    if specialist:
        where.append("upper(a.specialist_id) = upper(?)")
        args.append(specialist.strip())
    sql = ("SELECT r.id, r.external_id, r.uscc, coalesce(e.name, r.name), r.category, r.priority, r.status, "
           "r.department, r.co_departments, r.received_on, r.due_on, r.level, a.specialist_id, r.summary "
           "FROM requests r LEFT JOIN enterprises e ON e.uscc = r.uscc LEFT JOIN assignments a ON a.uscc = r.uscc"
           + (" WHERE " + " AND ".join(where) if where else "")
           + (" ORDER BY r.due_on, r.id" if due_terms else " ORDER BY r.id"))
    found = conn.execute(sql, args).fetchall()
    dues = [r[10] for r in found if r[6] in Q.WITH_DEPARTMENT and r[10] and r[10] < day]
    index = calendar.index(dt.date.fromisoformat(min(dues)), as_of) if dues else None
    names: dict = {}
    late_by: dict = {}                 # due date -> working days overdue (a few hundred distinct dates)
    start = rules.start_levels
    rows = []
    for (rid, ext, uscc, name, cat, prio, st, dept, co, received, due, level, sp, summary) in found:
        shown = names.get(cat)
        if shown is None:
            shown = names[cat] = rules.category(cat) or cat
        late = None
        if index is not None and st in Q.WITH_DEPARTMENT and due and due < day:
            late = late_by.get(due)
            if late is None:
                late = late_by[due] = index.count_iso(due, day)
        rows.append({"id": rid, "external_id": ext, "uscc": uscc, "name": name, "category": shown, "priority": prio,
                     "status": st, "department": dept, "co_departments": json.loads(co) if co else [],
                     "received_on": received, "due_on": due, "days_overdue": late,
                     "level": level if level is not None else start.get(prio, 1), "specialist": sp,
                     "summary": summary})
    return View(rows, _guessed(calendar))


def show_request(db, request_id: int, *, as_of: dt.date | None = None, rules_name: str | None = None) -> View:
    """One request (``rows[0]``: its fields, the firm's specialist, days overdue, level and what may be
    done next) and its whole timeline (``rows[0]['timeline']``: at, step, by, note, status, detail)."""
    conn = _conn(db)
    rules = _rules(db, rules_name)
    calendar = work_calendar(rules).lenient()
    as_of = as_of or clock.today()
    r = fetch(db, request_id)
    firm = conn.execute("SELECT e.name, e.district, a.specialist_id FROM requests q "
                        "LEFT JOIN enterprises e ON e.uscc = q.uscc LEFT JOIN assignments a ON a.uscc = q.uscc "
                        "WHERE q.id = ?", (request_id,)).fetchone()
    level = Q.level_of(r["level"], r["priority"], rules)
    late = None
    if r["status"] in Q.WITH_DEPARTMENT and r["due_on"] and r["due_on"] < as_of.isoformat():
        late = calendar.count(dt.date.fromisoformat(r["due_on"]), as_of)
    record = {k: r[k] for k in REQUEST_COLUMNS if k not in ("overdue_steps", "version")}
    record.update(name=firm[0] or r["name"], district=firm[1], specialist=firm[2],
                  category=rules.category(r["category"]) or r["category"], level=level,
                  level_title=rules.level_title(level), days_overdue=late,
                  unsolvable=bool(r["unsolvable"]), next_steps=Q.allowed_steps(r["status"]))
    timeline = [{"at": at, "step": step, "by": by, "note": note, "status": after,
                 "detail": json.loads(detail) if detail else None}
                for at, step, by, note, after, detail in conn.execute(
                    "SELECT at, step, by, note, status_after, detail FROM request_events WHERE request_id = ? "
                    "ORDER BY id", (request_id,))]
    record["timeline"] = timeline
    return View([record], _guessed(calendar))


def requests_for_firm(db, uscc: str) -> list[dict]:
    """A firm's requests, newest first (for ``kq enterprises show``): id, received_on, category, summary,
    priority, status, department, due_on, satisfaction, closed_on."""
    return [dict(zip(FIRM_COLUMNS, row)) for row in _conn(db).execute(
        f"SELECT {', '.join(FIRM_COLUMNS)} FROM requests WHERE uscc = ? ORDER BY received_on DESC, id DESC", (uscc,))]


def _year_where(year: int | None) -> tuple[str, list]:
    if year is None:
        return "", []
    if not 1900 <= year <= 2200:
        raise Q.RequestError(_("--year {year} is not a plausible year").format(year=year))
    return " WHERE r.received_on BETWEEN ? AND ?", [f"{year}-01-01", f"{year}-12-31"]


_STATS_KEYS = {"category": "r.category", "department": "r.department", "district": "e.district",
               "specialist": "a.specialist_id", "month": "substr(r.received_on, 1, 7)"}


def stats(db, *, year: int | None = None, by: str | None = None, as_of: dt.date | None = None,
          rules_name: str | None = None) -> View:
    """``kq requests stats``: see :mod:`kqtools.request_reports` for each figure. Requests received in
    ``year`` (default: all); one row per ``by`` key plus ``(all)``."""
    if by is not None and by not in STATS_BY:
        raise Q.RequestError(_("--by: one of {items}").format(items=', '.join(STATS_BY)))
    conn = _conn(db)
    rules = _rules(db, rules_name)
    calendar = work_calendar(rules).lenient()
    as_of = as_of or clock.today()
    where, args = _year_where(year)
    key = _STATS_KEYS[by] if by else "NULL"
    joins = (" LEFT JOIN enterprises e ON e.uscc = r.uscc" if by == "district" else "") + \
            (" LEFT JOIN assignments a ON a.uscc = r.uscc" if by == "specialist" else "")
    cols = ("status", "received_on", "due_on", "first_answered_on", "first_answer_late", "closed_on", "satisfaction",
            "reopened", "key")
    found = conn.execute(f"SELECT r.status, r.received_on, r.due_on, r.first_answered_on, r.first_answer_late, "
                         f"r.closed_on, r.satisfaction, r.reopened, {key} FROM requests r{joins}{where}",
                         args).fetchall()
    closed = [(row[1], row[5]) for row in found if row[0] == "closed" and row[5]]
    index = None
    if closed:
        index = calendar.index(dt.date.fromisoformat(min(c[0] for c in closed)),
                               dt.date.fromisoformat(max(c[1] for c in closed)))
    names: dict = {}

    def by_category(r):
        k = r["key"]
        if k not in names:
            names[k] = rules.category(k) or k
        return names[k]

    key_of = by_category if by == "category" else (lambda r: r["key"]) if by else None
    rows = P.stats((dict(zip(cols, row)) for row in found), as_of, index, key_of)
    return View(rows, _guessed(calendar))


def top(db, *, year: int | None = None, limit: int = 10, rules_name: str | None = None) -> View:
    """``kq requests top``: the high-frequency categories and the firms with the most open requests."""
    if limit < 1:
        raise Q.RequestError(_("--limit: 1 or more"))
    conn = _conn(db)
    rules = _rules(db, rules_name)
    where, args = _year_where(year)
    names: dict = {}
    rows = []
    for cat, uscc, name, status in conn.execute(
            f"SELECT r.category, r.uscc, coalesce(e.name, r.name), r.status FROM requests r "
            f"LEFT JOIN enterprises e ON e.uscc = r.uscc{where}", args):
        if cat not in names:
            names[cat] = rules.category(cat)
        known = names[cat]
        rows.append({"category": known or cat, "category_known": known is not None, "uscc": uscc, "name": name,
                     "status": status})
    return View(P.top(rows, limit))
