"""``kq score``: resource-utilization scoring (资源集约利用综合评价): run, show, explain, diff, runs."""
from __future__ import annotations

import click

from .common import KqError, db_option, emit, get_db, info, output_options, summary

SHOW_FIELDS = ["rank", "uscc", "name", "district", "group", "base_score", "bonus_points", "score", "grade_by_rank",
               "grade", "bonus_reason", "veto_reason", "not_graded_reason"]
EXPLAIN_FIELDS = ["item", "label", "inputs", "value", "benchmark", "ratio", "weight", "cap", "points", "note"]
RUN_FIELDS = ["run", "year", "rules", "rules_sha256", "created_at", "firms", "counts", "notes"]


@click.group()
def score():
    """Resource-utilization evaluation (资源集约利用综合评价, 亩均效益).

    \b
    kq score run --year 2025                   score every firm with 2025 metrics, store the run
    kq score run --year 2025 --rules huaian-2024
    kq score show --top 10                     ranking of the latest run
    kq score explain 91320412MA1XXXXXXX        indicators, benchmark, bonus, veto, import batches
    kq score diff 3 4                          firms whose grade or rank changed
    kq score runs                              stored runs
    """


def _errors(fn):
    """Turn the library's one-line errors into KqError (exit 2)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..rules import RulesError
        from ..storage.scoring import ScoringError

        try:
            return fn(*args, **kwargs)
        except (RulesError, ScoringError) as exc:
            raise KqError(str(exc)) from None

    return wrapper


@score.command()
@click.option("--year", type=click.IntRange(1990, 2100), required=True, help="Evaluation year (metrics.year).")
@click.option("--rules", "rules_name", metavar="NAME|FILE",
              help="Rule preset (scoring, huaian-2024, huangyan) or a TOML/JSON rule file (default: scoring).")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "csv", "tsv", "json", "jsonl"]), default=None,
              help="Summary format (default: table on a terminal, one JSON object otherwise).")
@db_option
@_errors
def run(year, rules_name, fmt):
    """Score every firm with metrics for YEAR and store the run (runs are kept; a re-run is a new run)."""
    from ..storage.scoring import run_scoring

    db = get_db()
    result = run_scoring(db, year, rules_name)
    record = {"run": result["run"], "year": result["year"], "rules": result["rules"],
              "rules_sha256": result["rules_sha256"], "created_at": result["created_at"], "firms": result["firms"],
              **result["counts"], "groups": result["groups"], "skipped": result["skipped"],
              "notes": result["notes"]}
    summary(record, fmt)
    return 0


def _pick_run(db, year, run_id):
    from ..storage.scoring import get_run

    if year is not None and run_id is not None:
        raise click.UsageError("give --year or --run, not both")
    return get_run(db, run_id, year)


@score.command()
@click.option("--year", type=click.IntRange(1990, 2100), help="Latest run of this year (default: latest run).")
@click.option("--run", "run_id", type=int, help="A run id (kq score runs).")
@click.option("--district", help="Only firms of this district.")
@click.option("--grade", type=str, help="Only this final grade (A, B, C, D, T).")
@click.option("--top", type=click.IntRange(1), help="Only ranks 1..N of each group (class T left out).")
@output_options
@db_option
@_errors
def show(year, run_id, district, grade, top):
    """The ranking of a run: groups in rule order, by rank; class T (not graded) last, with the reason.

    Ties are broken by score, then base score, then the rule file's tie_break indicators
    (default tax per mu), then credit code: every firm has its own rank.
    """
    from ..storage.scoring import results

    db = get_db()
    r = _pick_run(db, year, run_id)
    info(f"run {r['id']}: {r['year']}, rules {r['rules_name']} (sha256 {r['rules_sha256'][:12]}), "
         f"{r['firms']} firms, {r['created_at']}")
    emit(results(db, r["id"], district=district, grade=grade.upper() if grade else None, top=top), SHOW_FIELDS)
    return 0


@score.command()
@click.argument("uscc")
@click.option("--year", type=click.IntRange(1990, 2100), help="Latest run of this year (default: latest run).")
@click.option("--run", "run_id", type=int, help="A run id (kq score runs).")
@output_options
@db_option
@_errors
def explain(uscc, year, run_id):
    """Why a firm got its grade: each indicator's inputs, value, benchmark, ratio and points; the bonus
    and veto and why; the import batches the inputs came from."""
    from ..storage.scoring import explain as explain_firm
    from ..uscc import normalize

    db = get_db()
    if year is not None and run_id is not None:
        raise click.UsageError("give --year or --run, not both")
    x = explain_firm(db, normalize(uscc), year=year, run_id=run_id)
    emit(explain_rows(x), EXPLAIN_FIELDS)
    return 0


def explain_rows(x: dict) -> list[dict]:
    run, res = x["run"], x["result"]
    rows = [{"item": "firm", "label": res["name"], "value": res["uscc"],
             "note": f"district {res['district'] or '-'}, size class {res['size_class'] or '-'}, "
                     f"group {res['group_id'] or '-'}; run {run['id']} ({run['year']}, rules {run['rules_name']}, "
                     f"sha256 {run['rules_sha256'][:12]})"}]
    if res["grade"] == "T":
        rows.append({"item": "grade", "value": "T", "note": f"not graded: {res['not_graded_reason']}"})
    else:
        for d in x["indicators"]:
            rows.append({**d, "note": (f"{d['formula']}; benchmark {d['benchmark_kind']}"
                                       + (f"; {d['note']}" if d["note"] else ""))})
        rows.append({"item": "base_score", "points": res["base_score"],
                     "note": "Σ weight × min(value / benchmark, cap)"})
        rows.append({"item": "bonus", "points": res["bonus_points"],
                     "note": res["bonus_reason"] or "no bonus: no designation of the bonus kind recognized in the "
                                                    f"window ending {run['year']}-12-31"})
        rows.append({"item": "score", "points": res["score"],
                     "note": f"rank {res['rank']} of {x['group_size']} in group {res['group_id']}"})
        rows.append({"item": "grade_by_rank", "value": res["grade_by_rank"], "note": "grade band of the rank"})
        why = []
        if res["grade"] != res["grade_by_rank"] and not res["veto_reason"]:
            why.append(f"raised from {res['grade_by_rank']} by the bonus")
        if res["veto_reason"]:
            why.append(f"veto: {res['veto_reason']}")
        rows.append({"item": "grade", "value": res["grade"], "note": "; ".join(why) or "as ranked"})
    for b in x["batches"]:
        rows.append({"item": "batch", "label": b["what"], "value": b["id"],
                     "note": f"{b['source']} ({b['kind'] or '?'}, imported {b['started_at'] or '?'})"})
    return rows


@score.command()
@click.argument("run_a", type=int)
@click.argument("run_b", type=int)
@output_options
@db_option
@_errors
def diff(run_a, run_b):
    """Firms whose grade, group or rank differ between RUN_A and RUN_B, with both values."""
    from ..storage.scoring import DIFF_COLUMNS, diff as diff_runs

    db = get_db()
    n = emit(diff_runs(db, run_a, run_b), list(DIFF_COLUMNS))
    info(f"{n} firms differ between runs {run_a} and {run_b}")
    return 0


@score.command("runs")
@output_options
@db_option
def runs():
    """Stored scoring runs."""
    from ..storage.scoring import list_runs

    db = get_db()
    emit(({"run": r["id"], "year": r["year"], "rules": r["rules_name"], "rules_sha256": r["rules_sha256"][:12],
           "created_at": r["created_at"], "firms": r["firms"], "counts": r["counts"], "notes": r["notes"]}
          for r in list_runs(db)), RUN_FIELDS)
    return 0


DEMO_YEAR = 2025


def demo_step(db, echo) -> None:
    """``kq demo``: score the demo year and show the top 10 of each group."""
    from ..rules import RulesError
    from ..storage.scoring import ScoringError, results, run_scoring

    try:
        s = run_scoring(db, DEMO_YEAR)
    except (RulesError, ScoringError) as exc:
        raise KqError(str(exc)) from None
    counts = ", ".join(f"{k} {v}" for k, v in s["counts"].items())
    echo(f"kq score run --year {DEMO_YEAR}: run {s['run']}, {s['firms']} firms: {counts}")
    for note in s["notes"]:
        echo(f"  note: {note}")
    echo("kq score show --top 10:")
    echo(f"  {'group':<6} {'rank':>4} {'score':>8} {'bonus':>5} {'grade':>5}  name")
    for r in results(db, s["run"], top=10):
        extra = "  (" + "; ".join(x for x in (r["bonus_reason"], r["veto_reason"]) if x) + ")" \
            if r["bonus_reason"] or r["veto_reason"] else ""
        echo(f"  {r['group']:<6} {r['rank']:>4} {r['score']:>8.2f} {r['bonus_points']:>5g} "
             f"{r['grade_by_rank']}->{r['grade']}  {r['name'] or r['uscc']}{extra}")
