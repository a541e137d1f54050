"""``kq lists`` (build, show, diff, versions, override) and ``kq screen``.

Each command parses its arguments, calls one service of :mod:`kqtools.storage.lists` or
:mod:`kqtools.storage.screening`, and renders the result; errors are the services' own
(one line, reported by :func:`kqtools.cli.run`).
"""
from __future__ import annotations

import os

import click

from ..errors import ExitStatus, status_of
from ..i18n import N_, _
from .. import labels
from .common import KqError, date_arg, db_option, emit, get_db, info, open_source, output_options, summary


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
#: the columns of a table (the rest with --wide or --columns; every one in JSON, CSV and files)
SHOW_TABLE = ["uscc", "name", "since", "until", "reasons"]
DIFF_TABLE = ["uscc", "name", "change", "reasons", "since", "until"]
VERSION_COLUMNS = ["version", "as_of", "built_at", "rules_name", "rules_sha256", "whitelist_count", "blacklist_count",
                   "entered_count", "left_count", "overrides_applied"]
VERSION_TABLE = ["version", "as_of", "built_at", "whitelist_count", "blacklist_count", "entered_count", "left_count"]
OVERRIDE_TABLE = ["id", "list", "action", "uscc", "name", "reason", "until", "status"]
SCREEN_TABLE = ["line", "input_name", "uscc", "name", "match", "score", "verdict", "reasons"]
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


@lists.command()
@click.option("--as-of", "as_of", metavar="DATE", help="Build as of this date (default today).")
@click.option("--rules", "rules_name", metavar="FILE", help="Rule file or preset (default: the shipped lists rules).")
@output_options
@db_option
def build(as_of, rules_name):
    """Build both lists as one new numbered version; print the counts and what changed."""
    from ..creditlists import reasons_text
    from ..storage.lists import build_lists

    result = build_lists(get_db(), date_arg(as_of, "--as-of"), rules_name)
    changes = result.pop("changes")
    change_label, list_label = labels.value_mapper("change"), labels.value_mapper("list")
    for c in changes[:SHOW_CHANGES]:
        info(f"  {change_label(c['change']):<7} {list_label(c['list']):<9} {c['uscc']} {c['name'] or ''}: "
             f"{reasons_text(c['why'])}")
    if len(changes) > SHOW_CHANGES:
        info(_("  ... and {n} more: kq lists diff whitelist|blacklist").format(n=len(changes) - SHOW_CHANGES))
    if result["problems"]:
        info(_("  {n} records could not be used by their rule (kq lists versions shows the version)").format(
            n=result["problems"]))
    summary(result)
    return ExitStatus.OK


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
    from ..storage.lists import show_list
    from ..uscc import normalize

    version, rows = show_list(get_db(), list_name, version, normalize(code) if code else None)
    emit((_entry_row(e, version) for e in rows), SHOW_COLUMNS, default=SHOW_TABLE)
    info(_("{list} version {version}: {n} entries").format(list=labels.value_mapper("list")(list_name),
                                                          version=version, n=len(rows)))
    return ExitStatus.OK


@lists.command()
@click.argument("list_name", metavar="whitelist|blacklist", type=LIST_CHOICE)
@click.option("--from", "from_version", type=int, help="Older version (default: the one before --to).")
@click.option("--to", "to_version", type=int, help="Newer version (default: the latest).")
@output_options
@db_option
def diff(list_name, from_version, to_version):
    """Who entered and who left a list between two versions, and why."""
    from ..creditlists import reasons_text
    from ..storage.lists import diff_lists

    from_version, to_version, rows = diff_lists(get_db(), list_name, from_version, to_version)
    emit(({**r, "reasons": reasons_text(r["why"]), "details": r["why"], "from_version": from_version,
           "to_version": to_version} for r in rows), DIFF_COLUMNS, default=DIFF_TABLE)
    entered = sum(r["change"] == "entered" for r in rows)
    info(_("{list} {from_version} -> {to_version}: {entered} entered, {left} left").format(
        list=labels.value_mapper("list")(list_name), from_version=from_version, to_version=to_version,
        entered=entered, left=len(rows) - entered))
    return ExitStatus.OK


@lists.command()
@output_options
@db_option
def versions():
    """The list versions built so far."""
    from ..storage.lists import versions as all_versions

    emit(all_versions(get_db()), VERSION_COLUMNS, default=VERSION_TABLE)
    return ExitStatus.OK


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
        raise KqError(_("who is deciding? give --operator NAME"))
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
        from ..storage.lists import add_override

        row = add_override(get_db(), list_name, action, code, reason, _operator(operator), date_arg(until, "--until"))
        said = (_("override #{id}: add {uscc} to the {list}; applied by the next kq lists build") if action == "add"
                else _("override #{id}: remove {uscc} from the {list}; applied by the next kq lists build"))
        info(said.format(id=row["id"], uscc=row["uscc"], list=labels.value_mapper("list")(list_name)))
        summary(row)
        return ExitStatus.OK

    cmd.__doc__ = ADD_HELP if action == "add" else REMOVE_HELP
    return cmd


ADD_HELP = N_("Add a firm to a list by hand, with a reason (applied by every later build until --until).")
REMOVE_HELP = N_("Remove a firm from a list by hand, with a reason (applied by every later build until --until).")


override.command("add")(_override_cmd("add"))
override.command("remove")(_override_cmd("remove"))


@override.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include revoked and expired overrides.")
@output_options
@db_option
def override_list(show_all):
    """Overrides, newest first, with their status (active, expired, revoked)."""
    from ..storage.lists import override_rows

    emit(override_rows(get_db(), show_all), OVERRIDE_COLUMNS, default=OVERRIDE_TABLE)
    return ExitStatus.OK


@override.command("revoke")
@click.argument("override_id", type=int)
@click.option("--operator", help="Who revokes (default $USER).")
@db_option
def override_revoke(override_id, operator):
    """Revoke an override: later builds no longer apply it."""
    from ..storage.lists import revoke_override

    revoke_override(get_db(), override_id, _operator(operator))
    info(_("override #{id} revoked; applied no more from the next kq lists build").format(id=override_id))
    return ExitStatus.OK


# ---------------------------------------------------------------- screening
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
    Rows with neither a valid code nor a name: verdict=unscreened, with the reason.
    Two valid but different codes are never the same firm.
    Exit 0: nothing matched; 1: something matched or a row could not be screened; 2: unusable input.
    """
    from ..screening import COLUMNS
    from ..storage.screening import screen_source
    from .imports import parse_mapping

    mapping = parse_mapping(maps)
    stream = open_source(source)
    try:
        result = screen_source(get_db(), stream, source, against=against, version=version, threshold=threshold,
                               rules_name=rules_name, fmt=source_format, encoding=encoding, sheet=sheet,
                               mapping=mapping)
    finally:
        if source != "-":
            stream.close()
    emit(result.rows, COLUMNS, default=SCREEN_TABLE)
    info(screen_summary(source, result))
    return status_of(result.needs_attention)


def screen_summary(source: str, result) -> str:
    """One line for stderr: what was read, screened, found, and what could not be screened."""
    c = result.counts
    text = _("{source}: {read} rows, {screened} screened against {against} version {version}: {listed} listed, "
             "{review} to review ({rows_hit} rows with hits)").format(
        source=source, read=result.read, screened=result.screened, against=labels.value_mapper("list")(result.against),
        version=result.version, listed=c["listed"], review=c["review"], rows_hit=c["rows_hit"])
    if c["unscreened"]:
        text += (_("; {n} unscreened (no valid credit code and no name column: check them by hand)")
                 if not result.name_column else
                 _("; {n} unscreened (no valid credit code and no name: check them by hand)")).format(n=c["unscreened"])
    return text
