"""Benchmarks, caps, missing data and the district scope (kqtools.scoring on plain data)."""
from __future__ import annotations

import pytest

from kqtools.rules import load_rules
from kqtools.scoring import MissingPreviousYear, compile_rules, explain_indicators, score_dicts

YEAR = 2025


def one_group(indicators, **top):
    """Rules with one group of every firm and the given indicators (weights need not add up to 100)."""
    return {"cap": top.pop("cap", "none"), "groups": [{"id": "all", "indicators": indicators}],
            "grades": {"bands": [{"grade": "A", "upto": 20}, {"grade": "B", "upto": 60}, {"grade": "C", "upto": 95},
                                 {"grade": "D", "upto": 100}]}, **top}


def tax_per_mu(weight=45, benchmark=None, **kw):
    ind = {"id": "tax_per_mu", "numerator": "tax", "denominator": "land_mu", "weight": weight, **kw}
    if benchmark is not None:
        ind["benchmark"] = benchmark
    return ind


def firm(uscc, tax, land=10.0, district="清江浦区", **kw):
    return {"uscc": uscc, "tax": tax, "land_mu": land, "size_class": "above", "founded_on": "2010-01-01",
            "district": district, **kw}


def by(s):
    return s.by_uscc()


PREVIOUS = {"kind": "previous_year_average", "factor": 2}


# ---------------------------------------------------------------- previous_year_average (Huai'an)
def test_previous_year_average_with_factor_two_gives_exact_points():
    # 2024: tax per mu 10, 20, 30 -> average 20 -> benchmark 2 × 20 = 40 for 2025
    y2024 = [firm("P1", 100), firm("P2", 200), firm("P3", 300)]
    y2025 = [firm("A", 300), firm("B", 100), firm("C", 900)]      # 30, 10 and 90 per mu
    s = score_dicts(y2025, [], one_group([tax_per_mu(benchmark=PREVIOUS)]), YEAR, previous=y2024)
    r = by(s)
    assert r["A"].base_score == 45 * 30 / 40 == 33.75
    assert r["B"].base_score == 45 * 10 / 40 == 11.25
    assert r["C"].base_score == 45 * 90 / 40 == 101.25            # no cap: 2.25 × the weight
    mark = s.benchmarks["all"][0]
    assert (mark.kind, mark.benchmark, mark.base, mark.base_year, mark.base_usable, mark.factor) == \
        ("previous_year_average", 40, 20, 2024, 3, 2)
    assert mark.mean == pytest.approx(130 / 3)                    # this year's mean is not the benchmark


def test_previous_year_average_takes_the_previous_years_graded_firms_of_the_same_group():
    rules = one_group([tax_per_mu(benchmark=PREVIOUS)])
    rules["not_graded"] = {"industry_codes": ["D44"]}
    y2024 = [firm("P1", 100), firm("P2", 300), firm("U", 100_000, industry_code="D4411"),   # a utility: class T
             firm("P4", None)]                                                             # no tax: not usable
    s = score_dicts([firm("A", 200)], [], rules, YEAR, previous=y2024)
    assert s.benchmarks["all"][0].benchmark == 2 * 20
    assert by(s)["A"].base_score == 45 * 20 / 40


def test_a_missing_previous_year_is_refused_naming_the_year():
    rules = one_group([tax_per_mu(benchmark=PREVIOUS)])
    with pytest.raises(MissingPreviousYear, match="needs the metrics of 2024"):
        score_dicts([firm("A", 100)], [], rules, YEAR)
    with pytest.raises(MissingPreviousYear, match="tax_per_mu"):
        score_dicts([firm("A", 100)], [], rules, YEAR, previous=[])


def test_district_scope_takes_each_districts_own_previous_year_average_and_ranks_within_it():
    rules = one_group([tax_per_mu(benchmark=PREVIOUS)], scope="district")
    y2024 = [firm("P1", 100, district="清江浦区"), firm("P2", 300, district="清江浦区"),     # average 20
             firm("P3", 1000, district="淮安区"), firm("P4", 1000, district="淮安区")]     # average 100
    y2025 = [firm("Q1", 400, district="清江浦区"), firm("Q2", 200, district="清江浦区"),
             firm("H1", 1000, district="淮安区"), firm("H2", 500, district="淮安区"), firm("X", 100, district=None)]
    s = score_dicts(y2025, [], rules, YEAR, previous=y2024)
    r = by(s)
    assert s.benchmarks["all @ 清江浦区"][0].benchmark == 40 and s.benchmarks["all @ 淮安区"][0].benchmark == 200
    assert r["Q1"].base_score == 45 * 40 / 40 and r["H1"].base_score == 45 * 100 / 200
    # each district is its own evaluation: both district leaders rank 1 and get A
    assert (r["Q1"].rank, r["Q1"].grade, r["Q1"].scope) == (1, "A", "清江浦区")
    assert (r["H1"].rank, r["H1"].grade, r["H1"].scope) == (1, "A", "淮安区")
    assert (r["Q2"].rank, r["H2"].rank) == (2, 2)
    assert r["X"].grade == "T" and "no district" in r["X"].not_graded_reason
    assert s.scope_counts == {"淮安区": {"all": {"A": 1, "B": 1, "C": 0, "D": 0}},
                              "清江浦区": {"all": {"A": 1, "B": 1, "C": 0, "D": 0}}}
    # displayed district by district (sorted), then class T
    assert [x.uscc for x in s.results] == ["H1", "H2", "Q1", "Q2", "X"]


def test_a_district_without_usable_previous_year_values_gets_zero_points_and_a_note():
    rules = one_group([tax_per_mu(benchmark=PREVIOUS)], scope="district")
    s = score_dicts([firm("A", 100, district="新区"), firm("B", 100, district="老区")], [], rules, YEAR,
                    previous=[firm("P", 100, district="老区")])
    assert by(s)["A"].base_score == 0
    assert any("新区" in n and "2024" in n for n in s.notes)
    assert "no usable value of the group in 2024" in by(s)["A"].flags[0]


# ---------------------------------------------------------------- fixed benchmarks, caps, scale
def test_fixed_benchmark_per_industry_prefix_longest_first_else_the_published_value():
    bench = {"kind": "fixed", "value": 20, "industries": {"C26": 40, "C2614": 50, "3411": 10}}
    firms = [firm("CHEM", 400, industry_code="C2611"), firm("DYE", 400, industry_code="C2614"),
             firm("METAL", 400, industry_code="C3411"), firm("OTHER", 400, industry_code="C1711"),
             firm("NONE", 400)]
    s = score_dicts(firms, [], one_group([tax_per_mu(weight=10, benchmark=bench)]), YEAR)
    r = by(s)
    assert [r[u].base_score for u in ("CHEM", "DYE", "METAL", "OTHER", "NONE")] == [10, 8, 40, 20, 20]
    rows = explain_indicators(compile_rules(one_group([tax_per_mu(weight=10, benchmark=bench)])).groups[0],
                              r["DYE"].row, s.benchmarks["all"], year=YEAR)
    assert rows[0]["benchmark"] == 50 and "for industry C2614" in rows[0]["benchmark_source"]


def test_no_cap_lets_a_ratio_grow_and_a_cap_stops_it():
    firms = [firm("A", 100), firm("B", 900)]                       # 10 and 90 per mu, benchmark 20
    uncapped = by(score_dicts(firms, [], one_group([tax_per_mu(weight=10, benchmark=20)]), YEAR))
    capped = by(score_dicts(firms, [], one_group([tax_per_mu(weight=10, benchmark=20, cap=2)]), YEAR))
    default = by(score_dicts(firms, [], one_group([tax_per_mu(weight=10, benchmark=20)], cap=2), YEAR))
    assert uncapped["B"].base_score == 45 and capped["B"].base_score == 20 == default["B"].base_score
    assert uncapped["A"].base_score == capped["A"].base_score == 5


def test_scale_expresses_a_published_unit():
    # Huangyan's 单位用电税收 ÷ 0.2352: 万元 of tax per 万 kWh; electricity_kwh is in kWh
    ind = {"id": "tax_per_electricity", "numerator": "tax", "denominator": "electricity_kwh", "weight": 50,
           "benchmark": 0.2352, "scale": 10000}
    s = score_dicts([firm("A", 47.04, electricity_kwh=1_000_000)], [], one_group([ind]), YEAR)
    assert by(s)["A"].values[0] == pytest.approx(0.4704)           # 47.04 万元 / 100 万 kWh
    assert by(s)["A"].base_score == 100


# ---------------------------------------------------------------- missing data
def emission_rules(missing):
    return one_group([tax_per_mu(weight=30, benchmark=24.097),
                      {"id": "value_added_per_emission", "numerator": "value_added", "denominator": "emissions_t",
                       "weight": 10, "benchmark": 4929.81, "missing": missing}])


def test_huangyans_missing_emissions_rule_gives_the_group_average_points_and_says_so():
    firms = [firm("A", 241, value_added=9859.62, emissions_t=1.0),     # 2 × the benchmark: 20 points
             firm("B", 241, value_added=4929.81, emissions_t=1.0),     # 1 × the benchmark: 10 points
             firm("C", 241, value_added=5000.0, emissions_t=None)]     # no emissions figure
    s = score_dicts(firms, [], emission_rules("group_average_points"), YEAR)
    r = by(s)
    assert r["A"].points[1] == pytest.approx(20) and r["B"].points[1] == pytest.approx(10)
    assert r["C"].points[1] == pytest.approx(15)                      # the average of A and B
    assert "no emissions_t: the group's average points 15 given" in r["C"].flags[1]
    group = compile_rules(emission_rules("group_average_points")).groups[0]
    rows = explain_indicators(group, r["C"].row, s.benchmarks["all"], year=YEAR)
    assert rows[1]["points"] == pytest.approx(15) and "average points" in rows[1]["note"]
    assert sum(x["points"] for x in rows) == pytest.approx(r["C"].base_score, abs=1e-4)


def test_missing_zero_gives_nothing_and_not_graded_puts_the_firm_in_class_t():
    firms = [firm("A", 241, value_added=4929.81, emissions_t=1.0), firm("C", 241, value_added=5000.0)]
    zero = by(score_dicts(firms, [], emission_rules("zero"), YEAR))
    assert zero["C"].points[1] == 0 and zero["C"].flags[1] == "no emissions_t: 0 points"
    strict = score_dicts(firms, [], emission_rules("not_graded"), YEAR)
    c = by(strict)["C"]
    assert c.grade == "T" and c.rank is None
    assert c.not_graded_reason == "no emissions_t (value_added_per_emission): not graded (missing = not_graded)"
    assert by(strict)["A"].rank == 1 and strict.benchmarks["all"][1].usable == 1


def test_group_average_points_with_no_usable_value_gives_zero():
    s = score_dicts([firm("A", 241), firm("B", 100)], [], emission_rules("group_average_points"), YEAR)
    assert [r.points[1] for r in s.results] == [0, 0]


# ---------------------------------------------------------------- the presets' numbers
def test_the_huangyan_preset_divides_by_the_published_benchmarks():
    method = compile_rules(load_rules("scoring", "huangyan").data)
    above, below = method.groups
    assert [(i.id, i.weight, i.benchmark.value, i.cap) for i in above.indicators] == [
        ("tax_per_mu", 30, 24.097, None), ("value_added_per_mu", 20, 136.16, None),
        ("value_added_per_energy", 20, 2.694, None), ("value_added_per_emission", 10, 4929.81, None),
        ("labour_productivity", 10, 18.14, None), ("rd_intensity", 10, 0.0302, None)]
    assert [i.missing for i in above.indicators] == ["zero"] * 3 + ["group_average_points"] + ["zero"] * 2
    assert [(i.id, i.weight, i.benchmark.value, i.scale) for i in below.indicators] == [
        ("tax_per_mu", 50, 11.5932, 1), ("tax_per_electricity", 50, 0.2352, 10000)]
    # a firm exactly at every benchmark scores 100
    at = firm("AT", 24.097 * 10, value_added=136.16 * 10, energy_tce=136.16 * 10 / 2.694,
              emissions_t=136.16 * 10 / 4929.81, employees=136.16 * 10 / 18.14, revenue=1000.0, rd_expense=30.2)
    assert score_dicts([at], [], method, YEAR).results[0].base_score == 100


def test_the_huaian_preset_grades_each_district_against_twice_its_previous_year():
    method = compile_rules(load_rules("scoring", "huaian-2024").data)
    (group,) = method.groups
    assert method.scope == "district" and method.source.startswith("淮安市工业和信息化局")
    assert [(i.id, i.weight, i.benchmark.kind, i.benchmark.factor, i.cap) for i in group.indicators] == [
        ("tax_per_mu", 45, "previous_year_average", 2, None), ("revenue_per_mu", 35, "previous_year_average", 2, None),
        ("tax_per_energy", 20, "previous_year_average", 2, None)]
    assert [(g, str(u)) for g, u in method.bands] == [("A", "20"), ("B", "60"), ("C", "95"), ("D", "100")]
    small = {**firm("S", 10, land=2.5), "size_class": "below"}
    ok = {**firm("OK", 10, land=3), "size_class": "below"}
    s = score_dicts([firm("A", 100, revenue=1000, energy_tce=10), small, ok], [], method, YEAR,
                    previous=[firm("P", 100, revenue=1000, energy_tce=10)])
    r = by(s)
    assert r["S"].grade == "T" and "land >= 3 mu if below" in r["S"].not_graded_reason
    assert r["OK"].group == "all" and r["A"].base_score == pytest.approx(50)   # every ratio 0.5
