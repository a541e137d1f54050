"""Cultivation classes (苏州工业园区 培育对象): 1 national/provincial 专精特新, 2 city/district, 3 the pool."""
from __future__ import annotations

import datetime as dt

from conftest import import_rows
from kqtools.storage.ladder import classes_for, cultivation_classes
from kqtools.uscc import make_uscc

AS_OF = dt.date(2025, 6, 30)


def code(i: int) -> str:
    return make_uscc("91", "320594", f"{i:08d}")


BOTH, NATIONAL, CITY, DISTRICT, POOL_EXPIRED_CITY, POOL, POOL_OLD, EXPIRED_ONLY, HTE_ONLY = (code(i) for i in range(1, 10))


def seed(db):
    import_rows(db, "enterprises", [{"uscc": BOTH, "name": "苏州甲精密有限公司", "district": "湖东街道"},
                                    {"uscc": POOL, "name": "苏州乙科技有限公司", "district": "月亮湾"}])
    import_rows(db, "designations", [
        {"uscc": BOTH, "kind": "zjtx", "level": "city", "recognized_on": "2023-09-10"},
        {"uscc": BOTH, "kind": "zjtx", "level": "provincial", "recognized_on": "2024-12-20"},
        {"uscc": NATIONAL, "kind": "专精特新“小巨人”企业", "recognized_on": "2023-07-18"},
        {"uscc": CITY, "kind": "zjtx", "level": "市级", "recognized_on": "2024-09-16"},
        {"uscc": DISTRICT, "kind": "zjtx", "level": "区级", "recognized_on": "2024-05-09"},
        {"uscc": POOL_EXPIRED_CITY, "kind": "zjtx", "level": "city", "recognized_on": "2021-11-03"},   # to 2024-11-02
        {"uscc": POOL_EXPIRED_CITY, "kind": "入库培育企业", "recognized_on": "2025-03-18"},
        {"uscc": POOL, "kind": "培育库", "recognized_on": "2025-03-18"},                              # to 2025-12-31
        {"uscc": POOL_OLD, "kind": "入库培育企业", "recognized_on": "2024-03-20"},                     # the 2024 pool
        {"uscc": EXPIRED_ONLY, "kind": "zjtx", "level": "provincial", "recognized_on": "2021-12-01"},
        {"uscc": HTE_ONLY, "kind": "hte", "recognized_on": "2024-11-01"},
    ])


def test_classes_on_hand_made_cases(db):
    seed(db)
    got = {r["uscc"]: r for r in cultivation_classes(db, AS_OF)}
    assert {u: r["class"] for u, r in got.items()} == {
        BOTH: 1, NATIONAL: 1, CITY: 2, DISTRICT: 2, POOL_EXPIRED_CITY: 3, POOL: 3}
    # a firm with both a city and a provincial recognition: class 1, by the provincial one
    assert got[BOTH]["level"] == "provincial" and "省级专精特新 recognized 2024-12-20" in got[BOTH]["reason"]
    assert got[BOTH]["name"] == "苏州甲精密有限公司" and got[BOTH]["district"] == "湖东街道"
    # a pool firm whose city recognition expired: class 3 through the pool, not 2
    assert got[POOL_EXPIRED_CITY]["kind"] == "pool" and "入库培育企业" in got[POOL_EXPIRED_CITY]["reason"]
    assert got[POOL]["expires_on"] == "2025-12-31"          # a pool list is that year's list
    assert got[BOTH]["label"].startswith("一类") and got[CITY]["label"].startswith("二类")
    # out of scope: the 2024 pool only, an expired honour only, a high-tech firm only
    assert not {POOL_OLD, EXPIRED_ONLY, HTE_ONLY} & set(got)


def test_classes_change_with_the_date(db):
    seed(db)
    before = {r["uscc"]: r["class"] for r in cultivation_classes(db, dt.date(2024, 6, 30))}
    assert before[POOL_EXPIRED_CITY] == 2 and before[POOL_OLD] == 3 and POOL not in before
    assert before[EXPIRED_ONLY] == 1


def test_classes_for_gives_the_class_of_some_firms_for_show_commands_and_visit_rules(db):
    seed(db)
    got = classes_for(db, [BOTH, POOL, HTE_ONLY, code(99)], AS_OF)
    assert {u: c["class"] for u, c in got.items()} == {BOTH: 1, POOL: 3}
    key_firms = {u for u, c in got.items() if c["class"] == 1}      # e.g. class 1 are key firms
    assert key_firms == {BOTH}


def test_cli_classes_fields_filter_and_order(kq, db):
    seed(db)
    r = kq("ladder", "classes", "--as-of", "2025-06-30", "-f", "json")
    assert r.returncode == 0, r
    rows = r.json()
    assert [x["class"] for x in rows] == sorted(x["class"] for x in rows)
    assert {"uscc", "name", "class", "reason"} <= set(rows[0])
    r = kq("ladder", "classes", "--as-of", "2025-06-30", "--class", "2", "-f", "json")
    assert sorted(x["uscc"] for x in r.json()) == sorted([CITY, DISTRICT])


def test_pool_kind_is_imported_from_its_chinese_names_with_a_year_end_expiry(db):
    res = import_rows(db, "designations", [{"uscc": POOL, "kind": "专精特新培育库", "recognized_on": "2025/3/18"}])
    assert res.rejected == 0
    assert db.conn.execute("SELECT kind, expires_on FROM designations").fetchone() == ("pool", "2025-12-31")
