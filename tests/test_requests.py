"""Firm requests through the closed loop: steps in order, refusals that change nothing, reopenings,
escalation, two clerks at once, the ledger import and a request raised during a visit."""
from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import import_rows, write_csv

from kqtools import requests as Q
from kqtools.storage import request_views as V
from kqtools.storage import requests as S

D = dt.date.fromisoformat
FIRM, FIRM2, FIRM3 = "91320412RQ000001X9", "91320412RQ00000289", "91320412RQ00000364"
UNKNOWN_FIRM = "91320412RQ0000044Y"


@pytest.fixture
def firms(db):
    import_rows(db, "enterprises", [{"uscc": FIRM, "name": "常州甲科技有限公司", "district": "湖塘镇"},
                                    {"uscc": FIRM2, "name": "常州乙智能装备有限公司", "district": "牛塘镇"},
                                    {"uscc": FIRM3, "name": "常州丙新材料有限公司", "district": "湖塘镇"}])
    import_rows(db, "specialists", [{"id": "WJ001", "name": "王芳", "email": "wj001@kq.test"},
                                    {"id": "WJ002", "name": "李强", "email": "wj002@kq.test"}])
    db.conn.execute("INSERT INTO assignments (uscc, specialist_id, assigned_on) VALUES (?, 'WJ001', '2026-01-01')",
                    (FIRM,))
    return db


def dump(db) -> list[str]:
    return list(db.conn.iterdump())


def timeline(db, request_id) -> list[tuple]:
    return [tuple(r) for r in db.conn.execute("SELECT step, at, by, note, status_after FROM request_events "
                                              "WHERE request_id = ? ORDER BY id", (request_id,))]


# ---------------------------------------------------------------- the whole loop
def test_the_whole_loop_on_one_request_through_the_command_line(kq, firms):
    add = kq("requests", "add", FIRM, "--category", "贷款", "--summary", "科技贷款贴息审批慢", "--channel", "12345",
             "--by", "wj001", "--priority", "紧急", "--on", "2026-03-02", "--external-id", "12345-0302-01", "-f", "json")
    assert add.returncode == 0, add
    r = add.json()
    assert (r["id"], r["status"], r["category"], r["channel"], r["priority"], r["external_id"]) == \
        (1, "received", "融资", "hotline", "urgent", "12345-0302-01")
    steps = [
        ("route", "1", "--on", "2026-03-02", "--with", "区科技局", "--by", "张科员"),
        ("progress", "1", "--note", "已约谈合作银行", "--on", "2026-03-03", "--by", "区金融监管局"),
        ("progress", "1", "--note", "授信材料已补正", "--on", "2026-03-04"),
        ("answer", "1", "--note", "银行已完成授信,贴息按季拨付", "--on", "2026-03-05", "--by", "区金融监管局"),
        ("revisit", "1", "--satisfaction", "基本满意", "--note", "希望加快拨付", "--on", "2026-03-09"),
        ("close", "1", "--on", "2026-03-09"),
    ]
    seen = []
    for step in steps:
        res = kq("requests", *step, "-f", "json")
        assert res.returncode == 0, res
        seen.append(res.json())
    routed = seen[0]
    assert (routed["department"], routed["co_departments"], routed["due_on"]) == \
        ("区金融监管局", ["区科技局"], "2026-03-05")          # urgent: 3 working days from Monday 3/2
    assert [s["status"] for s in seen] == ["routed", "in_progress", "in_progress", "answered", "revisited", "closed"]
    assert seen[-1]["closed_on"] == "2026-03-09" and seen[-1]["satisfaction"] == "basically_satisfied"
    show = kq("requests", "show", "1", "-f", "json").json()
    assert [(t["step"], t["at"][:10], t["by"]) for t in show["timeline"]] == [
        ("received", "2026-03-02", "WJ001"), ("routed", "2026-03-02", "张科员"),
        ("progress", "2026-03-03", "区金融监管局"), ("progress", "2026-03-04", show["timeline"][3]["by"]),
        ("answered", "2026-03-05", "区金融监管局"), ("revisited", "2026-03-09", "WJ001"),   # the firm's specialist
        ("closed", "2026-03-09", show["timeline"][6]["by"])]
    assert show["timeline"][4]["note"] == "银行已完成授信,贴息按季拨付"
    assert show["next_steps"] == ["reopen"] and show["specialist"] == "WJ001"


# ---------------------------------------------------------------- out of order
def _request_in(db, status: str) -> int:
    """A request brought to ``status`` through the services, dated in March 2026."""
    r = S.add_request(db, FIRM, category="融资", summary="贴息", on=D("2026-03-02"))["id"]
    path = {"received": [], "routed": ["route"], "in_progress": ["route", "progress"],
            "answered": ["route", "answer"], "revisited": ["route", "answer", "revisit"],
            "closed": ["route", "answer", "revisit", "close"]}[status]
    for step in path:
        kwargs = {"on": D("2026-03-03"), "by": "t"}
        if step in ("progress", "answer"):
            kwargs["note"] = "n"
        if step == "revisit":
            kwargs["satisfaction"] = "满意"
        getattr(S, step)(db, r, **kwargs)
    return r


def _attempt(db, step: str, request_id: int):
    kwargs = {"on": D("2026-03-04"), "by": "t"}
    if step in ("progress", "answer"):
        kwargs["note"] = "n"
    if step == "revisit":
        kwargs["satisfaction"] = "满意"
    if step in ("reopen", "escalate"):
        kwargs["reason"] = "r"
    return getattr(S, step)(db, request_id, **kwargs)


@pytest.mark.parametrize("status", Q.STATUSES)
def test_every_out_of_order_step_is_refused_naming_the_status_and_the_allowed_steps(firms, status):
    request_id = _request_in(firms, status)
    refused = [step for step, (sources, _) in Q.STEPS.items() if status not in sources]
    assert refused, status
    allowed = ", ".join(Q.allowed_steps(status))
    before = dump(firms)
    for step in refused:
        with pytest.raises(Q.StepRefused) as exc:
            _attempt(firms, step, request_id)
        assert exc.value.exit_status == 2
        assert str(exc.value) == (f"request {request_id} is {status}: {step} is not allowed now; "
                                  f"allowed next steps: {allowed}")
        assert dump(firms) == before, f"{step} from {status} changed the database"


def test_an_out_of_order_step_on_the_command_line_exits_2_with_one_line_and_changes_nothing(kq, firms):
    request_id = _request_in(firms, "answered")
    before = dump(firms)
    r = kq("requests", "close", request_id)
    assert r.returncode == 2, r
    assert r.stderr == (f"kq: error: request {request_id} is answered: close is not allowed now; "
                        f"allowed next steps: revisit, reopen, escalate\n")
    assert r.stdout == "" and dump(firms) == before


def test_a_step_dated_before_the_previous_step_or_in_the_future_is_refused(kq, firms):
    request_id = _request_in(firms, "routed")                      # routed on 2026-03-03
    before = dump(firms)
    early = kq("requests", "answer", request_id, "--note", "x", "--on", "2026-03-02")
    assert early.returncode == 2 and "before its previous step (2026-03-03)" in early.stderr, early
    future = kq("requests", "answer", request_id, "--note", "x", "--on", (dt.date.today() + dt.timedelta(days=2)))
    assert future.returncode == 2 and "is in the future" in future.stderr, future
    assert dump(firms) == before
    same_day = kq("requests", "answer", request_id, "--note", "x", "--on", "2026-03-03")
    assert same_day.returncode == 0, same_day


# ---------------------------------------------------------------- revisits and reopening
def test_an_unsatisfied_revisit_sends_it_back_with_a_new_due_date_and_counts_a_reopening(firms):
    request_id = _request_in(firms, "answered")                    # answered 2026-03-03
    back = S.revisit(firms, request_id, satisfaction="不满意", note="仍未放款", on=D("2026-03-06"), by="WJ001")
    assert back["status"] == "routed" and back["reopened"] == 1
    assert back["due_on"] == "2026-03-20"                          # normal: 10 working days from Friday 3/6
    assert back["satisfaction"] == "unsatisfied"
    with pytest.raises(Q.StepRefused, match="is routed: close is not allowed now"):
        S.close(firms, request_id, on=D("2026-03-06"))
    S.answer(firms, request_id, note="已放款", on=D("2026-03-10"))
    S.revisit(firms, request_id, satisfaction="满意", on=D("2026-03-11"))
    closed = S.close(firms, request_id, on=D("2026-03-11"))
    assert (closed["status"], closed["reopened"], closed["closed_on"]) == ("closed", 1, "2026-03-11")
    assert [t[0] for t in timeline(firms, request_id)] == [
        "received", "routed", "answered", "revisited", "answered", "revisited", "closed"]


def test_an_unsolvable_answer_is_closed_after_its_revisit_even_if_the_firm_is_unhappy(firms):
    request_id = _request_in(firms, "routed")
    with pytest.raises(Q.RequestError, match="why it cannot be solved"):
        S.answer(firms, request_id, note="  ", unsolvable=True, on=D("2026-03-04"))
    S.answer(firms, request_id, note="规划用途不允许,已向企业说明并推荐替代厂房", unsolvable=True, on=D("2026-03-04"))
    after = S.revisit(firms, request_id, satisfaction="不满意", on=D("2026-03-05"))
    assert (after["status"], after["reopened"], after["unsolvable"]) == ("revisited", 0, 1)
    assert S.close(firms, request_id, on=D("2026-03-05"))["status"] == "closed"


def test_reopen_a_closed_request_and_escalate_it_by_hand(kq, firms):
    request_id = _request_in(firms, "closed")                      # closed 2026-03-03
    r = kq("requests", "reopen", request_id, "--reason", "企业反映问题复发", "--on", "2026-03-09", "-f", "json")
    assert r.returncode == 0, r
    assert (r.json()["status"], r.json()["reopened"], r.json()["closed_on"], r.json()["due_on"]) == \
        ("routed", 1, None, "2026-03-23")
    up = kq("requests", "escalate", request_id, "--reason", "涉及多部门", "--on", "2026-03-10", "-f", "json")
    assert up.returncode == 0 and up.json()["level"] == 2, up
    again = kq("requests", "escalate", request_id, "--to-level", "2", "--reason", "x", "--on", "2026-03-10")
    assert again.returncode == 2 and "at level 2 (分管区领导) already" in again.stderr, again
    beyond = kq("requests", "escalate", request_id, "--to-level", "4", "--reason", "x", "--on", "2026-03-10")
    assert beyond.returncode == 2 and "levels 1-3" in beyond.stderr, beyond


# ---------------------------------------------------------------- escalation by rule
def _routed(db, uscc, received, due, priority="normal", with_=()):
    r = S.add_request(db, uscc, category="融资", summary="贴息", on=D(received), priority=priority)["id"]
    S.route(db, r, on=D(received), due=D(due), with_=with_, by="t")
    return r


def test_overdue_by_the_threshold_raises_the_level_once_and_a_second_run_changes_nothing(kq, firms):
    # thresholds 1 and 10 working days (shipped rules); due Friday 2026-03-06
    normal = _routed(firms, FIRM, "2026-03-02", "2026-03-06")
    major = _routed(firms, FIRM2, "2026-03-02", "2026-03-06", priority="major")       # starts at level 2
    on_time = _routed(firms, FIRM3, "2026-03-02", "2026-03-20")
    first = kq("requests", "escalate", "--due", "--as-of", "2026-03-09")               # Monday: 1 working day late
    assert first.returncode == 0, first
    rows = first.jsonl()
    assert [(r["id"], r["level_from"], r["level_to"], r["days_overdue"]) for r in rows] == \
        [(normal, 1, 2, 1), (major, 2, 3, 1)]
    before = dump(firms)
    again = kq("requests", "escalate", "--due", "--as-of", "2026-03-09")
    assert again.returncode == 0 and again.stdout == "" and "nothing to escalate" in again.stderr
    assert dump(firms) == before
    # nine working days later nothing new; on the tenth the second threshold, once
    assert S.escalate_due(firms, D("2026-03-19")) == []
    tenth = S.escalate_due(firms, D("2026-03-20"))
    assert [(r["id"], r["level_to"]) for r in tenth] == [(normal, 3)]   # the major one is at the top already
    assert S.escalate_due(firms, D("2026-03-20")) == []
    levels = {r["id"]: r["level"] for r in V.list_requests(firms, as_of=D("2026-03-20")).rows}
    assert levels == {normal: 3, major: 3, on_time: 1}
    steps = [t for t in timeline(firms, normal) if t[0] == "escalated"]
    assert [(t[1], t[2]) for t in steps] == [("2026-03-09", "rule"), ("2026-03-20", "rule")]
    assert "overdue 1 working day (rule: 1): level 1 -> 2 (分管区领导)" == steps[0][3]


def test_an_overdue_request_with_co_departments_goes_to_the_coordinating_department(firms):
    request_id = _routed(firms, FIRM, "2026-03-02", "2026-03-06", with_=("区行政审批局",))
    changes = S.escalate_due(firms, D("2026-03-09"))
    assert [(c["change"], c["level_to"], c["department"]) for c in changes] == \
        [("threshold", 2, "区金融监管局"), ("coordination", 3, "区数据局")]
    row = S.fetch(firms, request_id)
    assert (row["department"], row["co_departments"], row["level"]) == ("区数据局", ["区行政审批局", "区金融监管局"], 3)
    assert S.escalate_due(firms, D("2026-03-09")) == []
    listed = V.list_requests(firms, as_of=D("2026-03-09"), department="区金融监管局").rows
    assert [r["id"] for r in listed] == [request_id]                # still there, as a co-department


# ---------------------------------------------------------------- two clerks at once
def test_two_answers_prepared_together_give_one_winner_and_a_conflict(firms):
    request_id = _request_in(firms, "routed")
    first = S.prepare(firms, request_id, "answer", on=D("2026-03-04"), by="甲", note="答复甲")
    second = S.prepare(firms, request_id, "answer", on=D("2026-03-04"), by="乙", note="答复乙")
    first.changes = second.changes = {"status": "answered", "answered_on": "2026-03-04"}
    S.commit(firms, first)
    before = dump(firms)
    with pytest.raises(S.Conflict, match=f"request {request_id} was changed by someone else .*it is answered now"):
        S.commit(firms, second)
    assert dump(firms) == before
    assert [t[2] for t in timeline(firms, request_id) if t[0] == "answered"] == ["甲"]


def test_two_processes_answering_at_once_record_one_answer_and_tell_the_other(firms, db_path):
    request_id = _request_in(firms, "routed")
    firms.conn.close()
    hold = sqlite3.connect(db_path, isolation_level=None)
    hold.execute("BEGIN IMMEDIATE")               # both processes read the request, then wait for this lock
    env = {**os.environ, "KQ_DB": str(db_path), "PYTHONIOENCODING": "utf-8"}
    procs = [subprocess.Popen([sys.executable, "-m", "kqtools", "requests", "answer", str(request_id), "--note",
                               f"答复{i}", "--by", f"clerk{i}", "--on", "2026-03-04"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    time.sleep(3)                                 # not a timing assertion: the outcome below holds either way
    hold.execute("COMMIT")
    hold.close()
    results = [(p.wait(timeout=120), p.stdout.read().decode(), p.stderr.read().decode()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(rc for rc, _, _ in results)
    assert codes == [0, 2], results
    loser = next(err for rc, _, err in results if rc == 2)
    assert loser.count("\n") == 1 and loser.startswith(f"kq: error: request {request_id}"), loser
    assert "changed by someone else" in loser or "is answered: answer is not allowed" in loser
    check = sqlite3.connect(db_path)
    answers = check.execute("SELECT count(*) FROM request_events WHERE request_id = ? AND step = 'answered'",
                            (request_id,)).fetchone()[0]
    check.close()
    assert answers == 1


# ---------------------------------------------------------------- intake: ledger import, visits, add
LEDGER_HEADER = ["诉求编号", "企业名称", "统一社会信用代码", "诉求类别", "诉求内容", "受理日期", "来源渠道", "紧急程度"]


def test_a_ledger_with_chinese_headers_imports_as_received_requests(kq, firms, tmp_path):
    path = write_csv(tmp_path / "台账.csv", LEDGER_HEADER, [
        ["12345-001", "常州甲科技有限公司", FIRM, "专利", "专利被仿冒", "2026/3/2", "12345热线", "紧急"],
        ["YQL-002", "常州云帆数智有限公司", UNKNOWN_FIRM, "数字化转型", "智改数转诊断", "2026年3月3日", "一企来", ""],
        ["ZF-003", "常州乙智能装备有限公司", FIRM2, "融资", "贷款", "2026-03-04", "飞鸽传书", "一般"],
        ["ZF-004", "常州乙智能装备有限公司", FIRM2, "融资", "贷款", "2026-03-04", "走访", "十万火急"],
    ], encoding="gb18030")
    r = kq("import", "requests", path, "-f", "json", "--rejects", tmp_path / "rej.csv")
    assert r.returncode == 1, r                                    # two rows rejected: needs attention
    assert (r.json()["inserted"], r.json()["rejected"]) == (2, 2)
    reasons = (tmp_path / "rej.csv").read_text(encoding="utf-8-sig")
    assert "飞鸽传书" in reasons and "十万火急" in reasons
    rows = {x["external_id"]: x for x in kq("requests", "list").jsonl()}
    assert set(rows) == {"12345-001", "YQL-002"}
    a, b = rows["12345-001"], rows["YQL-002"]
    assert (a["category"], a["priority"], a["status"], a["received_on"]) == ("知识产权", "urgent", "received", "2026-03-02")
    assert (b["category"], b["priority"], b["name"]) == ("数字化转型", "normal", "常州云帆数智有限公司")  # kept as written
    show = kq("requests", "show", str(a["id"]), "-f", "json").json()
    assert [(t["step"], t["at"]) for t in show["timeline"]] == [("received", "2026-03-02")]
    # the same ledger again: nothing new, nothing doubled; an edited row is an `updated` entry
    again = kq("import", "requests", path, "-f", "json")
    assert (again.json()["inserted"], again.json()["unchanged"]) == (0, 2)
    path.write_text(path.read_text(encoding="gb18030").replace("专利被仿冒", "专利被仿冒；请求维权援助"), encoding="gb18030")
    kq("import", "requests", path)
    steps = [t["step"] for t in kq("requests", "show", str(a["id"]), "-f", "json").json()["timeline"]]
    assert steps == ["received", "updated"]
    # a category no rule knows is routed by naming the department
    refused = kq("requests", "route", str(b["id"]), "--on", "2026-03-03")
    assert refused.returncode == 2 and "数字化转型" in refused.stderr and "--to" in refused.stderr, refused
    assert kq("requests", "route", str(b["id"]), "--on", "2026-03-03", "--to", "区科技局").returncode == 0


def test_a_request_raised_during_a_visit_is_recorded_with_the_visit(kq, firms):
    r = kq("visits", "log", FIRM, "--by", "WJ002", "--on", "2026-03-05", "--note", "走访",
           "--request", "希望对接高校研发团队", "--request-category", "人才")
    assert r.returncode == 0, r
    assert "recorded request 1" in r.stderr
    row = kq("requests", "list").jsonl()[0]
    assert (row["uscc"], row["category"], row["received_on"], row["status"]) == (FIRM, "人才", "2026-03-05", "received")
    shown = kq("requests", "show", "1", "-f", "json").json()
    assert (shown["channel"], shown["reported_by"]) == ("visit", "WJ002")
    # a bad category is refused before the visit is written
    before = dump(firms)
    bad = kq("visits", "log", FIRM, "--by", "WJ002", "--on", "2026-03-06", "--request", "x", "--request-category", "天气")
    assert bad.returncode == 2 and "category" in bad.stderr, bad
    assert dump(firms) == before


def test_add_refuses_what_it_cannot_use_in_one_line(kq, firms):
    cases = [
        (("--category", "天气", "--summary", "x"), "category: unknown value '天气'"),
        (("--category", "融资", "--summary", "x", "--channel", "飞鸽"), "channel: unknown value '飞鸽'"),
        (("--category", "融资", "--summary", "x", "--priority", "asap"), "priority: unknown value 'asap'"),
        (("--category", "融资", "--summary", "x", "--by", "NOBODY"), "no specialist with id 'NOBODY'"),
        (("--category", "融资", "--summary", "   "), "summary"),
    ]
    before = dump(firms)
    for args, message in cases:
        r = kq("requests", "add", FIRM, *args)
        assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1, (args, r)
    bad = kq("requests", "add", "91320412RQ000001X8", "--category", "融资", "--summary", "x")
    assert bad.returncode == 2 and "check character" in bad.stderr, bad
    assert dump(firms) == before
    unknown = kq("requests", "add", UNKNOWN_FIRM, "--category", "融资", "--summary", "x", "--name", "常州丁有限公司",
                 "-f", "json")
    assert unknown.returncode == 0 and unknown.json()["name"] == "常州丁有限公司"
    assert "not in the enterprise register" in unknown.stderr


def test_the_rules_show_and_check_as_other_rule_files(kq, tmp_path):
    shown = kq("rules", "show", "requests")
    assert shown.returncode == 0 and 'coordinating_department = "区数据局"' in shown.stdout
    path = tmp_path / "r.toml"
    path.write_text(shown.stdout.replace('lead = "区商务局"', 'lead = "区商务委"'), encoding="utf-8")
    r = kq("requests", "list", "--rules", path)
    assert r.returncode == 2 and "categories.市场.lead: 区商务委 is not listed under [departments]" in r.stderr, r
    checked = kq("rules", "check", "requests", path)                # the same check, before any use
    assert checked.returncode == 1 and "categories.市场.lead: 区商务委 is not listed" in checked.stderr, checked
    path.write_text(shown.stdout.replace("working_days = 3", "working_days = 0"), encoding="utf-8")
    checked = kq("rules", "check", "requests", path)
    assert checked.returncode == 1 and "priorities.urgent.working_days" in checked.stderr, checked


def test_the_enumerations_of_the_import_schema_and_the_domain_agree():
    from kqtools.kinds import load_schema

    props = load_schema("requests")["properties"]
    for fname, table in (("channel", Q.CHANNELS), ("priority", Q.PRIORITY_NAMES)):
        expected = {name: canon for canon, names in table.items() for name in (canon, *names)}
        assert props[fname]["x-values"] == expected
        assert props[fname]["enum"] == list(table)


def test_the_demo_ledger_imports_and_one_request_walks_the_whole_loop(db):
    import io

    from conftest import ROOT

    from kqtools.importer import run_import
    from kqtools.readers import open_table
    from kqtools.storage.request_demo import run_demo

    demo = ROOT / "fixtures" / "demo"
    for kind, name in (("enterprises", "enterprises.csv"), ("specialists", "specialists.csv")):
        run_import(db, open_table(io.BytesIO((demo / name).read_bytes()), name), kind)
    lines = run_demo(db, "2026-01-05")
    assert lines[0] == "kq import requests requests.xlsx: 14 read, 14 inserted, 0 rejected"
    assert "request 1: routed, progress, answered, revisited (满意), closed on 2025-11-17" in lines[2]
    steps = [s for s, in db.conn.execute("SELECT step FROM request_events WHERE request_id = 1 ORDER BY id")]
    assert steps == ["received", "routed", "progress", "answered", "revisited", "closed"]
    outside = db.conn.execute("SELECT name FROM requests WHERE uscc = '91320594MA1XK3PL7Q'").fetchone()
    assert outside == ("苏州云栖数智科技有限公司",)                  # not in the register: the ledger's name kept
    assert any(line.startswith("kq requests stats --as-of 2026-01-05: 14 received, 5 closed") for line in lines)


def test_a_rule_text_is_validated_once_and_an_edited_one_again(kq, firms, tmp_path):
    rules = tmp_path / "my.toml"
    rules.write_text("# 武进区\n" + kq("rules", "show", "requests").stdout, encoding="utf-8")
    request_id = _request_in(firms, "received")                    # with the shipped rules
    assert kq("requests", "route", request_id, "--on", "2026-03-03", "--rules", rules).returncode == 0
    stored = dict(firms.conn.execute("SELECT name, sha256 FROM request_rules"))
    assert set(stored) == {"requests", str(rules)}
    route = [json.loads(d) for d, in firms.conn.execute("SELECT detail FROM request_events WHERE step = 'routed'")]
    assert route[0]["rules_sha256"] == stored[str(rules)]           # the timeline names the text it used
    rules.write_text(rules.read_text(encoding="utf-8").replace("working_days = 10", "working_days = -1"),
                     encoding="utf-8")
    r = kq("requests", "route", request_id, "--on", "2026-03-04", "--rules", rules)
    assert r.returncode == 2 and "priorities.normal.working_days" in r.stderr, r
