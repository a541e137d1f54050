"""kq ladder candidates: the firms one step below a tier, against its published thresholds.

High-tech (国科发火〔2016〕32号 第十一条): R&D expense over sales in the last three years >= 5% when the
latest year's sales are 5,000 万元 or less (含), >= 4% up to 2 亿 (含), >= 3% above; R&D staff >= 10%
of the staff; high-tech product income >= 60% of total income.
"""
from __future__ import annotations


import pytest

from conftest import import_rows
from kqtools import candidates as C
from kqtools.storage.ladder import candidate_list, load_setup
from kqtools.uscc import make_uscc


def code(i: int) -> str:
    return make_uscc("91", "320412", f"{i:08d}")


def hte_rule():
    return load_setup().candidates["hte"]


def years(revenue, rd, staff=(10, 100), hitech=(3000, 5000), span=(2023, 2024, 2025)):
    """The same figures every year of ``span`` (money in 万元)."""
    return {y: {"revenue": revenue, "rd_expense": rd, "rd_staff": staff[0], "employees": staff[1],
                "hitech_revenue": hitech[0], "total_income": hitech[1]} for y in span}


@pytest.mark.parametrize("revenue, rd, outcome, band", [
    (5000, 250, "met", "<= 5,000"),            # exactly 5% of exactly 5,000 万元: the 5% band, met
    (5000, 249.9, "failed", "<= 5,000"),       # 4.998%: fails 5% although it would pass 4%
    (5000.1, 200.004, "met", "5,000 < revenue 2025 5,000.1 <= 20,000"),   # just above 5,000: 4% band, exactly 4%
    (5000.1, 200.003, "failed", "5,000 <"),
    (20000, 800, "met", "<= 20,000"),          # exactly 2 亿 (含): still the 4% band
    (20000, 799.9, "failed", "<= 20,000"),     # 3.9995%: fails 4% although it would pass 3%
    (20000.1, 600.003, "met", "revenue 2025 20,000.1)"),   # above 2 亿: 3% band, exactly 3%
    (20000.1, 600.002, "failed", "revenue 2025 20,000.1)"),
])
def test_rd_share_at_each_revenue_band_boundary(revenue, rd, outcome, band):
    rule = hte_rule()
    rd_rule = next(t for t in rule.thresholds if t.id == "rd_expense_share")
    got, text = C.check(rd_rule, years(revenue, rd), 2025)
    assert got == outcome, text
    assert band in text


def test_missing_rd_data_is_listed_as_missing_never_as_failed():
    figures = years(4000, 300)
    figures[2023]["rd_expense"] = None
    v = C.evaluate(hte_rule(), figures, 2025)
    assert v["verdict"] == C.MISSING_DATA
    assert v["missing"] == ["rd_expense_share"] and v["failed"] == []
    assert v["met"] == ["rd_staff_share", "hitech_revenue_share"]
    assert "no rd_expense 2023" in v["detail"]
    # a year without any metrics row is missing too
    del figures[2023]
    assert C.evaluate(hte_rule(), figures, 2025)["missing"] == ["rd_expense_share"]


def test_a_failed_threshold_beats_missing_data_and_zero_sales_is_missing():
    figures = years(4000, 300, staff=(9, 100))
    figures[2023]["rd_expense"] = None
    v = C.evaluate(hte_rule(), figures, 2025)
    assert (v["verdict"], v["failed"], v["missing"]) == (C.FAILS, ["rd_staff_share"], ["rd_expense_share"])
    v = C.evaluate(hte_rule(), years(0, 0), 2025)
    assert "rd_expense_share" in v["missing"] and v["verdict"] == C.MISSING_DATA


def test_staff_and_product_income_shares_are_minimums_inclusive():
    assert C.evaluate(hte_rule(), years(4000, 300, staff=(10, 100), hitech=(3000, 5000)), 2025)["verdict"] == C.MEETS
    v = C.evaluate(hte_rule(), years(4000, 300, staff=(10, 100), hitech=(2999.9, 5000)), 2025)
    assert v["failed"] == ["hitech_revenue_share"]


def test_a_firm_founded_within_the_window_counts_from_its_founding_year():
    figures = years(4000, 300, span=(2024, 2025))
    assert C.evaluate(hte_rule(), figures, 2025, founded_year=2024)["verdict"] == C.MEETS
    assert C.evaluate(hte_rule(), figures, 2025)["missing"] == ["rd_expense_share"]   # founding unknown


def test_growth_thresholds_compare_exactly():
    rule = C.compile_candidates({"gazelle": {"source": "test", "thresholds": [
        {"id": "g", "measure": "growth", "field": "revenue", "years": 3, "min": 0.2}]}}, {"gazelle"})["gazelle"]
    grow = lambda last: {2022: {"revenue": 1000}, 2025: {"revenue": last}}  # noqa: E731
    assert C.check(rule.thresholds[0], grow(1728), 2025)[0] == "met"          # 1.2 ** 3 = 1.728: exactly 20% a year
    assert C.check(rule.thresholds[0], grow(1727.9), 2025)[0] == "failed"


def test_bands_out_of_order_are_refused():
    with pytest.raises(C.CandidateRulesError, match="not above the band before"):
        C.compile_candidates({"hte": {"source": "x", "thresholds": [
            {"id": "r", "measure": "ratio", "field": "rd_expense", "per": "revenue", "band_by": "revenue",
             "bands": [{"up_to": 20000, "min": 0.04}, {"up_to": 5000, "min": 0.05}, {"min": 0.03}]}]}}, {"hte"})


# ---------------------------------------------------------------- through the database and the CLI
def seed(db):
    tsme = [code(i) for i in range(1, 6)]
    import_rows(db, "enterprises", [{"uscc": code(5), "name": "苏州新创科技有限公司", "founded_on": "2024-06-01"}])
    import_rows(db, "designations", [{"uscc": u, "kind": "tsme", "recognized_on": "2025-05-01"} for u in tsme] + [
        {"uscc": code(6), "kind": "hte", "recognized_on": "2024-11-01"},          # already high-tech
        {"uscc": code(6), "kind": "tsme", "recognized_on": "2025-05-01"},
        {"uscc": code(7), "kind": "tsme", "recognized_on": "2024-05-01"},         # register lapsed 2025-04-30
    ])
    rows = []
    for u, figures in ((code(1), years(5000, 250)), (code(2), years(5000, 249.9)), (code(3), years(4000, 300)),
                       (code(5), years(3000, 200, span=(2024, 2025))), (code(6), years(4000, 300))):
        rows += [{"uscc": u, "year": y, **f} for y, f in figures.items()]
    rows = [r for r in rows if not (r["uscc"] == code(3) and r["year"] == 2023)]   # code(3): no 2023 figures
    import_rows(db, "metrics", rows)


def test_candidates_are_the_firms_one_step_below_with_their_verdicts(db):
    seed(db)
    got = candidate_list(db, "hte", 2025)
    verdicts = {r["uscc"]: r["verdict"] for r in got.rows}
    assert verdicts == {code(1): "meets", code(5): "meets", code(3): "missing_data", code(4): "missing_data",
                        code(2): "fails"}
    assert [r["verdict"] for r in got.rows] == ["meets", "meets", "missing_data", "missing_data", "fails"]
    assert {r["tier_now"] for r in got.rows} == {"tsme"} and {r["tier_next"] for r in got.rows} == {"hte"}
    assert got.counts() == {"meets": 2, "missing_data": 2, "fails": 1}
    assert "32号" in got.source


def test_cli_candidates_and_a_tier_without_published_thresholds(kq, db):
    seed(db)
    r = kq("ladder", "candidates", "--tier", "hte", "--year", "2025", "-f", "json")
    assert r.returncode == 0, r
    rows = r.json()
    assert {"uscc", "name", "tier_now", "tier_next", "verdict", "met", "missing", "failed"} <= set(rows[0])
    assert next(x for x in rows if x["uscc"] == code(3))["missing"] == ["rd_expense_share"]
    r = kq("ladder", "candidates", "--tier", "gazelle")
    assert r.returncode == 2 and "no thresholds for gazelle" in r.stderr and "source" in r.stderr
    r = kq("ladder", "candidates", "--tier", "kitten")
    assert r.returncode == 2 and "no tier 'kitten'" in r.stderr


def test_new_metric_fields_import_from_their_chinese_headers(db):
    res = import_rows(db, "metrics", [{"统一社会信用代码": code(1), "年度": 2025, "科技人员数": 12, "职工人数": 80,
                                       "高新技术产品（服务）收入": 3100.5, "总收入": 5200}])
    assert res.rejected == 0
    got = db.conn.execute("SELECT rd_staff, employees, hitech_revenue, total_income FROM metrics").fetchone()
    assert got == (12, 80, 3100.5, 5200)
