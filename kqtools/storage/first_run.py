"""The first ``kq assign`` (no firm has a specialist yet), set-based and in parallel.

The plan is made on counts of alike firms (:class:`kqtools.assignment.FirstRun`) and SQLite writes
the rows, calling back into Python once per firm for its specialist; no firm is held in Python.
From :data:`PARTS_MIN_DESIGNATIONS` designations on, the scope is read in uscc ranges at once:
this process reads the first, helper processes (:mod:`.scope_worker`, a standard-library script)
the others. See docs/specialists.md ("The first run"). Called by :func:`.assignment.run_assign`.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from operator import itemgetter

from ..assignment import NEW_IN_SCOPE, Change, FirstRun, Plan, Policy
from ..clock import now_iso
from .scope import load_specialists, scope_sql_ordered

_DRY_TABLE = "kq_dry_assignments"


def first_assignment(db, day: str, policy: Policy, run_id: int | None, parts: int = 1,
                     scratch: "Scratch | None" = None) -> Plan:
    """Place every in-scope firm on a database without assignments, written to ``assignments``
    with history under ``run_id`` (the caller holds the transaction), or, when ``run_id`` is None
    (a dry run), to a temporary table only. The plan's ``changes`` are read back from there.

    With ``parts`` > 1 and a ``scratch`` (see :func:`.assignment.run_assign`), the scope is read and counted in
    that many uscc ranges at once: this process does the first, helper processes
    (:mod:`.scope_worker`) the others, each into a scratch file. A range whose helper fails is
    done here after all. Either way the plan is made on the summed counts, and the firms are
    written range after range, in uscc order, as with one part."""
    conn = db.conn
    fr = FirstRun(load_specialists(db, day), policy)
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
            copy_first_history(conn, run_id, now_iso())
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
    sql, params = scope_sql_ordered(policy, _SCOPE_SELECT, lo is not None, hi is not None)
    params.update(as_of=day, lo=lo, hi=hi)
    return sql, params


class Scratch:
    """A folder for the helpers' scratch files, attached to the connection for the run and removed
    after. SQLite cannot detach a database inside a transaction, so this wraps the transaction.
    ``db_file``: the path helpers open ("" for a database in memory: no helpers)."""

    def __init__(self, db):
        self.conn, self.folder, self.attached = db.conn, None, []
        self.db_file = db.conn.execute("PRAGMA database_list").fetchone()[2]

    def __enter__(self):
        return self

    def path(self, i: int) -> str:
        """Scratch file ``i``, created empty and private (0600, in a 0700 folder) before any process
        opens it: SQLite takes an empty file as an empty database and keeps its mode."""
        import os
        import tempfile

        from ..files import open_private

        if self.folder is None:
            _sweep(tempfile.gettempdir())
            self.folder = tempfile.mkdtemp(prefix=f"kq-assign-{os.getpid()}-")
        path = os.path.join(self.folder, f"part{i}.db")
        if not os.path.lexists(path):
            os.close(open_private(path))
        return path

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


def _start_helper(scratch: Scratch, i: int, query: tuple[str, dict]):
    """A helper process reading range ``i`` into its scratch file (see :mod:`.scope_worker`); None
    when it could not start."""
    import subprocess
    from pathlib import Path

    sql, params = query
    try:
        # the busy timeout this database was opened with ($KQ_BUSY_TIMEOUT_MS)
        timeout = scratch.conn.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
        task = {"db": scratch.db_file, "out": scratch.path(i), "sql": sql, "params": params, "timeout": timeout}
        # stderr inherited: a helper says on kq's stderr why it failed, in one line
        proc = subprocess.Popen([*_HELPER, str(Path(__file__).with_name("scope_worker.py"))],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        proc.stdin.write(json.dumps(task).encode())
        proc.stdin.close()
    except OSError:     # no scratch folder, no process: the range is read here
        return None
    return proc


def _finish_helper(fr, scratch: Scratch, i: int, proc) -> list[int] | None:
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


def copy_first_history(conn, run_id: int, now: str) -> None:
    """First assignments: one history row each, copied in SQLite from the run's rows of ``assignments``."""
    conn.execute("INSERT INTO assignment_history (run_id, uscc, from_specialist, to_specialist, effective_on, "
                 "changed_at, reason) SELECT run_id, uscc, NULL, specialist_id, assigned_on, ?, reason "
                 "FROM assignments WHERE run_id = ? ORDER BY uscc", (now, run_id))


@contextlib.contextmanager
def writes_once(db):
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

