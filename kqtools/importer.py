"""The import pipeline: raw rows -> canonical records -> validated -> staged -> merged.

Like beancount's loader, bad rows are *data*: every problem becomes a
:class:`Reject` (line, column, field, value, reason), all of them are reported
together, and valid rows are never held back by invalid ones (unless ``strict``).

Nothing reaches the real tables until the final merge, which runs in one
``BEGIN IMMEDIATE`` transaction: a killed import leaves the database as it was.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Callable, Iterable

from . import fields as F
from .kinds import COMPLETE, Kind, get_kind, header_key
from .readers import Source, SourceError, header_text, is_blank

CHUNK = 20_000
HEADER_SCAN_ROWS = 10


@dataclass(frozen=True)
class Reject:
    line: int
    field: str | None
    value: str | None
    reason: str
    column: str | None = None

    def as_dict(self):
        return {"line": self.line, "column": self.column, "field": self.field, "value": self.value,
                "reason": self.reason}


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
    rejects: list[Reject] = field(default_factory=list)

    def summary(self) -> dict:
        return {"kind": self.kind, "source": self.source, "format": self.format, "encoding": self.encoding,
                "sheet": self.sheet, "read": self.read, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected, "batch": self.batch,
                "written": self.written, "unknown_columns": self.unknown_columns,
                "new_enterprises": self.new_enterprises, "sha256": self.sha256}


# ------------------------------------------------------------------ header planning (pure)
@dataclass
class Plan:
    """Which column feeds which field; columns no schema knows go to ``extra``."""
    fields: list[tuple[str, int]]
    unknown: list[tuple[int, str]]
    header: list[str]

    def present(self) -> list[str]:
        return [f for f, _ in self.fields]


def plan_header(kind: Kind, header: list, mapping: dict[str, str] | None = None) -> tuple[Plan, int, dict]:
    """Map header cells to fields; returns the plan and how many cells matched a field."""
    extra_map = {header_key(k): v for k, v in (mapping or {}).items()}
    names = [header_text(h) for h in header]
    by_field: dict[str, list[int]] = {}
    unknown = []
    for idx, name in enumerate(names):
        if not name.strip():
            continue
        key = header_key(name)
        target = extra_map.get(key) or kind.headers.get(key)
        if target is None and key in kind.fields:
            target = key
        if target is None:
            unknown.append((idx, name.strip()))
        else:
            by_field.setdefault(target, []).append(idx)
    return Plan([(f, ix[0]) for f, ix in by_field.items()], unknown, names), sum(map(len, by_field.values())), by_field


def check_plan(kind: Kind, plan: Plan, by_field: dict, source: str, line: int) -> None:
    """A column matched twice, or a required column missing, makes the file unusable."""
    for f, idxs in by_field.items():
        if len(idxs) > 1:
            cols = ", ".join(f"{_col(i)} ({plan.header[i].strip()})" for i in idxs)
            raise SourceError(f"{source}: line {line}: columns {cols} all map to field '{f}'; "
                              f"rename one or choose with --map 'HEADER={f}'")
    for f in kind.schema.get("required", []):
        if f not in by_field:
            aliases = kind.schema["properties"][f].get("x-aliases", [])[:4]
            raise SourceError(f"{source}: line {line}: no column for required field '{f}' "
                              f"(looked for {f}{', ' if aliases else ''}{', '.join(aliases)}; add one with --map 'HEADER={f}')")


def _col(idx: int) -> str:
    """Excel-style column letter for a 0-based index (A, B, ..., AA)."""
    s, n = "", idx + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def normalize_row(kind: Kind, plan: Plan, cells: list, line: int) -> tuple[dict | None, list[Reject]]:
    """One raw row -> (canonical record, []) or (None, rejects). Pure."""
    rec: dict = {}
    errors: list[Reject] | None = None
    n = len(cells)
    for fname, idx in plan.fields:
        raw = cells[idx] if idx < n else None
        if raw is None or raw == "" or (raw.__class__ is str and raw.strip() in F.EMPTY):
            rec[fname] = None
            continue
        try:
            rec[fname] = kind.fields[fname](raw)
        except ValueError as exc:
            if errors is None:
                errors = []
            errors.append(Reject(line, fname, F.to_text(raw)[:200], str(exc), plan.header[idx].strip() or _col(idx)))
    if errors:
        return None, errors
    if plan.unknown:
        extra = {name: F.to_text(cells[i]) for i, name in plan.unknown if i < n and not F.is_empty(cells[i])}
        rec["extra"] = json.dumps(extra, ensure_ascii=False) if extra else None
    # values given as objects set several fields (专精特新"小巨人" -> kind zjtx, level national)
    for fname in kind.multi_value_fields:
        value = rec.get(fname)
        if isinstance(value, dict):
            for k, v in value.items():
                if k == fname or not rec.get(k):
                    rec[k] = v
    complete = COMPLETE.get(kind.name)
    if complete:
        complete(rec, kind.schema)
    try:
        kind.validate({k: v for k, v in rec.items() if v is not None})
    except Exception as exc:  # fastjsonschema.JsonSchemaValueException
        return None, [_schema_reject(exc, rec, line, plan)]
    return rec, []


def _schema_reject(exc, rec, line, plan) -> Reject:
    path = getattr(exc, "name", "") or ""
    fname = path.split(".", 1)[1] if path.startswith("data.") else None
    message = getattr(exc, "message", str(exc))
    rule = getattr(exc, "rule", "")
    value = rec.get(fname) if fname else None
    if rule == "required" or "must contain" in message:
        missing = message.split("[", 1)[-1].rstrip("] properties").replace("'", "")
        return Reject(line, missing.split(",")[0].strip() or None, None, f"required value missing: {missing}")
    if rule == "maxLength":
        return Reject(line, fname, F.to_text(value)[:80] + "…", f"longer than {exc.rule_definition} characters")
    if rule == "minLength" and fname == "level":
        return Reject(line, fname, "", "level is required for 专精特新 (zjtx): national, provincial, city or district")
    column = next((plan.header[i].strip() for f, i in plan.fields if f == fname), None)
    reason = message.replace("data." + (fname or ""), fname or "row", 1) if fname else message
    return Reject(line, fname, None if value is None else F.to_text(value)[:200], reason, column)


# ------------------------------------------------------------------ records from a source
def records(source: Source, kind: Kind, mapping: dict | None = None,
            reject: Callable[[Reject], None] = lambda r: None) -> Iterable[tuple[int, dict]]:
    """Valid canonical records of a source (``(line, record)``); invalid rows go to ``reject``.

    ``source.read`` counts the data rows seen (blank rows are skipped and not counted).
    """
    rows = iter(source.rows)
    source.read = 0  # type: ignore[attr-defined]
    first = next(rows, None)
    if first is None:
        raise SourceError(f"{source.name}: empty file")
    if isinstance(first[1], dict):
        yield from _dict_records(source, kind, mapping, reject, first, rows)
        return
    # tabular: the header is the first row (within the first few) that names at least two fields
    scanned, chosen = [], None
    row = first
    while row is not None and len(scanned) < HEADER_SCAN_ROWS:
        line, cells = row
        if not is_blank(cells):
            plan, matched, by_field = plan_header(kind, cells, mapping)
            scanned.append((line, cells, plan, by_field))
            if matched >= min(2, len(kind.schema.get("required", [1]))):
                chosen = scanned[-1]
                break
        row = next(rows, None)
    if chosen is None:
        if not scanned:
            raise SourceError(f"{source.name}: no header row, only blank lines")
        chosen = scanned[0]
    header_line, header, plan, by_field = chosen
    check_plan(kind, plan, by_field, source.name, header_line)
    source.header_line, source.header = header_line, [h for h in plan.header]
    source.unknown_columns = [name for _, name in plan.unknown]  # type: ignore[attr-defined]
    width = len(header)
    while len(header) and not header_text(header[width - 1]).strip():
        width -= 1
    read = 0
    for line, cells in rows:
        if is_blank(cells):
            continue
        read += 1
        if len(cells) > width and not is_blank(cells[width:]):
            reject(Reject(line, None, F.to_text(cells[width])[:80], f"row has {len(cells)} cells but the header has {width}: "
                                                                        "a stray delimiter or a shifted row"))
            continue
        rec, errors = normalize_row(kind, plan, cells, line)
        if errors:
            for e in errors:
                reject(e)
            continue
        yield line, rec
    source.read = read  # type: ignore[attr-defined]


def _dict_records(source, kind, mapping, reject, first, rows):
    plans: dict[tuple, Plan] = {}
    unknown: dict[str, None] = {}
    read = 0
    for line, obj in _chain(first, rows):
        keys = tuple(obj)
        plan = plans.get(keys)
        if plan is None:
            plan, _, by_field = plan_header(kind, list(keys), mapping)
            for f, idxs in by_field.items():
                if len(idxs) > 1:
                    raise SourceError(f"{source.name}: line {line}: keys {', '.join(keys[i] for i in idxs)} all map to field '{f}'")
            plans[keys] = plan
            unknown.update((name, None) for _, name in plan.unknown)
        read += 1
        rec, errors = normalize_row(kind, plan, [_json_cell(v) for v in obj.values()], line)
        if errors:
            for e in errors:
                reject(e)
            continue
        yield line, rec
    source.read = read  # type: ignore[attr-defined]
    source.unknown_columns = list(unknown)  # type: ignore[attr-defined]
    source.header = []


def _chain(first, rows):
    yield first
    yield from rows


def _json_cell(v):
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False)
    return v


# ------------------------------------------------------------------ staging and merging
def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def run_import(db, source: Source, kind_name: str, *, strict: bool = False, mapping: dict | None = None,
               progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import one source into the database; see the module docstring for the guarantees."""
    kind = get_kind(kind_name)
    conn = db.conn
    from .kinds import allow_codes

    allow_codes(r[0] for r in conn.execute("SELECT uscc FROM uscc_allowlist"))
    result = ImportResult(kind=kind_name, source=source.name, format=source.format, encoding=source.encoding,
                          sheet=source.sheet)
    started = _now()
    conn.execute("DROP TABLE IF EXISTS temp.kq_rejects")
    conn.execute("CREATE TEMP TABLE kq_rejects (line INTEGER, field TEXT, value TEXT, reason TEXT, column_name TEXT)")
    pending_rejects: list[tuple] = []

    def reject(r: Reject):
        pending_rejects.append((r.line, r.field, r.value, r.reason, r.column))
        if len(pending_rejects) >= CHUNK:
            flush_rejects()

    def flush_rejects():
        conn.executemany("INSERT INTO temp.kq_rejects VALUES (?,?,?,?,?)", pending_rejects)
        pending_rejects.clear()

    stage_cols: list[str] | None = None
    conn.execute("DROP TABLE IF EXISTS temp.kq_stage")
    batch_rows: list[tuple] = []
    staged = 0
    it = records(source, kind, mapping, reject)
    for line, rec in it:
        if stage_cols is None:
            present = [c for c in kind.columns() if c in rec]
            stage_cols = present
            conn.execute(f"CREATE TEMP TABLE kq_stage (_line INTEGER, {', '.join(_q(c) for c in stage_cols)})")
            insert_sql = (f"INSERT INTO temp.kq_stage VALUES ({', '.join('?' * (len(stage_cols) + 1))})")
        batch_rows.append((line, *[_store(rec.get(c)) for c in stage_cols]))
        if len(batch_rows) >= CHUNK:
            conn.executemany(insert_sql, batch_rows)
            staged += len(batch_rows)
            batch_rows.clear()
            if progress:
                progress(staged)
    if batch_rows:
        conn.executemany(insert_sql, batch_rows)
        staged += len(batch_rows)
    if progress:
        progress(staged)
    result.read = getattr(source, "read", 0)
    result.unknown_columns = list(getattr(source, "unknown_columns", []))
    result.sha256 = source.sha256

    if stage_cols is not None:
        _reject_duplicates(conn, kind, reject)
    flush_rejects()
    result.rejected = conn.execute("SELECT count(DISTINCT line) FROM temp.kq_rejects").fetchone()[0]
    result.rejects = [Reject(l, f, v, r, c) for l, f, v, r, c in conn.execute(
        "SELECT line, field, value, reason, column_name FROM temp.kq_rejects ORDER BY line, rowid")]
    if strict and result.rejected:
        conn.execute("DROP TABLE IF EXISTS temp.kq_stage")
        return result

    from .storage import write_transaction

    with write_transaction(db):
        cur = conn.execute(
            "INSERT INTO batches (kind, source, sha256, format, encoding, sheet, read, inserted, updated, unchanged,"
            " rejected, unknown_columns, started_at, finished_at) VALUES (?,?,?,?,?,?,?,0,0,0,?,?,?,?)",
            (kind_name, source.name, result.sha256, source.format, source.encoding, source.sheet, result.read,
             result.rejected, json.dumps(result.unknown_columns, ensure_ascii=False), started, started))
        batch_id = cur.lastrowid
        if stage_cols is not None:
            result.inserted, result.updated, result.unchanged = _merge(conn, kind, stage_cols, batch_id)
            if kind_name in ("designations", "metrics") and "name" in stage_cols:
                before = conn.total_changes
                conn.execute("INSERT OR IGNORE INTO enterprises (uscc, name, batch_id) "
                             "SELECT uscc, name, ? FROM temp.kq_stage WHERE name IS NOT NULL AND name != '' "
                             "GROUP BY uscc", (batch_id,))
                result.new_enterprises = conn.total_changes - before
        conn.execute("INSERT INTO rejects (batch_id, line, field, value, reason) "
                     "SELECT ?, line, field, value, reason FROM temp.kq_rejects", (batch_id,))
        conn.execute("UPDATE batches SET inserted=?, updated=?, unchanged=?, finished_at=? WHERE id=?",
                     (result.inserted, result.updated, result.unchanged, _now(), batch_id))
    result.batch, result.written = batch_id, True
    conn.execute("DROP TABLE IF EXISTS temp.kq_stage")
    conn.execute("DROP TABLE IF EXISTS temp.kq_rejects")
    return result


def _store(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _reject_duplicates(conn, kind: Kind, reject) -> None:
    keys = ", ".join(_q(k) for k in kind.key)
    on = " AND ".join(f"s.{_q(k)} IS d.{_q(k)}" for k in kind.key)
    dups = conn.execute(
        f"SELECT s._line, d.first FROM temp.kq_stage s JOIN (SELECT {keys}, min(_line) AS first FROM temp.kq_stage "
        f"GROUP BY {keys} HAVING count(*) > 1) d ON {on} WHERE s._line > d.first").fetchall()
    if not dups:
        return
    conn.executemany("DELETE FROM temp.kq_stage WHERE _line = ?", [(l,) for l, _ in dups])
    label = "+".join(kind.key)
    for line, first in dups:
        reject(Reject(line, label, None, f"duplicate {label}: the same record is on line {first}"))


def _merge(conn, kind: Kind, cols: list[str], batch_id: int) -> tuple[int, int, int]:
    """Upsert the staged rows; returns (inserted, updated, unchanged)."""
    table = _q(kind.table)
    staged = conn.execute("SELECT count(*) FROM temp.kq_stage").fetchone()[0]
    before_rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    data_cols = [c for c in cols if c not in kind.key]
    col_list = ", ".join(_q(c) for c in cols)
    sql = f"INSERT INTO {table} ({col_list}, batch_id) SELECT {col_list}, ? FROM temp.kq_stage WHERE true"
    if data_cols:
        sets = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in data_cols)
        changed = " OR ".join(f"{table}.{_q(c)} IS NOT excluded.{_q(c)}" for c in data_cols)
        sql += f" ON CONFLICT ({', '.join(_q(k) for k in kind.key)}) DO UPDATE SET {sets}, batch_id = excluded.batch_id WHERE {changed}"
    else:
        sql += " ON CONFLICT DO NOTHING"
    before = conn.total_changes
    conn.execute(sql, (batch_id,))
    changes = conn.total_changes - before
    inserted = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] - before_rows
    return inserted, changes - inserted, staged - changes


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")
