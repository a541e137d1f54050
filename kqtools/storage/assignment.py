"""Database glue for specialists, assignments and visits (tables in 0001_core.sql and 0004_assignment.sql).

Reads plain data out of SQLite, hands it to :mod:`kqtools.assignment` and :mod:`kqtools.visits`,
and writes the result back inside one ``write_transaction``. No click, no printing.

Public for other parts of kqtools (reminder jobs):

* :func:`due_visits` (db, as_of) -> in-scope firms not visited in the period containing ``as_of``;
* :func:`in_scope_usccs` (db, as_of) -> sorted codes of the firms in scope;
* :func:`coverage` (db, year) -> visit coverage rows against the yearly goal.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import sqlite3
import sys
from collections.abc import Mapping
from operator import itemgetter
from typing import Iterable

from ..assignment import ALL_KINDS, NEW_IN_SCOPE, Change, Firm, Plan, Policy, Specialist, plan, specialist_from_row
from . import write_transaction
from ..clock import now_iso as _now
from ..errors import KqtoolsError

BULK_CACHE_KIB = 128 * 1024
_CURRENT = "{p}recognized_on <= :as_of AND ({p}expires_on IS NULL OR {p}expires_on = '' OR {p}expires_on >= :as_of)"


class AssignmentError(KqtoolsError, ValueError):
    """A one-line problem the CLI shows as an error (unknown specialist, invalid code...)."""


class DuplicateVisit(AssignmentError):
    """The same visit (firm, specialist, day) is already recorded."""


def load_policy(rules: str | None = None):
    """(Rules, Policy) from a rule file path or preset name; shipped default when None."""
    from ..rules import load_rules

    r = load_rules("assignment", rules)
    return r, Policy.from_rules(r.data)


def _policy(policy) -> Policy:
    if policy is None:
        return load_policy()[1]
    if isinstance(policy, Policy):
        return policy
    return Policy.from_rules(policy)


def _iso(day) -> str:
    return day if isinstance(day, str) else day.isoformat()


def load_specialists(db) -> list[Specialist]:
    cur = db.conn.execute("SELECT id, name, department, districts, kinds, capacity, active FROM specialists "
                          "ORDER BY id")
    cols = [d[0] for d in cur.description]
    return [specialist_from_row(dict(zip(cols, row))) for row in cur]


def _scope_sql(policy: Policy, select: str, tail: str = "") -> tuple[str, dict]:
    having, params = _scope_having(policy, "kind")
    sql = (f"SELECT {select} FROM (SELECT uscc, group_concat(kind) AS kinds "
           f"FROM designations WHERE {_CURRENT.format(p='')} GROUP BY uscc{having}) d "
           f"LEFT JOIN enterprises e ON e.uscc = d.uscc {tail}")
    return sql, params


def _scope_sql_ordered(policy: Policy, select: str, lo: bool = False, hi: bool = False) -> tuple[str, dict]:
    """The scope in uscc order straight from the covering index, without a sort: one aggregate
    query over designations ``d`` joined to ``enterprises e`` (``group_concat(d.kind)`` = kinds);
    ``lo``/``hi``: only firms with ``:lo`` <= uscc / uscc < ``:hi``."""
    having, params = _scope_having(policy, "d.kind")
    where = _CURRENT.format(p="d.") + (" AND d.uscc >= :lo" if lo else "") + (" AND d.uscc < :hi" if hi else "")
    sql = (f"SELECT {select} FROM designations d LEFT JOIN enterprises e ON e.uscc = d.uscc "
           f"WHERE {where} GROUP BY d.uscc{having} ORDER BY d.uscc")
    return sql, params


def _scope_having(policy: Policy, column: str) -> tuple[str, dict]:
    kinds = sorted(policy.scope_kinds)
    marks = ", ".join(f":k{i}" for i in range(len(kinds)))
    params = {f"k{i}": k for i, k in enumerate(kinds)}
    # every kind in scope (the default): no HAVING, the covering index alone answers
    having = "" if policy.scope_kinds >= set(ALL_KINDS) else f" HAVING max({column} IN ({marks})) = 1"
    return having, params


def in_scope_firms(db, as_of, policy: Policy | None = None, raw: bool = False) -> list:
    """In-scope firms with their current assignment, as :class:`Firm` (``raw``: plain tuples); any order."""
    policy = _policy(policy)
    sql, params = _scope_sql(
        policy, "d.uscc, e.name, e.district, d.kinds, e.industry_code, a.specialist_id, "
                "a.assigned_on", "LEFT JOIN assignments a ON a.uscc = d.uscc")
    params["as_of"] = _iso(as_of)
    rows = db.conn.execute(sql, params).fetchall()
    return rows if raw else [Firm._make(row) for row in rows]


def in_scope_usccs(db, as_of, policy: Policy | None = None) -> list[str]:
    """Codes of the firms in scope on ``as_of`` (default scope: any current designation), sorted."""
    policy = _policy(policy)
    sql, params = _scope_sql(policy, "d.uscc", "ORDER BY d.uscc")
    params["as_of"] = _iso(as_of)
    return [r[0] for r in db.conn.execute(sql, params)]


def _out_of_scope(db, as_of, policy: Policy, assigned_in_scope: int) -> list[tuple]:
    total = db.conn.execute("SELECT count(*) FROM assignments").fetchone()[0]
    if total == assigned_in_scope:
        return []
    kinds = sorted(policy.scope_kinds)
    marks = ", ".join(f":k{i}" for i in range(len(kinds)))
    params = {f"k{i}": k for i, k in enumerate(kinds)}
    params["as_of"] = _iso(as_of)
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

    sql, params = _scope_sql(
        policy, "e.district, d.kinds, e.industry_code, a.specialist_id, "
                "CASE WHEN a.specialist_id IS NULL THEN d.uscc END, CASE WHEN a.specialist_id IS NULL THEN e.name END",
        "LEFT JOIN assignments a ON a.uscc = d.uscc")
    params["as_of"] = _iso(as_of)
    return [(*key, n) for key, n in Counter(db.conn.execute(sql, params)).items()]


def plan_assignment(db, as_of, policy: Policy, fingerprint: str | None = None) -> Plan:
    from ..assignment import settled

    specialists = load_specialists(db)
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
    return plan(firms, specialists, policy, _out_of_scope(db, as_of, policy, assigned))


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


def inputs_fingerprint(db, rules_sha256: str) -> str | None:
    """A digest of the inputs of ``kq assign`` (None on a database without the state table)."""
    import hashlib

    if not db.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'assignment_state'").fetchone():
        return None
    h = hashlib.sha256(rules_sha256.encode())
    h.update(repr(db.conn.execute(_FINGERPRINT_SQL).fetchone()).encode())
    for row in db.conn.execute("SELECT * FROM specialists ORDER BY id"):
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
    with _bulk(db), _Scratch(db) as scratch:
        return _run_assign(db, as_of, rule_file, policy, dry_run, parts, scratch)


@contextlib.contextmanager
def _bulk(db):
    """Millions of small objects: no cyclic GC passes meanwhile, and a bigger page cache."""
    enabled = gc.isenabled()
    gc.disable()
    old_cache = db.conn.execute("PRAGMA cache_size").fetchone()[0]
    db.conn.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
    try:
        yield
    finally:
        db.conn.execute(f"PRAGMA cache_size = {old_cache}")
        if enabled:
            gc.enable()


@contextlib.contextmanager
def _writes_once(db):
    """A first run appends ~190 MB of new pages at a million firms. In WAL mode each page is written
    twice, to the WAL and then by the checkpoint into the database, and synced twice; with a
    rollback journal, pages appended to the file need no journal and are written and synced once.
    So the first run switches the database to a rollback journal (synchronous FULL, which that mode
    needs to be safe on power loss) and back to WAL after. SQLite allows the switch only when no
    other connection has the database open, and refuses at once otherwise: the run then stays in
    WAL mode. Meanwhile readers that start wait for the commit (busy timeout) instead of reading
    the state before it."""
    conn = db.conn
    try:
        switched = (conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
                    and conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0].lower() == "delete")
    except sqlite3.OperationalError:        # database is locked: someone else has it open
        switched = False
    if not switched:
        yield
        return
    conn.execute("PRAGMA synchronous = FULL")
    try:
        yield
    finally:
        conn.execute("PRAGMA synchronous = NORMAL")
        with contextlib.suppress(sqlite3.OperationalError):    # someone opened it meanwhile: open_db switches later
            conn.execute("PRAGMA journal_mode = WAL")


def _run_assign(db, as_of, rule_file, policy, dry_run, parts, scratch):
    from ..assignment import after_applied

    day = _iso(as_of)
    if dry_run:
        fingerprint = inputs_fingerprint(db, rule_file.sha256)
        if _first_run(db, fingerprint, day):
            p = first_assignment(db, day, policy, None, parts, scratch)
            if parts > 1 and inputs_fingerprint(db, rule_file.sha256) != fingerprint:
                # without the write lock, helpers and this process may have read different states
                p = first_assignment(db, day, policy, None)
            return p, None, rule_file
        return plan_assignment(db, as_of, policy, fingerprint), None, rule_file
    started = _now()
    empty = db.conn.execute("SELECT 1 FROM assignments LIMIT 1").fetchone() is None
    with _writes_once(db) if empty else contextlib.nullcontext(), write_transaction(db) as conn:
        fingerprint = inputs_fingerprint(db, rule_file.sha256)
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
                _save_state(conn, inputs_fingerprint(db, rule_file.sha256), day, again.in_scope, again.kept,
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


# ---------------------------------------------------------------- the first run, set-based
# No firm has a specialist yet (a new database, or after every assignment was released): the plan is
# made on counts of alike firms (assignment.FirstRun), and SQLite writes the million rows, calling
# back into Python once per firm for its specialist; no firm is held in Python.
_DRY_TABLE = "kq_dry_assignments"


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
        _save_state(conn, inputs_fingerprint(db, rule_file.sha256), day, p.in_scope,
                    p.in_scope - len(p.unassigned), p.unassigned)
    return p, run_id


def first_assignment(db, day: str, policy: Policy, run_id: int | None, parts: int = 1,
                     scratch: "_Scratch | None" = None) -> Plan:
    """Place every in-scope firm on a database without assignments, written to ``assignments``
    with history under ``run_id`` (the caller holds the transaction), or, when ``run_id`` is None
    (a dry run), to a temporary table only. The plan's ``changes`` are read back from there.

    With ``parts`` > 1 and a ``scratch`` (see :func:`run_assign`), the scope is read and counted in
    that many uscc ranges at once: this process does the first, helper processes
    (:mod:`.scope_worker`) the others, each into a scratch file. A range whose helper fails is
    done here after all. Either way the plan is made on the summed counts, and the firms are
    written range after range, in uscc order, as with one part."""
    from ..assignment import FirstRun

    conn = db.conn
    fr = FirstRun(load_specialists(db), policy)
    dry = run_id is None
    target = f"temp.{_DRY_TABLE}" if dry else "assignments"
    conn.create_function("kq_group", 3, fr.group)
    bounds = _split_points(conn, parts) if scratch is not None and scratch.db_file else [None, None]
    queries = [_part_sql(policy, day, lo, hi) for lo, hi in zip(bounds, bounds[1:])]
    tables: list[tuple[str, list[int] | None]] = []     # (table, its group numbers; None: fr's own)
    helpers: dict = {}
    try:
        # 1. the scope in uscc order, each firm with its group number (counted on the way), by range
        helpers = {i: _start_helper(scratch, i, query) for i, query in enumerate(queries) if i}
        for i, (sql, params) in enumerate(queries):
            table = f"temp.kq_scope_{i}"
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            if i:
                numbers = _finish_helper(fr, scratch, i, helpers[i])
                if numbers is not None:
                    tables.append((f"kq_part_{i}.kq_scope", numbers))
                    continue
            conn.execute(f"CREATE TEMP TABLE kq_scope_{i} AS {sql}", params)
            tables.append((table, None))
        # 2. the plan, on counts
        fr.place()
        # 3. one row per placed firm, in uscc order (range after range, rowid order in each, checked by
        #    kq_pick); OR IGNORE skips the firms kq_pick leaves without a specialist (NULL in a NOT NULL
        #    column): fr.unplaced
        if dry:
            conn.execute(f"DROP TABLE IF EXISTS {target}")
            conn.execute(f"CREATE TABLE {target} (uscc TEXT PRIMARY KEY, specialist_id TEXT NOT NULL, "
                         "assigned_on TEXT NOT NULL, reason TEXT, run_id INTEGER) WITHOUT ROWID")
        for table, numbers in tables:
            conn.create_function("kq_pick", 2, fr.pick if numbers is None else fr.picker(numbers))
            conn.execute(f"INSERT OR IGNORE INTO {target} (uscc, specialist_id, assigned_on, reason, run_id) "
                         f"SELECT uscc, kq_pick(g, uscc), ?, ?, ? FROM {table} ORDER BY rowid",
                         (day, NEW_IN_SCOPE, run_id))
        if not dry:
            _copy_first_history(conn, run_id, _now())
        unassigned = []
        if fr.unplaced:
            names = dict(conn.execute("SELECT j.value, e.name FROM json_each(?) j LEFT JOIN enterprises e "
                                      "ON e.uscc = j.value", (json.dumps([u for u, _ in fr.unplaced]),)))
            unassigned = [Change(uscc, names.get(uscc), None, None, fr.reason(g), "unassigned")
                          for uscc, g in fr.unplaced]     # in uscc order already
    finally:
        for proc in helpers.values():       # still running only when this run failed
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        for i in range(len(queries)):
            conn.execute(f"DROP TABLE IF EXISTS temp.kq_scope_{i}")
        conn.create_function("kq_group", 3, None)
        conn.create_function("kq_pick", 2, None)
    placed = fr.in_scope - len(unassigned)
    return Plan(_FirstChanges(conn, target, placed, unassigned), fr.loads, fr.in_scope, 0,
                {"assign": placed, "move": 0, "release": 0, "unassigned": len(unassigned)}, left=unassigned)


# ---------------------------------------------------------------- a large first run in parallel
# Reading and counting the scope is most of a first run's work (~40 % at a million firms) and parts
# of it are independent: uscc ranges. Below PARTS_MIN_DESIGNATIONS rows, starting a helper costs
# more than it saves.
PARTS_MIN_DESIGNATIONS = 200_000
MAX_PARTS = 4


def default_parts() -> int:
    """Scope ranges a large first run reads at once: one per CPU this process may use, at most 4."""
    import os

    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:      # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_PARTS, cpus))


def _split_points(conn, parts: int) -> list:
    """[None, u1, ..., None]: uscc bounds of ``parts`` ranges holding about as many designations each
    (fewer ranges when the database is small or the bounds coincide)."""
    if parts < 2:
        return [None, None]
    n = conn.execute("SELECT count(*) FROM designations").fetchone()[0]
    if n < PARTS_MIN_DESIGNATIONS:
        return [None, None]
    inner = []
    for i in range(1, parts):
        row = conn.execute("SELECT uscc FROM designations ORDER BY uscc LIMIT 1 OFFSET ?", (n * i // parts,)).fetchone()
        if row and (not inner or row[0] > inner[-1]):
            inner.append(row[0])
    return [None, *inner, None]


# each in-scope firm with its group number from the kq_group callback (FirstRun.group, or a helper's own)
_SCOPE_SELECT = "d.uscc AS uscc, kq_group(e.district, group_concat(d.kind), e.industry_code) AS g"


def _part_sql(policy: Policy, day: str, lo, hi) -> tuple[str, dict]:
    """The scope query of one range ``lo`` <= uscc < ``hi`` (None: open)."""
    sql, params = _scope_sql_ordered(policy, _SCOPE_SELECT, lo is not None, hi is not None)
    params.update(as_of=day, lo=lo, hi=hi)
    return sql, params


class _Scratch:
    """A folder for the helpers' scratch files, attached to the connection for the run and removed
    after. SQLite cannot detach a database inside a transaction, so this wraps the transaction.
    ``db_file``: the path helpers open ("" for a database in memory: no helpers)."""

    def __init__(self, db):
        self.conn, self.folder, self.attached = db.conn, None, []
        self.db_file = db.conn.execute("PRAGMA database_list").fetchone()[2]

    def __enter__(self):
        return self

    def path(self, i: int) -> str:
        import os
        import tempfile

        if self.folder is None:
            _sweep(tempfile.gettempdir())
            self.folder = tempfile.mkdtemp(prefix=f"kq-assign-{os.getpid()}-")
        return os.path.join(self.folder, f"part{i}.db")

    def attach(self, i: int) -> None:
        self.conn.execute(f"ATTACH ? AS kq_part_{i}", (self.path(i),))
        self.attached.append(i)

    def __exit__(self, *exc):
        import shutil

        for i in self.attached:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute(f"DETACH kq_part_{i}")
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


# the helper is a standard-library script, run as a file in isolated mode (-I: no environment, no
# working directory on sys.path; -S: no site packages), so it starts in ~20 ms
_HELPER = [sys.executable, "-I", "-S"]


def _sweep(folder: str) -> None:
    """Remove the scratch folders of runs killed before they could (kq-assign-PID-*, PID gone)."""
    import os
    import shutil

    if os.name != "posix":      # os.kill(pid, 0) probes a process only there
        return
    for entry in os.scandir(folder):
        parts = entry.name.split("-")
        if entry.name.startswith("kq-assign-") and len(parts) > 3 and parts[2].isdigit():
            try:
                os.kill(int(parts[2]), 0)
            except ProcessLookupError:
                shutil.rmtree(entry.path, ignore_errors=True)
            except OSError:     # alive, someone else's
                pass


def _start_helper(scratch: _Scratch, i: int, query: tuple[str, dict]):
    """A helper process reading range ``i`` into its scratch file (see :mod:`.scope_worker`); None
    when it could not start."""
    import subprocess
    from pathlib import Path

    from . import BUSY_TIMEOUT_MS

    sql, params = query
    try:
        task = {"db": scratch.db_file, "out": scratch.path(i), "sql": sql, "params": params,
                "timeout": BUSY_TIMEOUT_MS / 1000}
        # stderr inherited: a helper says on kq's stderr why it failed, in one line
        proc = subprocess.Popen([*_HELPER, str(Path(__file__).with_name("scope_worker.py"))],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        proc.stdin.write(json.dumps(task).encode())
        proc.stdin.close()
    except OSError:     # no scratch folder, no process: the range is read here
        return None
    return proc


def _finish_helper(fr, scratch: _Scratch, i: int, proc) -> list[int] | None:
    """Wait for helper ``i``; its counts merged into ``fr`` and its file attached as ``kq_part_i``:
    its group numbers in ``fr``'s. None when it failed (its range is to be done here)."""
    if proc is None:
        return None
    out = proc.stdout.read()
    if proc.wait() != 0:
        return None
    try:
        result = json.loads(out)
        numbers = [fr.add(d, k, ind, n) for (d, k, ind), n in zip(result["keys"], result["sizes"], strict=True)]
    except (ValueError, KeyError, TypeError):
        return None
    scratch.attach(i)
    return numbers


class _FirstChanges:
    """The changes of a first run, read back from the table written (placed firms) and merged in
    uscc order with the firms left unassigned: a million changes are never all in memory."""

    def __init__(self, conn, table: str, placed: int, unassigned: list[Change]):
        self.conn, self.table, self.placed, self.unassigned = conn, table, placed, unassigned

    def __len__(self) -> int:
        return self.placed + len(self.unassigned)

    def __iter__(self):
        import heapq

        rows = self.conn.execute(f"SELECT a.uscc, e.name, NULL, a.specialist_id, a.reason, 'assign' "
                                 f"FROM {self.table} a LEFT JOIN enterprises e ON e.uscc = a.uscc ORDER BY a.uscc")
        return heapq.merge(map(Change._make, rows), self.unassigned, key=itemgetter(0))


def _copy_first_history(conn, run_id: int, now: str) -> None:
    """First assignments: one history row each, copied in SQLite from the run's rows of ``assignments``."""
    conn.execute("INSERT INTO assignment_history (run_id, uscc, from_specialist, to_specialist, effective_on, "
                 "changed_at, reason) SELECT run_id, uscc, NULL, specialist_id, assigned_on, ?, reason "
                 "FROM assignments WHERE run_id = ? ORDER BY uscc", (now, run_id))


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
            _copy_first_history(conn, run_id, now)
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
def specialists_with_load(db, policy: Policy | None = None) -> list[dict]:
    """Specialists with what they serve (own kinds, else the department mapping) and their load."""
    loads = dict(db.conn.execute("SELECT specialist_id, count(*) FROM assignments GROUP BY specialist_id"))
    policy = _policy(policy)
    out = []
    for s in load_specialists(db):
        kinds, prefixes = policy.served(s)
        out.append({
            "id": s.id, "name": s.name, "department": s.department or "",
            "districts": "、".join(sorted(s.districts)) or ("(all)" if policy.empty_districts == "all" else ""),
            "serves": ", ".join([*sorted(kinds), *prefixes]),
            "load": loads.get(s.id, 0), "capacity": s.capacity, "active": s.active,
        })
    return out


def assignment_rows(db, specialist: str | None = None, district: str | None = None) -> list[dict]:
    where, params = [], []
    if specialist:
        where.append("a.specialist_id = ?")
        params.append(specialist)
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
    return [dict(zip(cols, row)) for row in cur]


def history_rows(db, uscc: str) -> list[dict]:
    cur = db.conn.execute("SELECT effective_on, changed_at, from_specialist, to_specialist, reason, run_id "
                          "FROM assignment_history WHERE uscc = ? ORDER BY effective_on, id", (uscc,))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur]


# ---------------------------------------------------------------- visits
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

    policy = _policy(policy)
    as_of_date = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(as_of)
    start, end = V.period_bounds(as_of_date, policy.period_months)
    label = V.period_label(as_of_date, policy.period_months)
    sql, params = _scope_sql(
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
    with _bulk(db):
        return [dict(zip(keys, row)) for row in db.conn.execute(sql, params)]


def served_on(db, day) -> dict[str, str]:
    """uscc -> specialist id of the assignments in force on ``day``, rebuilt from the history."""
    return dict(db.conn.execute(f"SELECT uscc, to_specialist FROM ({_SERVED}) WHERE to_specialist IS NOT NULL",
                                {"ref": _iso(day)}))


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

    policy = _policy(policy)
    today = today or dt.date.today()
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
    if on > dt.date.today():
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

