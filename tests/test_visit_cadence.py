"""Issue 14, items 9 and 10, on one data set through the real commands: key firms every quarter,
the yearly plan on pace, `kq visits due`, `kq visits coverage` and the visit reminder telling
one story, and a specialist who leaves (their firms move, their visits still count, the firms
nobody can take go to the coordinators)."""
from __future__ import annotations

import datetime as dt

import pytest

from conftest import import_rows, write_csv
from kqtools.uscc import make_uscc

F = [make_uscc("91", "350206", f"{i:08d}") for i in range(10)]
KEY = {F[0], F[1], F[2]}
MID_YEAR = "2026-07-01"           # day 182 of 365


@pytest.fixture
def leaver(tmp_path, kq, db):
    """10 served firms (F0-F4 湖塘镇, F5-F9 牛塘镇), 3 of them key (F0-F2); S1 and S9 share 湖塘镇, S2
    has 牛塘镇. S9 leaves on 2026-04-01 after visiting F1 and F3; the visits file has ids in lower case."""
    write_csv(tmp_path / "名录.csv", ["统一社会信用代码", "企业名称", "所属区域", "重点企业"],
              [[u, f"厦门{i}号科技有限公司", "湖塘镇" if i < 5 else "牛塘镇", "是" if u in KEY else "否"]
               for i, u in enumerate(F)])
    assert kq("import", "enterprises", tmp_path / "名录.csv").returncode == 0
    import_rows(db, "designations", [{"uscc": u, "kind": "hte", "recognized_on": "2024-11-06"} for u in F])
    import_rows(db, "specialists", [
        {"id": "S1", "name": "张三", "department": "高新技术处", "districts": "湖塘镇", "email": "zs@kq.test"},
        {"id": "S2", "name": "李四", "department": "高新技术处", "districts": "牛塘镇", "email": "ls@kq.test"},
        {"id": "S9", "name": "赵九", "department": "高新技术处", "districts": "湖塘镇", "email": "zj@kq.test"},
    ])
    r = kq("assign", "--as-of", "2026-01-05")
    assert r.returncode == 0, r
    # fewest firms first, ties to the lowest id: 湖塘镇 alternates S1, S9
    assert served(db) == {F[0]: "S1", F[1]: "S9", F[2]: "S1", F[3]: "S9", F[4]: "S1",
                          **{u: "S2" for u in F[5:]}}
    write_csv(tmp_path / "走访.csv", ["统一社会信用代码", "走访人编号", "走访日期"], [
        [F[1], "s9", "2026-03-10"],       # key firm, 2026Q1, by the one who leaves
        [F[3], "s9", "2026-02-01"],       # by the one who leaves
        [F[0], "s1", MID_YEAR],           # key firm, this quarter (the as-of day counts)
        [F[4], "S1", "2025-12-01"],       # last year
        [F[5], "S2", "2025-03-01"], [F[6], "S2", "2025-12-20"], [F[7], "S2", "2025-08-01"],
    ])
    r = kq("import", "visits", tmp_path / "走访.csv")
    assert r.returncode == 0 and r.json()["inserted"] == 7, r
    return tmp_path


def served(db) -> dict:
    return dict(db.conn.execute("SELECT uscc, specialist_id FROM assignments"))


def test_a_leaver_s_firms_move_their_visits_count_and_due_and_coverage_agree(leaver, kq, db):
    r = kq("specialists", "deactivate", "s9", "--on", "2026-04-01", "--reason", "调任")
    assert r.returncode == 0, r
    assert "S9 赵九 leaves on 2026-04-01: their 2 firm(s) move" in r.stderr
    before = served(db)
    r = kq("assign", "--as-of", "2026-04-01")
    assert r.returncode == 0, r
    changes = r.jsonl()
    # only S9's firms move, with the reason
    assert {(c["uscc"], c["from_specialist"], c["to_specialist"], c["action"]) for c in changes} == \
        {(F[1], "S9", "S1", "move"), (F[3], "S9", "S1", "move")}
    assert {c["reason"] for c in changes} == {"specialist S9 left on 2026-04-01: 调任"}
    assert {u: s for u, s in served(db).items() if u not in (F[1], F[3])} == \
        {u: s for u, s in before.items() if u not in (F[1], F[3])}

    due = kq("visits", "due", "--as-of", MID_YEAR).jsonl()
    cov = {(x["group"], x["key"]): x for x in kq("visits", "coverage", "--as-of", MID_YEAR).jsonl()}

    # by hand, on 2026-07-01 (pace: ceil(0.3 x 5 x 182/365) = 1 for each specialist's 5 firms):
    # S1 serves F0-F4 and has visited 3 this year: F0 (07-01), and F1 and F3 by S9 before leaving.
    #   Key firms not visited in 2026Q3: F2 (never) first, then F1 (03-10). On pace: no plan firm.
    # S2 serves F5-F9, none visited this year: one firm keeps the plan on pace, the longest since a
    #   visit: F8 and F9 were never visited, F8 first by code.
    assert [(x["uscc"], x["specialist_id"], x["cadence"], x["priority"]) for x in due] == [
        (F[2], "S1", "key", 1), (F[1], "S1", "key", 2), (F[8], "S2", "plan", 1)]
    # "agree" means, for every specialist: coverage's `due` counts exactly their rows in `visits due`;
    # the key firms due are exactly their key firms not visited this quarter; the plan firms due are
    # the fewest that, visited, put them on pace (behind_pace, less the due key firms not visited this
    # year); and the leaver's visits count for the firms
    s1, s2 = cov[("specialist", "S1")], cov[("specialist", "S2")]
    assert (s1["firms"], s1["visited"], s1["pace"], s1["behind_pace"], s1["key_firms"], s1["key_due"], s1["due"]) \
        == (5, 3, 1, 0, 3, 2, 2)
    assert (s2["firms"], s2["visited"], s2["pace"], s2["behind_pace"], s2["key_firms"], s2["key_due"], s2["due"]) \
        == (5, 0, 1, 1, 0, 0, 1)
    for sid, row in (("S1", s1), ("S2", s2)):
        mine = [x for x in due if x["specialist_id"] == sid]
        assert row["due"] == len(mine)
        assert row["key_due"] == sum(x["cadence"] == "key" for x in mine)
        fresh_keys = sum(x["cadence"] == "key" and not (x["last_visited_on"] or "") >= "2026-01-01" for x in mine)
        assert sum(x["cadence"] == "plan" for x in mine) == max(0, row["behind_pace"] - fresh_keys)
    assert ("specialist", "S9") not in cov          # serves nobody any more
    total = cov[("total", "")]
    # the 30% goal is met for the year so far (3 of 10) only because S9's two visits still count
    assert (total["firms"], total["visited"], total["met"], total["due"]) == (10, 3, True, 3)

    # the visit reminder lists, for each specialist, exactly the firms `visits due` lists for them
    from kqtools import reminders

    messages = reminders.visit_messages(due, dt.date.fromisoformat(MID_YEAR))
    assert sorted(m.key for m in messages) == ["visit:S1", "visit:S2"]
    for m in messages:
        sid = m.key.split(":")[1]
        assert {u for u in F if u in m.body} == {x["uscc"] for x in due if x["specialist_id"] == sid}


def test_firms_nobody_can_take_go_to_the_coordinators(leaver, kq, db, tmp_path):
    from kqtools.rules import load_rules

    rules = tmp_path / "rules.toml"
    rules.write_text(load_rules("assignment").text.replace("coordinators = []",
                                                           'coordinators = ["fwk@kq.test", "kzk@kq.test"]'),
                     encoding="utf-8")
    # S2 leaves and nobody else covers 牛塘镇: F5-F9 have no specialist from 2026-04-01
    assert kq("specialists", "deactivate", "S2", "--on", "2026-04-01").returncode == 0
    r = kq("assign", "--as-of", "2026-04-01", "--rules", rules)
    assert r.returncode == 1, r                     # firms left without a specialist need attention
    assert {(c["uscc"], c["action"]) for c in r.jsonl()} == {(u, "release") for u in F[5:]}
    from kqtools.storage.visits import due_visits

    rows = [x for x in due_visits(db, dt.date.fromisoformat(MID_YEAR), str(rules)) if x["specialist_id"] is None]
    # the firms nobody serves are one group under the same plan: pace 1 of 5, F8 first (never visited)
    assert [(x["uscc"], x["cadence"]) for x in rows] == [(F[8], "plan")]
    # the visit reminder sends them, in one message, to the coordinators of the rules
    from kqtools import reminders

    [m] = reminders.visit_messages(rows, dt.date.fromisoformat(MID_YEAR))
    assert m.key == "visit:-" and [r.email for r in m.to] == ["fwk@kq.test", "kzk@kq.test"]
    assert F[8] in m.body and "没有服务专员" in m.body
    assert rows[0]["coordinators"] == ["fwk@kq.test", "kzk@kq.test"]
    cov = {(x["group"], x["key"]): x for x in kq("visits", "coverage", "--as-of", MID_YEAR, "--rules", rules).jsonl()}
    assert (cov[("unassigned", "")]["firms"], cov[("unassigned", "")]["due"]) == (5, 1)
    # with the shipped rules (no coordinators) the row says so: nobody to send it to
    assert due_visits(db, dt.date.fromisoformat(MID_YEAR))[-1]["coordinators"] == []


def test_leaving_on_a_later_day_moves_the_firms_from_that_day_on(leaver, kq, db):
    assert kq("specialists", "deactivate", "S9", "--on", "2026-05-01").returncode == 0
    listed = {x["id"]: x for x in kq("specialists", "list").jsonl()}
    assert (listed["S9"]["left_on"], listed["S9"]["load"]) == ("2026-05-01", 2)
    r = kq("assign", "--as-of", "2026-04-30")      # still serving that day
    assert [c["action"] for c in r.jsonl()] == [] and r.returncode == 0
    r = kq("assign", "--as-of", "2026-04-30")      # answered from the settled state: the same
    assert r.jsonl() == []
    r = kq("assign", "--as-of", "2026-05-01")      # the settled state must not hide the departure
    assert sorted((c["uscc"], c["action"]) for c in r.jsonl()) == [(F[1], "move"), (F[3], "move")]
    history = kq("assignments", "history", F[1]).jsonl()
    assert history[-1]["effective_on"] == "2026-05-01" and history[-1]["to_specialist"] == "S1"


def test_activate_brings_a_specialist_back_and_a_stale_staff_list_does_not(leaver, kq, db, tmp_path):
    assert kq("specialists", "deactivate", "S9", "--on", "2026-04-01").returncode == 0
    kq("assign", "--as-of", "2026-04-01")
    # the staff list re-imported unchanged (S9 still 在岗 there) does not undo the departure
    import_rows(db, "specialists", [{"id": "S9", "name": "赵九", "department": "高新技术处", "districts": "湖塘镇",
                                     "active": "是"}])
    r = kq("assign", "--as-of", "2026-04-02")
    assert "S9" not in served(db).values() and r.returncode == 0
    r = kq("specialists", "activate", "S9", "--on", "2026-04-02", "--reason", "返岗")
    assert r.returncode == 0 and "active again from 2026-04-02" in r.stderr, r
    listed = {x["id"]: x for x in kq("specialists", "list").jsonl()}
    assert (listed["S9"]["active"], listed["S9"]["left_on"]) == (True, None)
    # back, S9 takes new firms but nothing moves back
    assert kq("assign", "--as-of", "2026-04-02").jsonl() == []
    log = db.conn.execute("SELECT specialist_id, action, effective_on, reason FROM specialist_changes ORDER BY id")
    assert log.fetchall() == [("S9", "deactivate", "2026-04-01", None), ("S9", "activate", "2026-04-02", "返岗")]
    r = kq("specialists", "activate", "S9", "--on", "2999-01-01")
    assert r.returncode == 2 and "in the future" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["deactivate", "S7", "--on", "2026-04-01"], "no specialist with id 'S7'"),
    (["deactivate", "S9"], "--on"),
    (["deactivate", "S9", "--on", "2026-02-30"], "--on"),
    (["activate", "XX"], "no specialist with id 'XX'"),
])
def test_deactivate_refuses_bad_input_and_writes_nothing(leaver, kq, db, args, message):
    before = db.conn.execute("SELECT * FROM specialists ORDER BY id").fetchall()
    r = kq("specialists", *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r
    assert db.conn.execute("SELECT * FROM specialists ORDER BY id").fetchall() == before
    assert db.conn.execute("SELECT count(*) FROM specialist_changes").fetchone()[0] == 0


def test_specialist_ids_are_case_insensitive_everywhere(leaver, kq, db):
    r = kq("visits", "log", F[9], "--by", "ｓ２", "--on", "2026-06-02")      # full-width, lower case
    assert r.returncode == 0 and "by S2" in r.stderr, r
    assert db.conn.execute("SELECT specialist_id FROM visits WHERE uscc = ?", (F[9],)).fetchone() == ("S2",)
    assert {x["specialist_id"] for x in kq("assignments", "show", "--specialist", "s2").jsonl()} == {"S2"}
    assert [x["uscc"] for x in kq("visits", "due", "--as-of", "2026-06-02", "--specialist", " s2 ").jsonl()] == []
    assert kq("specialists", "deactivate", "s1", "--on", "2026-06-01").returncode == 0
    assert db.conn.execute("SELECT left_on FROM specialists WHERE id = 'S1'").fetchone() == ("2026-06-01",)
