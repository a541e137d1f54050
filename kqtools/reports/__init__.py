"""Reports with charts for leaders (报表): a report is a small registered function over service data.

:data:`REPORTS` maps a report's name to ``"module:function"``; the function takes ``db`` and keyword
parameters and returns a :class:`kqtools.reports.model.Report` (key figures, summary tables, charts,
detail tables). A new capability adds its report with one line here and one function (see
:mod:`kqtools.reports.data`). :func:`make_report` builds one and writes it, as a workbook
(:mod:`kqtools.reports.xlsx`) or a self-contained HTML page (:mod:`kqtools.reports.html`), the
format taken from the file's extension; :mod:`kqtools.reports.briefing` is the monthly briefing job.

Heavy libraries (XlsxWriter) are imported only when a workbook is written.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

from ..errors import KqtoolsError
from ..i18n import _

REPORTS = {
    "score": "kqtools.reports.data:score_report",
    "lists": "kqtools.reports.data:lists_report",
    "visits": "kqtools.reports.data:visits_report",
    "requests": "kqtools.reports.requests_report:requests_report",
    "ladder": "kqtools.reports.ladder_report:ladder_report",
    "targets": "kqtools.reports.ladder_report:targets_report",
}
EXTENSIONS = {".xlsx": "xlsx", ".html": "html", ".htm": "html"}


class ReportFormatError(KqtoolsError):
    """``-o`` names a file whose extension is not a report format."""


def report_format(path: str) -> str:
    """``xlsx`` or ``html`` from the extension; :class:`ReportFormatError` (one line) otherwise."""
    ext = Path(path).suffix.lower()
    if ext not in EXTENSIONS:
        raise ReportFormatError(_("{path}: a report is written as .xlsx (Excel, with charts) or .html (one "
                                  "page for e-mail), chosen by the extension; not {value}").format(
                                    path=path, value=ext or 'a file without extension'))
    return EXTENSIONS[ext]


def build(db, name: str, **params):
    """The report ``name`` (a key of :data:`REPORTS`) made from the database."""
    try:
        module, _colon, function = REPORTS[name].partition(":")
    except KeyError:
        raise KqtoolsError(_("no report {name!r} (one of {items})").format(name=name, items=', '.join(REPORTS))) from None
    return getattr(importlib.import_module(module), function)(db, **params)


def render(report, fmt: str, target) -> dict:
    """Write ``report`` as ``fmt`` to ``target`` (path or binary file object); what was written."""
    if fmt == "xlsx":
        from .xlsx import write_workbook

        return write_workbook(report, target)
    from .html import page

    data = page([report]).encode("utf-8")
    if isinstance(target, (str, os.PathLike)):
        with open(target, "wb") as fh:
            fh.write(data)
    else:
        target.write(data)
    return {"sheets": [], "charts": len(report.charts), "rows": {}}


def write_file(report, path: str, file_mode: int = 0o600) -> dict:
    """Write the report to ``path`` like every file kq writes (:func:`kqtools.files.replace_file`:
    a private temporary file in the same folder, renamed over ``path`` when complete; never through
    a symbolic link; a failure leaves any earlier file as it was). Returns ``{"path", "format",
    "bytes", "sheets", "charts", "rows"}``."""
    from ..files import replace_file

    fmt = report_format(path)
    try:
        with replace_file(path, file_mode, binary=True) as fh:
            written = render(report, fmt, fh)
    except Exception as exc:
        if type(exc).__module__.startswith("xlsxwriter"):   # FileSizeError and the like: the file, not a bug
            raise KqtoolsError(_("{path}: cannot write the workbook: {exc}").format(path=path, exc=exc)) from None
        raise
    return {"path": str(path), "format": fmt, "bytes": os.path.getsize(path), **written}


def make_report(db, name: str, path: str, file_mode: int = 0o600, **params) -> dict:
    """Build report ``name`` and write it to ``path`` (format from the extension, checked first), in
    the language of :func:`kqtools.reports.labels.language`."""
    report_format(path)
    report = build(db, name, **params)
    return {"report": name, **report.params, **write_file(report, path, file_mode)}
