"""``kq score explain``: everything behind one firm's grade in a stored run, as rows to print.

The run keeps its rule text, benchmarks, the credit list version of its blacklist veto and, per
firm, the adjustments it applied or left out; the firm's inputs are read back as the run read
them from the version history of migration 0006 (:func:`inputs_as_of`). Each indicator's value,
ratio and points, and each metric adjustment, are recomputed from those inputs with the run's own
rules by the functions the run used, so the explanation adds up to the stored scores, whatever
was imported or rebuilt since.
"""
from __future__ import annotations

import json

from .. import scoring as S
from ..i18n import _
from ..scoring_adjust import explain_adjustments, window
from .scoring import ScoringError, get_run, method_from_rules, result_for, run_text

EXPLAIN_COLUMNS = ("item", "label", "inputs", "value", "benchmark", "ratio", "weight", "cap", "points", "note")


def explain(db, uscc: str, *, year: int | None = None, run_id: int | None = None) -> dict:
    """Everything behind one firm's grade in a run (the latest of ``year`` by default).

    ``{"run": {...}, "result": {...stored row and inputs...}, "group_size": n, "indicators": [...],
    "adjustments": [...], "designations": [...], "batches": [{"id", "kind", "source", "started_at", "what"}]}``
    """
    from ..rules import Rules, parse

    run = get_run(db, run_id, year)
    res = result_for(db, run["id"], uscc)
    if res is None:
        raise ScoringError(_("{uscc}: not in scoring run {id} ({year}): no metrics for that year or not a "
                             "known code").format(uscc=uscc, id=run['id'], year=run['year']))
    if run["inputs_as_of"] is not None:  # a run since migration 0006: inputs from the version history
        res.update(inputs_as_of(db, uscc, run["year"], run["inputs_as_of"]))
    text = run_text(db, run["id"])
    data = parse(text, "json" if text.lstrip().startswith("{") else "toml", run["rules_name"])
    method = method_from_rules(Rules("scoring", run["rules_name"], text, data, run["rules_sha256"]))
    indicators, adjustments, group_size = [], [], None
    group = next((g for g in method.groups if g.id == res["group_id"]), None)
    row = tuple(res.get(f) for f in S.FIRM_FIELDS)
    if group is not None and res["grade"] != S.NOT_GRADED:
        scope = res.get("scope")
        marks = [S.GroupBenchmark(**m) for m in run["benchmarks"][S.benchmark_key(group.id, scope)]]
        indicators = S.explain_indicators(group, row, marks, scope=scope, year=run["year"])
        counts = run["scope_counts"][scope][group.id] if scope else run["group_counts"].get(group.id, {})
        group_size = sum(counts.values())
        if run["scope"] is None:   # a run stored before 0009: its bonus reason is all there is
            adjustments = [{"item": "bonus", "category": "bonus", "status": "applied", "points": res["bonus_points"],
                            "uplift": 0, "reason": res["bonus_reason"]}] if res["bonus_reason"] else []
        else:
            stored = json.loads(res["adjustments"]) if res.get("adjustments") else None
            adjustments = explain_adjustments(group, row, method, stored)
    designations = _not_considered(db, uscc, method, run) if group is not None else []
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
    return {"run": run, "result": res, "group_size": group_size, "indicators": indicators,
            "adjustments": adjustments, "designations": designations, "batches": batches}


def _not_considered(db, uscc: str, method, run: dict) -> list[dict]:
    """Designations of the kinds the adjustments read that the run never weighed: recognized outside
    every window (or after the year), or imported after the run. (Those it weighed and left out —
    expired, revoked — are in the run's stored adjustments.)"""
    kinds = method.designation_kinds
    if not kinds:
        return []
    year = run["year"]
    first, last = window(year, method.window_years)
    mark = (run["inputs_as_of"] or {}).get("batches")
    out = []
    for kind, level, on, batch_id in db.conn.execute(
            "SELECT kind, level, recognized_on, batch_id FROM designations WHERE uscc = ? AND kind IN "
            f"({', '.join('?' * len(kinds))}) ORDER BY recognized_on", (uscc, *kinds)):
        what = f"{kind} {level or '-'} recognized {on}"
        if on < first:
            out.append({"designation": what, "reason": f"recognized before the window {first[:4]}–{year}: "
                                                       "not considered"})
        elif on > last:
            out.append({"designation": what, "reason": f"recognized after {year}: not considered"})
        elif mark is not None and batch_id is not None and batch_id > mark:
            out.append({"designation": what, "reason": f"imported after the run (batch {batch_id}): not considered"})
    return out


_METRIC_INPUTS = (*S.METRIC_FIELDS, *S.EXTRA_FIELDS, "incident", "batch_id")
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


def explain_rows(db, uscc: str, *, year: int | None = None, run_id: int | None = None) -> list[dict]:
    """:func:`explain` as the rows ``kq score explain`` prints (:data:`EXPLAIN_COLUMNS`)."""
    x = explain(db, uscc, year=year, run_id=run_id)
    run, res = x["run"], x["result"]
    scope = res.get("scope")
    rows = [{"item": "firm", "label": res["name"], "value": res["uscc"],
             "note": f"district {res['district'] or '-'}, size class {res['size_class'] or '-'}, "
                     f"group {res['group_id'] or '-'}{f', ranked in {scope}' if scope else ''}; run {run['id']} "
                     f"({run['year']}, rules {run['rules_name']}, sha256 {run['rules_sha256'][:12]})"}]
    if res["grade"] == S.NOT_GRADED:
        rows.append({"item": "grade", "value": "T", "note": f"not graded: {res['not_graded_reason']}"})
    else:
        for d in x["indicators"]:
            rows.append({**d, "note": "; ".join(p for p in (d["formula"], f"benchmark {d['benchmark_source']}",
                                                            d["note"]) if p)})
        rows.append({"item": "base_score", "points": res["base_score"],
                     "note": "Σ weight × min(value / benchmark, cap)"})
        for a in x["adjustments"]:
            rows.append({"item": "adjustment", "label": a["item"], "value": a["status"],
                         "points": a["points"] if a["status"] in ("applied", "capped") else None,
                         "note": a["reason"]})
        rows.append({"item": "bonus", "points": res["bonus_points"],
                     "note": (f"adjustments in total: {res['bonus_reason']}" if res["bonus_reason"] else
                              "no adjustment applied")})
        where = f"group {res['group_id']}{f' in {scope}' if scope else ''}"
        rows.append({"item": "score", "points": res["score"],
                     "note": f"rank {res['rank']} of {x['group_size']} in {where}"})
        rows.append({"item": "grade_by_rank", "value": res["grade_by_rank"], "note": "grade band of the rank"})
        why = []
        if res["grade"] != res["grade_by_rank"] and not res["veto_reason"]:
            why.append(f"raised from {res['grade_by_rank']} by the bonus")
        if res["veto_reason"]:
            why.append(f"veto: {res['veto_reason']}")
        rows.append({"item": "grade", "value": res["grade"], "note": "; ".join(why) or "as ranked"})
    for d in x["designations"]:
        rows.append({"item": "designation", "label": d["designation"], "note": d["reason"]})
    if run.get("credit_version") is not None:
        rows.append({"item": "credit_list", "value": run["credit_version"],
                     "note": f"blacklist veto: credit list version {run['credit_version']} as of "
                             f"{run['credit_as_of']} (rebuilding the lists later does not change this run)"})
    for b in x["batches"]:
        rows.append({"item": "batch", "label": b["what"], "value": b["id"],
                     "note": f"{b['source']} ({b['kind'] or '?'}, imported {b['started_at'] or '?'})"})
    return rows
