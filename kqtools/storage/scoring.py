"""Database glue for the resource-utilization evaluation: load a year's inputs, store and read runs.

The arithmetic lives in :mod:`kqtools.scoring`; this module only moves data. A run reads
its inputs with one query (and the year before's with a second one when a benchmark needs
them), takes the credit blacklist as of the evaluation's date (building that list version when
none exists), scores in memory, and writes every result (one ``executemany`` per row shape,
:func:`insert_results`) inside one write transaction: a failed run leaves nothing behind. The
raw inputs are not copied into the results: the version history of migration 0006 keeps them.
:mod:`kqtools.storage.scoring_explain` reads a run back for ``kq score explain``.
"""
from __future__ import annotations

import datetime as dt
import json
from itertools import compress, count, islice, repeat

from .. import scoring as S
from ..clock import now_iso
from ..errors import KqtoolsError
from . import bulk, write_transaction
from ..i18n import _

#: Columns a run writes per firm. The raw inputs are not copied: the run records ``inputs_as_of``
#: and explain reads them back from the version history.
RESULT_COLUMNS = ("run_id", "pos", "uscc", "group_id", "rank", "base_score", "bonus_points",
                  "score", "grade_by_rank", "grade", "bonus_reason", "veto_reason", "not_graded_reason",
                  "designation_batch_ids")


class ScoringError(KqtoolsError):
    """A one-line reason why scoring or a lookup cannot be done (no metrics, unknown run...)."""


def load_method(rules_name: str | None = None):
    """(Rules, Method) for a preset name or rule file: the schema, finite numbers and
    :func:`kqtools.scoring_rules.compile_rules`, as ``kq rules check scoring`` runs them;
    raises :class:`kqtools.rules.RulesError`."""
    from ..rules import load_compiled

    return load_compiled("scoring", rules_name)


def method_from_rules(rules):
    from ..rules import compile_rules

    return compile_rules(rules)


def load_inputs(db, year: int, method=None) -> list[tuple]:
    """The year's firm rows in :data:`kqtools.scoring.FIRM_FIELDS` order: one query. Fields the
    rules never read are loaded as NULL (less memory for a million rows), and the extra metric
    fields (:data:`kqtools.scoring.EXTRA_FIELDS`) not at all unless the rules read one of them."""
    return db.conn.execute(_load_sql(method), (year,)).fetchall()


def _load_sql(method) -> str:
    used = set(S.FIRM_FIELDS) if method is None else method.fields()
    metric_cols = ", ".join(f"m.{f}" if f in used else "NULL" for f in S.METRIC_FIELDS)
    extra = ""
    if used & set(S.EXTRA_FIELDS):
        extra = ", " + ", ".join(f"m.{f}" if f in used else "NULL" for f in S.EXTRA_FIELDS)
    ent = {f: f"e.{f}" if f in used else "NULL" for f in ("district", "industry_code", "founded_on")}
    return (f"SELECT m.uscc, NULL, {ent['district']}, {ent['industry_code']}, e.size_class, {ent['founded_on']}, "
            f"m.incident, {metric_cols}{extra} FROM metrics m LEFT JOIN enterprises e ON e.uscc = m.uscc "
            "WHERE m.year = ?")


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
    """The designations the adjustments may read: their kinds, recognized in the longest window."""
    kinds = method.designation_kinds
    if not kinds:
        return []
    first, last = S.window(year, method.window_years)
    cur = db.conn.execute(
        "SELECT uscc, kind, level, recognized_on, expires_on, revoked_on, certificate_no, batch_id FROM designations "
        f"WHERE kind IN ({', '.join('?' * len(kinds))}) AND recognized_on BETWEEN ? AND ?", (*kinds, first, last))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur]


# ---------------------------------------------------------------- the blacklist as of the evaluation
def blacklist_as_of(db, as_of: str) -> tuple[set[str], dict]:
    """(codes on the blacklist, version info) as of ``as_of``: the newest list version with that
    as-of date; when there is none, the lists are built for that date from the records now
    (``kqtools.storage.lists.build_lists``, saved as a new version; ``info["built_now"]``)."""
    from .lists import blacklist_codes, build_lists, version_as_of, version_info

    day = dt.date.fromisoformat(as_of)
    version = version_as_of(db, day)
    built_now = version is None
    if built_now:
        build_lists(db, day)
        version = version_as_of(db, day)
    row = version_info(db, version)
    info = {"version": version, "as_of": row["as_of"], "built_at": row["built_at"], "rules": row["rules_name"],
            "built_now": built_now}
    return blacklist_codes(db, version), info


def _veto_notes(method, year: int, credit_as_of: str | None, db) -> tuple[set, str | None, dict | None, list]:
    """(blacklist, the note for veto reasons, version info, run notes)."""
    if not method.veto_blacklist:
        notes = ["blacklist veto off in the rules"]
        if credit_as_of:
            notes.append(f"--credit-as-of {credit_as_of} not used: the blacklist veto is off")
        return set(), None, None, notes
    as_of = credit_as_of or method.credit_date(year)
    codes, info = blacklist_as_of(db, as_of)
    how = "built now for this run" if info["built_now"] else f"built {info['built_at']}"
    where = f"credit list version {info['version']} as of {as_of} ({how})"
    note = (f"blacklist veto on: {len(codes)} firms on the blacklist of {where}" if codes
            else f"blacklist veto on: {where} blacklists nobody")
    return codes, f"version {info['version']} as of {as_of}", info, [note]


def run_scoring(db, year: int, rules_name: str | None = None, *, credit_as_of: str | None = None) -> dict:
    """Score every firm with metrics for ``year``, store the run, return its summary.

    ``credit_as_of`` (ISO date) overrides the rules' date for the blacklist veto. Summary keys:
    run, year, rules, rules_sha256, created_at, firms, counts (grade -> firms), the same counts as
    top-level keys A, B, C, D, T (or the rule file's grades), groups (group -> grade -> firms),
    scope, scopes (district -> group -> grade -> firms, scope = district), credit_as_of,
    credit_version, skipped, warnings, notes. Raises :class:`kqtools.rules.RulesError` for an
    unusable rule file and :class:`ScoringError` when there are no metrics for the year (or, for
    a previous-year benchmark, for the year before).
    """
    rules, method = load_method(rules_name)
    conn = db.conn
    with bulk(db):  # a million small tuples: the cyclic collector would rescan them again and again
        if not conn.execute("SELECT 1 FROM metrics WHERE year = ? LIMIT 1", (year,)).fetchone():
            raise ScoringError(_("no metrics for {year}: import them first (kq import metrics FILE)").format(
                                   year=year))
        previous = load_inputs(db, year - 1, method) if method.needs_previous_year else None
        if method.needs_previous_year and not previous:
            raise ScoringError(_("{name}: the previous_year_average benchmark needs the metrics of {value}: "
                                 "none are stored (kq import metrics FILE with year {value})").format(
                                   name=rules.name, value=year - 1))
        blacklist, blacklist_note, version, notes = _veto_notes(method, year, credit_as_of, db)
        rows, as_of = load_inputs_as_of(db, year, method)
        if not rows:
            raise ScoringError(_("no metrics for {year}: import them first (kq import metrics FILE)").format(
                                   year=year))
        designations = load_designations(db, method, year)
        result = S.score_firms(rows, designations, method, year, blacklist=blacklist, blacklist_note=blacklist_note,
                               previous=previous, detail=False)
        del rows, previous
        notes.extend(result.notes)
        notes.extend(f"warning: {w}" for w in method.warnings)
        if result.skipped:
            notes.append(f"{result.skipped} firms with metrics fit no group and were left out (unmatched = skip)")
        created = now_iso()
        benchmarks = {g: [m.as_dict() for m in marks] for g, marks in result.benchmarks.items()}
        credit = (version["as_of"], version["version"]) if version else (None, None)
        with write_transaction(db):
            run_id = conn.execute(
                "INSERT INTO scoring_runs (year, rules_name, rules_text, rules_sha256, created_at, firms, counts, "
                "group_counts, benchmarks, skipped, notes, inputs_as_of, credit_as_of, credit_version, scope, "
                "scope_counts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (year, rules.name, rules.text, rules.sha256, created, len(result), json.dumps(result.counts),
                 json.dumps(result.group_counts), json.dumps(benchmarks, ensure_ascii=False), result.skipped,
                 json.dumps(notes, ensure_ascii=False), json.dumps(as_of), *credit, method.scope,
                 json.dumps(result.scope_counts, ensure_ascii=False) if method.scope == "district" else None)
            ).lastrowid
            insert_results(conn, run_id, result)
    summary = {"run": run_id, "year": year, "rules": rules.name, "rules_sha256": rules.sha256,
               "created_at": created, "firms": len(result), "counts": dict(result.counts)}
    summary.update(result.counts)
    summary.update({"groups": result.group_counts, "scope": method.scope})
    if method.scope == "district":
        summary["scopes"] = result.scope_counts
    summary.update({"credit_as_of": credit[0], "credit_version": credit[1], "skipped": result.skipped,
                    "warnings": list(method.warnings), "notes": notes})
    return summary


#: The columns every graded result has (the rest are NULL for most firms), and those of a class T result.
_GRADED_COLUMNS = RESULT_COLUMNS[:10]
_CLASS_T_COLUMNS = ("run_id", "pos", "uscc", "group_id", "grade", "not_graded_reason")


def insert_results(conn, run_id: int, result: S.Scoring) -> None:
    """Write every result row of the run: three ``executemany`` by row shape, so that no NULL is
    bound from Python. (sqlite3 sends a ``None`` parameter through its adapter lookup, about
    0.6 µs each, against ~0.1 µs for a number or a string; most rows have 4 NULL columns.)

    Graded firms without an adjustment, veto or designation batch bind the 10 columns they have;
    graded firms with one bind all 14 and their adjustments (JSON); class T firms bind the 6 theirs
    have. A run with scope = district adds the district to the graded rows. Leaving a column out of
    the INSERT stores NULL, exactly as binding None did.
    """
    t = result.table
    n = len(t["uscc"])
    n_t = result.counts.get(S.NOT_GRADED, 0)
    graded = n - n_t                      # class T rows come last (pos graded+1 .. n)
    special = bytearray(graded)           # 1 = a graded row with a bonus, veto or batch column set
    for col in (t["bonus_reason"], t["veto_reason"], t["bonus_batches"]):
        for p in compress(range(graded), col):   # reasons are non-empty strings or None; batches tuples
            special[p] = 1
    plain = special.translate(_FLIP)
    scoped = bool(result.scope_counts)
    extra = ("scope",) if scoped else ()

    def sql(cols):
        return f"INSERT INTO scoring_results ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"

    names = ("uscc", "group", "rank", "base_score", "bonus_points", "score", "grade_by_rank", "grade") + extra
    graded_cols = [t[c] for c in names]
    conn.executemany(sql(_GRADED_COLUMNS + extra), compress(
        zip(repeat(run_id), count(1), *(islice(c, graded) for c in graded_cols)), plain))
    cols = [t[c] for c in ("uscc", "group", "rank", "base_score", "bonus_points", "score", "grade_by_rank", "grade",
                           "bonus_reason", "veto_reason", "not_graded_reason")]
    dumped: dict[int, str | None] = {}     # firms the same metric items hold for share their outcomes

    def outcomes_json(outcomes):
        key = id(outcomes)
        if key not in dumped:
            dumped[key] = json.dumps([o.as_dict() for o in outcomes], ensure_ascii=False) if outcomes else None
        return dumped[key]

    conn.executemany(sql(RESULT_COLUMNS + ("adjustments",) + extra), (
        (run_id, p + 1, *(c[p] for c in cols), ",".join(map(str, t["bonus_batches"][p])) or None,
         outcomes_json(t["adjustments"][p]), *((t["scope"][p],) if scoped else ()))
        for p in compress(range(graded), special)))
    if n_t:
        conn.executemany(sql(_CLASS_T_COLUMNS), zip(
            repeat(run_id), count(graded + 1), *(islice(t[c], graded, None) for c in ("uscc", "group", "grade",
                                                                                       "not_graded_reason"))))


_FLIP = bytes.maketrans(b"\x00\x01", b"\x01\x00")


# ---------------------------------------------------------------- reading runs
_RUN_COLUMNS = ("id", "year", "rules_name", "rules_sha256", "created_at", "firms", "counts", "group_counts",
                "benchmarks", "skipped", "notes", "inputs_as_of", "credit_as_of", "credit_version", "scope",
                "scope_counts")


def _run_dict(row) -> dict:
    d = dict(zip(_RUN_COLUMNS, row))
    for k in ("counts", "group_counts", "benchmarks", "notes"):
        d[k] = json.loads(d[k])
    for k in ("inputs_as_of", "scope_counts"):
        if d[k] is not None:
            d[k] = json.loads(d[k])
    return d      # scope None: a run stored before migration 0009 (graded as one, "all")


def get_run(db, run_id: int | None = None, year: int | None = None) -> dict:
    """A run by id, else the latest run of ``year``, else the latest run; :class:`ScoringError` if none."""
    if run_id is not None and year is not None:
        raise ScoringError(_("give --year or --run, not both"))
    sql = f"SELECT {', '.join(_RUN_COLUMNS)} FROM scoring_runs"
    if run_id is not None:
        row = db.conn.execute(sql + " WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise ScoringError(_("no scoring run {run_id} (kq score runs lists them)").format(run_id=run_id))
    elif year is not None:
        row = db.conn.execute(sql + " WHERE year = ? ORDER BY id DESC LIMIT 1", (year,)).fetchone()
        if row is None:
            raise ScoringError(_("no scoring run for {year} yet (kq score run --year {year})").format(year=year))
    else:
        row = db.conn.execute(sql + " ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            raise ScoringError(_("no scoring run yet (kq score run --year YEAR)"))
    return _run_dict(row)


def run_text(db, run_id: int) -> str:
    """The rule file text a run was made with."""
    return db.conn.execute("SELECT rules_text FROM scoring_runs WHERE id = ?", (run_id,)).fetchone()[0]


def list_runs(db) -> list[dict]:
    return [_run_dict(r) for r in db.conn.execute(f"SELECT {', '.join(_RUN_COLUMNS)} FROM scoring_runs ORDER BY id")]


SHOW_COLUMNS = ("rank", "uscc", "name", "district", "group_id", "scope", "base_score", "bonus_points", "score",
                "grade_by_rank", "grade", "bonus_reason", "veto_reason", "not_graded_reason")
_SHOW_SELECT = ", ".join(f"e.{c}" if c in ("name", "district") else f"r.{c}" for c in SHOW_COLUMNS)


def results(db, run_id: int, *, district: str | None = None, grade: str | None = None,
            top: int | None = None):
    """The run's results in display order, as dicts (``group_id`` shown as ``group``); name and
    district as the enterprises table has them now. ``district`` filters on the district a firm
    was ranked in when the run graded each district on its own, else on the firm's district now."""
    where, params = ["r.run_id = ?"], [run_id]
    if district is not None:
        where.append("coalesce(r.scope, e.district) = ?")
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


DEMO_YEAR = 2025


def demo_step(db, echo) -> None:
    """``kq demo``: score the demo year and show the top 10 of each group."""
    from ..i18n import display_width, pad, pgettext
    from ..labels import value_mapper

    s = run_scoring(db, DEMO_YEAR)
    counts = ", ".join(f"{k} {v}" for k, v in s["counts"].items())
    echo(_("kq score run --year {year}: run {run}, {firms} firms: {counts}").format(
        year=DEMO_YEAR, run=s["run"], firms=s["firms"], counts=counts))
    for note in s["notes"]:                              # a run's notes are data, kept as written
        echo(_("  note: {note}").format(note=note))
    echo(_("kq score show --top {top}:").format(top=10))
    heads = [pgettext("column", "group"), pgettext("column", "rank"), pgettext("column", "score"),
             pgettext("column", "bonus"), pgettext("column", "grade")]
    # each column as wide as in English, or as its label if that is wider (加减分 takes six columns)
    wg, wr, ws, wb, wd = (max(w, display_width(h)) for w, h in zip((6, 4, 8, 5, 5), heads))
    echo(f"  {pad(heads[0], wg)} {pad(heads[1], wr, '>')} {pad(heads[2], ws, '>')} {pad(heads[3], wb, '>')} "
         f"{pad(heads[4], wd, '>')}  {pgettext('column', 'name')}")
    group = value_mapper("group")
    for r in results(db, s["run"], top=10):
        grade = f"{r['grade_by_rank']}->{r['grade']}"    # by rank, then after the veto and adjustments
        extra = "  (" + "; ".join(x for x in (r["bonus_reason"], r["veto_reason"]) if x) + ")" \
            if r["bonus_reason"] or r["veto_reason"] else ""
        echo(f"  {pad(group(r['group']), wg)} {r['rank']:>{wr}} {r['score']:>{ws}.2f} {r['bonus_points']:>{wb}g} "
             f"{pad(grade, wd, '>')}  {r['name'] or r['uscc']}{extra}")
