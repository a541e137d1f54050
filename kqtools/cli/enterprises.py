"""``kq enterprises list|show`` and ``kq check-uscc``."""
from __future__ import annotations

import datetime as dt
import sys

import click

from .common import ATTENTION, OK, KqError, db_option, emit, get_db, info, output_options

LIST_COLUMNS = ["uscc", "name", "district", "industry_code", "size_class", "founded_on", "designations"]


@click.group()
def enterprises():
    """Firms in the database."""


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
    from .common import date_arg

    as_of = (date_arg(as_of, "--as-of") or dt.date.today()).isoformat()
    kind = _enum("designations", "kind", kind) if kind else None
    if isinstance(kind, dict):  # 专精特新"小巨人" names a kind and a level at once
        kind, level = kind["kind"], level or kind["level"]
    level = _enum("designations", "level", level) if level else None
    size_class = _enum("enterprises", "size_class", size_class) if size_class else None
    where, params = [], {"as_of": as_of}
    if district:
        where.append("e.district = :district")
        params["district"] = district
    if size_class:
        where.append("e.size_class = :size")
        params["size"] = size_class
    if name_like:
        where.append("e.name LIKE :name")
        params["name"] = f"%{name_like}%"
    if kind or level:
        cond = ["d.uscc = e.uscc", "(d.expires_on IS NULL OR d.expires_on >= :as_of)", "d.recognized_on <= :as_of"]
        if kind:
            cond.append("d.kind = :kind")
            params["kind"] = kind
        if level:
            cond.append("d.level = :level")
            params["level"] = level
        where.append(f"EXISTS (SELECT 1 FROM designations d WHERE {' AND '.join(cond)})")
    sql = f"""
        SELECT e.uscc, e.name, e.district, e.industry_code, e.size_class, e.founded_on,
               (SELECT group_concat(d.kind || CASE WHEN d.level != '' THEN ':' || d.level ELSE '' END, ' ')
                  FROM (SELECT DISTINCT kind, level FROM designations d
                         WHERE d.uscc = e.uscc AND (d.expires_on IS NULL OR d.expires_on >= :as_of)
                           AND d.recognized_on <= :as_of ORDER BY kind, level) d) AS designations
          FROM enterprises e {'WHERE ' + ' AND '.join(where) if where else ''}
         ORDER BY e.district, e.uscc {'LIMIT :limit' if limit else ''}"""
    if limit:
        params["limit"] = limit
    db = get_db()
    emit(db.query(sql, params), LIST_COLUMNS)
    return OK


def _enum(kind: str, field: str, value: str) -> str:
    """Accept canonical or Chinese enumeration values on the command line too."""
    from ..kinds import get_kind

    try:
        return get_kind(kind).fields[field](value)
    except ValueError as exc:
        hint = {"size_class": "--size"}.get(field, f"--{field}")
        raise click.BadParameter(str(exc), param_hint=hint) from None


@enterprises.command()
@click.argument("uscc")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json", "jsonl"]), default=None,
              help="table (default on a terminal) or json (default otherwise; one object).")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE: .json, or .xlsx with one sheet per section.")
@db_option
def show(uscc, fmt, output):
    """Everything known about one firm: designations, metrics by year, credit records."""
    from ..uscc import check_uscc

    code, error = check_uscc(uscc)
    db = get_db()
    firm = next(db.query("SELECT e.*, b.source AS batch_source FROM enterprises e "
                         "LEFT JOIN batches b ON b.id = e.batch_id WHERE e.uscc = ?", [code]), None)
    record = {
        "designations": list(db.query(
            "SELECT kind, level, recognized_on, expires_on, certificate_no, batch, name, batch_id FROM designations "
            "WHERE uscc = ? ORDER BY recognized_on DESC", [code])),
        "metrics": list(db.query(
            "SELECT year, land_mu, revenue, tax, value_added, energy_tce, electricity_kwh, emissions_t, rd_expense, "
            "employees, incident, name, batch_id FROM metrics WHERE uscc = ? ORDER BY year DESC", [code])),
        "credit": list(db.query(
            "SELECT source, grade, year, started_on, ended_on, severity, term_years, reference, note, name, batch_id "
            "FROM credit_records WHERE uscc = ? ORDER BY coalesce(started_on, year) DESC", [code])),
    }
    if firm is None:
        names = [r["name"] for rows in record.values() for r in rows if r.get("name")]
        if not names and not any(record.values()):
            hint = f" ({error})" if error else ""
            raise KqError(f"{uscc}: no such firm in the database{hint}", exit_code=ATTENTION)
        # known only from a list (a credit record, a designation): show what the lists say
        firm = {"uscc": code, "name": names[0] if names else None,
                "note": "not in the enterprise register; known from imported lists only"}
    record = {"enterprise": firm, **record}
    if output:
        return _write_show(record, output)
    fmt = fmt or ("table" if sys.stdout.isatty() else "json")
    if fmt in ("json", "jsonl"):
        import json

        click.echo(json.dumps(record, ensure_ascii=False, default=str))
        return OK
    from .. import output as out_mod

    out = sys.stdout
    out_mod.render([{"field": k, "value": v} for k, v in firm.items() if v not in (None, "")],
                   ["field", "value"], "table", out)
    for section in ("designations", "metrics", "credit"):
        rows = record[section]
        out.write(f"\n{section} ({len(rows)})\n")
        if rows:
            out_mod.render(rows, list(rows[0]), "table", out)
    return OK


def _write_show(record: dict, path: str) -> int:
    import json

    from .. import output as out_mod

    try:
        fmt = out_mod.format_for_path(path)
        if fmt == "xlsx":
            firm = record["enterprise"]
            sheets = {"enterprise": (["field", "value"], [{"field": k, "value": v} for k, v in firm.items()])}
            for section in ("designations", "metrics", "credit"):
                rows = record[section]
                sheets[section] = (list(rows[0]) if rows else ["(none)"], rows)
            out_mod.write_xlsx(path, sheets)
        elif fmt == "json":
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(record, fh, ensure_ascii=False, indent=1, default=str)
        else:
            raise ValueError(f"{path}: a firm's record is written as .json or .xlsx (one sheet per section)")
    except (ValueError, OSError) as exc:
        raise KqError(str(exc)) from None
    info(f"wrote {record['enterprise']['uscc']} to {path}")
    return OK


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
    from ..uscc import check_uscc as check

    if codes == ("-",):
        codes = tuple(line.strip() for line in sys.stdin if line.strip())
    if allow:
        return _allow(codes, reason)
    allowed = set()
    import os

    from .common import chosen_db_path

    path = chosen_db_path()
    if os.path.exists(path):
        allowed = {r[0] for r in get_db().execute("SELECT uscc FROM uscc_allowlist")}
    rows, bad = [], 0
    for raw in codes:
        code, error = check(raw, allowed)
        bad += error is not None
        rows.append({"input": raw, "uscc": code, "valid": error is None, "reason": error or ""})
    emit(rows, ["input", "uscc", "valid", "reason"])
    return ATTENTION if bad else OK


def _allow(codes, reason):
    from ..storage import write_transaction
    from ..uscc import ALPHABET, normalize

    if not reason:
        raise click.UsageError("--allow needs --reason (who confirmed the code, and how)")
    db = get_db()
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    with write_transaction(db):
        for raw in codes:
            code = normalize(raw)
            if len(code) != 18 or any(c not in ALPHABET for c in code):
                raise KqError(f"{raw}: not 18 characters of the credit-code alphabet; only codes that fail the "
                              "check digits can be confirmed")
            db.conn.execute("INSERT OR REPLACE INTO uscc_allowlist (uscc, reason, added_at) VALUES (?, ?, ?)",
                            (code, reason, now))
    info(f"confirmed {len(codes)} code(s); imports now accept them")
    return OK
