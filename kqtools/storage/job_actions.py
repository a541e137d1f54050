"""What a reminder job does: the registry of job actions, and the shipped actions.

An action is a function ``action(db, spec, fire_local) -> (result, messages, notices)``:

* ``result``: a small dict summarizing the run (stored with it in ``job_runs.result``);
* ``messages``: :class:`kqtools.reminders.Message` objects, turned into outbox rows by the caller in
  the same transaction that marks the run done;
* ``notices``: rows for ``expiry_notices`` (designation × threshold reminded), else ``[]``.

It reads what it needs, may write through its own feature's transaction (``lists-rebuild``,
``score-run``) and raises :class:`ActionError` (or anything else) to fail the run.

:data:`ACTIONS` maps an action's name (the ``action`` of a spec) to ``"module:function"``; the module is
imported only when the action runs, so a capability registers its action with one line here and
``kq jobs run-due`` with nothing due imports none of them. A spec naming an action missing from this
table is refused when it is loaded (``kq jobs check``).
"""
from __future__ import annotations

import datetime as dt
import importlib

from .. import reminders as R
from ..errors import KqtoolsError

ACTIONS = {
    "visit-reminders": "kqtools.storage.job_actions:visit_reminders",
    "expiry-reminders": "kqtools.storage.job_actions:expiry_reminders",
    "lists-rebuild": "kqtools.storage.job_actions:lists_rebuild",
    "score-run": "kqtools.storage.job_actions:score_run",
    "meeting-reminder": "kqtools.storage.job_actions:meeting_reminder",
    "requests-due": "kqtools.storage.request_jobs:action_requests_due",
    "requests-revisit": "kqtools.storage.request_jobs:action_requests_revisit",
    "report": "kqtools.reports.briefing:briefing_action",
    "watch-alerts": "kqtools.storage.watch:action_watch_alerts",
}


class ActionError(KqtoolsError, RuntimeError):
    """A job action could not run; the message is recorded with the run."""


def action(name: str):
    """The function registered for ``name`` (imported now)."""
    try:
        module, _colon, function = ACTIONS[name].partition(":")
    except KeyError:
        raise ActionError(f"unknown action {name!r} (one of {', '.join(sorted(ACTIONS))})") from None
    return getattr(importlib.import_module(module), function)


def _conn(db):
    return getattr(db, "conn", db)


def _specialists(db) -> list[dict]:
    return [{"id": i, "name": n, "email": e} for i, n, e in
            _conn(db).execute("SELECT id, name, email FROM specialists WHERE active = 1 ORDER BY id")]


def fixed(db, spec) -> list[R.Recipient]:
    """The spec's fixed recipients: its addresses, and every active specialist for ``"specialists"``."""
    return R.fixed_recipients(spec.recipients, _specialists(db) if "specialists" in spec.recipients else ())


def _table_exists(db, name: str) -> bool:
    return _conn(db).execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() \
        is not None


def compact(result) -> dict:
    """An action's summary as stored with the run and mailed: long lists become their length."""
    result = result if isinstance(result, dict) else {"result": result}
    return {k: (len(v) if isinstance(v, (list, tuple, dict)) and len(v) > 10 else v) for k, v in result.items()}


def visit_reminders(db, spec, fire_local: dt.datetime):
    """走访提醒: one message per specialist listing the firms ``kq visits due`` lists for them (key firms
    not visited this quarter, then the yearly plan's pace), under the spec's ``rules`` (an assignment
    rule file; default the shipped one); firms nobody serves go to the rules' coordinators."""
    from .visits import due_visits

    as_of = fire_local.date()
    rows = due_visits(db, as_of, spec.params.get("rules"))
    messages = R.visit_messages(rows, as_of, spec.recipients, fixed(db, spec))
    return ({"as_of": as_of.isoformat(), "firms_due": len(rows),
             "unassigned": sum(1 for r in rows if not r.get("specialist_id")), "messages": len(messages)},
            messages, [])


def expiry_reminders(db, spec, fire_local: dt.datetime):
    """资质到期提醒: designations expiring within the thresholds, to each firm's specialist."""
    if not _table_exists(db, "assignments"):
        raise ActionError("expiry-reminders needs the assignments table (migration 0004, kq assign), "
                          "which this database does not have")
    as_of = fire_local.date()
    thresholds = sorted(spec.params.get("days", [90, 30]))
    horizon = (as_of + dt.timedelta(days=max(thresholds))).isoformat()
    kinds = spec.params.get("kinds")
    sql = """
        SELECT d.uscc, COALESCE(e.name, d.name) AS name, d.kind, d.level, d.recognized_on, d.expires_on,
               d.certificate_no, a.specialist_id, s.name AS specialist_name, s.email AS specialist_email
        FROM designations d
        LEFT JOIN enterprises e ON e.uscc = d.uscc
        LEFT JOIN assignments a ON a.uscc = d.uscc
        LEFT JOIN specialists s ON s.id = a.specialist_id
        WHERE d.expires_on >= ? AND d.expires_on <= ?
          AND NOT EXISTS (SELECT 1 FROM designations n WHERE n.uscc = d.uscc AND n.kind = d.kind
                          AND n.level = d.level AND n.recognized_on > d.recognized_on)"""
    args: list = [as_of.isoformat(), horizon]
    if kinds:
        sql += f" AND d.kind IN ({','.join('?' * len(kinds))})"
        args += list(kinds)
    conn = _conn(db)
    cols = ["uscc", "name", "kind", "level", "recognized_on", "expires_on", "certificate_no", "specialist_id",
            "specialist_name", "specialist_email"]
    rows = [dict(zip(cols, r)) for r in conn.execute(sql + " ORDER BY d.expires_on, d.uscc", args)]
    noticed = {tuple(r) for r in conn.execute(
        "SELECT uscc, kind, level, recognized_on, threshold_days FROM expiry_notices WHERE expires_on >= ?",
        (as_of.isoformat(),))}
    due = R.expiry_due(rows, as_of, thresholds, noticed)
    messages = R.expiry_messages(due, as_of, spec.recipients, fixed(db, spec))
    sent_keys = {m.key for m in messages}
    notices = [{**d, "level": d.get("level") or "", "threshold": t} for d in due
               if f"expiry:{d.get('specialist_id') or '-'}" in sent_keys for t in d["covers"]]
    return ({"as_of": as_of.isoformat(), "thresholds": thresholds, "designations": len(due),
             "messages": len(messages)}, messages, notices)


def lists_rebuild(db, spec, fire_local: dt.datetime):
    """Rebuild the credit white/blacklists as of the fire date."""
    from .lists import build_lists

    result = compact(build_lists(db, as_of=fire_local.date(), rules_name=spec.params.get("rules")))
    to = fixed(db, spec)
    messages = [R.summary_message(spec.id, f"信用名单已重建({fire_local.date().isoformat()})", result, to)] \
        if (to or "webhook" in spec.channels) else []
    return result, messages, []


def score_run(db, spec, fire_local: dt.datetime):
    """Run the resource-utilization scoring for a year (default: the year before the fire time)."""
    from .scoring import run_scoring

    year = int(spec.params.get("year") or fire_local.year - 1)
    result = {"year": year, **compact(run_scoring(db, year, rules_name=spec.params.get("rules")))}
    to = fixed(db, spec)
    messages = [R.summary_message(spec.id, f"{year} 年度亩均评价已计算", result, to)] \
        if (to or "webhook" in spec.channels) else []
    return result, messages, []


def meeting_reminder(db, spec, fire_local: dt.datetime):
    """会议/宣讲提醒: the spec's fixed text to its recipients."""
    to = fixed(db, spec)
    message = R.fixed_message(spec.params, fire_local, to)
    return {"recipients": len(to)}, [message], []
