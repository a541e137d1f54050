"""The reminder-job actions of firm requests: ``requests-due`` and ``requests-revisit``.

Registered in :data:`kqtools.storage.jobs.ACTIONS`; same contract as the other actions:
``action(db, spec, fire_local) -> (result dict, messages, notices)``. Each occurrence runs once
(the job engine claims it); the messages go to the outbox in the engine's transaction.

Both run on China's working days only: the shipped specs fire every day at 08:30 and the action
does nothing on a day off (a public holiday, a weekend that is not worked), so they also run on an
adjusted working Saturday (调休上班), which a Monday-to-Friday cron line would miss.
"""
from __future__ import annotations

import datetime as dt
import json

from .. import reminders as R
from .. import request_reports as P
from .. import requests as Q
from .request_rules import load as load_rules, work_calendar
from .requests import escalate_due


def _extra(db, spec) -> list:
    """Fixed addresses written in the spec get a copy of every message."""
    return [r for r in R.fixed_recipients(spec.recipients) if r.email]


def _messages(texts, extra) -> list:
    out = []
    for key, subject, body, to in texts:
        recipients = tuple(R.Recipient(i, n, e) for i, n, e in to)
        out.append(R.Message(key, subject, body, recipients + tuple(x for x in extra if x not in recipients)))
    return out


def _day_off(rules, day: dt.date) -> bool:
    return not work_calendar(rules).is_workday(day)     # an unknown year raises: the run fails, loudly


def action_requests_due(db, spec, fire_local: dt.datetime):
    """诉求办理提醒: first the escalation rules (as ``kq requests escalate --due``), then each department
    hears of its requests overdue and due within the rules' working days, and each level's recipients
    of the requests escalated to that level."""
    as_of = fire_local.date()
    rules_name = spec.params.get("rules")
    rules = load_rules(db, rules_name).rules
    if _day_off(rules, as_of):
        return {"as_of": as_of.isoformat(), "skipped": "not a working day"}, [], []
    escalated = escalate_due(db, as_of, rules_name=rules_name, by=f"job {spec.id}", today=as_of)
    calendar = work_calendar(rules)
    horizon = calendar.add(as_of, rules.due_within).isoformat()
    day = as_of.isoformat()
    conn = db.conn
    found = conn.execute(
        "SELECT r.id, r.uscc, coalesce(e.name, r.name), r.category, r.summary, r.due_on, r.level, r.priority, "
        "r.department, r.co_departments FROM requests r LEFT JOIN enterprises e ON e.uscc = r.uscc "
        "WHERE r.status IN ('routed', 'in_progress') AND r.due_on <= ? ORDER BY r.due_on, r.id", (horizon,)).fetchall()
    index = calendar.index(dt.date.fromisoformat(found[0][5]), as_of) if found and found[0][5] < day else None
    rows = []
    for rid, uscc, name, cat, summary, due, level, prio, dept, co in found:
        rows.append({"id": rid, "uscc": uscc, "name": name, "category": rules.category(cat) or cat, "summary": summary,
                     "due_on": due, "days_overdue": index.count_iso(due, day) if due < day else None,
                     "level": Q.level_of(level, prio, rules), "department": dept,
                     "co_departments": json.loads(co) if co else []})
    messages = _messages(P.due_texts(rows, as_of, rules), _extra(db, spec))
    late = sum(1 for r in rows if r["days_overdue"] is not None)
    return ({"as_of": day, "escalated": len(escalated), "overdue": late, "due_soon": len(rows) - late,
             "messages": len(messages)}, messages, [])


def action_requests_revisit(db, spec, fire_local: dt.datetime):
    """诉求回访提醒: each specialist hears of their firms' answered requests waiting longer than the
    rules' days for a return visit; firms without a specialist: the reporter, else the coordinating
    department."""
    as_of = fire_local.date()
    rules = load_rules(db, spec.params.get("rules")).rules
    if _day_off(rules, as_of):
        return {"as_of": as_of.isoformat(), "skipped": "not a working day"}, [], []
    before = (as_of - dt.timedelta(days=rules.revisit_after_days)).isoformat()
    cols = ["id", "uscc", "name", "category", "summary", "answered_on", "department", "unsolvable", "specialist_id",
            "specialist_name", "specialist_email", "reporter_id", "reporter_name", "reporter_email"]
    rows = [dict(zip(cols, r)) for r in db.conn.execute(
        "SELECT r.id, r.uscc, coalesce(e.name, r.name), r.category, r.summary, r.answered_on, r.department, "
        "r.unsolvable, s.id, s.name, s.email, p.id, p.name, p.email "
        "FROM requests r LEFT JOIN enterprises e ON e.uscc = r.uscc "
        "LEFT JOIN assignments a ON a.uscc = r.uscc LEFT JOIN specialists s ON s.id = a.specialist_id "
        "LEFT JOIN specialists p ON p.id = r.reported_by "
        "WHERE r.status = 'answered' AND r.answered_on < ? ORDER BY r.answered_on, r.id", (before,))]
    for r in rows:
        r["category"] = rules.category(r["category"]) or r["category"]
    messages = _messages(P.revisit_texts(rows, as_of, rules), _extra(db, spec))
    return {"as_of": as_of.isoformat(), "waiting": len(rows), "messages": len(messages)}, messages, []
