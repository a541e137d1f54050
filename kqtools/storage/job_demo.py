"""The reminder jobs' step of ``kq demo``: the shipped jobs run at a fixed Monday morning, and the outbox.

Registered in ``kqtools.cli.demo.STEPS``. Runs through :func:`kqtools.storage.job_service.run_due` with
the moment given (as ``kq jobs run-due --now`` does), so the story is the same on any day; nothing is
delivered (the demo sets no channel), the messages wait in the outbox.
"""
from __future__ import annotations

from ..i18n import _, pad, pgettext

DEMO_NOW = "2026-01-05T09:05+08:00"   # a Monday, after the weekly visit reminder and the daily expiry check
OUTBOX_COLUMNS = ["id", "job_id", "recipient", "subject", "status"]


def demo_step(db, echo) -> None:
    """``kq demo``: run the shipped jobs at a fixed Monday morning and show the outbox."""
    from .. import jobspecs as S
    from .. import output
    from .. import reminders as R
    from ..labels import relabel
    from . import job_service
    from . import outbox as O

    specs, problems = S.load_specs(None)
    result = job_service.run_due(db, specs, problems, R.parse_now(DEMO_NOW), given=True)
    echo(_("Reminder jobs due at {now} (kq jobs run-due --now {now}):").format(now=DEMO_NOW))
    for o in result.outcomes:
        # a job's error is its run's record: data, as stored
        extra = _(", {n} messages").format(n=o.messages) if o.status == "done" else f" ({o.error})" if o.error else ""
        echo(f"  {pad(o.job_id, 18)} {o.fire_time}  {pgettext('value:status', o.status)}{extra}")
    for p in result.problems:
        echo(_("  problem: {problem}").format(problem=p))
    rows = O.outbox(db)
    echo(_("Outbox: {n} message(s) (kq outbox list; delivered by run-due when KQ_SMTP_URL / KQ_WEBHOOK_URL "
           "are set)").format(n=len(rows)))
    if rows:
        shown, heads = relabel(rows[:6], OUTBOX_COLUMNS)
        echo(output.to_string(list(shown), heads, "table").rstrip())
        if len(rows) > 6:
            echo(_("  … and {n} more").format(n=len(rows) - 6))
