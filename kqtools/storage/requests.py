"""Firm requests in the database: intake and the steps of the closed loop.

Each step is one service call: read the request (a snapshot, with its ``version`` and the date of
its last step) → check the step against :data:`kqtools.requests.STEPS` and its date → compute the
change (due dates from the rules and the working-day calendar) → write the row and one
``request_events`` entry inside one ``write_transaction``. The write names the version it read
(optimistic concurrency): if another process changed the request in between, nothing is written
and :class:`Conflict` says so in one line. Two clerks answering the same request at once: one
answer is recorded, the other is told.

Views (list, show, stats, top) are in :mod:`kqtools.storage.request_views`, the job actions in
:mod:`kqtools.storage.request_jobs`.
"""
from __future__ import annotations

import datetime as dt
import json

from .. import clock
from .. import requests as Q
from ..errors import ExitStatus, KqtoolsError
from ..i18n import _
from . import write_transaction
from .request_rules import Loaded, load as load_rules, work_calendar

#: the columns a step reads and `kq requests add` / every step prints
REQUEST_COLUMNS = ("id", "external_id", "uscc", "name", "category", "summary", "detail", "received_on", "channel",
                   "reported_by", "priority", "status", "department", "co_departments", "due_on", "level",
                   "overdue_steps", "satisfaction", "unsolvable", "reopened", "first_answered_on",
                   "first_answer_late", "answered_on", "closed_on", "version")


class Conflict(KqtoolsError):
    """Another process changed the request between reading it and writing the step: nothing written."""

    exit_status = ExitStatus.USAGE


# ---------------------------------------------------------------- opening
def open_requests_db(path: str, *, readonly: bool | None = None, busy_timeout_ms: int | None = None,
                     file_mode: int | None = None):
    """The database for a requests command, opened as cheaply as ``kq jobs run-due`` opens its own.

    An existing database this process may write, at the latest schema, is opened with the standard
    library only (the storage package's private connection: the same busy timeout and file mode for
    the ``-wal``/``-shm`` files, no sqlite-utils); anything else (a new file, migrations pending, a
    read-only or foreign file) goes through :func:`kqtools.storage.open_db`, which creates, migrates
    or refuses it. Returns an object with ``.conn`` (all the request services use).
    """
    from . import BUSY_TIMEOUT_MS, open_current, open_db
    from ..settings import DEFAULT_FILE_MODE

    busy_timeout_ms = busy_timeout_ms or BUSY_TIMEOUT_MS
    file_mode = file_mode or DEFAULT_FILE_MODE
    conn = open_current(path, busy_timeout_ms, file_mode)
    if conn is not None:
        return _Handle(conn)
    return open_db(path, readonly=readonly, busy_timeout_ms=busy_timeout_ms, file_mode=file_mode)


class _Handle:
    """What the services need of a database: its connection (``db.conn``)."""

    def __init__(self, conn):
        self.conn = conn


# ---------------------------------------------------------------- reading
def _conn(db):
    return getattr(db, "conn", db)


def fetch(db, request_id: int) -> dict:
    """The request row (``co_departments`` as a list) plus ``last_step_on``, the date of its latest step,
    read in one read transaction. Raises RequestError if there is no such request."""
    conn = _conn(db)
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        row = conn.execute(f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests WHERE id = ?",
                           (request_id,)).fetchone()
        last = conn.execute("SELECT at FROM request_events WHERE request_id = ? ORDER BY id DESC LIMIT 1",
                            (request_id,)).fetchone()
    finally:
        if own:
            conn.execute("COMMIT")
    if row is None:
        raise Q.RequestError(_("no request {request_id} (kq requests list shows them)").format(
                                 request_id=request_id))
    r = dict(zip(REQUEST_COLUMNS, row))
    r["co_departments"] = json.loads(r["co_departments"]) if r["co_departments"] else []
    r["last_step_on"] = (last[0] if last else r["received_on"])[:10]
    return r


# ---------------------------------------------------------------- writing
def _wall() -> str:
    return clock.utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(on: dt.date | None) -> tuple[dt.date, str]:
    """(the step's date, its `at` text): the date given (entered after the fact), or now."""
    if on is None:
        now = clock.now_iso()
        return dt.date.fromisoformat(now[:10]), now
    return on, on.isoformat()


def _event(conn, request_id: int, step: str, at: str, by, note, before, after, detail: dict | None) -> None:
    conn.execute(
        "INSERT INTO request_events (request_id, step, at, by, note, status_before, status_after, detail, recorded_at) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        (request_id, step, at, by, note, before, after,
         json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None, _wall()))


class Step:
    """A step computed from a snapshot, ready to be written (:func:`commit`)."""

    def __init__(self, request: dict, event: str, at: str, by, note, changes: dict, detail: dict | None = None,
                 rules: Loaded | None = None):
        self.request = request        # the snapshot
        self.event = event            # request_events.step
        self.at, self.by, self.note = at, by, note
        self.changes = changes        # column -> new value
        self.detail, self.rules = detail, rules
        self.step = event             # the command (answer, route...), set by prepare()


def prepare(db, request_id: int, step: str, *, on: dt.date | None, by, note, today: dt.date | None = None) -> Step:
    """Read the request and check that ``step`` may be taken now, on ``on``: the first half of every step."""
    r = fetch(db, request_id)
    Q.check_step(step, r["status"], request_id)
    day, at = _when(on)
    Q.check_day(day, today=today or clock.today(), received_on=dt.date.fromisoformat(r["received_on"]),
                previous=dt.date.fromisoformat(r["last_step_on"]), request_id=request_id, step=step)
    out = Step(r, Q.EVENT[step], at, by, note, {})
    out.step = step
    return out


def commit(db, step: Step) -> dict:
    """Write a prepared step if the request is still as it was read; the second half of every step.
    Returns the request as it is now. Raises :class:`Conflict` (nothing written) otherwise."""
    conn = _conn(db)
    r = step.request
    changes = dict(step.changes)
    if "co_departments" in changes:
        changes["co_departments"] = json.dumps(changes["co_departments"], ensure_ascii=False) \
            if changes["co_departments"] else None
    after = changes.get("status", r["status"])
    sets = ", ".join(f"{c} = ?" for c in changes)
    conflict = False
    with write_transaction(db):
        cur = conn.execute(f"UPDATE requests SET {sets + ', ' if sets else ''}version = version + 1 "
                           f"WHERE id = ? AND version = ?", (*changes.values(), r["id"], r["version"]))
        if cur.rowcount != 1:
            conflict = True
        else:
            _event(conn, r["id"], step.event, step.at, step.by, step.note, r["status"], after, step.detail)
            if step.rules is not None:
                step.rules.store(conn)
    if conflict:
        now = fetch(db, r["id"])
        raise Conflict(_("request {id} was changed by someone else while kq requests {step} was recording it "
                         "(it is {status} now, last step on {last_step_on}): nothing written; see kq requests "
                         "show {id}").format(
                           id=r['id'], step=step.step, status=now['status'], last_step_on=now['last_step_on']))
    return fetch(db, r["id"])


# ---------------------------------------------------------------- intake
class Intake:
    """A new request, checked and ready to be written (:meth:`add`)."""

    def __init__(self, db, values: dict, at: str, by, note, rules: Loaded, warnings: list):
        self.db, self.values = db, values      # values: requests columns
        self.at, self.by, self.note = at, by, note
        self.rules, self.warnings = rules, warnings

    def add(self) -> dict:
        """Write it (one transaction: the row, its `received` entry); returns it with ``warnings``."""
        conn = _conn(self.db)
        v = self.values
        with write_transaction(self.db):
            if v["external_id"]:
                other = conn.execute("SELECT id FROM requests WHERE external_id = ?", (v["external_id"],)).fetchone()
                if other:
                    raise Q.RequestError(_("external id {external_id} is request {value} already").format(
                                             external_id=v['external_id'], value=other[0]))
            request_id = conn.execute(f"INSERT INTO requests ({', '.join(v)}) VALUES ({', '.join('?' * len(v))})",
                                      tuple(v.values())).lastrowid
            _event(conn, request_id, "received", self.at, v["reported_by"] or self.by, self.note, None, "received",
                   {"channel": v["channel"], "priority": v["priority"], "category": v["category"]})
            self.rules.store(conn)
        out = fetch(self.db, request_id)
        out["warnings"] = self.warnings
        return out


def intake(db, uscc: str, *, category: str, summary: str, rules_name: str | None = None,
           detail: str | None = None, channel: str = "other", reported_by: str | None = None,
           priority: str = "normal", on: dt.date | None = None, external_id: str | None = None,
           name: str | None = None, by: str | None = None, note: str | None = None) -> Intake:
    """Check a new request (code, category, channel, priority, specialist, date) without writing it."""
    from ..uscc import check_uscc

    conn = _conn(db)
    allowed = {r[0] for r in conn.execute("SELECT uscc FROM uscc_allowlist")}
    code, error = check_uscc(uscc, allowed)
    if error:
        raise Q.RequestError(f"{uscc}: {error}")
    loaded = load_rules(db, rules_name)
    category = loaded.rules.require_category(category)
    channel, priority = Q.parse_channel(channel), Q.parse_priority(priority)
    summary = (summary or "").strip()
    if not summary:
        raise Q.RequestError(_("summary: say what the firm asks (--summary TEXT)"))
    day, at = _when(on)
    if day > clock.today():
        raise Q.StepRefused(_("received on {day} is in the future").format(day=day.isoformat()))
    warnings = []
    firm = conn.execute("SELECT name FROM enterprises WHERE uscc = ?", (code,)).fetchone()
    if firm is None:
        warnings.append(f"{code} is not in the enterprise register"
                        + ("" if name else ": give --name to keep the firm's name"))
    if reported_by:
        found = conn.execute("SELECT id FROM specialists WHERE upper(id) = upper(?)", (reported_by.strip(),)).fetchone()
        if found is None:
            raise Q.RequestError(_("no specialist with id {reported_by!r} (see kq specialists list)").format(
                                     reported_by=reported_by))
        reported_by = found[0]
    values = {"external_id": (external_id or "").strip() or None, "uscc": code,
              "name": name or (firm[0] if firm else None), "category": category, "summary": summary,
              "detail": detail or None, "received_on": day.isoformat(), "channel": channel,
              "reported_by": reported_by, "priority": priority}
    return Intake(db, values, at, by, note, loaded, warnings)


def add_request(db, uscc: str, **kwargs) -> dict:
    """收集: record a new request (arguments as :func:`intake`). Returns the request plus ``warnings``."""
    return intake(db, uscc, **kwargs).add()


def visit_request(db, uscc: str, specialist_id: str, on: dt.date, text: str, category: str = "其他") -> Intake:
    """A request raised during a visit (``kq visits log ... --request TEXT``), checked before the visit is
    written: ``.add()`` it once the visit is logged."""
    return intake(db, uscc, category=category, summary=text, channel="visit", reported_by=specialist_id, on=on)


# ---------------------------------------------------------------- the steps
def route(db, request_id: int, *, to: str | None = None, with_: tuple = (), due: dt.date | None = None,
          category: str | None = None, rules_name: str | None = None, on: dt.date | None = None,
          by=None, note=None) -> dict:
    """转办: to the lead department (the category's, unless ``to``), with co-departments; the due date is
    the day received plus the priority's working days on the first routing, ``due`` when given, and
    unchanged when routed again (a reopening set a new one)."""
    step = prepare(db, request_id, "route", on=on, by=by, note=note)
    r = step.request
    step.rules = load_rules(db, rules_name)
    rules = step.rules.rules
    changes = {"status": "routed"}
    cat = r["category"]
    if category is not None:
        cat = rules.require_category(category)
        if cat != r["category"]:
            changes["category"] = cat
    department = (to or "").strip() or None
    if department is None:
        lead = rules.category(cat)
        if lead is None:
            raise Q.RequestError(_("request {request_id}: category {cat!r} is not in the rules ({name}): give "
                                   "--to DEPARTMENT or --category ({items})").format(
                                     request_id=request_id, cat=cat, name=rules.name,
                                     items=', '.join(rules.categories)))
        department = rules.leads[lead]
    co = [d.strip() for d in with_ if d and d.strip() and d.strip() != department]
    co = list(dict.fromkeys(co))
    changes["department"], changes["co_departments"] = department, co
    detail = {"department": department, "co_departments": co, "rules": rules.name, "rules_sha256": rules.sha256}
    if due is not None:
        day = dt.date.fromisoformat(step.at[:10])
        if due < day:
            raise Q.StepRefused(_("request {request_id}: due date {due} is before the routing ({day})").format(
                                    request_id=request_id, due=due.isoformat(), day=day.isoformat()))
        changes["due_on"], changes["overdue_steps"] = due.isoformat(), 0
        detail["due_on"], detail["due_from"] = due.isoformat(), "given (--due)"
    elif r["due_on"] is None:
        received = dt.date.fromisoformat(r["received_on"])
        due_on = Q.due_date(work_calendar(rules), received, r["priority"], rules)
        changes["due_on"], changes["overdue_steps"] = due_on.isoformat(), 0
        detail["due_on"] = due_on.isoformat()
        detail["due_from"] = (f"received {r['received_on']} + {rules.time_limits[r['priority']]} working days "
                              f"({r['priority']})")
    if r["level"] is None:
        changes["level"] = Q.level_of(None, r["priority"], rules)
    detail["level"] = changes.get("level", r["level"])
    step.changes, step.detail = changes, detail
    return commit(db, step)


def progress(db, request_id: int, *, note: str, on: dt.date | None = None, by=None) -> dict:
    """办理: a progress note (any number of times)."""
    step = prepare(db, request_id, "progress", on=on, by=by, note=_required(note, "--note: say what was done"))
    step.changes = {"status": "in_progress"}
    return commit(db, step)


def answer(db, request_id: int, *, note: str, unsolvable: bool = False, on: dt.date | None = None, by=None) -> dict:
    """反馈: the department's answer to the firm; ``unsolvable`` with the explanation why (问题归零)."""
    note = _required(note, "--note: the answer given to the firm" + (" and why it cannot be solved" if unsolvable
                                                                      else ""))
    step = prepare(db, request_id, "answer", on=on, by=by, note=note)
    r = step.request
    day = step.at[:10]
    changes = {"status": "answered", "answered_on": day, "unsolvable": int(bool(unsolvable))}
    late = r["due_on"] is not None and day > r["due_on"]
    if r["first_answered_on"] is None:
        changes["first_answered_on"], changes["first_answer_late"] = day, int(late)
    step.changes = changes
    step.detail = {"unsolvable": bool(unsolvable), "due_on": r["due_on"], "late": late}
    return commit(db, step)


def revisit(db, request_id: int, *, satisfaction: str, note: str | None = None, rules_name: str | None = None,
            on: dt.date | None = None, by=None, default_by=None) -> dict:
    """回访: the firm's satisfaction. 不满意 on a solvable answer sends it back to ``routed`` with a new
    due date (the revisit day + the priority's working days) and counts a reopening. ``by`` defaults
    to the firm's specialist, else the reporter, else ``default_by``."""
    satisfaction = Q.parse_satisfaction(satisfaction)
    step = prepare(db, request_id, "revisit", on=on, by=by, note=note)
    r = step.request
    if not by:
        found = _conn(db).execute("SELECT specialist_id FROM assignments WHERE uscc = ?", (r["uscc"],)).fetchone()
        step.by = (found[0] if found else None) or r["reported_by"] or default_by
    changes = {"status": "revisited", "satisfaction": satisfaction}
    detail = {"satisfaction": satisfaction}
    if satisfaction == "unsatisfied" and not r["unsolvable"]:
        step.rules = load_rules(db, rules_name)
        changes.update(_sent_back(step, r, step.rules.rules))
        detail.update(due_on=changes["due_on"], sent_back=True, rules=step.rules.rules.name,
                      rules_sha256=step.rules.rules.sha256)
    step.changes, step.detail = changes, detail
    return commit(db, step)


def close(db, request_id: int, *, on: dt.date | None = None, by=None, note=None) -> dict:
    """销号: only after a return visit with 满意 / 基本满意, or the return visit of an unsolvable answer."""
    step = prepare(db, request_id, "close", on=on, by=by, note=note)
    r = step.request
    if r["satisfaction"] not in Q.SATISFIED and not r["unsolvable"]:   # revisited implies it; kept as a guard
        raise Q.StepRefused(_("request {request_id}: close needs a return visit with 满意 or 基本满意 (latest: "
                              "{satisfaction})").format(request_id=request_id, satisfaction=r['satisfaction']))
    step.changes = {"status": "closed", "closed_on": step.at[:10]}
    return commit(db, step)


def reopen(db, request_id: int, *, reason: str, rules_name: str | None = None, on: dt.date | None = None,
           by=None) -> dict:
    """Back to ``routed`` (same department) with a new due date; counts a reopening."""
    step = prepare(db, request_id, "reopen", on=on, by=by, note=_required(reason, "--reason: why it is reopened"))
    step.rules = load_rules(db, rules_name)
    step.changes = _sent_back(step, step.request, step.rules.rules)
    step.changes["closed_on"] = None
    step.detail = {"due_on": step.changes["due_on"], "rules": step.rules.rules.name,
                   "rules_sha256": step.rules.rules.sha256}
    return commit(db, step)


def _sent_back(step: Step, r: dict, rules: Q.RequestRules) -> dict:
    day = dt.date.fromisoformat(step.at[:10])
    due_on = Q.due_date(work_calendar(rules), day, r["priority"], rules)
    return {"status": "routed", "due_on": due_on.isoformat(), "overdue_steps": 0, "unsolvable": 0,
            "reopened": r["reopened"] + 1}


def escalate(db, request_id: int, *, reason: str, to_level: int | None = None, rules_name: str | None = None,
             on: dt.date | None = None, by=None) -> dict:
    """提级 by hand: one level up, or to ``to_level`` (higher than now, at most the rules' highest)."""
    step = prepare(db, request_id, "escalate", on=on, by=by, note=_required(reason, "--reason: why it is escalated"))
    step.rules = load_rules(db, rules_name)
    rules = step.rules.rules
    r = step.request
    current = Q.level_of(r["level"], r["priority"], rules)
    target = current + 1 if to_level is None else to_level
    if target <= current:
        raise Q.StepRefused(_("request {request_id} is at level {current} ({value}) already: --to-level must "
                              "be higher").format(
                                request_id=request_id, current=current, value=rules.level_title(current)))
    if target > rules.max_level:
        said = (_("request {request_id}: level {target} does not exist; the rules ({name}) have levels 1-{max} "
                  "and it is there already") if current == rules.max_level else
                _("request {request_id}: level {target} does not exist; the rules ({name}) have levels 1-{max}"))
        raise Q.RequestError(said.format(request_id=request_id, target=target, name=rules.name, max=rules.max_level))
    step.changes = {"level": target}
    step.detail = {"level_from": current, "level_to": target, "title": rules.level_title(target), "manual": True}
    return commit(db, step)


def _required(text, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise Q.RequestError(message)
    return text


# ---------------------------------------------------------------- escalation by rule
ESCALATION_COLUMNS = ["id", "uscc", "name", "department", "due_on", "days_overdue", "change", "level_from",
                      "level_to", "note"]


def escalate_due(db, as_of: dt.date | None = None, *, rules_name: str | None = None, by: str = "rule",
                 today: dt.date | None = None) -> list[dict]:
    """Apply the escalation rules as of ``as_of`` (default today) to every open request with its
    department past its due date: each threshold reached raises the level once, a request with
    co-departments goes to the coordinating department. Running it again changes nothing. All in one
    write transaction; returns one row per change (an empty list: nothing to escalate). ``today``: the
    latest ``as_of`` allowed (a job passes its fire date)."""
    today = today or clock.today()
    as_of = as_of or today
    if as_of > today:
        raise Q.StepRefused(_("escalate --due --as-of {as_of} is in the future").format(as_of=as_of.isoformat()))
    loaded = load_rules(db, rules_name)
    rules = loaded.rules
    calendar = work_calendar(rules)
    conn = _conn(db)
    day = as_of.isoformat()
    out = []
    with write_transaction(db):
        rows = conn.execute(
            "SELECT r.id, r.uscc, coalesce(e.name, r.name), r.priority, r.level, r.overdue_steps, r.department, "
            "r.co_departments, r.due_on, r.status, "
            "(SELECT substr(v.at, 1, 10) FROM request_events v WHERE v.request_id = r.id ORDER BY v.id DESC LIMIT 1) "
            "FROM requests r LEFT JOIN enterprises e ON e.uscc = r.uscc "
            "WHERE r.status IN ('routed', 'in_progress') AND r.due_on < ? ORDER BY r.due_on, r.id", (day,)).fetchall()
        if not rows:
            return out
        index = calendar.index(dt.date.fromisoformat(rows[0][8]), as_of)
        for rid, uscc, name, priority, level, steps, dept, co, due_on, status, last in rows:
            if last and last > day:
                continue            # a step after as_of: an escalation cannot be dated before it
            days = index.count(dt.date.fromisoformat(due_on), as_of)
            co_list = json.loads(co) if co else []
            plan = Q.plan_escalation(level=level, priority=priority, overdue_steps=steps, department=dept,
                                     co_departments=co_list, days_overdue=days, rules=rules)
            if not plan.changed and plan.overdue_steps == steps:
                continue
            conn.execute("UPDATE requests SET level = ?, overdue_steps = ?, department = ?, co_departments = ?, "
                         "version = version + 1 WHERE id = ?",
                         (plan.level, plan.overdue_steps, plan.department,
                          json.dumps(list(plan.co_departments), ensure_ascii=False) if plan.co_departments else None,
                          rid))
            for c in plan.changes:
                note = c.note(rules)
                _event(conn, rid, "escalated", day, by, note, status, status,
                       {"rule": c.kind, "threshold": c.threshold, "days_overdue": days, "level_from": c.level_from,
                        "level_to": c.level_to, "department_from": c.department_from,
                        "department_to": c.department_to, "rules": rules.name, "rules_sha256": rules.sha256})
                out.append({"id": rid, "uscc": uscc, "name": name, "department": c.department_to or dept,
                            "due_on": due_on, "days_overdue": days, "change": c.kind, "level_from": c.level_from,
                            "level_to": c.level_to, "note": note})
        if out:
            loaded.store(conn)
    return out
