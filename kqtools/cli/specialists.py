"""``kq specialists``, ``kq assign``, ``kq assignments``, ``kq visits``: service specialists (服务专员).

Thin layer: parse, call one service (:mod:`kqtools.storage.assignment`, :mod:`.visits`,
:mod:`.specialists`), render. See docs/specialists.md.
"""
from __future__ import annotations

import click

from ..clock import today as _today
from ..i18n import _
from .common import OK, date_arg, db_option, emit, get_db, info, output_options, summary, summary_options

CHANGE_COLUMNS = ["uscc", "name", "from_specialist", "to_specialist", "reason", "action"]
ASSIGNMENT_COLUMNS = ["uscc", "name", "district", "specialist_id", "specialist_name", "assigned_on", "class"]
DUE_COLUMNS = ["uscc", "name", "district", "specialist_id", "specialist_name", "priority", "cadence",
               "last_visited_on", "days_since_last_visit", "period", "period_ends_on", "reason"]
COVERAGE_COLUMNS = ["group", "key", "name", "firms", "visited", "share", "goal", "met", "short_by", "pace",
                    "behind_pace", "key_firms", "key_due", "due", "as_of"]
#: the columns of a table (the rest with --wide or --columns; every one in JSON, CSV and files)
DUE_TABLE = ["uscc", "name", "specialist_name", "priority", "last_visited_on", "period_ends_on", "reason"]
COVERAGE_TABLE = ["group", "key", "name", "firms", "visited", "share", "goal", "met", "short_by", "due"]
SPECIALIST_COLUMNS = ["id", "name", "department", "districts", "serves", "load", "capacity", "active", "left_on",
                      "left_reason"]


# ---------------------------------------------------------------- kq specialists
@click.group()
def specialists():
    """Service specialists (服务专员): import with `kq import specialists FILE`.

    \b
    kq specialists list                          id, name, department, districts, load, capacity, active
    kq specialists deactivate ID --on DATE [--reason TEXT]   a specialist leaves
    kq specialists activate ID [--reason TEXT]               ... or comes back
    Ids in any case: xw002 is XW002.
    """


@specialists.command("list")
@click.option("--rules", "rules_name", metavar="FILE", default=None,
              help="Assignment rule file whose department mapping fills `serves` (default: shipped).")
@db_option
@output_options
def list_(rules_name):
    """Specialists with the kinds they serve, their load (firms assigned) and capacity."""
    from ..storage.specialists import specialists_with_load

    rows = specialists_with_load(get_db(readonly=True), rules_name)
    emit(rows, SPECIALIST_COLUMNS, kind="specialists")
    return OK


@specialists.command()
@click.argument("specialist_id", metavar="ID")
@click.option("--on", "on", metavar="DATE", required=True,
              help="The day they leave: from then on they serve no firm (past or future).")
@click.option("--reason", default=None, help="Why (调任, 退休, ...): kept, and shown when their firms move.")
@db_option
@output_options
def deactivate(specialist_id, on, reason):
    """A specialist leaves: the next `kq assign` on or after DATE moves exactly their firms to eligible
    colleagues (firms nobody can take are reported, and reminded to the coordinators); their visits
    still count for the firms. Re-importing a staff list that still says 在岗 does not undo it."""
    from ..storage.specialists import deactivate as leave

    day = date_arg(on, "--on")
    r = leave(get_db(readonly=False), specialist_id, day, reason)
    summary(r)
    said = (_("{id} {name} leaves on {on} (was leaving on {previous}): their {load} firm(s) move at the next "
              "kq assign --as-of {on} or later")
            if r["previous"] and r["previous"] != r["effective_on"] else
            _("{id} {name} leaves on {on}: their {load} firm(s) move at the next kq assign --as-of {on} or later"))
    info(said.format(id=r["id"], name=r["name"], on=r["effective_on"], previous=r["previous"], load=r["load"]))
    return OK


@specialists.command()
@click.argument("specialist_id", metavar="ID")
@click.option("--on", "on", metavar="DATE", default=None, help="The day they are back (default today; not later).")
@click.option("--reason", default=None, help="Why, kept with the record.")
@db_option
@output_options
def activate(specialist_id, on, reason):
    """A specialist serves (again): their leaving date is cleared and they are active. The next
    `kq assign` gives them new firms; firms already moved to colleagues stay there."""
    from ..storage.specialists import activate as back

    day = date_arg(on, "--on") or _today()
    if day > _today():
        raise click.BadParameter(_("{day} is in the future: activate takes effect at once, so run it on the day "
                                   "they are back").format(day=day.isoformat()), param_hint="--on")
    r = back(get_db(readonly=False), specialist_id, day, reason)
    summary(r)
    info((_("{id} {name} was already active; the next kq assign may give them new firms") if r["was_active"] else
          _("{id} {name} is active again from {on}; the next kq assign may give them new firms")).format(
        id=r["id"], name=r["name"], on=r["effective_on"]))
    return OK


# ---------------------------------------------------------------- kq assign
@click.command()
@click.option("--rules", "rules_name", metavar="FILE", default=None,
              help="Assignment rule file (default: the shipped one; see kq rules show assignment).")
@click.option("--as-of", "as_of", metavar="DATE", default=None, help="Judge designations on this date (default today).")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary (on stderr), not every change.")
@db_option
@output_options
def assign(rules_name, as_of, dry_run, quiet):
    """Assign every in-scope firm without an active, eligible specialist.

    Existing assignments stay unless the specialist is inactive, gone, no longer eligible or over
    capacity. Prints each change (uscc, name, from_specialist, to_specialist, reason, action) and
    each firm nobody eligible can take (action 'unassigned'). Exit 1 when a firm stays unassigned.
    """
    from ..errors import status_of
    from ..storage.assignment import run_assign

    day = date_arg(as_of, "--as-of") or _today()
    db = get_db(readonly=None if dry_run else False)
    plan, run_id, rule_file = run_assign(db, day, rules=rules_name, dry_run=dry_run)
    if not quiet:
        emit((c._asdict() for c in plan.changes), CHANGE_COLUMNS)
    c = plan.counts
    unassigned = len(plan.unassigned)
    where = (_("dry run: nothing written") if dry_run else
             _("run {run}").format(run=run_id) if run_id else _("nothing to change"))
    info(_("assign as of {day} ({rules}, {method}): {in_scope} in scope, {kept} kept, {assigned} assigned, "
           "{moved} moved, {released} released, {unassigned} unassigned ({where})").format(
        day=day.isoformat(), rules=rule_file.name, method=plan_method(rule_file), in_scope=plan.in_scope,
        kept=plan.kept, assigned=c["assign"], moved=c["move"], released=c["release"], unassigned=unassigned,
        where=where))
    if unassigned:
        info(_("{n} firm(s) have no eligible specialist with room: see the rows with to_specialist empty").format(
            n=unassigned))
    return status_of(bool(unassigned))


def plan_method(rule_file) -> str:
    return rule_file.data.get("strategy", {}).get("method", "fewest")


# ---------------------------------------------------------------- kq assignments
@click.group()
def assignments():
    """Who serves which firm.

    \b
    kq assignments show [--specialist ID] [--district D] [-o by-specialist.xlsx]
    kq assignments history USCC
    """


@assignments.command()
@click.option("--specialist", metavar="ID", default=None, help="Only this specialist's firms (any case).")
@click.option("--district", metavar="D", default=None, help="Only firms in this district.")
@db_option
@output_options
def show(specialist, district):
    """Current assignments; with -o FILE.xlsx one sheet per specialist."""
    from ..storage.assignment import assignment_rows

    rows = assignment_rows(get_db(readonly=True), specialist, district)
    sheets = {}
    for r in rows:
        title = f"{r['specialist_id']} {r['specialist_name'] or ''}".strip()
        sheets.setdefault(title, (ASSIGNMENT_COLUMNS, []))[1].append(r)
    emit(rows, ASSIGNMENT_COLUMNS, sheets=sheets or None)
    return OK


@assignments.command()
@click.argument("uscc")
@db_option
@output_options
def history(uscc):
    """Every assignment change of one firm, with date and reason."""
    from ..storage.assignment import history_rows
    from ..uscc import normalize

    rows = history_rows(get_db(readonly=True), normalize(uscc))
    emit(rows, ["effective_on", "changed_at", "from_specialist", "to_specialist", "reason", "run_id"])
    return OK


# ---------------------------------------------------------------- kq visits
@click.group()
def visits():
    """Visits to firms (走访): log one, list the visits due, yearly coverage.

    \b
    kq visits log USCC --by S01 [--on 2026-01-05] [--channel 上门] [--note ...]
    kq visits due [--as-of DATE] [--specialist ID]
    kq visits coverage [--year 2025 | --as-of DATE]
    Bulk: kq import visits FILE (uscc, specialist_id, visited_on, channel, note).
    """


@visits.command()
@click.argument("uscc")
@click.option("--by", "by", metavar="ID", required=True, help="Specialist id (工号), any case.")
@click.option("--on", "on", metavar="DATE", default=None, help="Visit date (default today).")
@click.option("--channel", default=None, help="上门 / 电话 / 座谈 / ...")
@click.option("--note", default=None, help="What was discussed, requests raised.")
@click.option("--request", "request", default=None, metavar="TEXT", help="A request the firm raised: kept in kq requests.")
@click.option("--request-category", default="其他", show_default=True, help="Its category (kq rules show requests).")
@summary_options()
@db_option
def log(uscc, by, on, channel, note, request, request_category):
    """Record one visit to a firm."""
    from ..storage.visits import log_visit

    day = date_arg(on, "--on") or _today()
    db = get_db(readonly=False)
    if request:  # issue 16: the request raised during the visit; checked before the visit is written
        from ..storage.requests import visit_request
        from ..storage.specialists import specialist_id as stored_id

        # reported by the specialist as stored, whatever case the id was typed in
        request = visit_request(db, uscc, stored_id(db, by), day, request, request_category)   # .add() after the visit
    row = log_visit(db, uscc, by, day, channel, note)
    for w in row.pop("warnings"):
        info(_("kq: warning: {warning}").format(warning=w))
    info(_("logged visit of {uscc} {name} by {specialist} on {on}").format(
        uscc=row["uscc"], name=row["name"] or "", specialist=row["specialist_id"], on=row["visited_on"]))
    if request:
        req = request.add()
        info(_("recorded request {id} ({category}): next, kq requests route {id}").format(
            id=req["id"], category=req["category"]))
        row["request"] = req["id"]
    summary(row)
    return OK


@visits.command()
@click.option("--as-of", "as_of", metavar="DATE", default=None, help="Default today.")
@click.option("--rules", "rules_name", metavar="FILE", default=None,
              help="Assignment rule file (scope, period, goal, coordinators).")
@click.option("--specialist", metavar="ID", default=None, help="Only this specialist's firms (any case).")
@db_option
@output_options
def due(as_of, rules_name, specialist):
    """The firms to visit now, each specialist's in priority order: key firms (重点企业) not visited this
    quarter, then the firms needed to keep the yearly plan (30% of served firms) on pace, longest
    since the last visit first. Firms nobody serves come last (for the coordinators)."""
    from ..storage.visits import due_visits

    day = date_arg(as_of, "--as-of") or _today()
    rows = due_visits(get_db(readonly=True), day, rules_name, specialist=specialist or None)
    emit(rows, DUE_COLUMNS, kind="visits_due", default=DUE_TABLE)
    if rows:
        key = sum(1 for r in rows if r["cadence"] == "key")
        info(_("{n} firm(s) due as of {day}: {key} key firm(s) not visited in {period}, {pace} to keep the yearly "
               "plan on pace (kq visits coverage --as-of {day})").format(
            n=len(rows), day=day.isoformat(), key=key, period=rows[0]["period"], pace=len(rows) - key))
    else:
        info(_("nothing due as of {day}").format(day=day.isoformat()))
    return OK


@visits.command()
@click.option("--year", type=int, default=None, help="Default: this year (as of today, or the year's last day).")
@click.option("--as-of", "as_of", metavar="DATE", default=None,
              help="Count up to this date (its year); the same date as `kq visits due --as-of` tells the same story.")
@click.option("--rules", "rules_name", metavar="FILE", default=None, help="Assignment rule file (the goal).")
@db_option
@output_options
def coverage(year, as_of, rules_name):
    """Share of served firms visited this year against the goal (30%) and its pace to date, in total, by
    specialist (and firms nobody serves), by district; `due` counts the firms `kq visits due` lists."""
    from ..storage.visits import coverage as cov

    day = date_arg(as_of, "--as-of")
    if year is not None and not 1900 <= year <= 2200:
        raise click.BadParameter(_("{year} is not a plausible year").format(year=year), param_hint="--year")
    if year is not None and year > _today().year:
        raise click.BadParameter(_("{year} has not begun").format(year=year), param_hint="--year")
    if day is not None and year is not None and day.year != year:
        raise click.BadParameter(_("--as-of {day} is not in {year}").format(day=day.isoformat(), year=year),
                                 param_hint="--year/--as-of")
    rows = cov(get_db(readonly=True), year, _today(), rules_name, as_of=day)
    emit(rows, COVERAGE_COLUMNS, kind="coverage", default=COVERAGE_TABLE)
    total = rows[0]
    if not any(r["group"] == "specialist" for r in rows):
        info(_("no firm had a specialist on {on}: coverage counts the firms assigned by kq assign on that date "
               "(kq assignments history USCC shows when a firm was assigned)").format(on=total["as_of"]))
    info(_("{year}: {visited} of {firms} firms visited ({share:.0%}, goal {goal:.0%}, on pace: {pace}) as of "
           "{as_of}; {due} due now").format(year=total["year"], visited=total["visited"], firms=total["firms"],
                                            share=total["share"], goal=total["goal"], pace=total["pace"],
                                            as_of=total["as_of"], due=total["due"]))
    return OK
