"""Visits: quarter arithmetic, visits due and yearly coverage against a hand count."""
from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given, settings, strategies as st

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


@pytest.mark.parametrize("firms, goal, day, expected", [
    (10, 0.30, D(2026, 12, 31), 3),         # the last day: the yearly goal itself
    (100, 0.30, D(2026, 12, 31), 30),       # 0.3 x 100 is 30 exactly (a float product says 30.000000000000004)
    (10, 0.10, D(2026, 12, 31), 1),         # the float 0.1 is a hair above 1/10: still 1, not 2
    (5, 0.20, D(2026, 12, 31), 1),
    (10, 0.30, D(2026, 7, 2), 2),           # day 183 of 365: ceil(3 x 183/365) = ceil(1.504)
    (10, 0.30, D(2026, 7, 1), 2),           # day 182: ceil(1.496)
    (10, 0.30, D(2026, 1, 1), 1),           # any firm at all: one visit due from the first day
    (0, 0.30, D(2026, 6, 1), 0),
    (7, 0.30, D(2024, 12, 31), 3),          # a leap year's last day is day 366 of 366
    (7, 0.30, D(2024, 12, 30), 3),          # ceil(2.1 x 365/366) = ceil(2.094)
    (20, 0.25, D(2025, 4, 1), 2),           # day 91: ceil(5 x 91/365) = ceil(1.2466)
    (3, 1, D(2026, 3, 1), 1),               # an integer goal (100 %) from the rule file
])
def test_pace_is_the_goal_times_the_share_of_the_year_gone_rounded_up(firms, goal, day, expected):
    assert V.pace(firms, goal, day) == expected


@given(st.integers(0, 500), st.sampled_from([0.1, 0.25, 0.3, 0.333333, 0.5, 1.0]),
       st.dates(min_value=D(2000, 1, 1), max_value=D(2099, 12, 30)))
def test_pace_grows_with_the_year_and_ends_at_the_yearly_goal(firms, goal, day):
    later = day + dt.timedelta(days=1)
    assert V.pace(firms, goal, day) <= V.pace(firms, goal, later) if later.year == day.year else True
    assert V.pace(firms, goal, day) <= V.year_goal(firms, goal) == V.pace(firms, goal, D(day.year, 12, 31))
    assert V.year_goal(firms, goal) * 10**6 >= firms * round(goal * 10**6) > (V.year_goal(firms, goal) - 1) * 10**6


LASTS = [None, "2025-03-31", "2025-12-31", "2026-01-01", "2026-03-31", "2026-04-01", "2026-05-20", "2026-06-30"]


@st.composite
def visit_world(draw):
    n = draw(st.integers(0, 30))
    # mostly firms that are not key and not visited this year: the ones the yearly plan picks from
    return [V.FirmVisits(f"F{i:03d}", draw(st.sampled_from(["S1", "S2", None])),
                         draw(st.sampled_from([False, False, False, True])),
                         draw(st.sampled_from(LASTS + [None, "2025-03-31", "2025-12-31"] * 2)),
                         draw(st.sampled_from(["湖塘镇", "牛塘镇", None])))
            for i in range(n)]


@settings(max_examples=300, deadline=None)
@given(visit_world(), st.sampled_from([D(2026, 4, 1), D(2026, 6, 30), D(2026, 1, 1), D(2026, 12, 31)]),
       st.sampled_from([0.3, 0.5, 0.1]), st.sampled_from([3, 6, 12]))
def test_the_firms_due_are_the_key_firms_of_the_period_and_the_fewest_that_keep_the_plan_on_pace(
        firms, as_of, goal, months):
    """Judged group by group from the rules' text, not from the plan's own arithmetic."""
    p = V.plan(firms, as_of, goal, months)
    period_start, _ = V.period_bounds(as_of, months)
    year_start = D(as_of.year, 1, 1)

    def seen_since(f, day):
        return f.last_visit is not None and dt.date.fromisoformat(f.last_visit) >= day

    rows = {(r["group"], r["key"]): r for r in V.coverage_rows(p)}
    for sid in {f.specialist_id for f in firms}:
        mine = [f for f in firms if f.specialist_id == sid]
        due = [d for d in p.due if d.firm.specialist_id == sid]
        key_due = {d.firm.uscc for d in due if d.cadence == V.KEY}
        plan_due = [d.firm for d in due if d.cadence == V.PLAN]
        # every key firm not visited this period, and no other firm, is due as a key firm
        assert key_due == {f.uscc for f in mine if f.key and not seen_since(f, period_start)}
        # plan firms: not key, not visited this year
        assert all(not f.key and not seen_since(f, year_start) for f in plan_due)
        visited = sum(seen_since(f, year_start) for f in mine)
        after = visited + len(plan_due) + sum(1 for d in due if d.cadence == V.KEY and not seen_since(d.firm, year_start))
        target = math.ceil(goal * len(mine) * as_of.timetuple().tm_yday / (366 if as_of.year % 4 == 0 else 365) - 1e-9)
        pool = [f for f in mine if not f.key and not seen_since(f, year_start)]
        # visiting every firm due brings the group on pace (or every firm left is due) ...
        assert after >= target or len(plan_due) == len(pool)
        # ... and not one plan firm fewer would
        assert not plan_due or after - 1 < target
        # longest since the last visit first (never first of all), key firms before them
        def since(f):       # never visited first, then the oldest last visit, then by code
            return (f.last_visit is not None, f.last_visit or "", f.uscc)

        assert [since(f) for f in plan_due] == sorted(since(f) for f in plan_due)
        assert plan_due == [] or all(since(f) > since(plan_due[-1]) for f in pool if f not in plan_due)
        assert [d.priority for d in due] == list(range(1, len(due) + 1))
        assert [d.cadence for d in due] == sorted(d.cadence for d in due)      # "key" < "plan"
        # coverage counts the same firms
        row = rows[("unassigned", "")] if sid is None else rows[("specialist", sid)]
        assert (row["firms"], row["visited"], row["due"], row["key_due"]) == (len(mine), visited, len(due), len(key_due))
        assert row["behind_pace"] == max(0, row["pace"] - visited)
    assert rows[("total", "")]["due"] == len(p.due) == sum(r["due"] for (g, _), r in rows.items() if g == "district")


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
    # no key firm: only the yearly plan. On 2026-01-05 (day 5) each specialist's pace is one firm.
    # S1 (A, B, G): A was visited on 2026-01-01, on pace. S2 (C, E): nothing this year (E's visit on
    # 01-06 is after the as-of date), so one firm is due: C, never visited, before E (last 2025-03-31).
    rows = due_visits(fixture_db, D(2026, 1, 5))
    assert [(r["uscc"], r["cadence"], r["priority"]) for r in rows] == [(C, "plan", 1)]
    c = rows[0]
    assert (c["specialist_id"], c["specialist_name"], c["specialist_email"], c["district"]) == \
        ("S2", "李四", "ls@example.cn", "牛塘镇")
    assert c["last_visited_on"] is None and c["days_since_last_visit"] is None and c["key_firm"] is False
    assert (c["period"], c["period_ends_on"]) == ("2026Q1", "2026-03-31") and c["coordinators"] == []
    assert "1 of 2 firms visited by 2026-01-05 to be on pace, 0 so far" in c["reason"]
    # the contract keys the reminder jobs rely on
    for key in ("uscc", "name", "district", "specialist_id", "specialist_name", "specialist_email",
                "last_visited_on", "days_since_last_visit"):
        assert key in c
    # once C is visited, E is next
    import_rows(fixture_db, "visits", [{"uscc": C, "specialist_id": "S2", "visited_on": "2026-01-03"}])
    assert due_visits(fixture_db, D(2026, 1, 5)) == []


def test_key_firms_are_due_every_quarter_from_its_first_day(fixture_db):
    # A and B become key firms (重点企业 in the enterprise register)
    r = import_rows(fixture_db, "enterprises", [{"uscc": A, "name": "常州甲科技有限公司", "重点企业": "是"},
                                                {"uscc": B, "name": "常州乙电子有限公司", "重点企业": "是"}])
    assert r.rejected == 0
    # 2026Q1: A was visited on its first day; B last on 2025-12-31, the last day of 2025Q4: due, and
    # its visit (not this year) would keep S1 on pace, so no plan firm of S1's is added. S2 owes C.
    rows = due_visits(fixture_db, D(2026, 1, 5))
    assert [(r["uscc"], r["cadence"], r["priority"]) for r in rows] == [(B, "key", 1), (C, "plan", 1)]
    assert rows[0]["key_firm"] is True and rows[0]["reason"] == "key firm not visited in 2026Q1"
    assert rows[0]["days_since_last_visit"] == 5
    # on 2025-12-31 B's visit that day counts; A had none in 2025Q4; S2 is on pace with E's visit in March
    assert [(r["uscc"], r["cadence"]) for r in due_visits(fixture_db, D(2025, 12, 31))] == [(A, "key")]
    # the as-of day's own visits count: E's on 2026-01-06 puts S2 on pace
    assert [r["uscc"] for r in due_visits(fixture_db, D(2026, 1, 6))] == [B]


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
    assert [(x["uscc"], x["cadence"], x["priority"]) for x in r.jsonl()] == [(C, "plan", 1)]
    assert "1 firm(s) due as of 2026-01-05: 0 key firm(s) not visited in 2026Q1, 1 to keep" in r.stderr
    # --specialist takes the id in any case
    assert [x["uscc"] for x in kq("visits", "due", "--as-of", "2026-01-05", "--specialist", "s2").jsonl()] == [C]
    assert kq("visits", "due", "--as-of", "2026-01-05", "--specialist", "s1").jsonl() == []
    r = kq("visits", "due", "--specialist", "S7")
    assert r.returncode == 2 and "no specialist with id 'S7'" in r.stderr
    r = kq("visits", "coverage", "--year", "2025")
    assert r.returncode == 0
    total = r.jsonl()[0]
    assert (total["group"], total["firms"], total["visited"], total["share"], total["met"]) == ("total", 5, 3, 0.6, True)
    assert (total["as_of"], total["pace"], total["due"]) == ("2025-12-31", 2, 0)
    assert "3 of 5" in r.stderr and "goal 30%" in r.stderr
    # the same date as `visits due`: the same story, group by group
    rows = {(x["group"], x["key"]): x for x in kq("visits", "coverage", "--as-of", "2026-01-05").jsonl()}
    assert (rows[("specialist", "S2")]["due"], rows[("specialist", "S2")]["behind_pace"]) == (1, 1)
    assert (rows[("specialist", "S1")]["due"], rows[("specialist", "S1")]["visited"]) == (0, 1)
    assert rows[("total", "")]["due"] == 1
    r = kq("visits", "coverage", "--as-of", "2026-01-05", "--year", "2025")
    assert r.returncode == 2 and "not in 2025" in r.stderr
    r = kq("visits", "coverage", "--year", str(dt.date.today().year + 1))
    assert r.returncode == 2 and "has not begun" in r.stderr


def test_coverage_goal_from_rule_file(fixture_db, kq, tmp_path):
    from kqtools.rules import load_rules

    rules = tmp_path / "goal.toml"
    rules.write_text(load_rules("assignment").text.replace("yearly_coverage_goal = 0.30",
                                                           "yearly_coverage_goal = 0.80"), encoding="utf-8")
    total = kq("visits", "coverage", "--year", "2025", "--rules", rules).jsonl()[0]
    assert total["goal"] == 0.8 and total["met"] is False and total["short_by"] == 1


def test_a_specialists_key_firms_count_visited_or_not():
    # 张三 serves three key firms (one seen this quarter, one seen in January, one never) and a
    # plain firm: three key firms, two of them due this quarter, in the group and in the district
    firms = [V.FirmVisits(A, "S1", True, "2026-05-06", "姑苏区"), V.FirmVisits(B, "S1", True, "2026-01-20", "姑苏区"),
             V.FirmVisits(C, "S1", True, None, "姑苏区"), V.FirmVisits(E, "S1", False, None, "姑苏区")]
    p = V.plan(firms, D(2026, 6, 30), 1.0)
    s1 = p.groups["S1"]
    assert (s1.firms, s1.key_firms, s1.key_due) == (4, 3, 2)
    assert (p.districts["姑苏区"].key_firms, p.districts["姑苏区"].key_due) == (3, 2)
