"""``kq score``: resource-utilization scoring (资源集约利用综合评价): run, show, explain, diff, runs."""
from __future__ import annotations

import click

from ..errors import ExitStatus
from ..i18n import _
from .common import date_arg, db_option, emit, get_db, info, local_time, output_options, summary, summary_options

SHOW_FIELDS = ["rank", "uscc", "name", "district", "group", "base_score", "bonus_points", "score", "grade_by_rank",
               "grade", "bonus_reason", "veto_reason", "not_graded_reason"]
#: scope = district: the district each firm was ranked in, after its group
SHOW_FIELDS_SCOPED = SHOW_FIELDS[:5] + ["scope"] + SHOW_FIELDS[5:]
#: the columns of a table (the rest with --wide or --columns; every one in JSON, CSV and files)
SHOW_TABLE = ["rank", "uscc", "name", "district", "scope", "group", "score", "grade", "veto_reason"]
EXPLAIN_TABLE = ["item", "label", "value", "benchmark", "ratio", "points", "note"]
DIFF_TABLE = ["uscc", "name", "group_a", "group_b", "rank_a", "rank_b", "grade_a", "grade_b", "change"]
RUN_TABLE = ["run", "year", "rules", "created_at", "firms", "counts", "credit_version"]
RUN_FIELDS = ["run", "year", "rules", "rules_sha256", "created_at", "firms", "counts", "credit_version", "notes"]


@click.group()
def score():
    """Resource-utilization evaluation (资源集约利用综合评价, 亩均效益).

    \b
    kq score run --year 2025                   score every firm with 2025 metrics, store the run
    kq score run --year 2025 --rules huaian-2024
    kq score run --year 2025 --credit-as-of 2026-03-31
    kq score show --top 10                     ranking of the latest run
    kq score explain 91320412MA1XXXXXXX        indicators, benchmarks, adjustments, veto, import batches
    kq score diff 3 4                          firms whose grade or rank changed
    kq score runs                              stored runs
    """


@score.command()
@click.option("--year", type=click.IntRange(1990, 2100), required=True, help="Evaluation year (metrics.year).")
@click.option("--rules", "rules_name", metavar="NAME|FILE",
              help="Rule preset (scoring, huaian-2024, huangyan) or a TOML/JSON rule file (default: scoring).")
@click.option("--credit-as-of", "credit_as_of", metavar="DATE",
              help="Take the blacklist veto's credit lists as of DATE (default: the rules' credit_as_of, "
                   "the last day of the evaluation year). No list version of that date: built from the records.")
@summary_options()
@db_option
def run(year, rules_name, credit_as_of):
    """Score every firm with metrics for YEAR and store the run (runs are kept; a re-run is a new run)."""
    from ..storage.scoring import run_scoring

    as_of = date_arg(credit_as_of, "--credit-as-of")
    result = run_scoring(get_db(), year, rules_name, credit_as_of=as_of.isoformat() if as_of else None)
    record = {k: result[k] for k in ("run", "year", "rules", "rules_sha256", "created_at", "firms")}
    record.update(result["counts"])
    record.update({k: result[k] for k in ("groups", "scope", "credit_as_of", "credit_version", "skipped", "notes")})
    if "scopes" in result:
        record["scopes"] = result["scopes"]
    summary(record)
    return ExitStatus.OK


@score.command()
@click.option("--year", type=click.IntRange(1990, 2100), help="Latest run of this year (default: latest run).")
@click.option("--run", "run_id", type=int, help="A run id (kq score runs).")
@click.option("--district", help="Only firms of this district (the district ranked in, for a per-district run).")
@click.option("--grade", type=str, help="Only this final grade (A, B, C, D, T).")
@click.option("--top", type=click.IntRange(1), help="Only ranks 1..N of each group (class T left out).")
@output_options
@db_option
def show(year, run_id, district, grade, top):
    """The ranking of a run: groups in rule order, by rank; class T (not graded) last, with the reason.

    Ties are broken by score, then base score, then the rule file's tie_break indicators
    (default tax per mu), then credit code: every firm has its own rank. A run whose rules grade
    each district on its own lists the districts in turn, each with its groups.
    """
    from ..storage.scoring import get_run, results

    db = get_db()
    r = get_run(db, run_id, year)
    info(_("run {run}: {year}, rules {rules} (sha256 {sha256}), {firms} firms, {created_at}").format(
        run=r["id"], year=r["year"], rules=r["rules_name"], sha256=r["rules_sha256"][:12], firms=r["firms"],
        created_at=local_time(r["created_at"])))
    emit(results(db, r["id"], district=district, grade=grade.upper() if grade else None, top=top),
         SHOW_FIELDS_SCOPED if r["scope"] == "district" else SHOW_FIELDS, default=SHOW_TABLE)
    return ExitStatus.OK


@score.command()
@click.argument("uscc")
@click.option("--year", type=click.IntRange(1990, 2100), help="Latest run of this year (default: latest run).")
@click.option("--run", "run_id", type=int, help="A run id (kq score runs).")
@output_options
@db_option
def explain(uscc, year, run_id):
    """Why a firm got its grade: each indicator's inputs, value, benchmark (and where it came from),
    ratio and points; every adjustment applied or skipped and why; designations left out; the veto
    and the credit list version behind it; the import batches the inputs came from."""
    from ..storage.scoring_explain import EXPLAIN_COLUMNS, explain_rows
    from ..uscc import normalize

    emit(explain_rows(get_db(), normalize(uscc), year=year, run_id=run_id), EXPLAIN_COLUMNS, default=EXPLAIN_TABLE)
    return ExitStatus.OK


@score.command()
@click.argument("run_a", type=int)
@click.argument("run_b", type=int)
@output_options
@db_option
def diff(run_a, run_b):
    """Firms whose grade, group or rank differ between RUN_A and RUN_B, with both values."""
    from ..storage.scoring import DIFF_COLUMNS, diff as diff_runs

    n = emit(diff_runs(get_db(), run_a, run_b), list(DIFF_COLUMNS), default=DIFF_TABLE)
    info(_("{n} firms differ between runs {run_a} and {run_b}").format(n=n, run_a=run_a, run_b=run_b))
    return ExitStatus.OK


@score.command("runs")
@output_options
@db_option
def runs():
    """Stored scoring runs."""
    from ..storage.scoring import list_runs

    emit(({"run": r["id"], "year": r["year"], "rules": r["rules_name"], "rules_sha256": r["rules_sha256"][:12],
           "created_at": r["created_at"], "firms": r["firms"], "counts": r["counts"],
           "credit_version": r["credit_version"], "notes": r["notes"]}
          for r in list_runs(get_db())), RUN_FIELDS, default=RUN_TABLE)
    return ExitStatus.OK
