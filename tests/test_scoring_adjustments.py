"""Adjustments (加分项 / 减分项) and the designations in force behind them (kqtools.scoring on plain data)."""
from __future__ import annotations

import copy
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kqtools.rules import load_rules
from kqtools.scoring import compile_rules, firm_row, score_dicts
from kqtools.scoring_adjust import explain_adjustments, hits, holds
from kqtools.scoring_rules import ScoringRulesError

YEAR = 2025
DEFAULT = load_rules("scoring").data


def with_items(items, categories=None, base=DEFAULT):
    data = copy.deepcopy(base)
    data["adjustments"] = data.get("adjustments", []) + items
    data.setdefault("categories", {}).update(categories or {})
    return data


def firm(uscc, tax=100.0, **kw):
    return {"uscc": uscc, "size_class": "above", "founded_on": "2010-01-01", "tax": tax, "land_mu": 10.0,
            "revenue": 1000.0, "energy_tce": 50.0, "emissions_t": 2.0, "employees": 100.0, "rd_expense": 30.0, **kw}


def field(n=10, seed=3):
    rnd = random.Random(seed)
    return [firm(f"F{i:02d}", tax=rnd.uniform(10, 300), revenue=rnd.uniform(500, 5000)) for i in range(n)]


def zjtx(uscc, level, on="2024-06-01", **kw):
    return {"uscc": uscc, "kind": "zjtx", "level": level, "recognized_on": on, **kw}


def by(s):
    return s.by_uscc()


RENTED_OUT = {"id": "land_rented_out", "label": "出租土地", "category": "deductions", "metric": "rented_out_mu",
              "op": ">", "value": 0, "points": -5}


# ---------------------------------------------------------------- deductions and bonuses on metrics
def test_a_deduction_lowers_the_score_by_exactly_its_points_and_can_move_the_grade():
    rules = with_items([RENTED_OUT], {"deductions": {"label": "减分项"}})
    # eight firms alike and two twins a little ahead of them: the twins hold the two A places of ten
    firms = [firm(f"F{i}") for i in range(8)] + [firm("TWIN1", tax=105), firm("TWIN2", tax=105, rented_out_mu=2.5)]
    plain = by(score_dicts(firms, [], DEFAULT, YEAR))
    assert (plain["TWIN1"].grade, plain["TWIN2"].grade) == ("A", "A")
    r = by(score_dicts(firms, [], rules, YEAR))
    a, b = r["TWIN1"], r["TWIN2"]
    assert a.base_score == b.base_score == plain["TWIN2"].base_score and b.bonus_points == -5
    assert b.score == round(a.score - 5, 4) and b.score < r["F0"].score
    assert b.bonus_reason == "出租土地: rented_out_mu > 0: -5 points"
    assert (b.rank, b.grade_by_rank, b.grade) == (10, "C", "C")   # the deduction costs it its A
    assert a.bonus_points == 0 and a.bonus_reason is None


def test_a_metric_threshold_on_a_ratio_and_a_flag():
    items = [{"id": "rd_bonus", "label": "研发投入强度 ≥ 3%", "metric": "rd_expense", "per": "revenue", "op": ">=",
              "value": 0.03, "points": 2},
             {"id": "safety", "label": "安全生产事故", "metric": "safety_incident", "points": -3}]
    firms = [firm("EXACT", rd_expense=30.0, revenue=1000.0), firm("BELOW", rd_expense=29.9, revenue=1000.0),
             firm("NOREV", revenue=None), firm("HURT", safety_incident=True), firm("SAFE", safety_incident=False)]
    r = by(score_dicts(firms, [], with_items(items), YEAR))
    assert r["EXACT"].bonus_points == 2 and "rd_expense / revenue >= 0.03: +2 points" in r["EXACT"].bonus_reason
    assert r["BELOW"].bonus_points == 0 and r["NOREV"].bonus_points == 0
    assert r["HURT"].bonus_points == -3 + 2 and "安全生产事故: safety_incident != 0: -3 points" in \
        r["HURT"].bonus_reason
    assert r["SAFE"].bonus_points == 2


def test_items_apply_only_to_their_groups():
    item = {**RENTED_OUT, "groups": ["below"], "category": ""}
    firms = [firm("UP", rented_out_mu=4), {**firm("DOWN", rented_out_mu=4), "size_class": "below"}]
    r = by(score_dicts(firms, [], with_items([item]), YEAR))
    assert r["UP"].bonus_points == 0 and r["DOWN"].bonus_points == -5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-20, 20).filter(bool), st.booleans()), min_size=1, max_size=6),
       st.integers(1, 15))
def test_a_capped_category_never_exceeds_its_cap(items, cap):
    adjustments = [{"id": f"i{k}", "category": "c", "metric": "rented_out_mu", "op": ">=", "value": 0 if hit else 99,
                    "points": points} for k, (points, hit) in enumerate(items)]
    rules = with_items(adjustments, {"c": {"cap": cap}}, base={**DEFAULT, "adjustments": [], "categories": {}})
    r = by(score_dicts([firm("X", rented_out_mu=1.0), firm("Y")], [], rules, YEAR))["X"]
    total = sum(p for p, hit in items if hit)
    assert -cap <= r.bonus_points <= cap
    assert r.bonus_points == max(-cap, min(cap, total))
    if abs(total) > cap:
        assert f"capped at {'+' if total > 0 else '-'}{cap}" in r.bonus_reason


def test_best_only_counts_the_first_applicable_item_and_names_the_rest():
    items = [{"id": "big", "label": "大", "category": "one", "metric": "tax", "op": ">", "value": 0, "points": 3},
             {"id": "small", "label": "小", "category": "one", "metric": "tax", "op": ">", "value": 0, "points": 1}]
    r = by(score_dicts([firm("X")], [], with_items(items, {"one": {"best_only": True}}), YEAR))["X"]
    assert r.bonus_points == 3
    assert "小: not added (only the first item of category one counts)" in r.bonus_reason


# ---------------------------------------------------------------- designations in force
def test_an_expired_and_a_revoked_recognition_give_no_bonus_and_are_named():
    firms = field(9) + [firm("EXP"), firm("REV"), firm("OK")]
    held = [zjtx("EXP", "provincial", "2023-03-01", expires_on="2025-06-30"),
            zjtx("REV", "provincial", "2024-03-01", revoked_on="2025-09-01", certificate_no="SZ-2024-7"),
            zjtx("OK", "provincial", "2023-03-01", expires_on="2025-12-31", revoked_on="2026-01-01")]
    r = by(score_dicts(firms, held, DEFAULT, YEAR))
    assert r["EXP"].bonus_points == 0 and r["REV"].bonus_points == 0
    assert r["EXP"].bonus_reason == ("zjtx provincial recognized 2023-03-01: left out: expired 2025-06-30 "
                                     "(not in force on 2025-12-31)")
    assert r["REV"].bonus_reason == ("zjtx provincial recognized 2024-03-01, certificate SZ-2024-7: left out: "
                                     "revoked 2025-09-01 (not in force on 2025-12-31)")
    # in force on the last day of the year: expires that day, revoked the day after
    assert r["OK"].bonus_points == 2


def test_revoked_on_the_last_day_of_the_year_is_not_in_force():
    r = by(score_dicts(field(5) + [firm("X")], [zjtx("X", "national", "2024-01-01", revoked_on="2025-12-31")],
                       DEFAULT, YEAR))["X"]
    assert r.grade == r.grade_by_rank and "left out: revoked 2025-12-31" in r.bonus_reason


def test_a_level_held_twice_cites_the_latest_recognition_in_force():
    held = [zjtx("X", "provincial", "2023-02-01", certificate_no="OLD-2023"),
            zjtx("X", "provincial", "2025-04-01", certificate_no="NEW-2025")]
    for order in (held, held[::-1]):
        r = by(score_dicts(field(5) + [firm("X")], order, DEFAULT, YEAR))["X"]
        assert r.bonus_points == 2
        assert r.bonus_reason == "zjtx provincial recognized 2025-04-01, certificate NEW-2025: +2 points"
    # the latest revoked: the earlier one, still in force, is cited, and the revoked one named
    held[1]["revoked_on"] = "2025-10-01"
    r = by(score_dicts(field(5) + [firm("X")], held, DEFAULT, YEAR))["X"]
    assert r.bonus_points == 2 and r.bonus_reason.startswith("zjtx provincial recognized 2023-02-01, "
                                                             "certificate OLD-2023: +2 points; ")
    assert "2025-04-01, certificate NEW-2025: left out: revoked 2025-10-01" in r.bonus_reason


def test_an_item_of_several_levels_cites_the_best_level_held_then_the_latest():
    items = [{"id": "zjtx_high", "label": "国家级或省级专精特新", "designation": "zjtx", "levels": ["national", "provincial"],
              "points": 3}]
    rules = with_items(items, base={**DEFAULT, "adjustments": [], "categories": {}})
    held = [zjtx("X", "provincial", "2025-02-01"), zjtx("X", "national", "2023-09-01"), zjtx("X", "city", "2025-05-01")]
    r = by(score_dicts(field(5) + [firm("X")], held, rules, YEAR))["X"]
    assert r.bonus_points == 3
    assert r.bonus_reason == "国家级或省级专精特新: zjtx national recognized 2023-09-01: +3 points"


def test_a_designation_item_of_another_kind_with_levels_of_any_kind():
    items = [{"id": "hte", "label": "高新技术企业", "category": "innovation", "designation": "hte", "points": 2}]
    rules = with_items(items, {"innovation": {"label": "科技创新", "cap": 3}})
    held = [{"uscc": "X", "kind": "hte", "level": "national", "recognized_on": "2024-11-01"},
            zjtx("X", "provincial", "2024-01-01")]
    r = by(score_dicts(field(5) + [firm("X")], held, rules, YEAR))["X"]
    assert r.bonus_points == 4      # 专精特新 +2 and 高新 +2: two categories
    assert "高新技术企业: hte national recognized 2024-11-01: +2 points" in r.bonus_reason


def test_explain_lists_every_item_applied_or_skipped_with_its_reason():
    rules = with_items([RENTED_OUT], {"deductions": {"label": "减分项"}})
    method = compile_rules(rules)
    s = score_dicts(field(5) + [firm("X", rented_out_mu=0)], [zjtx("X", "city", expires_on="2025-01-31")], method,
                    YEAR)
    x = by(s)["X"]
    rows = explain_adjustments(method.groups[0], x.row, method, [o.as_dict() for o in x.adjustments])
    got = {(r["item"], r["status"]) for r in rows}
    assert got == {("zjtx_national", "skipped"), ("zjtx_provincial", "skipped"), ("zjtx_city", "skipped"),
                   ("zjtx_district", "skipped"), ("land_rented_out", "skipped"), ("designation", "left_out")}
    reasons = {r["item"]: r["reason"] for r in rows}
    assert reasons["land_rented_out"] == "出租土地: rented_out_mu = 0, not > 0: not applied"
    assert "expired 2025-01-31" in reasons["designation"]


# ---------------------------------------------------------------- rule checks
@pytest.mark.parametrize("item, problem", [
    ({"id": "x", "metric": "tax", "points": 1, "category": "nosuch"}, "category 'nosuch' is not declared"),
    ({"id": "x", "metric": "tax", "points": 1, "groups": ["nosuch"]}, "group 'nosuch' is not a group"),
    ({"id": "x", "points": 1}, "give either designation"),
    ({"id": "x", "metric": "tax", "designation": "hte", "points": 1}, "give either designation"),
    ({"id": "x", "metric": "tax", "op": ">"}, "op and value go together"),
    ({"id": "x", "metric": "tax"}, "neither points nor an uplift"),
    ({"id": "x", "metric": "tax", "uplift": 1}, "uplift is given for a designation"),
    ({"id": "zjtx_city", "metric": "tax", "points": 1}, "two items share the id 'zjtx_city'"),
])
def test_adjustments_a_schema_cannot_check(item, problem):
    with pytest.raises(ScoringRulesError, match=problem):
        compile_rules(with_items([item]))


condition_value = st.one_of(st.none(), st.just(0.0), st.just(0), st.just(1), st.floats(-5, 5, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(condition_value, condition_value), max_size=12),
       st.sampled_from([None, ">=", ">", "<=", "<", "==", "!="]), st.sampled_from([0, 0.5, -1]), st.booleans())
def test_the_column_wise_test_of_a_condition_equals_the_per_firm_one(pairs, op, value, per):
    """adjust_rows finds hits column by column (hits); explain and the reasons use holds / metric_outcome."""
    item = {"id": "x", "metric": "rented_out_mu", "points": 1}
    if per:
        item["per"] = "land_mu"
    if op:
        item.update(op=op, value=value)
    (a,) = [x for x in compile_rules(with_items([item])).adjustments if x.id == "x"]
    rows = [firm_row({"uscc": f"F{k}", "rented_out_mu": x, "land_mu": d}) for k, (x, d) in enumerate(pairs)]
    assert hits(a, rows) == [k for k, r in enumerate(rows) if holds(a, r)]
