"""``kq enterprises list|show`` and ``kq check-uscc``: parse, one call to
:mod:`kqtools.storage.enterprises`, render."""
from __future__ import annotations

import sys

import click

from ..errors import ExitStatus, status_of
from .. import labels
from ..i18n import _
from .common import (KqError, date_arg, db_option, emit, get_db, info, labelled, labels_option, output_options,
                     settings, stdin_lines)
from .common import default_format, table_width


@click.group()
def enterprises():
    """Firms in the database."""


#: the columns of a table (the rest with --wide or --columns; every one in JSON, CSV and files)
LIST_TABLE = ["uscc", "name", "district", "size_class", "founded_on", "designations"]


@enterprises.command("list")
@click.option("--district", help="Only this district (所属区域).")
@click.option("--kind", help="Only firms with a current designation of this kind (zjtx, hte, tsme, ... or 高新技术企业).")
@click.option("--level", help="With --kind: only this level (national, provincial, city, district or 国家级…).")
@click.option("--size", "size_class", metavar="above|below", help="Above (规上) or below (规下) designated size.")
@click.option("--name", "name_like", metavar="TEXT", help="Name contains TEXT.")
@click.option("--as-of", "as_of", metavar="DATE", help="Which designations count as current (default today).")
@click.option("--limit", type=int, default=None, help="At most N firms.")
@output_options
@db_option
def list_(district, kind, level, size_class, name_like, as_of, limit):
    """List firms with their current designations."""
    from ..clock import today
    from ..storage.enterprises import LIST_COLUMNS, list_enterprises

    as_of = date_arg(as_of, "--as-of") or today()
    kind = _enum("designations", "kind", kind) if kind else None
    if isinstance(kind, dict):  # 专精特新"小巨人" names a kind and a level at once
        kind, level = kind["kind"], level or kind["level"]
    level = _enum("designations", "level", level) if level else None
    size_class = _enum("enterprises", "size_class", size_class) if size_class else None
    rows = list_enterprises(get_db(readonly=True), as_of, district=district, kind=kind, level=level,
                            size_class=size_class, name_like=name_like, limit=limit)
    emit(rows, LIST_COLUMNS, kind="enterprises", default=LIST_TABLE)
    return ExitStatus.OK


def _enum(kind: str, field: str, value: str) -> str:
    """Accept canonical or Chinese enumeration values on the command line too."""
    from ..kinds import get_kind

    try:
        return get_kind(kind).fields[field](value)
    except ValueError as exc:
        hint = {"size_class": "--size"}.get(field, f"--{field}")
        raise click.BadParameter(str(exc), param_hint=hint) from None


@enterprises.command()
@click.argument("firm", metavar="USCC|NAME")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json", "jsonl"]), default=None,
              help="table (default on a terminal) or json (default otherwise; one object).")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE: .json, or .xlsx with one sheet per section.")
@labels_option
@db_option
def show(firm, fmt, output):
    """Everything known about one firm, by its credit code or its name (compared without legal form
    and region: 甲精密机械 finds 常州甲精密机械有限公司): designations, metrics by year, credit records,
    requests. Several firms of that name: they are listed, exit 1."""
    from ..storage.enterprises import CANDIDATE_COLUMNS, SECTIONS, lookup_firm

    found = lookup_firm(get_db(readonly=True), firm)
    if found.record is None:
        info(_("{text}: {n} firms match; give the credit code of one").format(text=firm, n=len(found.candidates)))
        emit(found.candidates, CANDIDATE_COLUMNS, kind="enterprises")
        return status_of(found.needs_attention)
    record = found.record
    if output:
        return _write_show(record, output)
    fmt = fmt or default_format("json")
    if fmt not in ("table", "json", "jsonl"):     # $KQ_FORMAT=csv: a firm's record is not one table
        fmt = "table" if sys.stdout.isatty() else "json"
    if fmt in ("json", "jsonl"):
        import json

        click.echo(json.dumps(record, ensure_ascii=False, default=str))
        return ExitStatus.OK
    from .. import output as out_mod

    out = sys.stdout
    human = labelled(True)
    firm = record["enterprise"]
    width = table_width()
    out_mod.render(*_fields_table(firm, "enterprises", human), "table", out, width=width)
    for section in SECTIONS:
        rows = record[section]
        title = labels.column_label(section) if human else section
        out.write(f"\n{title} ({len(rows)})\n")
        if rows:
            shown, columns = labels.relabel(rows, list(rows[0]), SECTION_KINDS.get(section)) if human \
                else (rows, list(rows[0]))
            out_mod.render(shown, columns, "table", out, width=width)
    return ExitStatus.OK


#: the import kind of each section of a firm's record (its sheet imports back as that kind)
SECTION_KINDS = {"designations": "designations", "metrics": "metrics", "credit": "credit"}


def _fields_table(record: dict, kind: str | None, human: bool, skip_empty: bool = True):
    """A record as (rows, columns) of a field/value table, labelled or not."""
    items = [(k, v) for k, v in record.items() if not (skip_empty and v in (None, ""))]
    if not human:
        return [{"field": k, "value": v} for k, v in items], ["field", "value"]
    rows = [{"field": labels.column_label(k, kind), "value": labels.value_mapper(k, kind)(v)} for k, v in items]
    return labels.relabel(rows, ["field", "value"])


def _write_show(record: dict, path: str) -> ExitStatus:
    from .. import output as out_mod
    from ..storage.enterprises import SECTIONS

    mode = settings().file_mode
    if out_mod.check_output_path(path) == "xlsx":
        human = labelled(True)
        firm = record["enterprise"]
        rows, columns = _fields_table(firm, "enterprises", human, skip_empty=False)
        sheets = {_sheet_title("enterprise", human): (columns, rows)}
        for section in SECTIONS:
            rows = record[section]
            columns = list(rows[0]) if rows else ["(none)"]
            if human and rows:
                rows, columns = labels.relabel(rows, columns, SECTION_KINDS.get(section))
            sheets[_sheet_title(section, human)] = (columns, rows)
        out_mod.write_xlsx(path, sheets, mode=mode, tz=settings().tz)
    else:
        out_mod.write_document(path, record, mode=mode)
    info(_("wrote {uscc} to {path}").format(uscc=record["enterprise"]["uscc"], path=path))
    return ExitStatus.OK


def _sheet_title(section: str, human: bool) -> str:
    return labels.column_label(section) if human else section


@click.command("check-uscc")
@click.argument("codes", nargs=-1, required=True)
@click.option("--allow", is_flag=True, help="Record the codes as confirmed although they fail the check (needs --reason).")
@click.option("--reason", help="Why the codes are confirmed (with --allow).")
@output_options
@db_option
def check_uscc(codes, allow, reason):
    """Validate unified social credit codes (GB 32100-2015): CODE... or - to read one per line from stdin.

    Exit 0 when all are valid, 1 when any is not.
    """
    from ..storage.enterprises import CHECK_COLUMNS, check_codes, confirm_codes

    if codes == ("-",):
        codes = tuple(line.strip() for line in stdin_lines() if line.strip())
    if allow:
        if not reason:
            raise click.UsageError(_("--allow needs --reason (who confirmed the code, and how)"))
        n = confirm_codes(get_db(readonly=False), codes, reason)
        info(_("confirmed {n} code(s); imports now accept them").format(n=n))
        return ExitStatus.OK
    result = check_codes(get_db(readonly=True) if _database_exists() else None, codes)
    emit(result.rows, CHECK_COLUMNS)
    return status_of(result.needs_attention)


def _database_exists() -> bool:
    """Checking codes needs no database: one is read (for confirmed codes) only if it exists."""
    import os

    from .common import chosen_db_path

    return os.path.exists(chosen_db_path())
