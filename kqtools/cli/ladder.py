"""``kq ladder``, ``kq targets``, ``kq watch``: growth ladder, cultivation classes, targets, the watch."""
from __future__ import annotations

import click

from ..errors import ExitStatus
from ..i18n import _, ngettext
from .common import db_option, emit, get_db, info, output_options, summary, summary_options

#: the columns of a table (the rest with --wide or --columns; every one in JSON, CSV and files)
STATUS_TABLE = ["ladder", "label", "district", "count", "previous", "new", "promoted", "demoted", "lost", "at_risk"]
CLASS_TABLE = ["uscc", "name", "district", "label", "reason", "expires_on"]
CANDIDATE_TABLE = ["uscc", "name", "district", "tier_now", "tier_next", "verdict", "missing"]
PROGRESS_TABLE = ["tier", "district", "baseline", "current", "target", "target_year", "gap", "needed_per_year", "pace"]


def _as_of(value):
    from ..clock import today
    from .common import date_arg

    return date_arg(value, "--as-of") or today()


# ---------------------------------------------------------------- kq ladder
@click.group()
def ladder():
    """Growth ladders (梯次培育), cultivation classes (培育对象) and candidates for the next tier.

    \b
    kq ladder status --as-of 2025-06-30 --by district   firms per tier and the movement in the year
    kq ladder classes                                   cultivation class 1/2/3 of every firm in scope
    kq ladder candidates --tier hte --year 2025         firms one step below, against the thresholds
    """


@ladder.command()
@click.option("--as-of", "as_of", metavar="DATE", 
              help="The date to count on (2025-06-30, 2025/6/30, 2025年6月30日; default today).")
@click.option("--by", "by", type=click.Choice(["district"]),
              help="One row per district and tier (instead of one per tier).")
@click.option("--ladder", "ladder_id", metavar="ID", help="Only this ladder (tech, zjtx).")
@click.option("--rules", "rules_name", metavar="FILE", 
              help="Ladder rules: a TOML/JSON file (default: the shipped ladder rules, kq rules show ladder).")
@output_options
@db_option
def status(as_of, by, ladder_id, rules_name):
    """Firms per tier in force on the date (highest tier per ladder), with the movement since the
    same date a year earlier.

    \b
    count      firms at the tier now          previous  firms at the tier a year earlier
    new        entered the ladder at it       promoted  came from a lower tier
    demoted    came from a higher tier        lost      had it, now lower or off the ladder
    moved_up   had it, now higher             at_risk   in force, expiring within 180 days,
    count = previous + new + promoted + demoted - lost - moved_up       no renewal recorded
    """
    from ..ladder import STATUS_FIELDS
    from ..storage.ladder import ladder_status

    result = ladder_status(get_db(), _as_of(as_of), by == "district", rules_name, ladder_id)
    info(_("ladder status on {date}, movement since {since} (rules {rules})")
         .format(date=result.as_of, since=result.compared_with, rules=result.rules))
    emit(result.rows, STATUS_FIELDS, kind="ladder_status", default=STATUS_TABLE)
    return ExitStatus.OK


@ladder.command()
@click.option("--as-of", "as_of", metavar="DATE", 
              help="The date to count on (2025-06-30, 2025/6/30, 2025年6月30日; default today).")
@click.option("--class", "only", type=click.IntRange(1, 9), help="Only firms of this class.")
@click.option("--rules", "rules_name", metavar="FILE", 
              help="Ladder rules: a TOML/JSON file (default: the shipped ladder rules, kq rules show ladder).")
@output_options
@db_option
def classes(as_of, only, rules_name):
    """The cultivation class of every firm in scope (苏州工业园区 培育对象): 1 national or provincial
    专精特新, 2 city or district 专精特新, 3 the cultivation pool (入库培育企业); the lowest class a
    designation in force gives, with the designation behind it."""
    from ..ladder import CLASS_FIELDS
    from ..storage.ladder import cultivation_classes

    emit(cultivation_classes(get_db(), _as_of(as_of), rules_name, only), CLASS_FIELDS, kind="ladder_classes",
         default=CLASS_TABLE)
    return ExitStatus.OK


@ladder.command()
@click.option("--tier", required=True, metavar="TIER", help="The tier to reach (hte, or any tier with thresholds).")
@click.option("--year", type=click.IntRange(1990, 2100), help="Tier at the end of this year, metrics up to it "
                                                              "(default: the latest year with metrics).")
@click.option("--rules", "rules_name", metavar="FILE", 
              help="Ladder rules: a TOML/JSON file (default: the shipped ladder rules, kq rules show ladder).")
@output_options
@db_option
def candidates(tier, year, rules_name):
    """Firms one step below TIER at the end of the year, each threshold met, failed or missing.

    verdict: meets (every threshold met), missing_data (none failed, some without data), fails.
    High-tech (hte) thresholds: 国科发火〔2016〕32号 第十一条 (R&D expense share by revenue band,
    R&D staff share, high-tech product revenue share).
    """
    from ..storage.ladder import CANDIDATE_FIELDS, candidate_list

    result = candidate_list(get_db(), tier, year, rules_name)
    info(_("candidates for {tier}: tiers on {year}-12-31, metrics to {year} ({source})")
         .format(tier=tier, year=result.year, source=result.source))
    emit(result.rows, CANDIDATE_FIELDS, kind="ladder_candidates", default=CANDIDATE_TABLE)
    return ExitStatus.OK


# ---------------------------------------------------------------- kq targets
@click.group()
def targets():
    """Targets per tier (倍增行动) and the pace towards them.

    \b
    kq targets import changzhou-2027                 the shipped Changzhou 2027 targets
    kq targets import 分解表.xlsx                     a table: tier, district, target_year, target,
                                                     baseline_year[, baseline, counting, note]
    kq targets progress --as-of 2025-06-30 --by district
    """


@targets.command("import")
@click.argument("source", metavar="FILE|PRESET")
@click.option("--replace", is_flag=True, help="Remove every stored target first.")
@click.option("--sheet", metavar="NAME|N", help="XLSX sheet (default the first).")
@click.option("--rules", "rules_name", metavar="FILE", 
              help="Ladder rules: a TOML/JSON file (default: the shipped ladder rules, kq rules show ladder).")
@summary_options()
@db_option
def import_(source, replace, sheet, rules_name):
    """Import targets from a CSV/XLSX table (Chinese headers: 梯次, 辖市区, 目标年度, 目标值, 基期年度,
    基期数, 统计口径, 备注), a targets rule file, or a preset (changzhou-2027). Every row must be
    usable: one bad row is an error with its line and column, and nothing is written."""
    from ..storage.targets import import_targets
    from .common import open_source

    stream = open_source(source) if source == "-" else None
    result = import_targets(get_db(), source, stream, replace=replace, sheet=sheet, ladder_rules=rules_name)
    summary(result.summary())
    return ExitStatus.OK


@targets.command()
@click.option("--as-of", "as_of", metavar="DATE", 
              help="The date to count on (2025-06-30, 2025/6/30, 2025年6月30日; default today).")
@click.option("--by", "by", type=click.Choice(["district"]), help="One row per district.")
@click.option("--rules", "rules_name", metavar="FILE", 
              help="Ladder rules: a TOML/JSON file (default: the shipped ladder rules, kq rules show ladder).")
@output_options
@db_option
def progress(as_of, by, rules_name):
    """Each target against the firms counted on the date.

    \b
    gap = target - current; needed_per_year = gap / years left to the end of the target year;
    expected = the straight line from the baseline (end of baseline_year) to the target (end of
    target_year) on the date, time counted in months; pace: on_pace within one firm of it, else
    ahead or behind.
    """
    from ..storage.targets import PROGRESS_FIELDS, target_progress

    result = target_progress(get_db(), _as_of(as_of), by == "district", rules_name)
    emit(result.rows, PROGRESS_FIELDS, default=PROGRESS_TABLE)
    return ExitStatus.OK


# ---------------------------------------------------------------- kq watch
@click.command()
@click.option("--year", type=click.IntRange(1990, 2100), help="Compare this year with the one before "
                                                              "(default: the latest year with metrics).")
@click.option("--rules", "rules_name", metavar="FILE", 
              help="Ladder rules: a TOML/JSON file (default: the shipped ladder rules, kq rules show ladder).")
@output_options
@db_option
def watch(year, rules_name):
    """Firms whose figures turned (经营异动): revenue or tax down 30% or more, energy up 50% or more
    with revenue flat, land changed, a designated firm without figures this year (the ladder
    rules' [[watch.flags]]). Exit 1 when any firm is flagged."""
    from ..errors import status_of
    from ..storage.watch import FLAG_FIELDS, watch as watch_figures

    result = watch_figures(get_db(), year, rules_name)
    n = emit(result.rows, FLAG_FIELDS)
    info(ngettext("{n} flag on {year} against {before} (rules {rules})",
                  "{n} flags on {year} against {before} (rules {rules})", n)
         .format(n=n, year=result.year, before=result.year - 1, rules=result.rules))
    return status_of(result.needs_attention)
