"""Who is in scope and who may serve: the queries that :mod:`.assignment`, :mod:`.first_run` and
:mod:`.visits` share (tables in 0001_core.sql, 0004_assignment.sql, 0011_visit_cadence.sql).

A firm is in scope on a day when it holds a current designation of a kind in ``[scope] kinds``:
``recognized_on <= day`` and ``expires_on`` empty or ``>= day``. The scope is read from the
covering index ``designations_current`` without touching the table. No click, no printing.
"""
from __future__ import annotations

import datetime as dt

from ..assignment import ALL_KINDS, Firm, Policy, Specialist, specialist_from_row
from ..errors import KqtoolsError

_CURRENT = "{p}recognized_on <= :as_of AND ({p}expires_on IS NULL OR {p}expires_on = '' OR {p}expires_on >= :as_of)"


class AssignmentError(KqtoolsError, ValueError):
    """A one-line problem the CLI shows as an error (unknown specialist, invalid code...)."""


def load_policy(rules: str | None = None):
    """(Rules, Policy) from a rule file path or preset name; shipped default when None."""
    from ..rules import load_rules

    r = load_rules("assignment", rules)
    return r, Policy.from_rules(r.data)


def as_policy(policy) -> Policy:
    """A :class:`Policy` from a Policy, a rule file's parsed data, a rule file name or path, or None
    (the shipped rules)."""
    if policy is None or isinstance(policy, str):
        return load_policy(policy)[1]
    if isinstance(policy, Policy):
        return policy
    return Policy.from_rules(policy)


def iso(day) -> str:
    return day if isinstance(day, str) else day.isoformat()


def as_date(day) -> dt.date:
    return day if isinstance(day, dt.date) else dt.date.fromisoformat(day)


def load_specialists(db, as_of=None) -> list[Specialist]:
    """Every listed specialist, by id. With ``as_of``, one who left on or before that day
    (``kq specialists deactivate --on``) counts as inactive; without it, only the ``active`` flag
    counts."""
    cur = db.conn.execute("SELECT * FROM specialists ORDER BY id")
    cols = [d[0] for d in cur.description]
    day = None if as_of is None else iso(as_of)
    return [specialist_from_row(dict(zip(cols, row)), day) for row in cur]


def scope_sql(policy: Policy, select: str, tail: str = "") -> tuple[str, dict]:
    """``SELECT select`` over the firms in scope on ``:as_of``: ``d`` (uscc, kinds: their current
    designation kinds, comma-separated) left-joined to ``enterprises e``; ``tail`` adds joins,
    conditions and an order."""
    having, params = _scope_having(policy, "kind")
    sql = (f"SELECT {select} FROM (SELECT uscc, group_concat(kind) AS kinds "
           f"FROM designations WHERE {_CURRENT.format(p='')} GROUP BY uscc{having}) d "
           f"LEFT JOIN enterprises e ON e.uscc = d.uscc {tail}")
    return sql, params


def scope_sql_ordered(policy: Policy, select: str, lo: bool = False, hi: bool = False) -> tuple[str, dict]:
    """The scope in uscc order straight from the covering index, without a sort: one aggregate
    query over designations ``d`` joined to ``enterprises e`` (``group_concat(d.kind)`` = kinds);
    ``lo``/``hi``: only firms with ``:lo`` <= uscc / uscc < ``:hi``."""
    having, params = _scope_having(policy, "d.kind")
    where = _CURRENT.format(p="d.") + (" AND d.uscc >= :lo" if lo else "") + (" AND d.uscc < :hi" if hi else "")
    sql = (f"SELECT {select} FROM designations d LEFT JOIN enterprises e ON e.uscc = d.uscc "
           f"WHERE {where} GROUP BY d.uscc{having} ORDER BY d.uscc")
    return sql, params


def scope_usccs_sql(policy: Policy) -> tuple[str, dict]:
    """``SELECT uscc`` of the firms in scope on ``:as_of``, one row each, from the covering index."""
    having, params = _scope_having(policy, "kind")
    return f"SELECT uscc FROM designations WHERE {_CURRENT.format(p='')} GROUP BY uscc{having}", params


def _scope_having(policy: Policy, column: str) -> tuple[str, dict]:
    kinds = sorted(policy.scope_kinds)
    marks = ", ".join(f":k{i}" for i in range(len(kinds)))
    params = {f"k{i}": k for i, k in enumerate(kinds)}
    # every kind in scope (the default): no HAVING, the covering index alone answers
    having = "" if policy.scope_kinds >= set(ALL_KINDS) else f" HAVING max({column} IN ({marks})) = 1"
    return having, params


def in_scope_firms(db, as_of, policy: Policy | None = None, raw: bool = False) -> list:
    """In-scope firms with their current assignment, as :class:`Firm` (``raw``: plain tuples); any order."""
    policy = as_policy(policy)
    sql, params = scope_sql(
        policy, "d.uscc, e.name, e.district, d.kinds, e.industry_code, a.specialist_id, "
                "a.assigned_on", "LEFT JOIN assignments a ON a.uscc = d.uscc")
    params["as_of"] = iso(as_of)
    rows = db.conn.execute(sql, params).fetchall()
    return rows if raw else [Firm._make(row) for row in rows]


def in_scope_usccs(db, as_of, policy: Policy | None = None) -> list[str]:
    """Codes of the firms in scope on ``as_of`` (default scope: any current designation), sorted."""
    policy = as_policy(policy)
    sql, params = scope_sql(policy, "d.uscc", "ORDER BY d.uscc")
    params["as_of"] = iso(as_of)
    return [r[0] for r in db.conn.execute(sql, params)]


def out_of_scope(db, as_of, policy: Policy, assigned_in_scope: int) -> list[tuple]:
    """(uscc, name, specialist_id, assigned_on) of the assignments whose firm is not in scope on
    ``as_of``; ``assigned_in_scope``: how many in-scope firms have one (when all do, none is out)."""
    total = db.conn.execute("SELECT count(*) FROM assignments").fetchone()[0]
    if total == assigned_in_scope:
        return []
    kinds = sorted(policy.scope_kinds)
    marks = ", ".join(f":k{i}" for i in range(len(kinds)))
    params = {f"k{i}": k for i, k in enumerate(kinds)}
    params["as_of"] = iso(as_of)
    return db.conn.execute(
        "SELECT a.uscc, e.name, a.specialist_id, a.assigned_on FROM assignments a "
        "LEFT JOIN enterprises e ON e.uscc = a.uscc WHERE NOT EXISTS (SELECT 1 FROM designations d "
        f"WHERE d.uscc = a.uscc AND d.kind IN ({marks}) AND {_CURRENT.format(p='d.')}) "
        "ORDER BY a.uscc", params).fetchall()


def scope_groups(db, as_of, policy: Policy) -> list[tuple]:
    """In-scope firms with a specialist counted per (district, kinds, industry_code, specialist_id),
    firms without one listed with uscc and name: see :func:`kqtools.assignment.settled`. Counted in
    Python: cheaper here than SQLite's sort for a GROUP BY over a million rows."""
    from collections import Counter

    sql, params = scope_sql(
        policy, "e.district, d.kinds, e.industry_code, a.specialist_id, "
                "CASE WHEN a.specialist_id IS NULL THEN d.uscc END, CASE WHEN a.specialist_id IS NULL THEN e.name END",
        "LEFT JOIN assignments a ON a.uscc = d.uscc")
    params["as_of"] = iso(as_of)
    return [(*key, n) for key, n in Counter(db.conn.execute(sql, params)).items()]
