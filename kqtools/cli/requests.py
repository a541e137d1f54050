"""``kq requests``: firm requests (企业诉求) through the closed loop 收集 → 转办 → 办理 → 反馈 → 回访 → 销号.

Thin layer: parse, one call into :mod:`kqtools.storage.requests` / :mod:`kqtools.storage.request_views`,
render. See docs/requests.md.
"""
from __future__ import annotations

import click

from ..i18n import _
from .common import ATTENTION, OK, chosen_db_path, date_arg, db_option, emit, info, output_options, settings, summary

#: the columns of a table (the rest with --wide or --columns; every one in JSON, CSV and files)
LIST_TABLE = ["id", "name", "category", "status", "department", "due_on", "days_overdue", "summary"]
STATS_TABLE = ["key", "received", "closed", "open", "overdue", "on_time_rate", "avg_working_days_to_close",
               "satisfied_rate"]
ESCALATION_TABLE = ["id", "name", "department", "due_on", "days_overdue", "change", "level_to", "note"]
STEP_COLUMNS = ["id", "external_id", "uscc", "name", "category", "summary", "status", "channel", "priority",
                "reported_by", "department",
                "co_departments", "due_on", "level", "satisfaction", "unsolvable", "reopened", "received_on",
                "answered_on", "closed_on"]
rules_option = click.option("--rules", "rules_name", metavar="FILE", default=None,
                            help="Requests rule file or preset (default: the shipped one; kq rules show requests).")
on_option = click.option("--on", "on", metavar="DATE", default=None,
                         help="When it happened, for a step entered after the fact (default: now). Never before "
                              "the previous step.")
by_option = click.option("--by", "by", metavar="WHO", default=None, help="Who did it (default: your login name).")


def _day(value, name: str):
    """A date option: ISO text read directly (the common case), else as clerks type dates (2026/3/2, 2026年3月2日)."""
    if value is None:
        return None
    import datetime as dt

    try:
        day = dt.date.fromisoformat(value)
        if 1900 <= day.year <= 2200:
            return day
    except ValueError:
        pass
    return date_arg(value, name)        # other forms, and the refusal of far dates, as every command


def _db(readonly: bool | None = None):
    """The command's database (closed when the command ends), opened without sqlite-utils when it can be."""
    from ..storage.requests import open_requests_db

    s = settings()
    path = chosen_db_path()
    db = open_requests_db(path, readonly=readonly, busy_timeout_ms=s.busy_timeout_ms, file_mode=s.file_mode)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta["kq.db_opened"] = path
        ctx.call_on_close(db.conn.close)
    return db


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


def _id(value: str) -> int:
    text = str(value).strip().lstrip("#")
    if not text.isdigit():
        raise click.BadParameter(_("{value!r} is not a request id (a number, as kq requests list shows)").format(
                                 value=value),
                                 param_hint="ID")
    return int(text)


def _print(row: dict) -> int:
    summary({k: row.get(k) for k in STEP_COLUMNS}, kind="requests")
    return OK


def _warn(view) -> int:
    for w in view.warnings:
        info(_("kq: warning: {warning}").format(warning=w))
    return ATTENTION if view.warnings else OK


@click.group()
def requests():
    """Firm requests (诉求): the closed loop 收集 → 转办 → 办理 → 反馈 → 回访 → 销号.

    \b
    kq requests add USCC --category 融资 --summary "..." [--channel 12345] [--priority urgent]
    kq requests route ID [--to DEPT] [--with DEPT ...] [--due DATE]      转办 (due: working days)
    kq requests progress ID --note "..."                                  办理
    kq requests answer ID --note "..." [--unsolvable]                     反馈
    kq requests revisit ID --satisfaction 满意|基本满意|不满意             回访
    kq requests close ID                                                  销号
    kq requests reopen ID --reason "..." ; kq requests escalate ID --reason "..." | --due
    kq requests list [--overdue] [--due-within N] [--department D] ; show ID ; stats ; top
    Bulk intake: kq import requests 诉求台账.xlsx. Every step takes --on DATE (entered after the fact)
    and --by WHO; a step out of order is refused (exit 2) and changes nothing.
    """


@requests.command()
@click.argument("uscc")
@click.option("--category", required=True, help="A category of the rules (融资, 人才, 用地用房, ...) or an alias.")
@click.option("--summary", "summary_text", required=True, metavar="TEXT", help="What the firm asks.")
@click.option("--detail", default=None, metavar="TEXT", help="A longer description.")
@click.option("--channel", default="other", show_default=True,
              help="走访 visit, 12345 hotline, 平台 platform, 来信 letter, 座谈 meeting, 其他 other.")
@click.option("--by", "reported_by", metavar="ID", default=None, help="The specialist (工号) who reports it.")
@click.option("--priority", default="normal", show_default=True, help="normal 一般, urgent 紧急, major 重大疑难.")
@click.option("--on", "on", metavar="DATE", default=None, help="Day received (default today).")
@click.option("--external-id", default=None, metavar="NO", help="The 12345 / platform ticket number (诉求编号).")
@click.option("--name", default=None, help="The firm's name, kept as given when it is not in the register.")
@rules_option
@db_option
@output_options
def add(uscc, category, summary_text, detail, channel, reported_by, priority, on, external_id, name, rules_name):
    """收集: record a request of the firm USCC; prints the new request."""
    from ..storage.requests import add_request

    row = add_request(_db(), uscc, category=category, summary=summary_text, detail=detail, channel=channel,
                      reported_by=reported_by, priority=priority, on=_day(on, "--on"), external_id=external_id,
                      name=name, rules_name=rules_name, by=_user())
    for w in row.pop("warnings"):
        info(_("kq: warning: {warning}").format(warning=w))
    return _print(row)


@requests.command()
@click.argument("request_id", metavar="ID")
@click.option("--to", "to", metavar="DEPT", default=None,
              help="Lead department (default: the category's, from the rules).")
@click.option("--with", "with_", metavar="DEPT", multiple=True, help="A co-operating department (repeatable).")
@click.option("--due", metavar="DATE", default=None,
              help="Due date (default: received + the priority's working days: urgent 3, normal 10, major 20).")
@click.option("--category", default=None, help="Re-classify the request while routing it.")
@click.option("--note", default=None)
@on_option
@by_option
@rules_option
@db_option
@output_options
def route(request_id, to, with_, due, category, note, on, by, rules_name):
    """转办: send the request to its lead department (and co-departments) with a due date."""
    from ..storage.requests import route as route_

    return _print(route_(_db(), _id(request_id), to=to, with_=with_, due=_day(due, "--due"), category=category,
                         rules_name=rules_name, on=_day(on, "--on"), by=by or _user(), note=note))


@requests.command()
@click.argument("request_id", metavar="ID")
@click.option("--note", required=True, help="What was done.")
@on_option
@by_option
@db_option
@output_options
def progress(request_id, note, on, by):
    """办理: record progress (any number of times)."""
    from ..storage.requests import progress as progress_

    return _print(progress_(_db(), _id(request_id), note=note, on=_day(on, "--on"), by=by or _user()))


@requests.command()
@click.argument("request_id", metavar="ID")
@click.option("--note", required=True,
              help="The answer given to the firm (with --unsolvable: why it cannot be solved).")
@click.option("--unsolvable", is_flag=True, help="It cannot be solved; the note explains why (问题归零).")
@on_option
@by_option
@db_option
@output_options
def answer(request_id, note, unsolvable, on, by):
    """反馈: the department's answer to the firm."""
    from ..storage.requests import answer as answer_

    return _print(answer_(_db(), _id(request_id), note=note, unsolvable=unsolvable, on=_day(on, "--on"),
                          by=by or _user()))


@requests.command()
@click.argument("request_id", metavar="ID")
@click.option("--satisfaction", required=True, help="满意 / 基本满意 / 不满意 (satisfied, basically_satisfied, unsatisfied).")
@click.option("--note", default=None)
@on_option
@click.option("--by", "by", metavar="WHO", default=None,
              help="Who visited (default: the firm's specialist, else the reporter).")
@rules_option
@db_option
@output_options
def revisit(request_id, satisfaction, note, on, by, rules_name):
    """回访: the firm's satisfaction; 不满意 sends it back to its department with a new due date."""
    from ..storage.requests import revisit as revisit_

    return _print(revisit_(_db(), _id(request_id), satisfaction=satisfaction, note=note, rules_name=rules_name,
                           on=_day(on, "--on"), by=by, default_by=_user()))


@requests.command()
@click.argument("request_id", metavar="ID")
@click.option("--note", default=None)
@on_option
@by_option
@db_option
@output_options
def close(request_id, note, on, by):
    """销号: close a request after a satisfied return visit (or the return visit of an unsolvable one)."""
    from ..storage.requests import close as close_

    return _print(close_(_db(), _id(request_id), note=note, on=_day(on, "--on"), by=by or _user()))


@requests.command()
@click.argument("request_id", metavar="ID")
@click.option("--reason", required=True)
@on_option
@by_option
@rules_option
@db_option
@output_options
def reopen(request_id, reason, on, by, rules_name):
    """Send an answered, revisited or closed request back to its department with a new due date."""
    from ..storage.requests import reopen as reopen_

    return _print(reopen_(_db(), _id(request_id), reason=reason, rules_name=rules_name, on=_day(on, "--on"),
                          by=by or _user()))


@requests.command()
@click.argument("request_id", metavar="[ID]", required=False)
@click.option("--to-level", type=click.IntRange(1, 9), default=None, help="Level to raise it to (default: one up).")
@click.option("--reason", default=None, help="Why (required for one request).")
@click.option("--due", "due_rules", is_flag=True,
              help="Apply the escalation rules to every overdue request instead (running it again changes nothing).")
@click.option("--as-of", "as_of", metavar="DATE", default=None, help="With --due: the day to judge (default today).")
@on_option
@by_option
@rules_option
@db_option
@output_options
def escalate(request_id, to_level, reason, due_rules, as_of, on, by, rules_name):
    """提级: raise one request a level (ID --reason), or apply the rules to all (--due)."""
    from ..storage import requests as S

    if due_rules:
        if request_id or to_level or reason or on:
            raise click.UsageError(_("--due applies the rules to every request: give no ID, --to-level, --reason "
                                     "or --on"))
        rows = S.escalate_due(_db(), _day(as_of, "--as-of"), rules_name=rules_name, by=by or "rule")
        emit(rows, S.ESCALATION_COLUMNS, default=ESCALATION_TABLE)
        info(_("{n} escalation(s)").format(n=len(rows)) if rows else _("nothing to escalate"))
        return OK
    if not request_id:
        raise click.UsageError(_("give a request ID (with --reason), or --due"))
    if as_of:
        raise click.UsageError(_("--as-of goes with --due; for one request use --on"))
    if not reason:
        raise click.UsageError(_("--reason: why it is escalated"))
    return _print(S.escalate(_db(), _id(request_id), reason=reason, to_level=to_level, rules_name=rules_name,
                             on=_day(on, "--on"), by=by or _user()))


@requests.command("list")
@click.option("--status", default=None, help="received, routed, in_progress, answered, revisited, closed, or open.")
@click.option("--overdue", is_flag=True, help="Only requests past their due date (still with the department).")
@click.option("--due-within", type=int, default=None, metavar="N", help="Only requests due within N working days.")
@click.option("--department", default=None, metavar="DEPT", help="Lead or co-department.")
@click.option("--category", default=None)
@click.option("--specialist", default=None, metavar="ID", help="The firm's service specialist.")
@click.option("--as-of", "as_of", metavar="DATE", default=None, help="Judge due dates on this day (default today).")
@rules_option
@db_option
@output_options
def list_(status, overdue, due_within, department, category, specialist, as_of, rules_name):
    """Requests with their due date, working days overdue, level and the firm's specialist."""
    from ..storage.request_views import LIST_COLUMNS, list_requests

    view = list_requests(_db(readonly=True), as_of=_day(as_of, "--as-of"), rules_name=rules_name, status=status,
                         overdue=overdue, due_within=due_within, department=department, category=category,
                         specialist=specialist)
    emit(view.rows, LIST_COLUMNS, kind="requests", default=LIST_TABLE)
    return _warn(view)


@requests.command()
@click.argument("request_id", metavar="ID")
@click.option("--as-of", "as_of", metavar="DATE", default=None, help="Judge the due date on this day (default today).")
@rules_option
@db_option
@output_options
def show(request_id, as_of, rules_name):
    """One request and its whole timeline (at, step, by, note)."""
    from ..storage.request_views import TIMELINE_COLUMNS, show_request

    view = show_request(_db(readonly=True), _id(request_id), as_of=_day(as_of, "--as-of"), rules_name=rules_name)
    _render_show(view.rows[0], TIMELINE_COLUMNS)
    return _warn(view)


def _render_show(record: dict, columns) -> None:
    import json

    from .. import labels, output
    from .common import HUMAN_FILE_FORMATS, chosen_format, labelled, settings, stdout_is_file, table_width

    ctx = click.get_current_context()
    path = ctx.meta.get("kq.output")
    timeline = record["timeline"]
    items = [(k, v) for k, v in record.items() if k != "timeline"]

    def fields(human):
        if not human:
            return [{"field": k, "value": v} for k, v in items], ["field", "value"]
        rows = [{"field": labels.column_label(k, "requests"), "value": labels.value_mapper(k, "requests")(v)}
                for k, v in items]
        rows, heads = labels.relabel(rows, ["field", "value"])
        return list(rows), heads

    if path:
        mode = settings().file_mode
        fmt = output.format_for_path(path)
        human = labelled(fmt in HUMAN_FILE_FORMATS)
        steps, step_columns = labels.relabel(timeline, columns) if human else (timeline, list(columns))
        if fmt == "xlsx":
            title = labels.column_label if human else str
            field_rows, field_columns = fields(human)
            output.write_xlsx(path, {title("request"): (field_columns, field_rows),
                                     title("timeline"): (step_columns, steps)}, mode=mode, tz=settings().tz)
            n = len(timeline)
        else:
            n = output.write_file(path, steps, step_columns, mode=mode)
        info(_("wrote request {id} ({n} steps) to {path}").format(id=record["id"], n=n, path=path))
        return
    import sys

    fmt = chosen_format()
    out = sys.stdout
    human = labelled(fmt == "table")
    if fmt in ("json", "jsonl") and not human:
        click.echo(json.dumps(record, ensure_ascii=False, default=str))
        return
    safe = stdout_is_file()   # -f csv > file: for a spreadsheet
    rows, heads = fields(human)
    width = table_width() if fmt == "table" else None
    output.render([f for f in rows if f[heads[1]] not in (None, "", [])], heads, fmt, out, formula_safe=safe,
                  width=width)
    out.write(f"\n{labels.column_label('timeline') if human else 'timeline'} ({len(timeline)})\n")
    steps, step_columns = labels.relabel(timeline, columns) if human else (timeline, list(columns))
    output.render(steps, step_columns, fmt, out, formula_safe=safe, width=width)


@requests.command()
@click.option("--year", type=int, default=None, help="Requests received in this year (default: all).")
@click.option("--by", "by", type=click.Choice(["category", "department", "district", "specialist", "month"]),
              default=None, help="One row per key, and (all).")
@click.option("--as-of", "as_of", metavar="DATE", default=None, help="Judge open requests on this day (default today).")
@rules_option
@db_option
@output_options
def stats(year, by, as_of, rules_name):
    """received, closed, open, overdue, on_time_rate, avg_working_days_to_close, satisfied_rate, reopened."""
    from ..request_reports import STATS_COLUMNS
    from ..storage.request_views import stats as stats_

    view = stats_(_db(readonly=True), year=year, by=by, as_of=_day(as_of, "--as-of"), rules_name=rules_name)
    emit(view.rows, STATS_COLUMNS, default=STATS_TABLE)
    return _warn(view)


@requests.command()
@click.option("--year", type=int, default=None, help="Requests received in this year (default: all).")
@click.option("--limit", type=int, default=10, show_default=True, help="Rows per list.")
@rules_option
@db_option
@output_options
def top(year, limit, rules_name):
    """The high-frequency categories (one fix for a class of problems) and the firms with most open requests."""
    from ..request_reports import TOP_COLUMNS
    from ..storage.request_views import top as top_

    view = top_(_db(readonly=True), year=year, limit=limit, rules_name=rules_name)
    emit(view.rows, TOP_COLUMNS)
    return _warn(view)
