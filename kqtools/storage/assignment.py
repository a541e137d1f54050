"""``kq assign``: the service that plans and writes assignments, and the queries around them
(tables in 0004_assignment.sql).

:func:`run_assign` loads the specialists and the scope, calls :func:`kqtools.assignment.plan`
(or, on a database without assignments, :mod:`.first_run`), and writes the changes with their
history inside one ``write_transaction``; a re-run on unchanged inputs is answered from the
settled state of the last run. No click, no printing. The scope queries live in :mod:`.scope`,
visits in :mod:`.visits`, specialists in :mod:`.specialists`.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from typing import Iterable

from ..assignment import Change, Plan, Policy, plan
from ..clock import now_iso as _now
from . import bulk, write_transaction
from .first_run import Scratch, copy_first_history, default_parts, first_assignment, writes_once
from .scope import (AssignmentError, in_scope_firms, in_scope_usccs, iso as _iso, load_policy,
                    load_specialists, out_of_scope, scope_groups)

# the page cache of a run (KiB); a test lowers it to make a first run spill pages into the file early
BULK_CACHE_KIB = 128 * 1024

__all__ = ["AssignmentError", "apply_changes", "assignment_rows", "coverage", "due_visits", "first_assignment",
           "history_rows", "in_scope_firms", "in_scope_usccs", "inputs_fingerprint", "load_policy",
           "load_specialists", "plan_assignment", "run_assign"]


def __getattr__(name):
    # the reminder jobs (storage/jobs.py) import due_visits and coverage from here; they live in .visits
    if name in ("due_visits", "coverage"):
        from . import visits

        return getattr(visits, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def plan_assignment(db, as_of, policy: Policy, fingerprint: str | None = None) -> Plan:
    from ..assignment import settled

    specialists = load_specialists(db, as_of)
    if fingerprint is not None:     # inputs unchanged since a settled run, and the same designations current
        done = _stored_state(db, fingerprint, as_of, specialists)
        if done is not None:
            return done
    total = db.conn.execute("SELECT count(*) FROM assignments").fetchone()[0]
    if total:      # a re-run: when nothing is to change, counts per group of alike firms prove it
        groups = scope_groups(db, as_of, policy)
        if total == sum(g[6] for g in groups if g[3] is not None):     # none out of scope
            done = settled(groups, specialists, policy)
            if done is not None:
                return done
    firms = in_scope_firms(db, as_of, policy, raw=True)
    assigned = sum(1 for f in firms if f[5] is not None)
    return plan(firms, specialists, policy, out_of_scope(db, as_of, policy, assigned))


# ---------------------------------------------------------------- the settled state of the last run
# Everything :func:`plan_assignment` reads, summed up cheaply: any import (a new batch id), any row
# added or removed, any assignment written (history ids), any change of a specialist or the rule file.
_FINGERPRINT_SQL = ("SELECT (SELECT max(id) FROM batches), (SELECT count(*) FROM designations), "
                    "(SELECT max(rowid) FROM designations), (SELECT count(*) FROM enterprises), "
                    "(SELECT max(rowid) FROM enterprises), (SELECT count(*) FROM assignments), "
                    "(SELECT max(id) FROM assignment_history), (SELECT max(id) FROM assignment_runs)")
# the boundaries of the as_of window with the same current designations (see assignment.in_window);
# one pass over the covering index designations_current
_WINDOW_SQL = ("SELECT max(CASE WHEN recognized_on <= :a THEN recognized_on END), "
               "min(CASE WHEN recognized_on > :a THEN recognized_on END), "
               "max(CASE WHEN expires_on <> '' AND expires_on < :a THEN expires_on END), "
               "min(CASE WHEN expires_on <> '' AND expires_on >= :a THEN expires_on END) FROM designations")


def inputs_fingerprint(db, rules_sha256: str, day: str) -> str | None:
    """A digest of the inputs of ``kq assign`` on ``day`` (None on a database without the state
    table). Who has left by ``day`` is part of it: a leaving date between two runs' days makes
    the second one plan again."""
    import hashlib

    if not db.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'assignment_state'").fetchone():
        return None
    h = hashlib.sha256(rules_sha256.encode())
    h.update(repr(db.conn.execute(_FINGERPRINT_SQL).fetchone()).encode())
    for row in db.conn.execute("SELECT *, left_on <= ? FROM specialists ORDER BY id", (day,)):
        h.update(repr(row).encode())
    return h.hexdigest()


def _stored_state(db, fingerprint: str, as_of, specialists) -> Plan | None:
    from ..assignment import in_window

    row = db.conn.execute("SELECT fingerprint, rec_le, rec_gt, exp_lt, exp_ge, in_scope, kept "
                          "FROM assignment_state WHERE id = 1").fetchone()
    if row is None or row[0] != fingerprint or not in_window(row[1:5], _iso(as_of)):
        return None
    changes = [Change(u, n, None, None, r, "unassigned") for u, n, r in db.conn.execute(
        "SELECT uscc, name, reason FROM assignment_state_unassigned ORDER BY uscc")]
    return Plan(changes, _Loads(db.conn, specialists), row[5], row[6],
                {"assign": 0, "move": 0, "release": 0, "unassigned": len(changes)})


class _Loads(Mapping):
    """Firms per specialist as ``assignments`` has them, counted on first use: a re-run answered from
    the settled state does not print loads, and counting a million assignments costs ~0.6-0.9 s."""

    def __init__(self, conn, specialists):
        self._conn, self._ids, self._counts = conn, [s.id for s in specialists], None

    def _get(self) -> dict:
        if self._counts is None:
            self._counts = dict.fromkeys(self._ids, 0)
            self._counts.update(self._conn.execute(
                "SELECT specialist_id, count(*) FROM assignments GROUP BY specialist_id"))
        return self._counts

    def __getitem__(self, key):
        return self._get()[key]

    def __iter__(self):
        return iter(self._get())

    def __len__(self):
        return len(self._get())


def _save_state(conn, fingerprint: str, as_of: str, in_scope: int, kept: int, unassigned: list[Change]) -> None:
    """Remember a settled outcome: a re-run on the same inputs would write nothing and report ``unassigned``."""
    window = conn.execute(_WINDOW_SQL, {"a": as_of}).fetchone()
    conn.execute("DELETE FROM assignment_state_unassigned")
    conn.execute("INSERT OR REPLACE INTO assignment_state (id, fingerprint, as_of, rec_le, rec_gt, exp_lt, exp_ge, "
                 "in_scope, kept, saved_at) VALUES (1,?,?,?,?,?,?,?,?,?)",
                 (fingerprint, as_of, *window, in_scope, kept, _now()))
    conn.executemany("INSERT INTO assignment_state_unassigned (uscc, name, reason) VALUES (?,?,?)",
                     [(c.uscc, c.name, c.reason) for c in unassigned])


def run_assign(db, as_of: dt.date, *, rules: str | None = None, dry_run: bool = False, parts: int | None = None):
    """Plan and (unless ``dry_run``) apply the assignment. Returns (Plan, run_id or None, Rules).
    ``parts``: scope ranges a large first run reads at once (default: :func:`default_parts`)."""
    rule_file, policy = load_policy(rules)
    parts = default_parts() if parts is None else parts
    with bulk(db, BULK_CACHE_KIB), Scratch(db) as scratch:
        return _run_assign(db, as_of, rule_file, policy, dry_run, parts, scratch)


def _run_assign(db, as_of, rule_file, policy, dry_run, parts, scratch):
    from ..assignment import after_applied

    day = _iso(as_of)
    if dry_run:
        fingerprint = inputs_fingerprint(db, rule_file.sha256, day)
        if _first_run(db, fingerprint, day):
            p = first_assignment(db, day, policy, None, parts, scratch)
            if parts > 1 and inputs_fingerprint(db, rule_file.sha256, day) != fingerprint:
                # without the write lock, helpers and this process may have read different states
                p = first_assignment(db, day, policy, None)
            return p, None, rule_file
        return plan_assignment(db, as_of, policy, fingerprint), None, rule_file
    started = _now()
    empty = db.conn.execute("SELECT 1 FROM assignments LIMIT 1").fetchone() is None
    with writes_once(db) if empty else contextlib.nullcontext(), write_transaction(db) as conn:
        fingerprint = inputs_fingerprint(db, rule_file.sha256, day)
        if _first_run(db, fingerprint, day):
            p, run_id = _run_first(db, day, rule_file, policy, fingerprint, started, parts, scratch)
            return p, run_id, rule_file
        p = plan_assignment(db, as_of, policy, fingerprint)
        writes = p.writes
        if not writes:
            if fingerprint is not None and not _state_is(conn, fingerprint, day):
                _save_state(conn, fingerprint, day, p.in_scope, p.kept, p.changes)
            return p, None, rule_file
        run_id = _insert_run(conn, day, rule_file, policy, started)
        apply_changes(conn, writes, day, run_id)
        _finish_run(conn, run_id, p)
        if fingerprint is not None:
            conn.execute("DELETE FROM assignment_state")
            # a plan, applied, is settled: a second plan writes nothing and reports what after_applied says
            again = after_applied(p)
            if again is not None:
                _save_state(conn, inputs_fingerprint(db, rule_file.sha256, day), day, again.in_scope, again.kept,
                            again.changes)
    return p, run_id, rule_file


def _insert_run(conn, day: str, rule_file, policy: Policy, started: str) -> int:
    """The run's row, counts filled in by :func:`_finish_run` (the caller holds the transaction)."""
    return conn.execute(
        "INSERT INTO assignment_runs (as_of, rules, rules_sha256, strategy, in_scope, kept, assigned, moved, "
        "released, unassigned, started_at, finished_at) VALUES (?,?,?,?,0,0,0,0,0,0,?,?)",
        (day, rule_file.name, rule_file.sha256, policy.method, started, started)).lastrowid


def _finish_run(conn, run_id: int, p: Plan) -> None:
    c = p.counts
    conn.execute("UPDATE assignment_runs SET in_scope = ?, kept = ?, assigned = ?, moved = ?, released = ?, "
                 "unassigned = ?, finished_at = ? WHERE id = ?",
                 (p.in_scope, p.kept, c["assign"], c["move"], c["release"], len(p.unassigned), _now(), run_id))


def _first_run(db, fingerprint: str | None, day: str) -> bool:
    """No assignment at all, and no settled state that already answers this run."""
    if db.conn.execute("SELECT 1 FROM assignments LIMIT 1").fetchone() is not None:
        return False
    return fingerprint is None or not _state_is(db.conn, fingerprint, day)


def _run_first(db, day: str, rule_file, policy: Policy, fingerprint: str | None, started: str, parts: int = 1,
               scratch=None):
    """Apply a first run inside the caller's transaction. Returns (Plan, run_id or None)."""
    conn = db.conn
    run_id = _insert_run(conn, day, rule_file, policy, started)
    p = first_assignment(db, day, policy, run_id, parts, scratch)
    if not p.counts["assign"]:      # nothing written after all: no run
        conn.execute("DELETE FROM assignment_runs WHERE id = ?", (run_id,))
        run_id = None
    else:
        _finish_run(conn, run_id, p)
    if fingerprint is not None:
        # settled: a second run on the same inputs writes nothing and reports the same unassigned firms
        conn.execute("DELETE FROM assignment_state")
        _save_state(conn, inputs_fingerprint(db, rule_file.sha256, day), day, p.in_scope,
                    p.in_scope - len(p.unassigned), p.unassigned)
    return p, run_id


def _state_is(conn, fingerprint: str, as_of: str) -> bool:
    """The stored state already answers a run on ``as_of`` with these inputs."""
    from ..assignment import in_window

    row = conn.execute("SELECT fingerprint, rec_le, rec_gt, exp_lt, exp_ge FROM assignment_state WHERE id = 1").fetchone()
    return row is not None and row[0] == fingerprint and in_window(row[1:5], as_of)


def apply_changes(conn, changes: Iterable[Change], as_of: str, run_id: int | None) -> None:
    """Write changes to ``assignments`` and ``assignment_history`` (caller holds the transaction)."""
    now = _now()
    released, inserts, upserts, history = [], [], [], []
    for ch in changes:
        if ch.to_specialist is None:
            released.append((ch.uscc,))
        elif ch.from_specialist is None:
            inserts.append((ch.uscc, ch.to_specialist, as_of, ch.reason, run_id))
            continue        # its history row is copied from `assignments` below
        else:
            upserts.append((ch.uscc, ch.to_specialist, as_of, ch.reason, run_id))
        history.append((run_id, ch.uscc, ch.from_specialist, ch.to_specialist, as_of, now, ch.reason))
    conn.executemany("DELETE FROM assignments WHERE uscc = ?", released)
    conn.executemany("INSERT INTO assignments (uscc, specialist_id, assigned_on, reason, run_id) VALUES (?,?,?,?,?)",
                     inserts)
    if inserts:
        # first assignments: one history row each, copied in SQLite (the run's rows are exactly these so far;
        # with no run id, the codes say which)
        if run_id is not None:
            copy_first_history(conn, run_id, now)
        else:
            history.extend((None, i[0], None, i[1], as_of, now, i[3]) for i in inserts)
    conn.executemany(
        "INSERT INTO assignments (uscc, specialist_id, assigned_on, reason, run_id) VALUES (?,?,?,?,?) "
        "ON CONFLICT (uscc) DO UPDATE SET specialist_id = excluded.specialist_id, "
        "assigned_on = excluded.assigned_on, reason = excluded.reason, run_id = excluded.run_id", upserts)
    conn.executemany(
        "INSERT INTO assignment_history (run_id, uscc, from_specialist, to_specialist, effective_on, changed_at, "
        "reason) VALUES (?,?,?,?,?,?,?)", history)


# ---------------------------------------------------------------- reading
def assignment_rows(db, specialist: str | None = None, district: str | None = None) -> list[dict]:
    """Current assignments, by specialist, district and code; ``specialist``: an id in any case. Each
    row carries the firm's cultivation class today (``class``, ``class_reason``; None: in no class)."""
    from .specialists import normalize_id

    where, params = [], []
    if specialist:
        where.append("upper(a.specialist_id) = ?")
        params.append(normalize_id(specialist))
    if district:
        where.append("e.district = ?")
        params.append(district)
    sql = ("SELECT a.uscc, coalesce(e.name, (SELECT max(name) FROM designations WHERE uscc = a.uscc)) AS name, "
           "e.district, a.specialist_id, s.name AS specialist_name, a.assigned_on, a.reason "
           "FROM assignments a LEFT JOIN enterprises e ON e.uscc = a.uscc "
           "LEFT JOIN specialists s ON s.id = a.specialist_id")
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY a.specialist_id, e.district, a.uscc"
    cur = db.conn.execute(sql, params)
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, row)) for row in cur]
    classes = _classes_today(db, [r["uscc"] for r in rows])
    for r in rows:
        c = classes.get(r["uscc"])
        r["class"], r["class_reason"] = (c["class"], c["reason"]) if c else (None, None)
    return rows


def _classes_today(db, usccs: list[str]) -> dict:
    """uscc -> cultivation class today (one query for all the rows; few rows: by code)."""
    from ..clock import today
    from .ladder import classes_for

    return classes_for(db, usccs if len(usccs) <= 5000 else None, today())


def history_rows(db, uscc: str) -> list[dict]:
    cur = db.conn.execute("SELECT effective_on, changed_at, from_specialist, to_specialist, reason, run_id "
                          "FROM assignment_history WHERE uscc = ? ORDER BY effective_on, id", (uscc,))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur]

