"""Visits: the visits due, yearly coverage, and logging one visit (table ``visits``, 0001_core.sql).

Reads plain data out of SQLite and hands it to :mod:`kqtools.visits`. Public for the reminder jobs:
:func:`due_visits` (db, as_of) and :func:`coverage` (db, year). No click, no printing.
"""
from __future__ import annotations

import datetime as dt

from ..assignment import Policy
from ..clock import today as _today
from ..errors import ExitStatus
from . import write_transaction
from .scope import AssignmentError, as_policy, bulk_mode, iso, scope_sql

BULK_CACHE_KIB = 128 * 1024


class DuplicateVisit(AssignmentError):
    """The same visit (firm, specialist, day) is already recorded: nothing written, needs attention."""

    exit_status = ExitStatus.ATTENTION


def due_visits(db, as_of: dt.date, policy: Policy | None = None, specialist: str | None = None) -> list[dict]:
    """In-scope firms not visited in the period (quarter by default) containing ``as_of``.

    Keys: uscc, name, district, specialist_id, specialist_name, specialist_email (None when the
    firm has no specialist), last_visited_on (ISO, latest visit on or before as_of, any
    specialist), days_since_last_visit (None if never), period ('2026Q1'), period_ends_on.
    Sorted by specialist, then district, then uscc; firms without a specialist last.
    ``specialist``: only that specialist's firms.

    One query: the period window comes from :func:`kqtools.visits.period_bounds`; a firm is due
    when its latest visit on or before ``as_of`` (if any) lies before the period's first day
    (the rule of :func:`kqtools.visits.due`, here in SQL so a million firms stay in SQLite).
    """
    from .. import visits as V

    policy = as_policy(policy)
    as_of_date = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(as_of)
    start, end = V.period_bounds(as_of_date, policy.period_months)
    label = V.period_label(as_of_date, policy.period_months)
    sql, params = scope_sql(
        policy, "d.uscc, e.name, e.district, a.specialist_id, s.name, s.email, v.last, "
                "CAST(julianday(:as_of) - julianday(v.last) AS INTEGER), :label, :end",
        "LEFT JOIN assignments a ON a.uscc = d.uscc LEFT JOIN specialists s ON s.id = a.specialist_id "
        "LEFT JOIN (SELECT uscc, max(visited_on) AS last FROM visits WHERE visited_on <= :as_of GROUP BY uscc) v "
        "ON v.uscc = d.uscc WHERE (v.last IS NULL OR v.last < :start)"
        + (" AND a.specialist_id = :specialist" if specialist is not None else "")
        + " ORDER BY a.specialist_id IS NULL, coalesce(a.specialist_id, ''), coalesce(e.district, ''), d.uscc")
    params.update(as_of=as_of_date.isoformat(), start=start.isoformat(), end=end.isoformat(), label=label,
                  specialist=specialist)
    keys = ("uscc", "name", "district", "specialist_id", "specialist_name", "specialist_email",
            "last_visited_on", "days_since_last_visit", "period", "period_ends_on")
    with bulk_mode(db, BULK_CACHE_KIB):
        return [dict(zip(keys, row)) for row in db.conn.execute(sql, params)]


def served_on(db, day) -> dict[str, str]:
    """uscc -> specialist id of the assignments in force on ``day``, rebuilt from the history."""
    return dict(db.conn.execute(f"SELECT uscc, to_specialist FROM ({_SERVED}) WHERE to_specialist IS NOT NULL",
                                {"ref": iso(day)}))


# the latest change of each firm on or before :ref (ties on the day: the later row)
_SERVED = ("SELECT h.uscc, h.to_specialist FROM assignment_history h WHERE h.effective_on <= :ref AND NOT EXISTS "
           "(SELECT 1 FROM assignment_history n WHERE n.uscc = h.uscc AND n.effective_on <= :ref AND "
           "(n.effective_on > h.effective_on OR (n.effective_on = h.effective_on AND n.id > h.id)))")


def coverage(db, year: int, today: dt.date | None = None, policy: Policy | None = None) -> list[dict]:
    """Share of served firms visited in ``year`` against the goal, in total, by specialist, by district.

    Served firms: those with a specialist at the end of the year (for the current year: today),
    per the assignment history. A visit by any specialist counts. Counted in one query
    (served firms per specialist and district, and how many of them were visited).
    """
    from .. import visits as V

    policy = as_policy(policy)
    today = today or _today()
    ref = min(dt.date(year, 12, 31), today)
    counts = db.conn.execute(
        f"SELECT s.to_specialist, coalesce(e.district, ''), count(*), "
        f"sum(EXISTS (SELECT 1 FROM visits v WHERE v.uscc = s.uscc AND v.visited_on BETWEEN :y0 AND :y1)) "
        f"FROM ({_SERVED}) s LEFT JOIN enterprises e ON e.uscc = s.uscc WHERE s.to_specialist IS NOT NULL "
        f"GROUP BY 1, 2", {"ref": ref.isoformat(), "y0": f"{year}-01-01", "y1": f"{year}-12-31"}).fetchall()
    names = dict(db.conn.execute("SELECT id, name FROM specialists"))
    rows = V.coverage_counts(counts, policy.coverage_goal, names)
    for r in rows:
        r["year"] = year
        r["as_of"] = ref.isoformat()
    return rows


def log_visit(db, uscc: str, specialist_id: str, on: dt.date, channel: str | None = None,
              note: str | None = None) -> dict:
    """Record one visit. Raises AssignmentError for an invalid code, unknown specialist, a date in the
    future or a visit already recorded. Returns the row written plus ``warnings``."""
    from ..uscc import check_uscc

    allowed = {r[0] for r in db.conn.execute("SELECT uscc FROM uscc_allowlist")}
    code, error = check_uscc(uscc, allowed)
    if error:
        raise AssignmentError(f"{uscc}: {error}")
    if on > _today():
        raise AssignmentError(f"visit date {on.isoformat()} is in the future")
    spec = db.conn.execute("SELECT id, name, active FROM specialists WHERE id = ?", (specialist_id.strip(),)).fetchone()
    if spec is None:
        raise AssignmentError(f"no specialist with id {specialist_id!r} (see kq specialists list)")
    warnings = []
    firm = db.conn.execute("SELECT name FROM enterprises WHERE uscc = ?", (code,)).fetchone()
    if firm is None:
        warnings.append(f"{code} is not in the enterprise register")
    if not spec[2]:
        warnings.append(f"specialist {spec[0]} is inactive")
    current = db.conn.execute("SELECT specialist_id FROM assignments WHERE uscc = ?", (code,)).fetchone()
    if current and current[0] != spec[0]:
        warnings.append(f"{code} is assigned to {current[0]}, not {spec[0]}")
    row = {"uscc": code, "specialist_id": spec[0], "visited_on": on.isoformat(),
           "name": firm[0] if firm else None, "channel": channel, "note": note}
    with write_transaction(db) as conn:
        exists = conn.execute("SELECT 1 FROM visits WHERE uscc = ? AND specialist_id = ? AND visited_on = ?",
                              (code, spec[0], row["visited_on"])).fetchone()
        if exists:
            raise DuplicateVisit(f"visit of {code} by {spec[0]} on {row['visited_on']} is already recorded")
        conn.execute("INSERT INTO visits (uscc, specialist_id, visited_on, name, channel, note) "
                     "VALUES (:uscc, :specialist_id, :visited_on, :name, :channel, :note)", row)
    row["warnings"] = warnings
    return row


