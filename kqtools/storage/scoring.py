"""Database glue for the resource-utilization evaluation: load a year's inputs, store and read runs.

The arithmetic lives in :mod:`kqtools.scoring`; this module only moves data. A run reads
its inputs with one query, scores them in memory, and writes every result (one
``executemany`` per row shape, :func:`insert_results`) inside one write transaction: a failed
run leaves nothing behind. The raw inputs are not copied into the results: the version history
of migration 0006 keeps them (:func:`inputs_as_of`).
"""
from __future__ import annotations

import datetime as dt
import gc
import json
import sqlite3
from itertools import compress, count, islice, repeat

from .. import scoring as S
from . import write_transaction
from ..errors import KqtoolsError

#: Columns a run writes per firm. The raw inputs (metrics fields, incident, size class, batches of
#: the metrics and enterprises rows) are no longer copied (migration 0006): the run records
#: ``inputs_as_of`` and :func:`explain` reads them back from the version history.
RESULT_COLUMNS = ("run_id", "pos", "uscc", "group_id", "rank", "base_score", "bonus_points",
                  "score", "grade_by_rank", "grade", "bonus_reason", "veto_reason", "not_graded_reason",
                  "designation_batch_ids")


class ScoringError(KqtoolsError):
    """A one-line reason why scoring or a lookup cannot be done (no metrics, unknown run...)."""


def load_method(rules_name: str | None = None):
    """(Rules, Method) for a preset name or rule file; raises :class:`kqtools.rules.RulesError`."""
    from ..rules import load_rules

    rules = load_rules("scoring", rules_name)
    return rules, method_from_rules(rules)


def method_from_rules(rules):
    from ..rules import RulesError

    try:
        return S.compile_rules(rules.data)
    except S.ScoringRulesError as exc:
        raise RulesError(f"{rules.name}: {exc}") from None


def load_inputs(db, year: int, method=None) -> list[tuple]:
    """The year's firm rows in :data:`kqtools.scoring.FIRM_FIELDS` order: one query. Fields the
    rules never read are loaded as NULL (less memory for a million rows); name and district are
    read from enterprises when results are shown."""
    return db.conn.execute(_load_sql(method), (year,)).fetchall()


def _load_sql(method) -> str:
    used = {"land_mu"}
    if method is None:
        used.update(S.METRIC_FIELDS)
    else:
        for g in method.groups:
            used.update(g.inputs)
    metric_cols = ", ".join(f"m.{f}" if f in used else "NULL" for f in S.METRIC_FIELDS)
    industry = "e.industry_code" if method is None or method.industry_codes else "NULL"
    founded = "e.founded_on" if method is None or method.min_years_since_founding else "NULL"
    return (f"SELECT m.uscc, NULL, NULL, {industry}, e.size_class, {founded}, m.incident, {metric_cols} "
            "FROM metrics m LEFT JOIN enterprises e ON e.uscc = m.uscc WHERE m.year = ?")


#: Tables whose highest id a run records (``scoring_runs.inputs_as_of``) to find its inputs again.
_MARKS = ("metrics_versions", "enterprise_versions", "batches")


def load_inputs_as_of(db, year: int, method=None) -> tuple[list[tuple], dict]:
    """(:func:`load_inputs`, marks): the rows and the highest id of each history table, read in
    one read transaction, so the marks say exactly which versions the rows were."""
    conn = db.conn
    conn.execute("BEGIN")
    try:
        marks = {t: conn.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0] for t in _MARKS}
        rows = load_inputs(db, year, method)
    finally:
        conn.execute("COMMIT")
    return rows, marks


def load_designations(db, method, year: int) -> list[dict]:
    first, last = S.bonus_window(year, method.bonus_window_years)
    cur = db.conn.execute(
        "SELECT uscc, kind, level, recognized_on, certificate_no, batch_id FROM designations "
        "WHERE kind = ? AND recognized_on BETWEEN ? AND ?", (method.bonus_kind, first, last))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur]


def blacklist_for(db, method) -> tuple[set[str], list[str]]:
    """(codes to veto, notes). Uses kqtools.storage.lists when it is installed; else vetoes nobody."""
    if not method.veto_blacklist:
        return set(), ["blacklist veto off in the rules"]
    try:
        from .lists import latest_blacklist
    except ImportError:
        return set(), ["blacklist veto on, but credit lists are not available: nobody vetoed"]
    try:
        codes = set(latest_blacklist(db))
    except sqlite3.OperationalError as exc:
        return set(), [f"blacklist veto on, but the credit lists cannot be read ({exc}): nobody vetoed"]
    version = None
    try:
        from .lists import latest_version

        version = latest_version(db)
    except (ImportError, sqlite3.OperationalError):
        pass
    if isinstance(version, dict):
        version = version.get("version", version.get("id"))
    if not codes:
        if version is None:
            return codes, ["blacklist veto on, but no credit list has been built yet (kq lists build): nobody vetoed"]
        return codes, [f"blacklist veto on: credit list version {version} blacklists nobody"]
    where = f"credit list version {version}" if version is not None else "the latest credit list"
    return codes, [f"blacklist veto on: {len(codes)} firms on the blacklist of {where}"]


def run_scoring(db, year: int, rules_name: str | None = None) -> dict:
    """Score every firm with metrics for ``year``, store the run, return its summary.

    Summary keys: run, year, rules, rules_sha256, created_at, firms, counts (grade -> firms),
    the same counts as top-level keys A, B, C, D, T (or the rule file's grades), groups
    (group -> grade -> firms), skipped, notes. Raises :class:`kqtools.rules.RulesError` for
    an unusable rule file and :class:`ScoringError` when there are no metrics for the year.
    """
    rules, method = load_method(rules_name)
    conn = db.conn
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a million small tuples: the cyclic collector would rescan them again and again
    try:
        rows, as_of = load_inputs_as_of(db, year, method)
        if not rows:
            raise ScoringError(f"no metrics for {year}: import them first (kq import metrics FILE)")
        designations = load_designations(db, method, year)
        blacklist, notes = blacklist_for(db, method)
        result = S.score_firms(rows, designations, method, year, blacklist=blacklist, detail=False)
        del rows
        if result.skipped:
            notes.append(f"{result.skipped} firms with metrics fit no group and were left out (unmatched = skip)")
        created = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        benchmarks = {g: [m.as_dict() for m in marks] for g, marks in result.benchmarks.items()}
        with write_transaction(db):
            run_id = conn.execute(
                "INSERT INTO scoring_runs (year, rules_name, rules_text, rules_sha256, created_at, firms, counts, "
                "group_counts, benchmarks, skipped, notes, inputs_as_of) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (year, rules.name, rules.text, rules.sha256, created, len(result), json.dumps(result.counts),
                 json.dumps(result.group_counts), json.dumps(benchmarks), result.skipped,
                 json.dumps(notes, ensure_ascii=False), json.dumps(as_of))).lastrowid
            insert_results(conn, run_id, result)
    finally:
        if gc_was_enabled:
            gc.enable()
    summary = {"run": run_id, "year": year, "rules": rules.name, "rules_sha256": rules.sha256,
               "created_at": created, "firms": len(result), "counts": dict(result.counts)}
    summary.update(result.counts)
    summary.update({"groups": result.group_counts, "skipped": result.skipped, "notes": notes})
    return summary


#: The columns every graded result has (the rest are NULL for most firms), and those of a class T result.
_GRADED_COLUMNS = RESULT_COLUMNS[:10]
_CLASS_T_COLUMNS = ("run_id", "pos", "uscc", "group_id", "grade", "not_graded_reason")


def insert_results(conn, run_id: int, result: S.Scoring) -> None:
    """Write every result row of the run: three ``executemany`` by row shape, so that no NULL is
    bound from Python. (sqlite3 sends a ``None`` parameter through its adapter lookup, about
    0.6 µs each, against ~0.1 µs for a number or a string; most rows have 4 NULL columns.)

    Graded firms without a bonus, veto or designation batch bind the 10 columns they have;
    graded firms with one bind all 14; class T firms bind the 6 theirs have. Leaving a column
    out of the INSERT stores NULL, exactly as binding None did.
    """
    t = result.table
    n = len(t["uscc"])
    n_t = result.counts.get(S.NOT_GRADED, 0)
    batches = [",".join(map(str, b)) if b else None for b in t["bonus_batches"]]
    graded = n - n_t                      # class T rows come last (pos graded+1 .. n)
    special = bytearray(graded)           # 1 = a graded row with a bonus, veto or batch column set
    for col in (t["bonus_reason"], t["veto_reason"], batches):
        for p in compress(range(graded), col):   # reasons and batch lists are non-empty strings or None
            special[p] = 1
    plain = special.translate(_FLIP)

    def rows(cols, upto):
        return zip(repeat(run_id), count(1), *(islice(c, upto) for c in cols))

    def sql(cols):
        return f"INSERT INTO scoring_results ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"

    graded_cols = [t[c] for c in ("uscc", "group", "rank", "base_score", "bonus_points", "score", "grade_by_rank",
                                  "grade")]
    conn.executemany(sql(_GRADED_COLUMNS), compress(rows(graded_cols, graded), plain))
    conn.executemany(sql(RESULT_COLUMNS), compress(rows(
        graded_cols + [t["bonus_reason"], t["veto_reason"], t["not_graded_reason"], batches], graded), special))
    if n_t:
        conn.executemany(sql(_CLASS_T_COLUMNS), zip(
            repeat(run_id), count(graded + 1), *(islice(t[c], graded, None) for c in ("uscc", "group", "grade",
                                                                                       "not_graded_reason"))))


_FLIP = bytes.maketrans(b"\x00\x01", b"\x01\x00")


# ---------------------------------------------------------------- reading runs
_RUN_COLUMNS = ("id", "year", "rules_name", "rules_sha256", "created_at", "firms", "counts", "group_counts",
                "benchmarks", "skipped", "notes", "inputs_as_of")


def _run_dict(row) -> dict:
    d = dict(zip(_RUN_COLUMNS, row))
    for k in ("counts", "group_counts", "benchmarks", "notes"):
        d[k] = json.loads(d[k])
    if d["inputs_as_of"] is not None:
        d["inputs_as_of"] = json.loads(d["inputs_as_of"])
    return d


def get_run(db, run_id: int | None = None, year: int | None = None) -> dict:
    """A run by id, else the latest run of ``year``, else the latest run; :class:`ScoringError` if none."""
    sql = f"SELECT {', '.join(_RUN_COLUMNS)} FROM scoring_runs"
    if run_id is not None:
        row = db.conn.execute(sql + " WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise ScoringError(f"no scoring run {run_id} (kq score runs lists them)")
    elif year is not None:
        row = db.conn.execute(sql + " WHERE year = ? ORDER BY id DESC LIMIT 1", (year,)).fetchone()
        if row is None:
            raise ScoringError(f"no scoring run for {year} yet (kq score run --year {year})")
    else:
        row = db.conn.execute(sql + " ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            raise ScoringError("no scoring run yet (kq score run --year YEAR)")
    return _run_dict(row)


def list_runs(db) -> list[dict]:
    return [_run_dict(r) for r in db.conn.execute(f"SELECT {', '.join(_RUN_COLUMNS)} FROM scoring_runs ORDER BY id")]


SHOW_COLUMNS = ("rank", "uscc", "name", "district", "group_id", "base_score", "bonus_points", "score",
                "grade_by_rank", "grade", "bonus_reason", "veto_reason", "not_graded_reason")
_SHOW_SELECT = ", ".join(f"e.{c}" if c in ("name", "district") else f"r.{c}" for c in SHOW_COLUMNS)


def results(db, run_id: int, *, district: str | None = None, grade: str | None = None,
            top: int | None = None):
    """The run's results in display order, as dicts (``group_id`` shown as ``group``); name and
    district as the enterprises table has them now."""
    where, params = ["r.run_id = ?"], [run_id]
    if district is not None:
        where.append("e.district = ?")
        params.append(district)
    if grade is not None:
        where.append("r.grade = ?")
        params.append(grade)
    if top is not None:
        where.append("r.rank <= ?")
        params.append(top)
    cur = db.conn.execute(f"SELECT {_SHOW_SELECT} FROM scoring_results r LEFT JOIN enterprises e ON e.uscc = r.uscc "
                          f"WHERE {' AND '.join(where)} ORDER BY r.pos", params)
    for row in cur:
        d = dict(zip(SHOW_COLUMNS, row))
        d["group"] = d.pop("group_id")
        yield d


def result_for(db, run_id: int, uscc: str) -> dict | None:
    cur = db.conn.execute("SELECT r.*, e.name, e.district FROM scoring_results r "
                          "LEFT JOIN enterprises e ON e.uscc = r.uscc WHERE r.run_id = ? AND r.uscc = ?", (run_id, uscc))
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row))


def explain(db, uscc: str, *, year: int | None = None, run_id: int | None = None) -> dict:
    """Everything behind one firm's grade in a run (the latest of ``year`` by default).

    ``{"run": {...}, "result": {...stored row...}, "group_size": n, "indicators": [per-indicator rows],
    "batches": [{"id", "kind", "source", "started_at", "what"}]}``
    """
    from ..rules import Rules

    run = get_run(db, run_id, year)
    res = result_for(db, run["id"], uscc)
    if res is None:
        raise ScoringError(f"{uscc}: not in scoring run {run['id']} ({run['year']}): no metrics for that year"
                           " or not a known code")
    if run["inputs_as_of"] is not None:  # a run since migration 0006: inputs from the version history
        res.update(inputs_as_of(db, uscc, run["year"], run["inputs_as_of"]))
    text = db.conn.execute("SELECT rules_text FROM scoring_runs WHERE id = ?", (run["id"],)).fetchone()[0]
    fmt_json = text.lstrip().startswith("{")
    from ..rules import parse

    data = parse(text, "json" if fmt_json else "toml", run["rules_name"])
    method = method_from_rules(Rules("scoring", run["rules_name"], text, data, run["rules_sha256"]))
    indicators = []
    group_size = None
    group = next((g for g in method.groups if g.id == res["group_id"]), None)
    if group is not None and res["grade"] != S.NOT_GRADED:
        marks = [S.GroupBenchmark(**m) for m in run["benchmarks"][group.id]]
        row = tuple(res.get(f) for f in S.FIRM_FIELDS)
        indicators = S.explain_indicators(group, row, marks)
        group_size = sum(run["group_counts"].get(group.id, {}).values())
    wanted = [(res["metrics_batch_id"], "metrics"), (res["enterprise_batch_id"], "enterprise")]
    for b in (res["designation_batch_ids"] or "").split(","):
        if b:
            wanted.append((int(b), "designation (bonus)"))
    batches = []
    for batch_id, what in wanted:
        if batch_id is None:
            continue
        b = db.conn.execute("SELECT id, kind, source, sha256, started_at FROM batches WHERE id = ?",
                            (batch_id,)).fetchone()
        batches.append({"id": batch_id, "what": what, "kind": b[1] if b else None,
                        "source": b[2] if b else "(batch no longer in the database)",
                        "sha256": b[3] if b else None, "started_at": b[4] if b else None})
    return {"run": run, "result": res, "group_size": group_size, "indicators": indicators, "batches": batches}


_METRIC_INPUTS = (*S.METRIC_FIELDS, "incident", "batch_id")
_ENTERPRISE_INPUTS = ("size_class", "industry_code", "founded_on", "batch_id")


def inputs_as_of(db, uscc: str, year: int, marks: dict) -> dict:
    """A firm's scoring inputs as a run read them, from the version history (migration 0006):
    the metrics fields, incident, size_class, industry_code, founded_on, metrics_batch_id and
    enterprise_batch_id. A row's values at the run are those of the first version saved after the
    run's mark (the change that replaced them), else the current row. A current row written by a
    batch after the run with no version saved was inserted after the run: it did not exist then."""
    conn = db.conn
    out = {}
    for table, versions, key, fields, batch_key in (
            ("metrics", "metrics_versions", ("uscc", "year"), _METRIC_INPUTS, "metrics_batch_id"),
            ("enterprises", "enterprise_versions", ("uscc",), _ENTERPRISE_INPUTS, "enterprise_batch_id")):
        where = " AND ".join(f"{k} = ?" for k in key)
        params = (uscc, year)[:len(key)]
        cols = ", ".join(fields)
        row = conn.execute(f"SELECT {cols} FROM {versions} WHERE {where} AND id > ? ORDER BY id LIMIT 1",
                           (*params, marks.get(versions, 0))).fetchone()
        if row is None:
            row = conn.execute(f"SELECT {cols} FROM {table} WHERE {where}", params).fetchone()
            if row is not None and row[-1] is not None and row[-1] > marks.get("batches", 0):
                row = None
        values = dict(zip(fields, row)) if row is not None else dict.fromkeys(fields)
        values[batch_key] = values.pop("batch_id")
        out.update(values)
    return out


DIFF_COLUMNS = ("uscc", "name", "group_a", "group_b", "rank_a", "rank_b", "score_a", "score_b", "grade_a",
                "grade_b", "change")


def diff(db, run_a: int, run_b: int):
    """Firms whose grade, group or rank differ between two runs (or that are in one run only), by uscc.

    Both runs are read into memory once (results have no index by uscc: it would slow every run down).
    """
    get_run(db, run_a)
    get_run(db, run_b)

    def load(run_id):
        return {r[0]: r[1:] for r in db.conn.execute(
            "SELECT uscc, group_id, rank, score, grade FROM scoring_results WHERE run_id = ?", (run_id,))}

    a, b = load(run_a), load(run_b)
    name_of = db.conn.cursor()
    for uscc in sorted(a.keys() | b.keys()):
        x, y = a.get(uscc), b.get(uscc)
        if x is not None and y is not None and (x[0], x[1], x[3]) == (y[0], y[1], y[3]):
            continue
        x, y = x or (None,) * 4, y or (None,) * 4
        name = name_of.execute("SELECT name FROM enterprises WHERE uscc = ?", (uscc,)).fetchone()
        d = {"uscc": uscc, "name": name[0] if name else None, "group_a": x[0], "group_b": y[0], "rank_a": x[1],
             "rank_b": y[1], "score_a": x[2], "score_b": y[2], "grade_a": x[3], "grade_b": y[3]}
        d["change"] = _change(d)
        yield d


def _change(d: dict) -> str:
    if d["grade_a"] is None:
        return "only in B"
    if d["grade_b"] is None:
        return "only in A"
    parts = []
    if d["grade_a"] != d["grade_b"]:
        parts.append(f"grade {d['grade_a']} -> {d['grade_b']}")
    if d["group_a"] != d["group_b"]:
        parts.append(f"group {d['group_a']} -> {d['group_b']}")
    if d["rank_a"] != d["rank_b"]:
        parts.append(f"rank {d['rank_a']} -> {d['rank_b']}")
    return "; ".join(parts)
