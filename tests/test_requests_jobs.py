"""The requests-due and requests-revisit jobs: who hears of what, on China's working days, once."""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from conftest import import_rows

from kqtools.storage import requests as S

D = dt.date.fromisoformat
FIRM, FIRM2, FIRM3 = "91320412RQ000001X9", "91320412RQ00000289", "91320412RQ00000364"


def outbox(db_path, job_id) -> list[dict]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM outbox WHERE job_id = ? ORDER BY id", (job_id,))]
    finally:
        conn.close()


def run_due(kq, job, now):
    r = kq("jobs", "run-due", "--job", job, "--now", now, "--no-deliver")
    assert r.returncode == 0, r
    return r


@pytest.fixture
def seeded(db):
    import_rows(db, "enterprises", [{"uscc": FIRM, "name": "常州甲科技有限公司"},
                                    {"uscc": FIRM2, "name": "常州乙智能装备有限公司"},
                                    {"uscc": FIRM3, "name": "常州丙新材料有限公司"}])
    import_rows(db, "specialists", [{"id": "WJ001", "name": "王芳", "email": "wj001@kq.test"},
                                    {"id": "WJ002", "name": "李强", "email": "wj002@kq.test"}])
    db.conn.execute("INSERT INTO assignments (uscc, specialist_id, assigned_on) VALUES (?, 'WJ001', '2026-01-01')",
                    (FIRM,))
    return db


def _routed(db, uscc, category, received, due, **kw):
    r = S.add_request(db, uscc, category=category, summary=f"{category}诉求", on=D(received), **kw)["id"]
    S.route(db, r, on=D(received), due=D(due), by="t")
    return r


def test_requests_due_tells_each_department_and_the_escalation_level_once(kq, seeded, db_path):
    late = _routed(seeded, FIRM, "融资", "2026-03-02", "2026-03-06")                     # 1 working day late on 3/9
    soon = _routed(seeded, FIRM2, "融资", "2026-03-02", "2026-03-11")                    # due in 2 working days
    later = _routed(seeded, FIRM2, "人才", "2026-03-02", "2026-03-12")                   # 3 working days: not yet
    major = _routed(seeded, FIRM3, "审批", "2026-03-02", "2026-03-10", priority="major")  # level 2 from the start
    run_due(kq, "requests-due", "2026-03-09T08:35+08:00")
    msgs = outbox(db_path, "requests-due")
    by_recipient = {m["recipient"]: m for m in msgs}
    assert set(by_recipient) == {"jrjg@wj.example.gov.cn", "xzsp@wj.example.gov.cn", "fgqld@wj.example.gov.cn"}
    finance = by_recipient["jrjg@wj.example.gov.cn"]
    assert finance["subject"] == "【诉求办理提醒】区金融监管局:逾期 1 件,2 个工作日内到期 1 件"
    assert f"#{late} " in finance["body"] and "逾期 1 个工作日" in finance["body"] and f"#{soon} " in finance["body"]
    assert f"#{later} " not in finance["body"]
    assert "已提级至第 2 级(分管区领导)" in finance["body"]                  # escalated by the rule before writing
    leader = by_recipient["fgqld@wj.example.gov.cn"]                          # level 2: the late one and the major one
    assert f"#{late} " in leader["body"] and f"#{major} " in leader["body"] and f"#{soon} " not in leader["body"]
    assert S.fetch(seeded, late)["level"] == 2
    # the same occurrence again: nothing more; the next working day: the escalation is not repeated
    run_due(kq, "requests-due", "2026-03-09T08:40+08:00")
    assert len(outbox(db_path, "requests-due")) == len(msgs)
    run_due(kq, "requests-due", "2026-03-10T08:35+08:00")
    steps = [s for s, in seeded.conn.execute("SELECT step FROM request_events WHERE request_id = ? "
                                             "AND step = 'escalated'", (late,))]
    assert steps == ["escalated"]


def test_requests_due_is_quiet_on_a_holiday_and_runs_on_an_adjusted_working_saturday(kq, seeded, db_path):
    _routed(seeded, FIRM, "融资", "2026-09-21", "2026-09-30")
    run_due(kq, "requests-due", "2026-10-01T08:35+08:00")                     # National Day
    assert outbox(db_path, "requests-due") == []
    result = seeded.conn.execute("SELECT status, result FROM job_runs WHERE job_id = 'requests-due'").fetchone()
    assert result[0] == "done" and "not a working day" in result[1]
    run_due(kq, "requests-due", "2026-10-10T08:35+08:00")                     # Saturday, worked (调休)
    (m,) = [m for m in outbox(db_path, "requests-due") if m["recipient"] == "jrjg@wj.example.gov.cn"]
    assert "逾期 3 个工作日" in m["body"]                                     # 10/8, 10/9, 10/10


def test_requests_revisit_goes_to_the_specialist_the_reporter_or_the_coordinating_department(kq, seeded, db_path):
    served = _routed(seeded, FIRM, "融资", "2026-03-02", "2026-03-13")                   # FIRM is WJ001's
    reported = _routed(seeded, FIRM2, "人才", "2026-03-02", "2026-03-13", reported_by="WJ002")
    nobody = _routed(seeded, FIRM3, "审批", "2026-03-02", "2026-03-13")
    fresh = _routed(seeded, FIRM, "市场", "2026-03-02", "2026-03-13")
    for rid in (served, reported, nobody):
        S.answer(seeded, rid, note="已答复", on=D("2026-03-04"))
    S.answer(seeded, fresh, note="已答复", on=D("2026-03-06"))                          # waiting 3 days: not yet
    run_due(kq, "requests-revisit", "2026-03-09T08:35+08:00")
    msgs = {m["recipient"]: m for m in outbox(db_path, "requests-revisit")}
    assert set(msgs) == {"wj001@kq.test", "wj002@kq.test", "sjj@wj.example.gov.cn"}
    assert f"#{served} " in msgs["wj001@kq.test"]["body"] and f"#{fresh} " not in msgs["wj001@kq.test"]["body"]
    assert "已等待 5 天" in msgs["wj001@kq.test"]["body"]
    assert f"#{reported} " in msgs["wj002@kq.test"]["body"]
    assert f"#{nobody} " in msgs["sjj@wj.example.gov.cn"]["body"]
    assert msgs["wj001@kq.test"]["subject"] == "【诉求回访提醒】王芳:1 件诉求待回访"
