"""SQL writing: staged rows upserted chunk by chunk inside one transaction; counts; rejects kept.

Valid rows are written inside one ``BEGIN IMMEDIATE`` transaction that commits only at the end: a
killed import, an unusable source or ``--strict`` with rejects leaves the database exactly as it was.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import groupby, islice
from typing import Callable

from ..clock import now_iso, today
from ..kinds import Kind, get_kind
from ..readers import Source
from .checks import visit_guard
from .plan import Reject, resolve_constants, resolve_mapping
from .records import records

CHUNK = 5_000
CACHE_KIB = 32 * 1024        # page cache of the database during an import


@dataclass
class ImportResult:
    kind: str
    source: str
    format: str
    encoding: str | None = None
    sheet: str | None = None
    sha256: str = ""
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    batch: int | None = None
    written: bool = False
    unknown_columns: list[str] = field(default_factory=list)
    new_enterprises: int = 0
    short_rows: int = 0             # rows missing empty cells at their end (as Excel writes them): left as they were
    formula_like: int = 0           # text cells beginning with = + - @, stored as text
    apostrophes_removed: int = 0    # kq's CSV neutralization (a leading ') taken off again
    merged_cells_filled: int = 0    # XLSX: cells below a vertically merged cell given its value
    skipped: int = 0                # footer rows (合计, 填表人, 盖章 …, rows without a key after the data)
    converted: list[str] = field(default_factory=list)   # units converted: column, unit -> unit, factor
    set: dict = field(default_factory=dict)              # --set FIELD=VALUE, and a year from the title/file name
    rekeyed: int = 0                # records found under another key of the same kind and updated (see docs)
    rejects: list[Reject] = field(default_factory=list)
    header: list[str] = field(default_factory=list)         # the source's header as read (joined when two rows)
    rejected_cells: dict = field(default_factory=dict)      # line -> the cells (or JSON object) of a rejected row

    NOTES = ("short_rows", "formula_like", "apostrophes_removed", "merged_cells_filled")

    @property
    def needs_attention(self) -> bool:
        """Rows were rejected (or, with --strict, nothing was written because of them)."""
        return self.rejected > 0

    def summary(self) -> dict:
        return {"kind": self.kind, "source": self.source, "format": self.format, "encoding": self.encoding,
                "sheet": self.sheet, "read": self.read, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected, "batch": self.batch,
                "written": self.written, "unknown_columns": self.unknown_columns,
                "new_enterprises": self.new_enterprises, "short_rows": self.short_rows,
                "formula_like": self.formula_like, "apostrophes_removed": self.apostrophes_removed,
                "merged_cells_filled": self.merged_cells_filled, "skipped": self.skipped,
                "converted": self.converted, "set": self.set, "rekeyed": self.rekeyed, "sha256": self.sha256}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _open_batch(conn, kind, source, started: str) -> tuple[int, int, int]:
    """Begin the import's one write transaction and record its batch: (batch id, the highest rowid
    of the kind's table and of ``enterprises`` before any row of this batch is written)."""
    conn.execute("BEGIN IMMEDIATE")
    batch_id = conn.execute(
        "INSERT INTO batches (kind, source, sha256, format, encoding, sheet, read, inserted, updated, unchanged,"
        " rejected, unknown_columns, started_at, finished_at) VALUES (?,?,'',?,?,?,0,0,0,0,0,'[]',?,?)",
        (kind.name, source.name, source.format, source.encoding, source.sheet, started, started)).lastrowid
    max_rowid = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {_q(kind.table)}").fetchone()[0]
    firms_rowid = conn.execute("SELECT coalesce(max(rowid), 0) FROM enterprises").fetchone()[0]
    return batch_id, max_rowid, firms_rowid


def run_import(db, source: Source, kind_name: str, *, strict: bool = False, mapping: dict | None = None,
               progress: Callable[[int], None] | None = None, constants: dict | None = None,
               header_row: int | None = None) -> ImportResult:
    """Import one source into the database; see the module docstring for the guarantees.

    Rows are read and checked in this process, a chunk at a time; valid rows are upserted chunk by
    chunk inside one ``BEGIN IMMEDIATE`` transaction (taken when the first chunk is ready), which
    commits only at the end: a killed import, an unusable source or ``--strict`` with rejects
    leaves nothing.

    Each table row records ``seen_batch``/``seen_line`` (the last import that listed it, and where)
    and ``batch_id`` (the last import that changed it). A row whose key this import has already
    written (``seen_batch`` = this batch) is not overwritten: that is how a second row with the
    same key in one file is found, without holding the file's keys in memory.
    """
    from ..kinds import allow_codes
    from ..storage import bulk

    kind = get_kind(kind_name)
    resolve_mapping(kind, mapping)  # an unknown --map target fails before anything is read
    constants = resolve_constants(kind, constants)
    conn = db.conn
    allow_codes(r[0] for r in conn.execute("SELECT uscc FROM uscc_allowlist"))
    result = ImportResult(kind=kind_name, source=source.name, format=source.format, encoding=source.encoding,
                          sheet=source.sheet)
    try:
        with bulk(db, CACHE_KIB):  # no cyclic GC over a million staged tuples; a bigger page cache
            return _run(conn, kind, source, result, strict, mapping, progress, constants, header_row)
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute("DROP TABLE IF EXISTS temp.kq_rejects")
        conn.execute("DROP TRIGGER IF EXISTS temp.kq_import_changes")


def _run(conn, kind, source, result, strict, mapping, progress, constants=None, header_row=None):
    started = now_iso()
    conn.execute("DROP TABLE IF EXISTS temp.kq_rejects")
    conn.execute("CREATE TEMP TABLE kq_rejects (line INTEGER, field TEXT, value TEXT, reason TEXT, column_name TEXT)")
    pending: list[tuple] = []

    def flush_rejects():
        if pending:
            conn.executemany("INSERT INTO temp.kq_rejects VALUES (?,?,?,?,?)", pending)
            pending.clear()

    table = _q(kind.table)
    batch_id = max_rowid = None
    statements: dict[tuple, tuple[str, list[int]]] = {}
    valid = duplicates = 0
    guard = None
    if kind.name == "visits":  # as `kq visits log`: a known specialist, not a date in the future
        ids, day = [r[0] for r in conn.execute("SELECT id FROM specialists")], today().isoformat()
        guard = lambda columns: visit_guard(ids, day, columns)  # noqa: E731
    for chunk, chunk_rejects in _chunk_source(source, kind, mapping, guard, constants, header_row):
        pending.extend((r.line, r.field, r.value, r.reason, r.column) for r in chunk_rejects)
        if batch_id is None:
            batch_id, max_rowid, firms_rowid = _open_batch(conn, kind, source, started)
            if max_rowid:
                record_changes(conn, kind.table, batch_id)
        if len(pending) >= CHUNK:
            flush_rejects()
        if not chunk:
            continue
        for columns, patch, rows in _by_shape(chunk, source):
            statement = statements.get((columns, patch))
            if statement is None:
                statement = statements[(columns, patch)] = (
                    _upsert_sql(kind, columns, batch_id, fresh=not max_rowid and not patch, patch=patch),
                    [columns.index(k) + 1 for k in kind.key])
            if max_rowid and kind.name == "credit" and "reference" in columns:
                result.rekeyed += rekey_credit(conn, columns, rows, batch_id)
            # rowcount, not total_changes: the rows written by the upsert itself, not by the undo trigger
            if conn.executemany(statement[0], rows).rowcount < len(rows):  # some keys were already written
                duplicates += _reject_duplicates(conn, kind, rows, statement[1], batch_id, pending,
                                                 getattr(source, "field_columns", {}))
        valid += len(chunk)
        if progress:
            progress(valid)
    flush_rejects()
    result.read = getattr(source, "read", 0)
    result.unknown_columns = list(getattr(source, "unknown_columns", []))
    for note in result.NOTES:
        setattr(result, note, source.stats.get(note, 0))
    result.skipped = source.stats.get("skipped", 0)
    result.converted = conversions(kind, getattr(source, "plan", None), source.stats)
    result.set = {f: str(v) for f, v in (constants or {}).items()}
    if "year_from" in source.stats:
        result.set[source.stats["year_from"].split()[0]] = source.stats["year_from"].split(" ", 1)[1]
    result.sha256 = source.sha256
    result.rejected = conn.execute("SELECT count(DISTINCT line) FROM temp.kq_rejects").fetchone()[0]
    result.rejects = [Reject(l, f, v, r, c) for l, f, v, r, c in conn.execute(
        "SELECT line, field, value, reason, column_name FROM temp.kq_rejects ORDER BY line, rowid")]
    result.header = [str(h) for h in getattr(source, "header", []) or []]
    result.rejected_cells = getattr(source, "rejected_cells", {})
    if batch_id is None:  # nothing at all came out of the source (every row rejected, or none)
        if strict and result.rejected:
            return result
        batch_id, max_rowid, firms_rowid = _open_batch(conn, kind, source, started)
    if strict and result.rejected:
        conn.execute("ROLLBACK")
        return result
    if not max_rowid:  # the table was empty: every row not rejected as a duplicate was inserted
        result.inserted, result.updated = valid - duplicates, 0
    else:
        result.inserted = conn.execute(f"SELECT count(*) FROM {table} WHERE rowid > ?", (max_rowid,)).fetchone()[0]
        result.updated = conn.execute(
            f"SELECT count(*) FROM {table} WHERE rowid <= ? AND batch_id = ?", (max_rowid, batch_id)).fetchone()[0]
    result.unchanged = valid - duplicates - result.inserted - result.updated
    if kind.name in ("designations", "metrics", "visits") and "name" in getattr(source, "merge_columns", ()):
        before = conn.total_changes
        conn.execute(f"INSERT OR IGNORE INTO enterprises (uscc, name, batch_id, seen_batch) "
                     f"SELECT uscc, name, ?, ? FROM {table} WHERE seen_batch = ? AND name IS NOT NULL AND name != '' "
                     f"GROUP BY uscc", (batch_id, batch_id, batch_id))
        result.new_enterprises = conn.total_changes - before
    conn.execute("INSERT INTO rejects (batch_id, line, field, value, reason, column_name) "
                 "SELECT ?, line, field, value, reason, column_name FROM temp.kq_rejects ORDER BY line, rowid",
                 (batch_id,))
    names = reject_names(source)
    if names:
        conn.executemany("UPDATE rejects SET name = ? WHERE batch_id = ? AND line = ?",
                         [(name, batch_id, line) for line, name in names.items()])
    ranges = {kind.table: [max_rowid, conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()[0]]}
    if kind.table != "enterprises":
        ranges["enterprises"] = [firms_rowid, conn.execute("SELECT coalesce(max(rowid), 0) FROM enterprises").fetchone()[0]]
    conn.execute("UPDATE batches SET sha256=?, read=?, inserted=?, updated=?, unchanged=?, rejected=?, "
                 "unknown_columns=?, finished_at=?, converted=?, inserted_rowids=? WHERE id=?",
                 (result.sha256, result.read, result.inserted, result.updated, result.unchanged, result.rejected,
                  json.dumps(result.unknown_columns, ensure_ascii=False), now_iso(), "; ".join(result.converted),
                  json.dumps(ranges), batch_id))
    conn.execute("COMMIT")
    result.batch, result.written = batch_id, True
    return result


def reject_names(source) -> dict[int, str]:
    """line -> the firm's name on each rejected row (from its name column), for ``kq rejects``."""
    from ..fields import to_text

    cells = getattr(source, "rejected_cells", {})
    plan = getattr(source, "plan", None)
    out = {}
    if plan is not None:
        idx = next((i for f, i in plan.fields if f == "name"), None)
        if idx is None:
            return {}
        for line, row in cells.items():
            if idx < len(row) and row[idx] not in (None, ""):
                out[line] = to_text(row[idx])[:200]
        return out
    key = getattr(source, "field_columns", {}).get("name")
    for line, row in cells.items():
        if key and isinstance(row, dict) and row.get(key) not in (None, ""):
            out[line] = to_text(row[key])[:200]
    return out


def record_changes(conn, table: str, batch_id: int) -> None:
    """A temporary trigger that keeps, in ``import_changes``, the whole row as it was before this
    batch first touched it (changed its values, or only listed it: ``seen_batch``/``seen_line``):
    what ``kq imports undo`` restores. Rows the batch inserts are known by their rowids. Only an
    import into a table that has rows pays for it."""
    cols = [r[1] for r in conn.execute(f"PRAGMA main.table_info({_q(table)})")]
    old = ", ".join(f"'{c}', quote(old.{_q(c)})" for c in cols)   # SQL literals: a REAL keeps every digit
    b = int(batch_id)
    conn.execute("DROP TRIGGER IF EXISTS temp.kq_import_changes")
    conn.execute(f"CREATE TEMP TRIGGER kq_import_changes AFTER UPDATE ON main.{_q(table)} "
                 f"WHEN old.seen_batch IS NOT {b} BEGIN "
                 f"INSERT INTO import_changes (batch_id, tbl, row_id, old_row) "
                 f"SELECT {b}, '{table}', new.rowid, json_object({old}) WHERE NOT EXISTS (SELECT 1 FROM "
                 f"import_changes WHERE batch_id = {b} AND tbl = '{table}' AND row_id = new.rowid); END")
    # (a re-keyed credit record is touched twice; the first old row is the one to keep. OR IGNORE
    # would not do: the conflict policy of the outer upsert overrides the one inside a trigger)


def rekey_credit(conn, columns, rows, batch_id: int) -> int:
    """Credit records first imported without a case number (文书号) are keyed by their start date
    (a tax rating: by its year); a file that now gives the case number would add each record a
    second time. Such a record (same uscc and source, no reference, keyed by the row's start date
    or rating year) takes the new key instead, so that the upsert updates it. Returns how many."""
    cols = list(columns)
    at = {c: cols.index(c) + 1 for c in ("uscc", "source", "reference", "record_key", "started_on", "year")
          if c in cols}
    params = []
    for row in rows:
        ref = row[at["reference"]]
        if not ref or ref != row[at["record_key"]]:
            continue
        source = row[at["source"]]
        old_key = (str(row[at["year"]]) if "year" in at and row[at["year"]] is not None else None) \
            if source == "tax_rating" else (row[at["started_on"]] if "started_on" in at else None)
        if old_key:
            params.append((ref, row[at["uscc"]], source, old_key))
    if not params:
        return 0
    return conn.executemany(f"UPDATE credit_records SET record_key = ?1, batch_id = {int(batch_id)} "
                            "WHERE uscc = ?2 AND source = ?3 AND record_key = ?4 AND coalesce(reference, '') = '' "
                            "AND NOT EXISTS (SELECT 1 FROM credit_records c WHERE c.uscc = ?2 AND c.source = ?3 "
                            "AND c.record_key = ?1)", params).rowcount


def conversions(kind: Kind, plan, stats: dict) -> list[str]:
    """What was converted to the fields' units, one line each: a column in its header's unit
    (``营业收入（元）: 元 → 万元 × 0.0001``), and cells that carried a unit of their own."""
    from ..units import factor_text

    out = []
    if plan is not None:
        for fname, unit in plan.units.items():
            canonical = kind.fields[fname].unit
            column = next((plan.column_name(i) for f, i in plan.fields if f == fname), fname)
            out.append(f"{column}: {unit.name} → {canonical} × {factor_text(unit.factor)}")
    if kind.name and stats.get("unit_cells"):
        from ..kinds import units_table

        table = units_table()
        in_header = {(plan.column_name(i), plan.units[f].name) for f, i in plan.fields if f in plan.units} if plan else set()
        for column, counts in stats["unit_cells"].items():
            for name, n in counts.items():
                unit = table.find(name)
                canonical = table.canonical[unit.dimension]
                if name == canonical or (column, name) in in_header:
                    continue  # a cell in the column's own unit: nothing new to say
                out.append(f"{column}: {n:,} cell{'' if n == 1 else 's'} in {name} → {canonical} "
                           f"× {factor_text(unit.factor)}")
    return out


def _by_shape(chunk: list[tuple], source) -> list[tuple[tuple, bool, list]]:
    """``(columns, patch, rows)`` for each run of rows of one shape, in order (so that the first of
    two rows with the same key is still written first)."""
    if not getattr(source, "shaped", False):
        return [(source.columns, False, chunk)]
    out = []
    for cls, run in groupby(chunk, key=type):
        rows = list(run)
        out.append((source.columns, False, rows) if cls is tuple else (cls.columns, cls.patch, rows))
    return out


def _upsert_sql(kind: Kind, columns, batch_id: int, fresh: bool = False, patch: bool = False) -> str:
    """INSERT of one staged tuple ``(line, *columns)``; on a key conflict, update those columns,
    unless this import already wrote the row (then it is a duplicate: left alone). Columns a row
    does not have are never touched.

    ``fresh``: the table was empty when this import took its write lock, so a conflict can only be
    a duplicate within the file, which is left alone either way: a plain ``INSERT OR IGNORE`` does
    the same, for less SQLite time than the upsert clause.
    ``patch``: the tuple ends with a JSON merge patch for ``extra`` (a row lacking some of its file's
    unknown columns): the keys of the columns it lacks stay as they are.
    """
    table = _q(kind.table)
    cols = list(columns)
    keys = ", ".join(_q(k) for k in kind.key)
    col_list = ", ".join(_q(c) for c in cols)
    params = ", ".join(f"?{i}" for i in range(2, len(cols) + 2))
    b = int(batch_id)
    insert = f"INTO {table} (seen_line, {col_list}, batch_id, seen_batch) VALUES (?1, {params}, {b}, {b})"
    if fresh:
        return "INSERT OR IGNORE " + insert
    new = {c: f"excluded.{_q(c)}" for c in cols if c not in kind.key}
    if patch:
        new["extra"] = f"nullif(json_patch(coalesce({table}.extra, '{{}}'), ?{len(cols) + 2}), '{{}}')"
    sets = [f"{_q(c)} = {v}" for c, v in new.items()]
    changed = " OR ".join(f"{table}.{_q(c)} IS NOT {v}" for c, v in new.items()) or "false"
    sets += [f"batch_id = CASE WHEN {changed} THEN {b} ELSE {table}.batch_id END",
             "seen_batch = excluded.seen_batch", "seen_line = excluded.seen_line"]
    # SET evaluates every right-hand side against the old row, so the CASE sees the old values
    return (f"INSERT {insert} ON CONFLICT ({keys}) DO UPDATE SET " + ", ".join(sets)
            + f" WHERE {table}.seen_batch IS NOT {b}")


def _chunk_source(source, kind, mapping, guard=None, constants=None, header_row=None):
    """``(rows, rejects)`` chunks of the valid staged tuples and the rejects met while reading them,
    read and checked in this process (docs/design.md, "Import", says what else was tried)."""
    pending: list[Reject] = []
    it = records(source, kind, mapping, pending.append, guard, constants, header_row)
    while True:
        chunk = list(islice(it, CHUNK))
        rejects, pending[:] = pending[:], []
        if not chunk and not rejects:
            return
        yield chunk, rejects



def _reject_duplicates(conn, kind: Kind, chunk: list[tuple], key_pos: list[int], batch_id: int,
                       pending: list, field_columns: dict | None = None) -> int:
    """Find the rows of ``chunk`` that an earlier row of this import already wrote; reject each,
    naming the line of the first. Runs only for chunks where some upsert changed nothing."""
    table = _q(kind.table)
    where = " AND ".join(f"{_q(k)} IS ?" for k in kind.key)
    label = "+".join(kind.key)
    column = "+".join(c for c in ((field_columns or {}).get(k) for k in kind.key) if c) or None
    found = 0
    for row in chunk:
        key = [row[i] for i in key_pos]
        hit = conn.execute(f"SELECT seen_line FROM {table} WHERE {where} AND seen_batch = ?", (*key, batch_id)).fetchone()
        if hit is None:  # INSERT OR IGNORE (fresh table) skipped it for a constraint the row checks missed
            found += 1
            pending.append((row[0], label, "/".join("" if k is None else str(k) for k in key),
                            "could not be stored: it breaks a constraint of the database table", column))
        elif hit[0] != row[0]:
            found += 1
            shown = "/".join("" if k is None else str(k) for k in key)
            pending.append((row[0], label, shown, f"duplicate {label}: the same record is on line {hit[0]}", column))
    return found
