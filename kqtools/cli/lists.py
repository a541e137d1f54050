"""``kq lists`` (build, show, diff, versions, override) and ``kq screen``."""
from __future__ import annotations

import os
import sys

import click

from .common import ATTENTION, OK, KqError, date_arg, db_option, emit, get_db, info, open_source, output_options, summary


class ListChoice(click.Choice):
    """whitelist | blacklist, also typed in Chinese: 白名单 | 黑名单."""

    ALIASES = {"白名单": "whitelist", "黑名单": "blacklist"}

    def convert(self, value, param, ctx):
        if isinstance(value, str):
            value = self.ALIASES.get(value.strip(), value.strip())
        return super().convert(value, param, ctx)


LIST_CHOICE = ListChoice(["whitelist", "blacklist"])
SHOW_COLUMNS = ["uscc", "name", "since", "until", "reasons", "override", "version", "details"]
DIFF_COLUMNS = ["uscc", "name", "change", "reasons", "since", "until", "from_version", "to_version", "details"]
OVERRIDE_COLUMNS = ["id", "list", "action", "uscc", "name", "reason", "operator", "created_at", "until", "status"]
SHOW_CHANGES = 20


@click.group()
def lists():
    """Credit whitelist and blacklist, built from credit records by the rule file.

    \b
    kq lists build --as-of 2026-06-30          build both lists as a new version
    kq lists show blacklist                    the latest blacklist, with reasons
    kq lists diff whitelist --from 3 --to 4    who entered, who left, and why
    kq lists override add blacklist CODE --reason "…" --until 2026-12-31
    kq screen applicants.xlsx                  screen an incoming list (exit 1 on hits)
    """


def _rules_error(exc):
    return KqError(str(exc))


def _latest_or(db, version):
    from ..storage.lists import latest_version, version_info

    if version is None:
        version = latest_version(db)
        if version is None:
            raise KqError("no lists built yet: run kq lists build")
    if version_info(db, version) is None:
        raise KqError(f"no list version {version} (see kq lists versions)")
    return version


@lists.command()
@click.option("--as-of", "as_of", metavar="DATE", help="Build as of this date (default today).")
@click.option("--rules", "rules_name", metavar="FILE", help="Rule file or preset (default: the shipped lists rules).")
@output_options
@db_option
def build(as_of, rules_name):
    """Build both lists as one new numbered version; print the counts and what changed."""
    from ..creditlists import reasons_text
    from ..rules import RulesError
    from ..storage.lists import build_lists

    day = date_arg(as_of, "--as-of")
    db = get_db()
    try:
        result = build_lists(db, day, rules_name)
    except RulesError as exc:
        raise _rules_error(exc) from None
    changes = result.pop("changes")
    for c in changes[:SHOW_CHANGES]:
        info(f"  {c['change']:<7} {c['list']:<9} {c['uscc']} {c['name'] or ''}: {reasons_text(c['why'])}")
    if len(changes) > SHOW_CHANGES:
        info(f"  ... and {len(changes) - SHOW_CHANGES} more: kq lists diff whitelist|blacklist")
    if result["problems"]:
        info(f"  {result['problems']} records could not be used by their rule (kq lists versions shows the version)")
    summary(result)
    return OK


def _entry_row(e, version):
    from ..creditlists import reasons_text

    return {"uscc": e["uscc"], "name": e["name"], "since": e["since"], "until": e["until"],
            "reasons": reasons_text(e["reasons"]), "override": e["override_id"], "version": version,
            "details": e["reasons"]}


@lists.command()
@click.argument("list_name", metavar="whitelist|blacklist", type=LIST_CHOICE)
@click.option("--version", "version", type=int, help="List version (default: the latest).")
@click.option("--uscc", "code", metavar="CODE", help="Only this firm.")
@output_options
@db_option
def show(list_name, version, code):
    """Show a list with uscc, name, since, until (first day off if nothing changes) and reasons."""
    from ..storage.lists import entries
    from ..uscc import normalize

    db = get_db()
    version = _latest_or(db, version)
    rows = entries(db, list_name, version)
    if code:
        rows = [r for r in rows if r["uscc"] == normalize(code)]
    emit((_entry_row(e, version) for e in rows), SHOW_COLUMNS)
    info(f"{list_name} version {version}: {len(rows)} entries")
    return OK


@lists.command()
@click.argument("list_name", metavar="whitelist|blacklist", type=LIST_CHOICE)
@click.option("--from", "from_version", type=int, help="Older version (default: the one before --to).")
@click.option("--to", "to_version", type=int, help="Newer version (default: the latest).")
@output_options
@db_option
def diff(list_name, from_version, to_version):
    """Who entered and who left a list between two versions, and why."""
    from ..creditlists import reasons_text
    from ..storage.lists import diff as diff_versions

    db = get_db()
    to_version = _latest_or(db, to_version)
    if from_version is None:
        from_version = to_version - 1
        if from_version < 1:
            raise KqError(f"version {to_version} is the first: nothing to compare (use --from/--to)")
    _latest_or(db, from_version)
    rows = diff_versions(db, list_name, from_version, to_version)
    emit(({**r, "reasons": reasons_text(r["why"]), "details": r["why"], "from_version": from_version,
           "to_version": to_version} for r in rows), DIFF_COLUMNS)
    entered = sum(r["change"] == "entered" for r in rows)
    info(f"{list_name} {from_version} -> {to_version}: {entered} entered, {len(rows) - entered} left")
    return OK


@lists.command()
@output_options
@db_option
def versions():
    """The list versions built so far."""
    from ..storage.lists import versions as all_versions

    emit(all_versions(get_db()), ["version", "as_of", "built_at", "rules_name", "rules_sha256", "whitelist_count",
                                  "blacklist_count", "entered_count", "left_count", "overrides_applied"])
    return OK


# ---------------------------------------------------------------- overrides
@lists.group()
def override():
    """Manual decisions (add to / remove from a list), applied by every later build until they expire."""


def _operator(value):
    op = value or os.environ.get("USER") or os.environ.get("USERNAME")
    if not op:
        import getpass

        try:
            op = getpass.getuser()
        except (KeyError, OSError):
            op = None
    if not op:
        raise KqError("who is deciding? give --operator NAME")
    return op


def _override_cmd(action):
    @click.argument("list_name", metavar="whitelist|blacklist", type=LIST_CHOICE)
    @click.argument("code", metavar="USCC")
    @click.option("--reason", required=True, help="Why (kept with the override and shown on the list).")
    @click.option("--until", "until", metavar="DATE", help="Expires on this date (no longer applied from it).")
    @click.option("--operator", help="Who decides (default $USER).")
    @output_options
    @db_option
    def cmd(list_name, code, reason, until, operator):
        from ..storage.lists import add_override, allowed_codes
        from ..uscc import check_uscc

        if not reason.strip():
            raise KqError("--reason must say why")
        day = date_arg(until, "--until")
        if day is not None:
            import datetime as dt

            if day <= dt.date.today():
                raise KqError(f"--until {day.isoformat()} is not in the future: the override would never apply "
                              "(give a later date, or leave --until out for no expiry)")
        db = get_db()
        uscc, problem = check_uscc(code, allowed_codes(db))
        if problem:
            raise KqError(f"{code}: {problem}")
        row = add_override(db, list_name, action, uscc, reason.strip(), _operator(operator), day)
        info(f"override #{row['id']}: {action} {uscc} {'to' if action == 'add' else 'from'} the {list_name}; "
             "applied by the next kq lists build")
        summary(row)
        return OK

    cmd.__doc__ = (f"{'Add' if action == 'add' else 'Remove'} a firm {'to' if action == 'add' else 'from'} "
                   "a list by hand, with a reason (applied by every later build until --until).")
    return cmd


override.command("add")(_override_cmd("add"))
override.command("remove")(_override_cmd("remove"))


@override.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include revoked and expired overrides.")
@output_options
@db_option
def override_list(show_all):
    """Overrides, newest first, with their status (active, expired, revoked)."""
    import datetime as dt

    from ..storage.lists import overrides

    today = dt.date.today()
    rows = []
    for ov in reversed(overrides(get_db())):
        status = "revoked" if ov.revoked_at else ("active" if ov.active(today) else "expired")
        if status != "active" and not show_all:
            continue
        rows.append({**ov.__dict__, "status": status})
    emit(rows, OVERRIDE_COLUMNS)
    return OK


@override.command("revoke")
@click.argument("override_id", type=int)
@click.option("--operator", help="Who revokes (default $USER).")
@db_option
def override_revoke(override_id, operator):
    """Revoke an override: later builds no longer apply it."""
    from ..storage.lists import revoke_override

    if not revoke_override(get_db(), override_id, _operator(operator)):
        raise KqError(f"no active override #{override_id} (see kq lists override list --all)")
    info(f"override #{override_id} revoked; applied no more from the next kq lists build")
    return OK


# ---------------------------------------------------------------- screening
def read_rows(src, mapping=None):
    """(line, uscc cell, name cell) of an incoming list, columns found by the enterprise headers."""
    from ..importer import HEADER_SCAN_ROWS, plan_header
    from ..kinds import get_kind
    from ..readers import SourceError, is_blank
    from ..screening import Row

    kind = get_kind("enterprises")
    rows = iter(src.rows)
    first = next(rows, None)
    if first is None:
        raise SourceError(f"{src.name}: empty file")

    def chain():
        yield first
        yield from rows

    if isinstance(first[1], dict):
        plans = {}
        for line, obj in chain():
            keys = tuple(obj)
            if keys not in plans:
                _, _, by_field = plan_header(kind, list(keys), mapping)
                plans[keys] = (keys[by_field["uscc"][0]] if "uscc" in by_field else None,
                               keys[by_field["name"][0]] if "name" in by_field else None)
            ku, kn = plans[keys]
            yield Row(line, obj.get(ku) if ku else None, obj.get(kn) if kn else None)
        if not any(u or n for u, n in plans.values()):
            raise SourceError(f"{src.name}: no key for the credit code or the name (统一社会信用代码, 企业名称)")
        return
    header = None
    it = chain()
    scanned = 0
    for line, cells in it:
        if is_blank(cells):
            continue
        scanned += 1
        _, _, by_field = plan_header(kind, cells, mapping)
        if "uscc" in by_field or "name" in by_field:
            header = (by_field.get("uscc", [None])[0], by_field.get("name", [None])[0])
            break
        if scanned >= HEADER_SCAN_ROWS:
            break
    if header is None:
        raise SourceError(f"{src.name}: no column for the credit code or the name (looked for 统一社会信用代码, "
                          "社会信用代码, 企业名称, 单位名称, 名称 …; add one with --map 'HEADER=uscc' or 'HEADER=name')")
    iu, iname = header
    for line, cells in it:
        if is_blank(cells):
            continue
        n = len(cells)
        yield Row(line, cells[iu] if iu is not None and iu < n else None,
                  cells[iname] if iname is not None and iname < n else None)


def _settings_for(version_row, rules_name, threshold):
    from ..rules import RulesError, load_rules, parse, validate
    from ..screening import settings_from_rules

    try:
        if rules_name:
            data = load_rules("lists", rules_name).data
        else:
            text = version_row["rules_text"]
            fmt = "json" if text.lstrip().startswith("{") else "toml"
            data = parse(text, fmt, version_row["rules_name"])
            validate("lists", data, version_row["rules_name"])
    except RulesError as exc:
        raise KqError(str(exc)) from None
    return settings_from_rules(data, threshold)


def run_screen(db, stream, name, against="blacklist", version=None, threshold=None, rules_name=None,
               fmt=None, encoding=None, sheet=None, mapping=None):
    """Screen one source; returns (hits, rows read, version)."""
    from ..creditlists import reasons_text
    from ..readers import SourceError, open_table
    from ..screening import match_text, screen
    from ..storage.lists import allowed_codes, entries, version_info

    version = _latest_or(db, version)
    settings = _settings_for(version_info(db, version), rules_name, threshold)
    listed = entries(db, against, version)
    counter = {"rows": 0}

    def counted(rows):
        for r in rows:
            counter["rows"] += 1
            yield r

    try:
        src = open_table(stream, name, fmt, encoding, sheet)
        hits = screen(counted(read_rows(src, mapping)), listed, settings, list_name=against, version=version,
                      allowed=allowed_codes(db),
                      reasons_text=lambda rs: "; ".join(filter(None, [match_text(rs[0]), reasons_text(rs[1:])])))
    except SourceError as exc:
        raise KqError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise KqError(f"{name}: not valid {exc.encoding} text (use --encoding)") from None
    return hits, counter["rows"], version


@click.command()
@click.argument("source", metavar="SOURCE")
@click.option("--against", type=LIST_CHOICE, default="blacklist", show_default=True, help="List to screen against.")
@click.option("--version", "version", type=int, help="List version (default: the latest).")
@click.option("--threshold", type=click.FloatRange(0, 100), help="Name score needed, 0-100 (default from the rules: 90).")
@click.option("--rules", "rules_name", metavar="FILE", help="Take the [screening] settings from this rule file "
              "(default: the rule file the list version was built with).")
@click.option("--input-format", "source_format", type=click.Choice(["csv", "tsv", "xlsx", "json", "jsonl"]),
              help="Source format (default: from the extension or the content).")
@click.option("--encoding", help="Text encoding (default: UTF-8 with or without BOM, else GB18030/GBK).")
@click.option("--sheet", help="XLSX sheet name or number (default: the first).")
@click.option("--map", "maps", multiple=True, metavar="HEADER=field", help="Map a header to uscc or name (repeatable).")
@output_options
@db_option
def screen(source, against, version, threshold, rules_name, source_format, encoding, sheet, maps):
    """Screen an incoming list (SOURCE: any import format, - for stdin) against a credit list.

    \b
    A valid credit code equal to a listed code: match=uscc, verdict=listed.
    Rows without a valid code are matched by cleaned name: match=name, verdict=review.
    Two valid but different codes are never the same firm.
    Exit 0: nothing matched; 1: something matched; 2: unusable input.
    """
    from .imports import parse_mapping
    from ..screening import COLUMNS

    mapping = parse_mapping(maps)
    db = get_db()
    stream = open_source(source)
    try:
        hits, read, version = run_screen(db, stream, source, against, version, threshold, rules_name,
                                         source_format, encoding, sheet, mapping)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    emit(hits, COLUMNS)
    listed = sum(h["verdict"] == "listed" for h in hits)
    rows_hit = len({h["line"] for h in hits})
    info(f"{source}: {read} rows screened against {against} version {version}: {listed} listed, "
         f"{len(hits) - listed} to review ({rows_hit} rows with hits)")
    return ATTENTION if hits else OK


# ---------------------------------------------------------------- kq demo
def demo_step(db, echo):
    """Build the lists as of 2026-06-30 and screen the bundled applicant list."""
    import datetime as dt
    from importlib import resources

    from ..creditlists import reasons_text
    from ..storage.lists import build_lists, entries

    result = build_lists(db, dt.date(2026, 6, 30))
    echo(f"Credit lists as of {result['as_of']} (version {result['version']}): {result['whitelist']} whitelisted, "
         f"{result['blacklist']} blacklisted")
    for e in entries(db, "blacklist", result["version"])[:5]:
        echo(f"  blacklist {e['uscc']} {e['name'] or ''}: {reasons_text(e['reasons'])}"
             f"{' until ' + e['until'] if e['until'] else ''}")
    for e in entries(db, "whitelist", result["version"])[:3]:
        echo(f"  whitelist {e['uscc']} {e['name'] or ''}: {reasons_text(e['reasons'])}")
    try:
        entry = resources.files("kqtools.fixtures").joinpath("demo", "applicants.csv")
        present = entry.is_file()
    except (ModuleNotFoundError, FileNotFoundError):
        present = False
    if not present:
        echo("  (no demo applicant list to screen)")
        return
    with entry.open("rb") as fh:
        hits, read, version = run_screen(db, fh, "applicants.csv")
    listed = sum(h["verdict"] == "listed" for h in hits)
    echo(f"Screened applicants.csv ({read} rows) against the blacklist: {listed} listed, "
         f"{len(hits) - listed} to review")
    for h in hits[:8]:
        echo(f"  line {h['line']}: {h['input_name'] or h['input_uscc']} -> {h['verdict']} "
             f"({h['match']} {h['score']:g}) {h['uscc']} {h['name'] or ''}")
    echo("  Try: kq --db kq-demo.db screen <file>   kq --db kq-demo.db lists show blacklist")
