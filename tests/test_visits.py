"""Visits: quarter arithmetic, visits due and yearly coverage against a hand count."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, strategies as st

from conftest import import_rows
from kqtools import visits as V
from kqtools.storage.assignment import run_assign
from kqtools.storage.scope import in_scope_usccs
from kqtools.storage.visits import coverage, due_visits
from kqtools.uscc import make_uscc

D = dt.date


def code(i: int) -> str:
    return make_uscc("91", "320412", f"{i:08d}")


A, B, C, E, F, G = (code(i) for i in (1, 2, 3, 5, 6, 7))


# ---------------------------------------------------------------- pure
@pytest.mark.parametrize("day, start, end", [
    (D(2026, 1, 1), D(2026, 1, 1), D(2026, 3, 31)),
    (D(2026, 3, 31), D(2026, 1, 1), D(2026, 3, 31)),
    (D(2026, 4, 1), D(2026, 4, 1), D(2026, 6, 30)),
    (D(2024, 8, 15), D(2024, 7, 1), D(2024, 9, 30)),
    (D(2025, 12, 31), D(2025, 10, 1), D(2025, 12, 31)),
])
def test_quarter_bounds(day, start, end):
    assert V.quarter_bounds(day) == (start, end)


def test_period_labels():
    assert V.period_label(D(2026, 1, 5)) == "2026Q1"
    assert V.period_label(D(2026, 11, 5), 6) == "2026H2"
    assert V.period_label(D(2026, 7, 5), 1) == "2026M07"


@given(st.dates(min_value=D(1990, 1, 1), max_value=D(2100, 12, 31)), st.sampled_from([1, 2, 3, 4, 6, 12]))
def test_period_contains_day_and_tiles_the_year(day, months):
    start, end = V.period_bounds(day, months)
    assert start <= day <= end
    assert start.day == 1 and (start.month - 1) % months == 0
    # the next day after the period starts the next period
    nxt = end + dt.timedelta(days=1)
    assert V.period_bounds(nxt, months)[0] == nxt


def test_due_pure_boundaries():
    firms = [{"uscc": u} for u in "abcde"]
    last = {"a": "2026-01-01", "b": "2025-12-31", "d": "2026-03-31", "e": "2025-10-01"}
    rows = V.due(firms, last, D(2026, 3, 31))
    assert [r["uscc"] for r in rows] == ["b", "c", "e"]
    assert rows[0]["days_since_last_visit"] == 90
    assert rows[1]["days_since_last_visit"] is None and rows[1]["last_visited_on"] is None
    assert rows[2]["period"] == "2026Q1" and rows[2]["period_ends_on"] == "2026-03-31"


def test_coverage_pure_goal_arithmetic():
    served = {f"f{i}": ("S1" if i < 10 else "S2", "湖塘镇") for i in range(20)}
    visited = {"f0", "f1", "f2", "f10"}
    rows = {(r["group"], r["key"]): r for r in V.coverage(served, visited, 0.30, {"S1": "张三"})}
    assert rows[("specialist", "S1")] | {} == {**rows[("specialist", "S1")], "firms": 10, "visited": 3,
                                               "share": 0.3, "met": True, "short_by": 0, "name": "张三"}
    assert rows[("specialist", "S2")]["met"] is False and rows[("specialist", "S2")]["short_by"] == 2
    assert rows[("total", "")]["firms"] == 20 and rows[("total", "")]["short_by"] == 2
    assert rows[("district", "湖塘镇")]["share"] == 0.2


# ---------------------------------------------------------------- against the database
@pytest.fixture
def fixture_db(db):
    """Six firms, two specialists, visits on the first and last day of quarters."""
    import_rows(db, "enterprises", [
        {"uscc": A, "name": "常州甲科技有限公司", "district": "湖塘镇"},
        {"uscc": B, "name": "常州乙电子有限公司", "district": "湖塘镇"},
        {"uscc": C, "name": "常州丙材料有限公司", "district": "牛塘镇"},
        {"uscc": E, "name": "常州戊智能有限公司", "district": "牛塘镇"},
        {"uscc": F, "name": "常州己装备有限公司", "district": "牛塘镇"},
        {"uscc": G, "name": "常州庚医药有限公司", "district": "湖塘镇"},
    ])
    import_rows(db, "designations", [
        {"uscc": A, "kind": "hte", "recognized_on": "2024-11-06"},
        {"uscc": B, "kind": "hte", "recognized_on": "2024-11-06"},
        {"uscc": C, "kind": "hte", "recognized_on": "2023-12-01"},
        {"uscc": E, "kind": "hte", "recognized_on": "2024-11-06"},
        # F: tech SME for 2024 only (expires 2024-12-31): out of scope in 2025 and 2026
        {"uscc": F, "kind": "tsme", "recognized_on": "2024-05-01", "expires_on": "2024-12-31"},
        {"uscc": G, "kind": "hte", "recognized_on": "2024-11-06"},
    ])
    import_rows(db, "specialists", [
        {"id": "S1", "name": "张三", "department": "高新技术处", "districts": "湖塘镇", "email": "zs@example.cn"},
        {"id": "S2", "name": "李四", "department": "高新技术处", "districts": "牛塘镇", "email": "ls@example.cn"},
    ])
    run_assign(db, D(2025, 1, 2))
    import_rows(db, "visits", [
        {"uscc": A, "specialist_id": "S1", "visited_on": "2026-01-01"},   # first day of 2026Q1
        {"uscc": B, "specialist_id": "S1", "visited_on": "2025-12-31"},   # last day of 2025Q4
        {"uscc": B, "specialist_id": "S1", "visited_on": "2025-10-01"},   # first day of 2025Q4
        {"uscc": E, "specialist_id": "S2", "visited_on": "2026-01-06"},   # after the as-of date below
        {"uscc": E, "specialist_id": "S2", "visited_on": "2025-03-31"},   # last day of 2025Q1
        {"uscc": F, "specialist_id": "S2", "visited_on": "2025-06-01"},   # out of scope: never counts
        {"uscc": G, "specialist_id": "S2", "visited_on": "2025-07-01"},   # by a colleague: still a visit
    ])
    return db


def test_in_scope_excludes_expired(fixture_db):
    assert in_scope_usccs(fixture_db, D(2026, 1, 5)) == sorted([A, B, C, E, G])
    assert F in in_scope_usccs(fixture_db, D(2024, 12, 31))


def test_due_visits_hand_count(fixture_db):
    rows = due_visits(fixture_db, D(2026, 1, 5))
    by = {r["uscc"]: r for r in rows}
    # 2026Q1 runs 2026-01-01..03-31: A was visited on its first day; E's visit on 01-06 is after the as-of date
    assert set(by) == {B, C, E, G}
    assert by[B]["last_visited_on"] == "2025-12-31" and by[B]["days_since_last_visit"] == 5
    assert by[C]["last_visited_on"] is None and by[C]["days_since_last_visit"] is None
    assert by[E]["last_visited_on"] == "2025-03-31" and by[E]["days_since_last_visit"] == 280
    assert by[G]["days_since_last_visit"] == (D(2026, 1, 5) - D(2025, 7, 1)).days
    assert by[B]["specialist_id"] == "S1" and by[B]["specialist_name"] == "张三"
    assert by[B]["specialist_email"] == "zs@example.cn" and by[B]["name"] == "常州乙电子有限公司"
    assert by[C]["specialist_id"] == "S2" and by[C]["district"] == "牛塘镇"
    # the contract keys the reminder jobs rely on
    for key in ("uscc", "name", "district", "specialist_id", "specialist_name", "specialist_email",
                "last_visited_on", "days_since_last_visit"):
        assert key in rows[0]


def test_due_visits_last_day_of_quarter(fixture_db):
    # as of 2025-12-31 (last day of 2025Q4): B visited on 10-01 and 12-31 -> not due; G on 07-01 -> due
    by = {r["uscc"]: r for r in due_visits(fixture_db, D(2025, 12, 31))}
    assert set(by) == {A, C, E, G}
    assert by[E]["last_visited_on"] == "2025-03-31"
    # as of 2026-01-06 E's visit that morning counts
    assert E not in {r["uscc"] for r in due_visits(fixture_db, D(2026, 1, 6))}


def test_coverage_hand_count(fixture_db):
    rows = {(r["group"], r["key"]): r for r in coverage(fixture_db, 2025, today=D(2026, 1, 5))}
    # served at the end of 2025: A, B, G (S1, 湖塘镇); C, E (S2, 牛塘镇). F was never in scope in 2025.
    # visited in 2025: B (twice), E (03-31), G (07-01, by S2) -> 3 of 5
    assert rows[("total", "")]["firms"] == 5 and rows[("total", "")]["visited"] == 3
    assert rows[("total", "")]["share"] == 0.6 and rows[("total", "")]["met"] is True
    assert (rows[("specialist", "S1")]["firms"], rows[("specialist", "S1")]["visited"]) == (3, 2)
    assert (rows[("specialist", "S2")]["firms"], rows[("specialist", "S2")]["visited"]) == (2, 1)
    assert (rows[("district", "湖塘镇")]["firms"], rows[("district", "湖塘镇")]["visited"]) == (3, 2)
    assert rows[("specialist", "S1")]["name"] == "张三"
    # 2026 so far: only A (01-01) and E (01-06) -> 2 of 5 = 40%
    rows26 = {(r["group"], r["key"]): r for r in coverage(fixture_db, 2026, today=D(2026, 1, 10))}
    assert (rows26[("total", "")]["visited"], rows26[("total", "")]["share"]) == (2, 0.4)
    assert rows26[("specialist", "S1")]["visited"] == 1 and rows26[("specialist", "S1")]["short_by"] == 0


# ---------------------------------------------------------------- the commands
def test_visits_log_validates_and_writes(fixture_db, kq):
    r = kq("visits", "log", C.lower(), "--by", "S2", "--on", "2026/1/2", "--channel", "上门", "--note", "研发费用加计扣除咨询")
    assert r.returncode == 0, r
    row = fixture_db.conn.execute("SELECT uscc, specialist_id, visited_on, channel, note, name FROM visits "
                                  "WHERE uscc = ?", (C,)).fetchone()
    assert row == (C, "S2", "2026-01-02", "上门", "研发费用加计扣除咨询", "常州丙材料有限公司")
    assert C not in {x["uscc"] for x in kq("visits", "due", "--as-of", "2026-01-05").jsonl()}
    # the same visit twice: needs attention, nothing new written
    r = kq("visits", "log", C, "--by", "S2", "--on", "2026-01-02")
    assert r.returncode == 1 and "already recorded" in r.stderr
    # a visit by someone who is not the firm's specialist is kept, with a warning
    r = kq("visits", "log", C, "--by", "S1", "--on", "2026-01-03")
    assert r.returncode == 0 and "assigned to S2" in r.stderr
    assert fixture_db.conn.execute("SELECT count(*) FROM visits WHERE uscc = ?", (C,)).fetchone()[0] == 2


@pytest.mark.parametrize("args, message", [
    ([A[:-1] + ("0" if A[-1] != "0" else "1"), "--by", "S1"], "check character"),
    ([A, "--by", "S9"], "no specialist with id"),
    ([A, "--by", "S1", "--on", "2999-01-01"], "in the future"),
    ([A, "--by", "S1", "--on", "2026-13-45"], "--on"),
])
def test_visits_log_rejects_bad_input(fixture_db, kq, args, message):
    before = fixture_db.conn.execute("SELECT count(*) FROM visits").fetchone()[0]
    r = kq("visits", "log", *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert fixture_db.conn.execute("SELECT count(*) FROM visits").fetchone()[0] == before


def test_visits_due_and_coverage_commands(fixture_db, kq):
    r = kq("visits", "due", "--as-of", "2026-01-05")
    assert r.returncode == 0
    rows = {x["uscc"]: x for x in r.jsonl()}
    assert set(rows) == {B, C, E, G} and rows[B]["days_since_last_visit"] == 5
    assert "2026Q1" in r.stderr
    assert {x["uscc"] for x in kq("visits", "due", "--as-of", "2026-01-05", "--specialist", "S2").jsonl()} == {C, E}
    r = kq("visits", "coverage", "--year", "2025")
    assert r.returncode == 0
    total = r.jsonl()[0]
    assert (total["group"], total["firms"], total["visited"], total["share"], total["met"]) == ("total", 5, 3, 0.6, True)
    assert "3 of 5" in r.stderr and "goal 30%" in r.stderr


def test_coverage_goal_from_rule_file(fixture_db, kq, tmp_path):
    from kqtools.rules import load_rules

    rules = tmp_path / "goal.toml"
    rules.write_text(load_rules("assignment").text.replace("yearly_coverage_goal = 0.30",
                                                           "yearly_coverage_goal = 0.80"), encoding="utf-8")
    total = kq("visits", "coverage", "--year", "2025", "--rules", rules).jsonl()[0]
    assert total["goal"] == 0.8 and total["met"] is False and total["short_by"] == 1
