"""`kq score explain` of the published methods: where each benchmark came from, every adjustment applied
or skipped, the designations left out and why (real subprocesses on a real database file)."""
from __future__ import annotations

import sqlite3

import pytest

from conftest import import_rows
from kqtools.uscc import make_uscc


def code(i: int) -> str:
    return make_uscc("91", "320800", f"{i:08d}")


def items(rows, item):
    return [x for x in rows if x["item"] == item]


@pytest.fixture
def huaian(db):
    """Two counties, two years of metrics: 2024 is what the 2025 benchmarks are taken from."""
    ents = [{"uscc": code(i), "name": f"淮安{i}号制造有限公司", "district": "清江浦区" if i < 10 else "淮安区",
             "size_class": "above", "industry_code": "C3411", "founded_on": "2012-03-01"} for i in range(20)]
    import_rows(db, "enterprises", ents, name="企业名录.jsonl")
    # 2024: 清江浦区 tax per mu averages 20, revenue per mu 200, tax per tce 2; 淮安区 twice that
    prev = [{"uscc": code(i), "year": 2024, "land_mu": 10.0, "tax": (100.0 + 20 * (i % 10) - 90) * (1 + i // 10),
             "revenue": 2000.0 * (1 + i // 10), "energy_tce": 100.0} for i in range(20)]
    import_rows(db, "metrics", prev, name="2024年指标.jsonl")
    cur = [{"uscc": code(i), "year": 2025, "land_mu": 10.0, "tax": 300.0 + i, "revenue": 3000.0,
            "energy_tce": 100.0} for i in range(20)]
    import_rows(db, "metrics", cur, name="2025年指标.jsonl")
    return db


def test_a_previous_year_benchmark_with_factor_two_gives_exact_points_and_says_where_it_came_from(kq, huaian):
    r = kq("score", "run", "--year", "2025", "--rules", "huaian-2024")
    assert r.returncode == 0, r
    s = r.json()
    assert s["scope"] == "district" and set(s["scopes"]) == {"清江浦区", "淮安区"}
    rows = kq("score", "explain", code(3)).jsonl()
    tax = items(rows, "tax_per_mu")[0]
    # 清江浦区 2024: tax 10, 30, …, 190 per firm → 1 … 19 per mu, average 10; benchmark 2 × 10 = 20
    assert tax["benchmark"] == 20 and tax["value"] == 30.3 and tax["ratio"] == pytest.approx(30.3 / 20)
    assert tax["points"] == pytest.approx(45 * 30.3 / 20)
    assert "previous_year_average: 2 × 10, the 2024 average of group all in 清江浦区 (10 firms)" in tax["note"]
    revenue = items(rows, "revenue_per_mu")[0]
    assert revenue["benchmark"] == 400 and revenue["points"] == pytest.approx(35 * 300 / 400)
    base = items(rows, "base_score")[0]["points"]
    assert base == round(45 * 30.3 / 20 + 35 * 300 / 400 + 20 * 3.03 / 2, 4)   # tax per tce: 2 × 1
    other = items(kq("score", "explain", code(13)).jsonl(), "tax_per_mu")[0]
    assert other["benchmark"] == 40 and "in 淮安区" in other["note"]          # its own county's average
    shown = kq("score", "show").jsonl()
    assert [x["scope"] for x in shown if x["rank"] == 1] == ["淮安区", "清江浦区"]
    assert all(x["district"] == "淮安区" for x in kq("score", "show", "--district", "淮安区").jsonl())


def test_a_missing_previous_year_is_refused_by_name_and_writes_nothing(kq, db, db_path):
    import_rows(db, "enterprises", [{"uscc": code(1), "name": "甲", "size_class": "above", "district": "淮阴区"}])
    import_rows(db, "metrics", [{"uscc": code(1), "year": 2025, "tax": 10.0, "land_mu": 1.0}])
    r = kq("score", "run", "--year", "2025", "--rules", "huaian-2024")
    assert r.returncode == 2
    assert r.stderr.strip() == ("kq: error: scoring-huaian-2024: the previous_year_average benchmark needs the "
                                "metrics of 2024: none are stored (kq import metrics FILE with year 2024)")
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM scoring_runs").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM list_versions").fetchone() == (0,)


def test_huangyans_missing_emissions_figure_is_explained(kq, db):
    ents = [{"uscc": code(i), "name": f"黄岩{i}号模塑有限公司", "size_class": "above", "founded_on": "2010-01-01"}
            for i in range(3)]
    import_rows(db, "enterprises", ents)
    import_rows(db, "metrics", [
        {"uscc": code(0), "year": 2022, "land_mu": 10.0, "tax": 240.97, "value_added": 1361.6, "emissions_t": 0.2762},
        {"uscc": code(1), "year": 2022, "land_mu": 10.0, "tax": 240.97, "value_added": 1361.6, "emissions_t": 0.5524},
        {"uscc": code(2), "year": 2022, "land_mu": 10.0, "tax": 240.97, "value_added": 1361.6}])
    assert kq("score", "run", "--year", "2022", "--rules", "huangyan").returncode == 0
    got = {i: items(kq("score", "explain", code(i)).jsonl(), "value_added_per_emission")[0] for i in range(3)}
    assert got[0]["benchmark"] == 4929.81 and "fixed: the published value 4929.81" in got[0]["note"]
    assert got[2]["value"] is None
    assert got[2]["points"] == pytest.approx((got[0]["points"] + got[1]["points"]) / 2)
    assert "no emissions_t: the group's average points" in got[2]["note"]


def test_explain_names_each_adjustment_and_every_designation_left_out(kq, db, tmp_path):
    import_rows(db, "enterprises", [{"uscc": code(i), "name": f"常州{i}号", "size_class": "above",
                                     "founded_on": "2010-01-01"} for i in range(6)])
    import_rows(db, "metrics", [{"uscc": code(i), "year": 2025, "land_mu": 10.0, "tax": 100.0 + i, "revenue": 900.0,
                                 "rented_out_mu": 3.0 if i == 1 else 0.0} for i in range(6)])
    import_rows(db, "designations", [
        {"uscc": code(1), "kind": "zjtx", "level": "provincial", "recognized_on": "2023-05-10",
         "expires_on": "2025-05-09"},                                               # expired in the year
        {"uscc": code(1), "kind": "zjtx", "level": "city", "recognized_on": "2024-05-10",
         "revoked_on": "2025-08-01", "certificate_no": "CZ-24-9"},                   # revoked in the year
        {"uscc": code(1), "kind": "zjtx", "level": "district", "recognized_on": "2021-06-01"},   # before the window
    ], name="专精特新.jsonl")
    text = kq("rules", "show", "scoring").stdout.replace("# [categories.deductions]", "[categories.deductions]")
    for line in ('# label = "减分项"', "# cap = 20", "# [[adjustments]]", '# id = "land_rented_out"',
                 '# label = "出租土地"', '# category = "deductions"', '# metric = "rented_out_mu"', '# op = ">"',
                 "# value = 0", "# points = -5"):
        text = text.replace(line, line[2:], 1)
    rules = tmp_path / "mine.toml"
    rules.write_text(text, encoding="utf-8")
    assert kq("rules", "check", "scoring", rules).returncode == 0
    assert kq("score", "run", "--year", "2025", "--rules", rules).returncode == 0
    rows = kq("score", "explain", code(1)).jsonl()
    adj = {x["label"]: x for x in items(rows, "adjustment")}
    assert adj["land_rented_out"]["value"] == "applied" and adj["land_rented_out"]["points"] == -5
    assert adj["land_rented_out"]["note"] == "出租土地: rented_out_mu = 3 > 0: -5 points"
    assert {adj[k]["value"] for k in ("zjtx_national", "zjtx_provincial", "zjtx_city", "zjtx_district")} == {"skipped"}
    left = [x["note"] for x in items(rows, "adjustment") if x["value"] == "left_out"]
    assert left == ["zjtx provincial recognized 2023-05-10: left out: expired 2025-05-09 (not in force on 2025-12-31)",
                    "zjtx city recognized 2024-05-10, certificate CZ-24-9: left out: revoked 2025-08-01 "
                    "(not in force on 2025-12-31)"]
    outside = items(rows, "designation")
    assert [(x["label"], x["note"]) for x in outside] == [
        ("zjtx district recognized 2021-06-01", "recognized before the window 2023–2025: not considered")]
    assert items(rows, "bonus")[0]["points"] == -5
    plain = {x["label"]: x["note"] for x in items(kq("score", "explain", code(2)).jsonl(), "adjustment")}
    assert plain["land_rented_out"] == "出租土地: rented_out_mu = 0, not > 0: not applied"
