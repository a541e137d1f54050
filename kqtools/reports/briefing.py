"""The monthly briefing (定期通报协调解决情况, seed 001 一.1): a job action that mails the reports.

Registered as the ``report`` action in :mod:`kqtools.storage.job_actions`; the shipped spec
``jobs/monthly-briefing.toml`` runs it at 09:00 on the 1st of every month, the ``policy-briefing``
day. It makes the reports named in ``params.reports`` (default ``visits`` and ``lists``; the shipped
spec adds ``requests``, the 协调解决情况 itself) as of the
day before the fire date (the month just ended; on 1 January the whole previous year), and produces
one message: the HTML page of all of them as the e-mail body, each as an ``.xlsx`` attachment, and a
few lines of text for a webhook (a robot takes no HTML or files). A report that cannot be made (no
credit list built yet) is left out and said in the message; none at all fails the run.
"""
from __future__ import annotations

import datetime as dt
import io

from ..errors import KqtoolsError
from .labels import label as L

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DEFAULT_REPORTS = ("visits", "lists")


def report_params(name: str, day: dt.date) -> dict:
    """What each report is made of for a briefing dated ``day`` (the last day it covers)."""
    if name in ("visits", "requests"):
        return {"year": day.year, "today": day}
    if name == "score":
        return {"year": day.year - 1}      # the evaluation of the last complete year
    if name in ("ladder", "targets"):
        return {"as_of": day}
    return {}


def make_briefing(db, names, day: dt.date):
    """(reports, problems): the reports of ``names`` as of ``day``; one line per report left out."""
    from . import build

    made, problems = [], []
    for name in names:
        try:
            made.append(build(db, name, **report_params(name, day)))
        except KqtoolsError as exc:
            problems.append(L("briefing.left_out", name=name, reason=exc))
    return made, problems


def attachment(report):
    """The report as an ``.xlsx`` :class:`kqtools.reminders.Attachment` named after its title."""
    from ..reminders import Attachment
    from .xlsx import write_workbook

    buf = io.BytesIO()
    write_workbook(report, buf)
    return Attachment(f"{report.title}.xlsx", buf.getvalue(), XLSX_MIME)


def briefing_action(db, spec, fire_local: dt.datetime):
    """Job action ``report``: ``(result, [message], [])`` as every action returns; the briefing in
    the language of the reports (:func:`kqtools.reports.labels.language`: Chinese unless English was
    asked for)."""
    from .. import reminders as R
    from ..storage.job_actions import ActionError, fixed
    from .html import page

    names = list(spec.params.get("reports") or DEFAULT_REPORTS)
    day = fire_local.date() - dt.timedelta(days=1)
    reports, problems = make_briefing(db, names, day)
    if not reports:
        raise ActionError("no report could be made: " + "; ".join(problems))
    values = {"date": day.isoformat(), "year": day.year, "month": day.month}
    subject = spec.params.get("subject") or L("briefing.subject", **values)
    subject = subject.replace("{year}", str(day.year)).replace("{month}", str(day.month)) \
        .replace("{date}", day.isoformat())
    intro = L("briefing.intro", date=day.isoformat())
    html = page(reports, title=L("briefing.title", date=day.isoformat()), intro=intro, preview=10,
                generated=L("report.generated", now=fire_local.isoformat(timespec="minutes")))
    text = [intro, *(line for r in reports for line in r.text_lines), *problems, L("briefing.text_more")]
    message = R.Message(key="briefing", subject=subject, body="\n".join(text), to=tuple(fixed(db, spec)),
                        html=html, attachments=tuple(attachment(r) for r in reports))
    result = {"as_of": day.isoformat(), "reports": [r.name for r in reports], "left_out": problems,
              "attachments": [a.filename for a in message.attachments]}
    return result, [message], []
