"""``kq report``: reports with charts for leaders, as a workbook (.xlsx) or one HTML page (.html).

Each subcommand parses its options, makes one call to :func:`kqtools.reports.make_report` and prints
what was written (a key/value table on a terminal, one JSON object otherwise). No SQL here.
"""
from __future__ import annotations

import click

from ..i18n import _
from .common import OK, db_option, get_db, info, settings, summary

_OUTPUT = click.option("-o", "--output", "output", metavar="FILE", required=True,
                       help="Write to FILE: .xlsx (workbook with native charts) or .html (one page for e-mail).")
_FORMAT = click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default=None,
                       help="How to print what was written (default: table on a terminal, JSON otherwise).")


@click.group()
def report():
    """Reports with charts for section chiefs and district leaders (报表).

    \b
    kq report score --year 2025 -o 2025年亩均评价.xlsx    grades by district, shares, scores, 公示名单
    kq report lists -o 信用名单.html                       list sizes over versions, reasons, entries
    kq report visits --year 2026 -o 走访覆盖.xlsx          coverage by specialist and district vs the goal
    kq report requests --year 2026 -o 诉求办理.html         by status, by category, on-time rate by department
    kq report ladder --as-of 2025-12-31 -o 梯次培育.xlsx     firms per tier by district, movement, classes
    kq report targets --as-of 2025-12-31 -o 目标进度.html    current vs target and the straight line; gap, pace
    The format comes from the extension: .xlsx or .html.
    """


def _write(name: str, output: str, fmt: str | None, **params) -> int:
    from ..reports import make_report, report_format

    report_format(output)                     # a wrong extension is refused before any work
    written = make_report(get_db(readonly=True), name, output, file_mode=settings().file_mode, **params)
    rows = written.pop("rows", {})
    record = {**written, "sheets": written.get("sheets") or None, "rows": sum(rows.values()) if rows else None}
    info(_("wrote the {name} report to {path} ({size:,} bytes)").format(name=name, path=output, size=written["bytes"]))
    summary(record, fmt)
    return OK


@report.command()
@click.option("--year", type=click.IntRange(1990, 2100), default=None,
              help="Evaluation year: its latest scoring run (default: the latest run).")
@click.option("--run", "run_id", type=int, default=None, help="A given scoring run instead (kq score runs).")
@_OUTPUT
@_FORMAT
@db_option
def score(year, run_id, output, fmt):
    """The year's resource-utilization evaluation: charts, results, the public list (公示名单)."""
    return _write("score", output, fmt, year=year, run=run_id)


@report.command()
@click.option("--version", "version", type=click.IntRange(1), default=None,
              help="Credit list version (default: the latest; kq lists versions).")
@_OUTPUT
@_FORMAT
@db_option
def lists(version, output, fmt):
    """The credit whitelist and blacklist: sizes over the versions, entries by reason, both lists."""
    return _write("lists", output, fmt, version=version)


@report.command()
@click.option("--year", type=click.IntRange(1990, 2100), default=None, help="Default: this year.")
@click.option("--rules", "rules", metavar="FILE", default=None, help="Assignment rule file (the goal, the period).")
@_OUTPUT
@_FORMAT
@db_option
def visits(year, rules, output, fmt):
    """Visit coverage of the year by specialist and by district against the goal; firms not yet visited."""
    return _write("visits", output, fmt, year=year, rules=rules)


@report.command()
@click.option("--year", type=click.IntRange(1990, 2100), default=None, help="Requests received that year (default: this year).")
@click.option("--rules", "rules", metavar="FILE", default=None, help="Requests rule file (categories, calendar).")
@_OUTPUT
@_FORMAT
@db_option
def requests(year, rules, output, fmt):
    """Firm requests (诉求): by status, by category, on-time rate by department; the year's requests."""
    return _write("requests", output, fmt, year=year, rules=rules)


_AS_OF = click.option("--as-of", "as_of", metavar="DATE", default=None,
                      help="The date to count on (2025-12-31, 2025/12/31, 2025年12月31日; default today).")
_LADDER_RULES = click.option("--rules", "rules", metavar="FILE", default=None,
                             help="Ladder rules (default: the shipped ones, kq rules show ladder).")


@report.command()
@_AS_OF
@_LADDER_RULES
@_OUTPUT
@_FORMAT
@db_option
def ladder(as_of, rules, output, fmt):
    """Growth ladder: firms per tier by district, the year's movement per tier, cultivation classes."""
    from .common import date_arg

    return _write("ladder", output, fmt, as_of=date_arg(as_of, "--as-of"), rules=rules)


@report.command()
@_AS_OF
@_LADDER_RULES
@_OUTPUT
@_FORMAT
@db_option
def targets(as_of, rules, output, fmt):
    """Targets: current against target with the expected straight-line value; gap and pace."""
    from .common import date_arg

    return _write("targets", output, fmt, as_of=date_arg(as_of, "--as-of"), rules=rules)
