"""The cultivation class where clerks look: ``kq enterprises show``, ``kq assignments show``, and the
visit rules' ``[visits] key_classes`` (class-1 firms are key firms, due every quarter)."""
from __future__ import annotations

import datetime as dt

from conftest import import_rows
from kqtools.rules import load_rules
from kqtools.storage.assignment import run_assign
from kqtools.storage.visits import due_visits
from kqtools.uscc import make_uscc

D = dt.date


def code(i: int) -> str:
    return make_uscc("91", "320594", f"{i:08d}")


PROVINCIAL, CITY, HTE = code(1), code(2), code(3)


def seed(db, recognized: D):
    day = recognized.isoformat()
    import_rows(db, "enterprises", [
        {"uscc": PROVINCIAL, "name": "苏州甲精密有限公司", "district": "湖东街道"},
        {"uscc": CITY, "name": "苏州乙科技有限公司", "district": "湖东街道"},
        {"uscc": HTE, "name": "苏州丙电子有限公司", "district": "湖东街道"},
    ])
    import_rows(db, "designations", [
        {"uscc": PROVINCIAL, "kind": "zjtx", "level": "city", "recognized_on": day},
        {"uscc": PROVINCIAL, "kind": "zjtx", "level": "provincial", "recognized_on": day},
        {"uscc": CITY, "kind": "zjtx", "level": "city", "recognized_on": day},
        {"uscc": HTE, "kind": "hte", "recognized_on": day},
    ])
    import_rows(db, "specialists", [{"id": "S1", "name": "张三", "department": "中小企业服务处", "email": "zs@example.cn"},
                                    {"id": "S2", "name": "李四", "department": "高新技术处", "email": "ls@example.cn"}])


def test_enterprises_show_gives_the_class_today_with_its_reason(kq, db, tmp_path):
    seed(db, D.today() - dt.timedelta(days=100))
    firm = kq("enterprises", "show", PROVINCIAL, "-f", "json").json()["enterprise"]
    assert firm["class"] == 1 and firm["class_label"].startswith("一类")
    assert "省级专精特新" in firm["class_reason"]
    assert kq("enterprises", "show", CITY, "-f", "json").json()["enterprise"]["class"] == 2
    other = kq("enterprises", "show", HTE, "-f", "json").json()["enterprise"]
    assert other["class"] is None and other["class_reason"] is None      # the field is there, empty
    table = kq("enterprises", "show", PROVINCIAL, "-f", "table").stdout
    assert "class_reason" in table and "省级专精特新" in table
    out = tmp_path / "firm.xlsx"
    assert kq("enterprises", "show", PROVINCIAL, "-o", out).returncode == 0
    from report_helpers import sheets

    fields = {row[0]: row[1] for row in sheets(out)["enterprise"][1:]}
    assert fields["class"] == 1


def test_enterprises_show_class_follows_the_designations(kq, db):
    seed(db, D.today() - dt.timedelta(days=4 * 366))           # every honour has expired by today
    assert kq("enterprises", "show", PROVINCIAL, "-f", "json").json()["enterprise"]["class"] is None


def test_assignments_show_has_a_class_column(kq, db):
    seed(db, D.today() - dt.timedelta(days=100))
    run_assign(db, D.today())
    rows = {r["uscc"]: r for r in kq("assignments", "show", "-f", "json").json()}
    assert {u: r["class"] for u, r in rows.items()} == {PROVINCIAL: 1, CITY: 2, HTE: None}
    from kqtools.storage.assignment import assignment_rows

    assert "市级专精特新" in {r["uscc"]: r for r in assignment_rows(db)}[CITY]["class_reason"]
    assert "class" in kq("assignments", "show", "-f", "csv").stdout.splitlines()[0].split(",")


def key_rules(tmp_path, classes: str):
    path = tmp_path / "key.toml"
    path.write_text(load_rules("assignment").text.replace("key_classes = []", f"key_classes = {classes}"),
                    encoding="utf-8")
    return str(path)


def test_key_classes_make_class_1_firms_key_firms_due_every_quarter(db, tmp_path):
    seed(db, D(2025, 3, 1))
    run_assign(db, D(2025, 3, 2))
    import_rows(db, "visits", [{"uscc": PROVINCIAL, "specialist_id": "S1", "visited_on": "2025-12-31"},
                               {"uscc": CITY, "specialist_id": "S1", "visited_on": "2026-01-02"},
                               {"uscc": HTE, "specialist_id": "S2", "visited_on": "2026-01-02"}])
    day = D(2026, 1, 5)       # each specialist's yearly plan is on pace; PROVINCIAL not visited this quarter
    assert due_visits(db, day) == []                               # the shipped rules: no key class
    rows = due_visits(db, day, key_rules(tmp_path, "[1]"))
    assert [(r["uscc"], r["cadence"], r["key_firm"]) for r in rows] == [(PROVINCIAL, "key", True)]
    assert rows[0]["reason"] == "key firm not visited in 2026Q1"
    assert due_visits(db, day, key_rules(tmp_path, "[2]")) == []          # CITY was visited this quarter
    assert [r["uscc"] for r in due_visits(db, day, key_rules(tmp_path, "[1, 2]"))] == [PROVINCIAL]
    # the class is the one on the visit date: before the recognition, no key firm
    assert due_visits(db, D(2025, 2, 1), key_rules(tmp_path, "[1]")) == []
    # visited this quarter: no longer due
    import_rows(db, "visits", [{"uscc": PROVINCIAL, "specialist_id": "S1", "visited_on": "2026-01-03"}])
    assert due_visits(db, day, key_rules(tmp_path, "[1]")) == []


def test_key_classes_is_checked_by_the_schema(kq, tmp_path):
    r = kq("rules", "check", "assignment", key_rules(tmp_path, "[4]"))
    assert r.returncode == 1 and "visits.key_classes.0: 4 is not one of" in r.stderr
    assert kq("rules", "check", "assignment", key_rules(tmp_path, "[1]")).returncode == 0
