"""Invariants of the request rules, by property: the loop follows its table whatever the order of
steps, and escalation is idempotent and only ever raises a level."""
from __future__ import annotations

import datetime as dt

from hypothesis import given, settings, strategies as st

from kqtools import requests as Q
from kqtools.rules import read_text

FIRM = "91320412RQ000001X9"


def shipped_rules() -> Q.RequestRules:
    import tomllib

    _, text, _ = read_text("requests", None)
    return Q.compile_rules(tomllib.loads(text), "requests", "sha")


RULES = shipped_rules()
STEP_NAMES = ["route", "progress", "answer", "revisit", "close", "reopen", "escalate"]
SATISFACTIONS = ["满意", "基本满意", "不满意"]
# The loop as issue 16 states it, written out here rather than read from kqtools.requests.STEPS:
# status -> the steps it allows, and where each leads (escalate keeps the status).
LOOP = {
    "received": {"route": "routed", "escalate": "received"},
    "routed": {"route": "routed", "progress": "in_progress", "answer": "answered", "escalate": "routed"},
    "in_progress": {"route": "routed", "progress": "in_progress", "answer": "answered", "escalate": "in_progress"},
    "answered": {"revisit": "revisited", "reopen": "routed", "escalate": "answered"},
    "revisited": {"close": "closed", "reopen": "routed", "escalate": "revisited"},
    "closed": {"reopen": "routed"},
}


def test_the_step_table_is_the_loop_of_the_issue():
    assert {status: Q.allowed_steps(status) for status in Q.STATUSES} == {s: list(LOOP[s]) for s in LOOP}


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(STEP_NAMES), st.sampled_from(SATISFACTIONS), st.booleans()),
                      min_size=1, max_size=12))
def test_any_sequence_of_steps_follows_the_table_or_changes_nothing(steps):
    from kqtools.storage import open_db
    from kqtools.storage import requests as S

    db = open_db(":memory:")
    rid = S.add_request(db, FIRM, category="融资", summary="x", on=dt.date(2026, 3, 2), name="测试")["id"]
    day = dt.date(2026, 3, 2)
    for step, satisfaction, unsolvable in steps:
        before = S.fetch(db, rid)
        dump = list(db.conn.iterdump())
        kwargs = {"on": day, "by": "t"}
        if step in ("progress", "answer"):
            kwargs["note"] = "n"
        if step == "answer":
            kwargs["unsolvable"] = unsolvable
        if step == "revisit":
            kwargs["satisfaction"] = satisfaction
        if step in ("reopen", "escalate"):
            kwargs["reason"] = "r"
        allowed = step in LOOP[before["status"]]
        if step == "escalate" and Q.level_of(before["level"], before["priority"], RULES) == RULES.max_level:
            allowed = False                                   # nowhere higher to go
        try:
            after = getattr(S, step)(db, rid, **kwargs)
        except (Q.StepRefused, Q.RequestError):
            assert not allowed, (step, before["status"])
            assert list(db.conn.iterdump()) == dump           # refused: nothing written
            continue
        assert allowed, (step, before["status"])
        expected = LOOP[before["status"]][step]
        if step == "revisit" and Q.parse_satisfaction(satisfaction) == "unsatisfied" and not before["unsolvable"]:
            expected = "routed"
        assert after["status"] == expected
        if after["status"] == "closed":
            assert after["satisfaction"] in Q.SATISFIED or after["unsolvable"]
        last = db.conn.execute("SELECT step, status_before, status_after FROM request_events ORDER BY id DESC "
                               "LIMIT 1").fetchone()
        assert last == (Q.EVENT[step], before["status"], after["status"])      # one timeline entry per step
    db.conn.close()


@settings(max_examples=300, deadline=None)
@given(level=st.one_of(st.none(), st.integers(1, 3)), priority=st.sampled_from(Q.PRIORITIES),
       steps=st.integers(0, 2), co=st.lists(st.sampled_from(["区科技局", "区商务局"]), max_size=2, unique=True),
       department=st.sampled_from(["区金融监管局", "区数据局"]), days=st.integers(-5, 40))
def test_escalation_is_idempotent_and_only_raises_levels(level, priority, steps, co, department, days):
    plan = Q.plan_escalation(level=level, priority=priority, overdue_steps=steps, department=department,
                             co_departments=co, days_overdue=days, rules=RULES)
    start = Q.level_of(level, priority, RULES)
    assert start <= plan.level <= max(start, RULES.max_level)
    assert all(c.level_to >= c.level_from for c in plan.changes)
    assert len([c for c in plan.changes if c.kind == "threshold"]) <= len(RULES.thresholds)
    again = Q.plan_escalation(level=plan.level, priority=priority, overdue_steps=plan.overdue_steps,
                              department=plan.department, co_departments=plan.co_departments, days_overdue=days,
                              rules=RULES)
    assert not again.changed and again.overdue_steps == plan.overdue_steps and again.level == plan.level
    if days < min(RULES.thresholds) and not (co and department != RULES.coordinating_department and days >= 1):
        assert not plan.changed
