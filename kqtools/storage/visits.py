"""Visits: the visits due, yearly coverage, and logging one visit (table ``visits``, 0001_core.sql).

One query reads every firm the visit rules look at on the as-of date, with its latest visit; the
pure :func:`kqtools.visits.plan` decides what is due and counts; :func:`due_visits` and
:func:`coverage` are two views of that one plan, so they always agree.

A firm is a key firm when the register says so (``enterprises.key_firm``) or, with the rules'
``[visits] key_classes``, when its cultivation class on the day (:mod:`kqtools.storage.ladder`) is
one of them.

The firms looked at on a day: those served then (the assignment in force that day, rebuilt from
``assignment_history``; simply ``assignments`` when no change is dated after the day), and the
firms in scope that day that nobody serves (the coordinators' group).

Public for the reminder jobs: :func:`due_visits` (db, as_of, policy) and :func:`coverage`
(db, year). No click, no printing.
"""
from __future__ import annotations

import datetime as dt
import json

from .. import visits as V
from ..assignment import Policy
from ..clock import today as _today
from ..errors import ExitStatus
from ..i18n import _
from . import bulk, write_transaction
from .scope import AssignmentError, as_date, as_policy, iso, scope_usccs_sql
from .specialists import find_specialist, specialist_id as _specialist_id

BULK_CACHE_KIB = 128 * 1024


class DuplicateVisit(AssignmentError):
    """The same visit (firm, specialist, day) is already recorded: nothing written, needs attention."""

    exit_status = ExitStatus.ATTENTION


# the latest change of each firm on or before :as_of (ties on the day: the later row)
_SERVED_ON = ("SELECT h.uscc, h.to_specialist AS specialist_id FROM assignment_history h "
              "WHERE h.effective_on <= :as_of AND h.to_specialist IS NOT NULL AND NOT EXISTS "
              "(SELECT 1 FROM assignment_history n WHERE n.uscc = h.uscc AND n.effective_on <= :as_of AND "
              "(n.effective_on > h.effective_on OR (n.effective_on = h.effective_on AND n.id > h.id)))")


def _served_source(db, day: str) -> tuple[str, str]:
    """(WITH clause, table name) of the assignments in force on ``day``."""
    latest = db.conn.execute("SELECT max(effective_on) FROM assignment_history").fetchone()[0]
    if latest is None or latest <= day:      # nothing changed after the day: what is in force is current
        return "", "assignments"
    return f"WITH served AS MATERIALIZED ({_SERVED_ON}) ", "served"


def served_on(db, day) -> dict[str, str]:
    """uscc -> specialist id of the assignments in force on ``day``, rebuilt from the history."""
    with_, table = _served_source(db, iso(day))
    return dict(db.conn.execute(f"{with_}SELECT uscc, specialist_id FROM {table}", {"as_of": iso(day)}))


def visit_plan(db, as_of, policy: Policy | str | None = None, specialist: str | None = None):
    """The :class:`kqtools.visits.VisitPlan` on ``as_of``. ``specialist``: that specialist's firms
    only (their plan is theirs alone, so it is the same as in the whole plan)."""
    policy = as_policy(policy)
    day = as_date(as_of)
    with_, served = _served_source(db, day.isoformat())
    scope, params = scope_usccs_sql(policy)
    if specialist is None:
        firms = (f"SELECT uscc, specialist_id FROM {served} UNION ALL SELECT d.uscc, NULL FROM ({scope}) d "
                 f"WHERE NOT EXISTS (SELECT 1 FROM {served} x WHERE x.uscc = d.uscc)")
    else:
        firms = f"SELECT uscc, specialist_id FROM {served} WHERE specialist_id = :specialist"
    # the columns of kqtools.visits.FirmVisits, in its order
    sql = (f"{with_}SELECT p.uscc, p.specialist_id, coalesce(e.key_firm, 0), v.last, e.district "
           f"FROM ({firms}) p LEFT JOIN enterprises e ON e.uscc = p.uscc "
           f"LEFT JOIN (SELECT uscc, max(visited_on) AS last FROM visits WHERE visited_on <= :as_of GROUP BY uscc) v "
           f"ON v.uscc = p.uscc")
    params.update(as_of=day.isoformat(), specialist=specialist)
    with bulk(db, BULK_CACHE_KIB):
        rows = db.conn.execute(sql, params)
        if policy.key_classes:      # [visits] key_classes: the firms of those cultivation classes are key too
            from .ladder import firms_in_classes

            key = firms_in_classes(db, policy.key_classes, day)
            rows = (V.FirmVisits(u, s, k or u in key, last, d) for u, s, k, last, d in rows)
        return V.plan(rows, day, policy.coverage_goal, policy.period_months)


def _details(db, due) -> dict:
    """uscc -> (firm name, specialist name, specialist e-mail) of the firms due, in one query."""
    pairs = json.dumps([[d.firm.uscc, d.firm.specialist_id] for d in due])
    return {u: (n, sn, se) for u, n, sn, se in db.conn.execute(
        "SELECT j.value ->> '$[0]', e.name, s.name, s.email FROM json_each(?) j "
        "LEFT JOIN enterprises e ON e.uscc = j.value ->> '$[0]' LEFT JOIN specialists s ON s.id = j.value ->> '$[1]'",
        (pairs,))}


def due_visits(db, as_of, policy: Policy | str | None = None, specialist: str | None = None) -> list[dict]:
    """The firms due a visit on ``as_of``: key firms not visited this period, and the firms each
    specialist needs to keep the yearly plan on pace (see :mod:`kqtools.visits`).

    Keys: uscc, name, district, specialist_id, specialist_name, specialist_email (None when nobody
    serves the firm), key_firm, cadence (``key`` | ``plan``), priority (1 = first, per specialist),
    last_visited_on (ISO, the latest visit on or before as_of, by anyone), days_since_last_visit
    (None if never), period ('2026Q1'), period_ends_on, reason, and coordinators: the rule file's
    addresses for a firm nobody serves (empty otherwise). Sorted by specialist (nobody's last),
    then priority. ``specialist``: only that specialist's firms (an id in any case).
    ``policy``: a Policy, a rule file name or path, or None for the shipped rules.
    """
    policy = as_policy(policy)
    p = visit_plan(db, as_of, policy, _specialist_id(db, specialist))
    details = _details(db, p.due)
    label, ends = p.period, p.period_ends_on.isoformat()
    coordinators = list(policy.coordinators)
    out = []
    for d in p.due:
        f = d.firm
        name, sname, email = details[f.uscc]
        last = f.last_visit
        out.append({
            "uscc": f.uscc, "name": name, "district": f.district, "specialist_id": f.specialist_id,
            "specialist_name": sname, "specialist_email": email, "key_firm": bool(f.key), "cadence": d.cadence,
            "priority": d.priority, "last_visited_on": last,
            "days_since_last_visit": (p.as_of - dt.date.fromisoformat(last[:10])).days if last else None,
            "period": label, "period_ends_on": ends, "reason": d.reason,
            "coordinators": coordinators if f.specialist_id is None else [],
        })
    return out


def coverage(db, year: int | None = None, today: dt.date | None = None, policy: Policy | str | None = None,
             as_of: dt.date | None = None) -> list[dict]:
    """Visit coverage on a date against the yearly goal and its pace: a ``total`` row, one per
    specialist (and ``unassigned`` for firms nobody serves), one per district; see
    :func:`kqtools.visits.coverage_rows` for the columns, plus ``year`` and ``as_of``.

    The date: ``as_of``, else the end of ``year`` or ``today`` (default: the clock's), whichever is
    earlier. Firms and visits as :func:`due_visits` sees them on that date, so the ``due`` column
    counts exactly the rows ``kq visits due --as-of`` the same date lists.
    """
    policy = as_policy(policy)
    if as_of is None:
        today = today or _today()
        year = today.year if year is None else year
        as_of = min(dt.date(year, 12, 31), today)
    p = visit_plan(db, as_of, policy)
    names = dict(db.conn.execute("SELECT id, name FROM specialists"))
    rows = V.coverage_rows(p, names)
    for r in rows:
        r["year"] = p.as_of.year
        r["as_of"] = p.as_of.isoformat()
    return rows


def log_visit(db, uscc: str, specialist_id: str, on: dt.date, channel: str | None = None,
              note: str | None = None) -> dict:
    """Record one visit. Raises AssignmentError for an invalid code, unknown specialist (ids in any
    case), a date in the future or a visit already recorded (DuplicateVisit). Returns the row
    written plus ``warnings``: a firm not in the register, a specialist inactive or gone by then,
    a firm someone else serves (the visit counts all the same)."""
    from ..assignment import specialist_from_row
    from ..uscc import check_uscc

    allowed = {r[0] for r in db.conn.execute("SELECT uscc FROM uscc_allowlist")}
    code, error = check_uscc(uscc, allowed)
    if error:
        raise AssignmentError(f"{uscc}: {error}")
    if on > _today():
        raise AssignmentError(_("visit date {on} is in the future").format(on=on.isoformat()))
    spec = specialist_from_row(find_specialist(db, specialist_id), on.isoformat())
    warnings = []
    firm = db.conn.execute("SELECT name FROM enterprises WHERE uscc = ?", (code,)).fetchone()
    if firm is None:
        warnings.append(_("{code} is not in the enterprise register").format(code=code))
    if not spec.active:
        warnings.append(spec.inactive_reason() if spec.left_on else f"specialist {spec.id} is inactive")
    current = db.conn.execute("SELECT specialist_id FROM assignments WHERE uscc = ?", (code,)).fetchone()
    if current and current[0] != spec.id:
        warnings.append(_("{code} is assigned to {value}, not {id}").format(
                            code=code, value=current[0], id=spec.id))
    row = {"uscc": code, "specialist_id": spec.id, "visited_on": on.isoformat(),
           "name": firm[0] if firm else None, "channel": channel, "note": note}
    with write_transaction(db) as conn:
        exists = conn.execute("SELECT 1 FROM visits WHERE uscc = ? AND specialist_id = ? AND visited_on = ?",
                              (code, spec.id, row["visited_on"])).fetchone()
        if exists:
            raise DuplicateVisit(_("visit of {code} by {id} on {visited_on} is already recorded").format(
                                     code=code, id=spec.id, visited_on=row['visited_on']))
        conn.execute("INSERT INTO visits (uscc, specialist_id, visited_on, name, channel, note) "
                     "VALUES (:uscc, :specialist_id, :visited_on, :name, :channel, :note)", row)
    row["warnings"] = warnings
    return row


# ---------------------------------------------------------------- kq demo
DEMO_DATE = "2026-01-05"


def demo_step(db, echo) -> None:
    """``kq demo``: assign the demo firms and show the visits due on a fixed date."""
    from .. import output
    from ..labels import relabel
    from .assignment import run_assign

    day = dt.date.fromisoformat(DEMO_DATE)
    plan, run_id, _run = run_assign(db, day)
    c = plan.counts
    echo(_("kq assign --as-of {day}: {in_scope} firms in scope, {assigned} assigned, {unassigned} without an "
           "eligible specialist").format(day=DEMO_DATE, in_scope=plan.in_scope, assigned=c["assign"],
                                         unassigned=len(plan.unassigned)))
    for ch in plan.unassigned[:3]:                       # the reason is the assignment's record: data
        echo(f"    {ch.uscc} {ch.name or ''}: {ch.reason}")
    rows = due_visits(db, day)
    key = sum(1 for r in rows if r["cadence"] == "key")
    echo(_("kq visits due --as-of {day}: {n} firms due ({key} key firms not visited this quarter, {plan} to keep "
           "the yearly plan on pace)").format(day=DEMO_DATE, n=len(rows), key=key, plan=len(rows) - key))
    if rows:
        shown, heads = relabel(rows[:8], ["uscc", "name", "specialist_name", "cadence", "last_visited_on",
                                          "days_since_last_visit"], "visits_due")
        text = output.to_string(list(shown), heads, "table")
        for line in text.rstrip("\n").splitlines():
            echo("  " + line)
        if len(rows) > 8:
            echo(_("  ... and {n} more (kq visits due --as-of {day})").format(n=len(rows) - 8, day=DEMO_DATE))
