"""Groups beyond size class and land: industry, key polluters, renters, years in production."""
from __future__ import annotations

from kqtools.scoring import score_dicts

YEAR = 2025
BANDS = {"bands": [{"grade": "A", "upto": 50}, {"grade": "B", "upto": 100}]}


def group(gid, **criteria):
    return {"id": gid, "indicators": [{"id": "tax_per_mu", "numerator": "tax", "denominator": "land_mu",
                                       "weight": 100}], **criteria}


def firm(uscc, tax=100.0, **kw):
    return {"uscc": uscc, "size_class": "above", "founded_on": "2010-01-01", "tax": tax, "land_mu": 10.0, **kw}


def by(s):
    return s.by_uscc()


def test_key_polluters_and_an_industry_are_graded_in_groups_of_their_own():
    rules = {"groups": [group("polluters", key_polluter=True), group("chemicals", industry_prefixes=["C26"]),
                        group("others")], "grades": BANDS}
    firms = [firm("P1", 100, key_polluter=True, industry_code="C2614"), firm("P2", 300, key_polluter=1),
             firm("C1", 100, industry_code="C2611"), firm("C2", 50, industry_code="2612", key_polluter=False),
             firm("O1", 1000, industry_code="C3411"), firm("O2", 10)]
    s = score_dicts(firms, [], rules, YEAR)
    r = by(s)
    assert {u: r[u].group for u in r} == {"P1": "polluters", "P2": "polluters", "C1": "chemicals",
                                          "C2": "chemicals", "O1": "others", "O2": "others"}
    # each group its own benchmark and ranks: C1 leads its group although O1 pays ten times its tax
    assert (r["C1"].rank, r["C1"].grade, r["O1"].rank) == (1, "A", 1)
    assert s.benchmarks["chemicals"][0].benchmark == 7.5 and s.benchmarks["others"][0].benchmark == 50.5


def test_renters_are_a_group_or_not_graded_as_the_rules_say():
    firms = [firm("OWN", 100), firm("RENT", 100, renter=True), firm("RENT2", 300, renter=True)]
    as_group = by(score_dicts(firms, [], {"groups": [group("renters", renter=True), group("owners")],
                                          "grades": BANDS}, YEAR))
    assert (as_group["RENT"].group, as_group["RENT2"].group, as_group["OWN"].group) == ("renters", "renters", "owners")
    not_graded = by(score_dicts(firms, [], {"groups": [group("all")], "grades": BANDS,
                                            "not_graded": {"renters": True}}, YEAR))
    assert not_graded["RENT"].grade == "T" and "rented premises" in not_graded["RENT"].not_graded_reason
    assert not_graded["OWN"].rank == 1


def test_a_group_can_require_years_in_production():
    rules = {"groups": [group("established", min_years_since_founding=5), group("young")], "grades": BANDS}
    firms = [firm("OLD", founded_on="2020-12-31"), firm("NEW", founded_on="2021-01-01"), firm("UNKNOWN", founded_on=None)]
    r = by(score_dicts(firms, [], rules, YEAR))
    assert (r["OLD"].group, r["NEW"].group, r["UNKNOWN"].group) == ("established", "young", "established")


def test_a_firm_in_no_group_is_told_what_each_group_needs():
    rules = {"groups": [group("polluters", key_polluter=True, min_land_mu={"below": 3})], "grades": BANDS}
    r = by(score_dicts([firm("X")], [], rules, YEAR))["X"]
    assert r.grade == "T"
    assert r.not_graded_reason == ("in no group (size class above, land 10 mu): polluters needs size class any and "
                                   "land >= 3 mu if below and a key polluter")


def test_a_group_can_have_its_own_grade_bands():
    # Wenling's 规上 and 规下 proportions differ: B 20–80% above, C from 75% below (only upto changes)
    rules = {"groups": [group("above", size_class=["above"]),
                        group("below", size_class=["below"],
                              bands=[{"grade": "A", "upto": 20}, {"grade": "B", "upto": 75},
                                     {"grade": "C", "upto": 95}, {"grade": "D", "upto": 100}])],
             "grades": {"bands": [{"grade": "A", "upto": 20}, {"grade": "B", "upto": 80}, {"grade": "C", "upto": 95},
                                  {"grade": "D", "upto": 100}]}}
    firms = [firm(f"U{i:02d}", 100 - i) for i in range(20)] + [{**firm(f"L{i:02d}", 100 - i), "size_class": "below"}
                                                                for i in range(20)]
    s = score_dicts(firms, [], rules, YEAR)
    assert s.group_counts == {"above": {"A": 4, "B": 12, "C": 3, "D": 1}, "below": {"A": 4, "B": 11, "C": 4, "D": 1}}


def test_a_groups_bands_must_name_the_same_grades():
    import pytest

    from kqtools.scoring import compile_rules
    from kqtools.scoring_rules import ScoringRulesError

    rules = {"groups": [group("g", bands=[{"grade": "A", "upto": 50}, {"grade": "C", "upto": 100}])], "grades": BANDS}
    with pytest.raises(ScoringRulesError, match=r"groups\.g\.bands: the grades must be those of \[grades\] \(A, B\)"):
        compile_rules(rules)
    rules["groups"][0]["bands"] = [{"grade": "A", "upto": 60}, {"grade": "B", "upto": 50}]
    with pytest.raises(ScoringRulesError, match=r"groups\.g\.bands: B upto 50 must be larger"):
        compile_rules(rules)
