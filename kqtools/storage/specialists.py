"""Specialists: finding one by id, their load, and a specialist who leaves or comes back
(tables ``specialists``, 0001_core.sql; ``left_on`` and ``specialist_changes``, 0011_visit_cadence.sql).

Ids are case-insensitive everywhere: what a clerk types (``xw002``, full-width ``ＸＷ００２``) is read
as the importer reads an id (NFKC, upper case, no spaces) and matched against the stored ids
without regard to case. No click, no printing.
"""
from __future__ import annotations

import datetime as dt

from ..assignment import Policy
from ..clock import now_iso, today
from ..i18n import _
from . import write_transaction
from .scope import AssignmentError, as_policy, load_specialists


def normalize_id(raw: str) -> str:
    """A specialist id as typed, read as the importer reads one: ``' xw002 '`` -> ``'XW002'``."""
    from ..fields import to_code

    return to_code(raw)


def find_specialist(db, raw: str) -> dict:
    """The ``specialists`` row whose id is ``raw`` whatever its case; AssignmentError when none
    (or, on a database that stored ids differing only in case, when that is ambiguous)."""
    wanted = normalize_id(raw or "")
    cur = db.conn.execute("SELECT * FROM specialists WHERE id = ? OR upper(id) = ? ORDER BY id = ? DESC, id",
                          (wanted, wanted, wanted))
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur]
    if not rows:
        raise AssignmentError(_("no specialist with id {value!r} (see kq specialists list)").format(
                                  value=raw.strip()))
    if len(rows) > 1 and rows[0]["id"] != wanted:
        ids = ", ".join(r["id"] for r in rows)
        raise AssignmentError(_("specialist id {value!r} matches {ids}: type it exactly as stored").format(
                                  value=raw.strip(), ids=ids))
    return rows[0]


def specialist_id(db, raw: str | None) -> str | None:
    """The stored id for an id as typed (None stays None): for ``--specialist`` filters."""
    return None if raw is None or not raw.strip() else find_specialist(db, raw)["id"]


def specialists_with_load(db, policy: Policy | str | None = None, as_of: dt.date | None = None) -> list[dict]:
    """Specialists with what they serve (own kinds, else the department mapping), their load, and
    whether they serve on ``as_of`` (default today): ``active``, ``left_on``, ``left_reason``."""
    loads = dict(db.conn.execute("SELECT specialist_id, count(*) FROM assignments GROUP BY specialist_id"))
    policy = as_policy(policy)
    out = []
    for s in load_specialists(db, as_of or today()):
        kinds, prefixes = policy.served(s)
        out.append({
            "id": s.id, "name": s.name, "department": s.department or "",
            "districts": "、".join(sorted(s.districts)) or ("(all)" if policy.empty_districts == "all" else ""),
            "serves": ", ".join([*sorted(kinds), *prefixes]),
            "load": loads.get(s.id, 0), "capacity": s.capacity, "active": s.active,
            "left_on": s.left_on, "left_reason": s.left_reason,
        })
    return out


def deactivate(db, raw_id: str, on: dt.date, reason: str | None = None) -> dict:
    """A specialist leaves: from ``on`` (that day included) they serve no firm. Their firms move at
    the next ``kq assign`` on or after that day, to eligible colleagues; their visits still count.
    Returns the specialist's row as changed, with ``load`` (firms to move) and ``previous``
    (the leaving date replaced, if any)."""
    reason = (reason or "").strip() or None
    with write_transaction(db) as conn:
        row = find_specialist(db, raw_id)
        conn.execute("UPDATE specialists SET left_on = ?, left_reason = ? WHERE id = ?",
                     (on.isoformat(), reason, row["id"]))
        _record(conn, row["id"], "deactivate", on, reason)
        load = conn.execute("SELECT count(*) FROM assignments WHERE specialist_id = ?", (row["id"],)).fetchone()[0]
    return {"id": row["id"], "name": row["name"], "action": "deactivate", "effective_on": on.isoformat(),
            "reason": reason, "load": load, "previous": row.get("left_on")}


def activate(db, raw_id: str, on: dt.date, reason: str | None = None) -> dict:
    """A specialist serves (again): the leaving date is cleared and the ``active`` flag set. The
    next ``kq assign`` gives them new firms; firms moved away from them stay where they are."""
    reason = (reason or "").strip() or None
    with write_transaction(db) as conn:
        row = find_specialist(db, raw_id)
        conn.execute("UPDATE specialists SET active = 1, left_on = NULL, left_reason = NULL WHERE id = ?", (row["id"],))
        _record(conn, row["id"], "activate", on, reason)
    return {"id": row["id"], "name": row["name"], "action": "activate", "effective_on": on.isoformat(),
            "reason": reason, "was_active": bool(row["active"]) and not row.get("left_on"),
            "previous": row.get("left_on")}


def _record(conn, sid: str, action: str, on: dt.date, reason: str | None) -> None:
    conn.execute("INSERT INTO specialist_changes (specialist_id, action, effective_on, reason, changed_at) "
                 "VALUES (?,?,?,?,?)", (sid, action, on.isoformat(), reason, now_iso()))
