"""The firm-requests step of ``kq demo``: the demo ledger through the closed loop, on fixed dates.

Imports ``fixtures/demo/requests.xlsx``, routes every request on the day it was received, walks one
through progress, answer, return visit and close, sends one back with an unsatisfied return visit,
applies the escalation rules on the demo date and lists what is overdue then. Returns the lines to print.
"""
from __future__ import annotations

import datetime as dt

from ..i18n import _
from . import request_views as V
from . import requests as S

D = dt.date.fromisoformat
WHO = "demo"
DEMO_DATE = "2026-01-05"


def demo_step(db, echo) -> None:
    """The ``kq demo`` step (registered in ``kqtools.cli.demo.STEPS``)."""
    for line in run_demo(db, DEMO_DATE):
        echo(line)


def run_demo(db, demo_date: str) -> list[str]:
    from importlib import resources

    from .. import output
    from ..importer import run_import
    from ..labels import relabel, value_mapper
    from ..readers import open_table
    from .request_rules import load as load_rules

    lines = []
    status = value_mapper("status")
    entry = resources.files("kqtools.fixtures").joinpath("demo", "requests.xlsx")
    with entry.open("rb") as fh:
        result = run_import(db, open_table(fh, "requests.xlsx"), "requests")
    lines.append(_("kq import requests {name}: {read} read, {inserted} inserted, {rejected} rejected").format(
        name="requests.xlsx", read=result.read, inserted=result.inserted, rejected=result.rejected))
    received = list(db.conn.execute("SELECT id, external_id, received_on, category FROM requests "
                                    "WHERE status = 'received' ORDER BY id"))
    for rid, ext, on, category in received:
        extra = {}
        if ext == "ZF2025-041":            # 用地用房, 重大疑难: two departments
            extra["with_"] = ("区行政审批局",)
        if category == "数字化转型":          # no category of the rules: the clerk picks the department
            extra["to"] = "区科技局"
        S.route(db, rid, on=D(on), by=WHO, note="demo: routed on the day received", **extra)
    # the time limits as the shipped rule file has them (the demo routes by it), shortest first
    limits = sorted(load_rules(db).rules.time_limits.items(), key=lambda item: (item[1], item[0]))
    priority = value_mapper("priority")
    lines.append(_("kq requests route: {n} requests routed on the day received (due dates in working days: "
                   "{limits})").format(n=len(received), limits=", ".join(f"{priority(p)} {d}" for p, d in limits)))
    by_ticket = {ext: rid for rid, ext, _on, _category in received}
    first, second = by_ticket["12345-20251103-0012"], by_ticket["YQL-2025-0871"]
    S.progress(db, first, note="已与合作银行对接,授信材料补正中", on=D("2025-11-10"), by="区金融监管局")
    S.answer(db, first, note="银行已完成授信审批,贴息按季度拨付", on=D("2025-11-14"), by="区金融监管局")
    S.revisit(db, first, satisfaction="满意", note="企业确认已收到授信通知", on=D("2025-11-17"))
    done = S.close(db, first, on=D("2025-11-17"), by=WHO)
    lines.append(_("request {id}: routed, progress, answered, revisited (满意), {status} on {on} "
                   "(kq requests show {id})").format(id=first, status=status(done["status"]), on=done["closed_on"]))
    S.answer(db, second, note="人才公寓需排队,预计三个月", on=D("2025-11-12"), by="区委人才办")
    back = S.revisit(db, second, satisfaction="不满意", note="企业希望先安排过渡住房", on=D("2025-11-14"))
    lines.append(_("request {id}: answered, revisit 不满意 -> {status} again, new due date {due_on}, "
                   "reopened {reopened}").format(id=second, status=status(back["status"]), due_on=back["due_on"],
                                                 reopened=back["reopened"]))
    # the departments answer most of the others; some firms are visited again
    for ticket, day, note, visit in [
            ("ZF2025-042", "2025-11-12", "奖励资金已拨付到企业账户", ("2025-11-14", "满意")),
            ("12345-20251114-0033", "2025-11-21", "已对接知识产权快速维权中心", ("2025-11-24", "基本满意")),
            ("LX2025-007", "2025-11-28", "环评与施工许可并联审批,已出具批复", None),
            ("YQL-2025-0902", "2025-11-27", "质押融资已获银行受理", ("2025-12-01", "满意")),
            ("12345-20251126-0051", "2025-12-02", "已告知迁移流程并安排专人帮办", None),
            ("ZF2025-057", "2025-12-10", "已协调学校接收", ("2025-12-12", "满意"))]:
        rid = by_ticket[ticket]
        S.answer(db, rid, note=note, on=D(day), by=WHO)
        if visit:
            S.revisit(db, rid, satisfaction=visit[1], on=D(visit[0]))
            S.close(db, rid, on=D(visit[0]), by=WHO)
    lines.append(_("kq requests answer, revisit, close: six more answered, four of them revisited and closed"))
    escalated = S.escalate_due(db, D(demo_date), by=WHO)
    lines.append(_("kq requests escalate --due --as-of {day}: {n} escalation(s)").format(day=demo_date,
                                                                                          n=len(escalated)))
    for e in escalated[:4]:                 # the note is the escalation's record in the timeline: data
        lines.append(f"    #{e['id']} {e['note']}")
    view = V.list_requests(db, as_of=D(demo_date), overdue=True)
    lines.append(_("kq requests list --overdue --as-of {day}: {n} overdue").format(day=demo_date, n=len(view.rows)))
    shown, heads = relabel(view.rows[:8], ["id", "name", "category", "department", "due_on", "days_overdue", "level"],
                           "requests")
    text = output.to_string(list(shown), heads, "table")
    lines += ["  " + line for line in text.rstrip("\n").splitlines()]
    total = V.stats(db, as_of=D(demo_date)).rows[-1]
    lines.append(_("kq requests stats --as-of {day}: {received} received, {closed} closed, {overdue} overdue, "
                   "on time {on_time}, satisfied {satisfied}, {reopened} sent back").format(
        day=demo_date, received=total["received"], closed=total["closed"], overdue=total["overdue"],
        on_time=f"{total['on_time_rate']:.0%}", satisfied=f"{total['satisfied_rate']:.0%}",
        reopened=total["reopened"]))
    return lines
