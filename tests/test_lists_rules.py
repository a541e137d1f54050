"""Credit list rules as plain functions: windows, blacklist, whitelist, overrides (kqtools.creditlists)."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kqtools import creditlists as C
from kqtools.rules import load_rules

D = dt.date
FIRM = "91110108551385082Q"


@pytest.fixture(scope="module")
def lr():
    return C.parse_rules(load_rules("lists").data)


def rec(source, **kw):
    return C.Record(uscc=kw.pop("uscc", FIRM), source=source, record_key=kw.pop("record_key", kw.get("reference") or "k"),
                    **kw)


def black(lr, records, as_of):
    return C.blacklist(records, lr, as_of)


# ---------------------------------------------------------------- blacklist
def test_dishonest_debtor_still_listed_is_blacklisted_and_one_removed_years_ago_is_not(lr):
    listed = rec("dishonest_debtor", started_on="2025-03-01", reference="(2025)苏0505执123号")
    entry = black(lr, [listed], D(2026, 6, 30))[FIRM]
    assert entry.until is None and entry.since == D(2025, 3, 1)
    assert entry.reasons[0]["rule"] == "dishonest_debtor"
    assert entry.reasons[0]["reference"] == "(2025)苏0505执123号"
    removed = rec("dishonest_debtor", started_on="2019-03-01", ended_on="2021-05-10", reference="(2019)苏0505执9号")
    assert black(lr, [removed], D(2026, 6, 30)) == {}
    # ... but as of a date while it was listed, it was on
    assert FIRM in black(lr, [removed], D(2020, 1, 1))


def test_serious_penalty_whose_publication_ended_early_stays_its_minimum_and_leaves_at_its_maximum(lr):
    repaired = rec("admin_penalty", severity="serious", started_on="2025-01-10", ended_on="2025-04-01",
                   reference="苏市监罚〔2025〕12号")
    # publication ended (ended_on) after 3 months, but the minimum is 1 year from the decision
    assert black(lr, [repaired], D(2025, 12, 31))[FIRM].until == D(2026, 1, 10)
    assert black(lr, [repaired], D(2026, 1, 9))
    assert black(lr, [repaired], D(2026, 1, 10)) == {}
    never_repaired = rec("admin_penalty", severity="serious", started_on="2025-01-10", reference="苏市监罚〔2025〕13号")
    entry = black(lr, [never_repaired], D(2027, 6, 30))[FIRM]
    assert entry.until == D(2028, 1, 10)            # publication ends at the maximum, 3 years
    assert black(lr, [never_repaired], D(2028, 1, 10)) == {}
    # repaired between the minimum and the maximum: off on the repair date
    mid = rec("admin_penalty", severity="serious", started_on="2025-01-10", ended_on="2026-08-01")
    assert black(lr, [mid], D(2026, 7, 31)) and black(lr, [mid], D(2026, 8, 1)) == {}


def test_general_and_minor_penalties_never_blacklist(lr):
    recs = [rec("admin_penalty", severity="general", started_on="2026-01-01", record_key="a"),
            rec("admin_penalty", severity="minor", started_on="2026-01-01", record_key="b")]
    assert black(lr, recs, D(2026, 6, 30)) == {}


def test_serious_violation_removed_after_14_months_is_off_the_blacklist_from_its_removal(lr):
    r = rec("serious_violation", started_on="2024-02-01", ended_on="2025-04-01", reference="苏市监严列〔2024〕5号")
    assert black(lr, [r], D(2025, 3, 31))[FIRM].until == D(2025, 4, 1)     # listed: leaves on its removal date
    assert black(lr, [r], D(2025, 4, 1)) == {}                               # the removal date itself: off
    assert black(lr, [r], D(2025, 4, 2)) == {}                               # and the next day


def test_serious_violation_never_removed_is_off_three_years_after_listing(lr):
    r = rec("serious_violation", started_on="2024-02-01")
    entry = black(lr, [r], D(2026, 6, 30))[FIRM]
    assert entry.since == D(2024, 2, 1) and entry.until == D(2027, 2, 1)   # the maximum, never open-ended
    assert black(lr, [r], D(2027, 1, 31))
    assert black(lr, [r], D(2027, 2, 1)) == {}


def test_tax_rating_d_blacklists_two_years_from_publication(lr):
    d = rec("tax_rating", year=2024, grade="D", record_key="2024")
    assert black(lr, [d], D(2025, 3, 31)) == {}                 # not published yet
    entry = black(lr, [d], D(2025, 4, 1))[FIRM]
    assert entry.since == D(2025, 4, 1) and entry.until == D(2027, 4, 1)
    assert black(lr, [d], D(2027, 4, 1)) == {}


def test_research_misconduct_uses_the_recorded_term_and_never_guesses_one(lr):
    two = rec("research_misconduct", started_on="2024-05-01", term_years=2)
    assert black(lr, [two], D(2026, 4, 30))[FIRM].until == D(2026, 5, 1)
    assert black(lr, [two], D(2026, 5, 1)) == {}
    life = rec("research_misconduct", started_on="2010-05-01", term_years="life")
    assert black(lr, [life], D(2040, 1, 1))[FIRM].until is None
    problems = []
    none = rec("research_misconduct", started_on="2024-05-01", term_years=None)
    assert C.blacklist([none], lr, D(2025, 1, 1), problems) == {}
    assert problems and "term" in problems[0]["problem"]


def test_future_records_do_not_count_yet(lr):
    r = rec("dishonest_debtor", started_on="2026-07-01")
    assert black(lr, [r], D(2026, 6, 30)) == {}


# ---------------------------------------------------------------- credit terms (issue 14 item 8)
def test_a_direct_tax_d_blacklists_two_years_and_a_score_based_d_only_its_rating_year(lr):
    direct = rec("tax_rating", year=2024, grade="D", direct=1, record_key="2024")
    entry = black(lr, [direct], D(2026, 6, 30))[FIRM]
    assert (entry.since, entry.until) == (D(2025, 4, 1), D(2027, 4, 1))
    assert entry.reasons[0]["rule"] == "tax_d" and entry.reasons[0]["basis"] == "direct"
    assert "2024 D (assigned directly)" in C.reasons_text(entry.reasons)
    by_score = rec("tax_rating", year=2024, grade="D", direct=0, record_key="2024")
    entry = black(lr, [by_score], D(2025, 4, 1))[FIRM]
    assert entry.until == D(2026, 4, 1)                  # the 2025 rating is published: its year is over
    assert entry.reasons[0]["rule"] == "tax_d_score" and entry.reasons[0]["basis"] == "score"
    assert "2024 D (by score)" in C.reasons_text(entry.reasons)
    assert black(lr, [by_score], D(2026, 3, 31)) and black(lr, [by_score], D(2026, 4, 1)) == {}
    assert black(lr, [by_score], D(2026, 6, 30)) == {}


def test_a_tax_d_of_unknown_basis_counts_as_the_rule_file_says_and_the_reason_says_so(lr):
    unknown = rec("tax_rating", year=2024, grade="D", record_key="2024")
    entry = black(lr, [unknown], D(2026, 6, 30))[FIRM]            # default: direct, 2 years
    assert entry.until == D(2027, 4, 1) and entry.reasons[0]["basis"] == "unknown"
    assert "basis unknown: treated as direct" in C.reasons_text(entry.reasons)
    data = load_rules("lists").data
    score_rules = C.parse_rules({**data, "tax": {**data["tax"], "unknown_basis": "score"}})
    entry = C.blacklist([unknown], score_rules, D(2025, 6, 30))[FIRM]
    assert entry.until == D(2026, 4, 1) and "basis unknown: treated as score" in C.reasons_text(entry.reasons)
    assert C.blacklist([unknown], score_rules, D(2026, 6, 30)) == {}


def test_a_repaired_record_stops_counting_on_its_repair_date_even_before_the_minimum(lr):
    d = rec("tax_rating", year=2024, grade="D", direct=True, record_key="2024", repaired_on="2025-09-01")
    assert black(lr, [d], D(2025, 8, 31))[FIRM].until == D(2025, 9, 1)
    assert black(lr, [d], D(2025, 9, 1)) == {}
    penalty = rec("admin_penalty", severity="serious", started_on="2025-01-10", repaired_on="2025-06-01")
    assert black(lr, [penalty], D(2025, 5, 31)) and black(lr, [penalty], D(2025, 6, 1)) == {}
    before_start = rec("dishonest_debtor", started_on="2025-03-01", repaired_on="2025-03-01")
    assert black(lr, [before_start], D(2025, 3, 1)) == {}


def test_a_repaired_general_penalty_no_longer_blocks_the_whitelist(lr):
    penalty = rec("admin_penalty", severity="general", started_on="2026-01-15", reference="苏环罚〔2026〕3号",
                  repaired_on="2026-04-20")
    entry, fails = C.whitelist_check(FIRM, good_firm(records=[penalty]), lr, D(2026, 6, 30), blacklisted=False)
    assert fails == [] and entry.since == D(2026, 4, 20)       # whitelisted from the repair on
    entry, fails = C.whitelist_check(FIRM, good_firm(records=[penalty]), lr, D(2026, 4, 19), blacklisted=False)
    assert entry is None and any("苏环罚〔2026〕3号" in f for f in fails)


def test_a_repaired_record_no_longer_counts_in_the_negative_look_back(lr):
    # the dishonest-debtor listing ended long ago; only the two-year look-back could still block
    debtor = rec("dishonest_debtor", started_on="2025-02-01", ended_on="2025-05-01", reference="(2025)苏0505执8号")
    _, fails = C.whitelist_check(FIRM, good_firm(records=[debtor]), lr, D(2026, 6, 30), blacklisted=False)
    assert fails == ["negative record within 2y: dishonest_debtor 2025-02-01 (2025)苏0505执8号"]
    repaired = debtor._replace(repaired_on="2025-06-15")
    entry, fails = C.whitelist_check(FIRM, good_firm(records=[repaired]), lr, D(2026, 6, 30), blacklisted=False)
    assert fails == [] and entry.since == D(2026, 4, 1)        # the 2025 rating's publication is later


def test_an_abnormal_operation_listing_blocks_the_whitelist_only_while_listed(lr):
    listed = rec("abnormal_operation", started_on="2025-10-01", reference="苏园市监异〔2025〕2号")
    _, fails = C.whitelist_check(FIRM, good_firm(records=[listed]), lr, D(2026, 6, 30), blacklisted=False)
    assert any(f.startswith("abnormal_operation:") for f in fails)
    removed = listed._replace(ended_on="2026-05-10")
    entry, fails = C.whitelist_check(FIRM, good_firm(records=[removed]), lr, D(2026, 6, 30), blacklisted=False)
    assert fails == [] and entry.since == D(2026, 5, 10)
    # a removed dishonest-debtor listing still counts for two years: only the rule file's
    # negative_until_removed sources stop counting at their removal
    debtor = rec("dishonest_debtor", started_on="2025-10-01", ended_on="2026-05-10")
    assert C.whitelist_check(FIRM, good_firm(records=[debtor]), lr, D(2026, 6, 30), blacklisted=False)[0] is None


def test_two_different_tax_ratings_for_one_year_keep_a_firm_off_the_whitelist(lr):
    facts = good_firm(records=[rec("tax_rating", year=2025, grade="B", record_key="苏税评〔2026〕1号")])
    _, fails = C.whitelist_check(FIRM, facts, lr, D(2026, 6, 30), blacklisted=False)
    assert fails == ["two tax ratings for 2025: A, B (correct the records)"]
    # ... unless the other one was repaired (纳税信用修复): it no longer counts
    facts.records[-1] = facts.records[-1]._replace(repaired_on="2026-05-01")
    assert C.whitelist_check(FIRM, facts, lr, D(2026, 6, 30), blacklisted=False)[1] == []


# ---------------------------------------------------------------- rule files the schema cannot refuse
def _lists_data(**changes):
    import copy

    data = copy.deepcopy(load_rules("lists").data)
    for path, value in changes.items():
        *where, key = path.split("__")
        target = data
        for part in where:
            target = target[int(part)] if part.isdigit() else target[part]
        target[key] = value
    return data


@pytest.mark.parametrize("changes, message", [
    ({"rules__3__min": "4y"}, "rules.3 (serious_violation): min 4y exceeds max 3y"),
    ({"rules__3__min": "37m"}, "min 37m exceeds max 3y"),
    ({"repair__general__min": "13m"}, "repair.general: min 13m exceeds max 1y"),
    ({"repair__serious__max": "364d"}, "repair.serious: min 1y exceeds max 364d"),
    ({"repair__serious__max": "365d"}, "min 1y exceeds max 365d"),       # 1y is 366 days across a Feb 29
    ({"rules__2__direct": True}, "rules.2 (dishonest_debtor): direct applies to tax_rating rules only"),
    ({"whitelist__tax_years": 0, "whitelist__designation_kinds": []}, "whitelist: needs tax_years"),
])
def test_list_rules_the_schema_accepts_but_that_cannot_work_are_refused(changes, message):
    with pytest.raises(C.ListRulesError, match=message.replace("(", r"\(").replace(")", r"\)")):
        C.parse_rules(_lists_data(**changes))


@pytest.mark.parametrize("changes", [
    {"rules__3__min": "3y"}, {"rules__3__min": "36m"}, {"repair__general__min": "12m"},
    {"repair__serious__min": "365d"}, {"repair__general__max": "366d"}])
def test_a_minimum_equal_to_its_maximum_or_below_it_is_accepted(changes):
    C.parse_rules(_lists_data(**changes))


# ---------------------------------------------------------------- whitelist
def good_firm(**extra):
    records = [rec("tax_rating", year=2025, grade="A", record_key="2025"),
               rec("tax_rating", year=2024, grade="A", record_key="2024")]
    designations = [C.Designation(FIRM, "示例科技", "hte", "", "2024-11-06", "2027-11-05", "GR202432000123")]
    return C.Facts(records + extra.get("records", []), designations + extra.get("designations", []))


def test_rating_years_follow_the_april_publication(lr):
    assert lr.rating_years(D(2026, 6, 30)) == [2025, 2024]
    assert lr.rating_years(D(2026, 3, 31)) == [2024, 2023]
    assert lr.rating_years(D(2026, 4, 1)) == [2025, 2024]


def test_two_years_of_a_a_current_designation_and_no_negative_record_is_whitelisted(lr):
    entry, fails = C.whitelist_check(FIRM, good_firm(), lr, D(2026, 6, 30), blacklisted=False)
    assert fails == [] and entry is not None
    rules = [r["rule"] for r in entry.reasons]
    assert rules == ["tax_rating", "designation"]
    assert [x["year"] for x in entry.reasons[0]["records"]] == [2025, 2024]
    assert entry.reasons[1]["records"][0]["certificate_no"] == "GR202432000123"
    # leaves when the 2026 rating is due (published April 2027) unless it is A
    assert entry.until == D(2027, 4, 1)


def test_a_general_penalty_in_the_last_year_keeps_a_firm_off_the_whitelist(lr):
    penalty = rec("admin_penalty", severity="general", started_on="2026-01-15", reference="苏环罚〔2026〕3号")
    entry, fails = C.whitelist_check(FIRM, good_firm(records=[penalty]), lr, D(2026, 6, 30), blacklisted=False)
    assert entry is None
    assert any("苏环罚〔2026〕3号" in f for f in fails)


def test_a_negative_record_older_than_two_years_no_longer_blocks(lr):
    old = rec("admin_penalty", severity="general", started_on="2024-03-01")
    entry, fails = C.whitelist_check(FIRM, good_firm(records=[old]), lr, D(2026, 6, 30), blacklisted=False)
    assert fails == [] and entry.since == D(2026, 4, 1)


@pytest.mark.parametrize("change, expected", [
    (lambda f: f.records.__setitem__(0, rec("tax_rating", year=2025, grade="B", record_key="2025")), "tax rating 2025 is B"),
    (lambda f: f.records.pop(1), "no tax rating for 2024"),
    (lambda f: f.designations.clear(), "no current designation"),
    (lambda f: f.designations.__setitem__(0, C.Designation(FIRM, None, "hte", "", "2021-06-01", "2024-05-31")),
     "no current designation"),
    (lambda f: f.records.append(rec("abnormal_operation", started_on="2023-01-01", record_key="x")), "abnormal_operation"),
])
def test_each_missing_condition_is_named(lr, change, expected):
    facts = good_firm()
    change(facts)
    entry, fails = C.whitelist_check(FIRM, facts, lr, D(2026, 6, 30), blacklisted=False)
    assert entry is None and any(expected in f for f in fails), fails


@pytest.mark.parametrize("recognized, expires, revoked, current", [
    ("2026-06-30", None, None, True),            # recognized on the as-of date
    ("2026-07-01", None, None, False),
    ("2024-11-06", "2026-06-30", None, True),    # expires_on is the last valid day
    ("2024-11-06", "2026-06-29", None, False),
    ("2024-11-06", None, "2026-07-01", True),    # revoked the day after
    ("2024-11-06", None, "2026-06-30", False),   # revoked on the as-of date (撤销认定)
    ("2024-11-06", "", "", True),                # empty text = no date
])
def test_a_designation_is_current_from_recognition_through_expiry_until_revoked(recognized, expires, revoked, current):
    d = C.Designation(FIRM, None, "hte", "", recognized, expires, None, revoked)
    assert d.current(D(2026, 6, 30)) is current


def test_blacklisted_or_invalid_code_is_never_whitelisted(lr):
    assert C.whitelist_check(FIRM, good_firm(), lr, D(2026, 6, 30), blacklisted=True)[1] == ["on the blacklist"]
    fails = C.whitelist_check(FIRM, good_firm(), lr, D(2026, 6, 30), blacklisted=False, valid_code=False)[1]
    assert fails == ["credit code does not pass the check"]


def test_commendation_is_shown_among_the_reasons(lr):
    award = rec("commendation", started_on="2025-12-01", issuer="苏州市发展改革委", record_key="c")
    entry, _ = C.whitelist_check(FIRM, good_firm(records=[award]), lr, D(2026, 6, 30), blacklisted=False)
    assert entry.reasons[-1]["rule"] == "commendation" and entry.reasons[-1]["issuer"] == "苏州市发展改革委"


# ---------------------------------------------------------------- overrides
def test_override_adds_removes_and_expires_on_its_date(lr):
    entries = black(lr, [rec("dishonest_debtor", started_on="2025-01-01", uscc="9144030071526726XG")], D(2026, 6, 30))
    add = C.Override(1, "blacklist", "add", FIRM, "法院通报", "张三", "2026-06-01T09:00:00+08:00", "2026-07-01")
    rm = C.Override(2, "blacklist", "remove", "9144030071526726XG", "已履行", "李四", "2026-06-02T09:00:00+08:00")
    applied, removed = C.apply_overrides(entries, [add, rm], "blacklist", D(2026, 6, 30))
    assert [o.id for o in applied] == [1, 2]
    assert set(entries) == {FIRM} and entries[FIRM].override_id == 1 and entries[FIRM].until == D(2026, 7, 1)
    assert removed["9144030071526726XG"][1].reason == "已履行"
    assert not add.active(D(2026, 7, 1)) and add.active(D(2026, 6, 30))


# ---------------------------------------------------------------- properties
dates = st.dates(min_value=D(2015, 1, 1), max_value=D(2030, 12, 31))
SOURCES = st.sampled_from([("dishonest_debtor", None), ("serious_violation", None), ("admin_penalty", "serious"),
                           ("research_misconduct", None), ("tax_rating", None)])


@st.composite
def records(draw):
    out = []
    for i in range(draw(st.integers(1, 4))):
        source, severity = draw(SOURCES)
        start = draw(dates)
        ended = draw(st.one_of(st.none(), dates.filter(lambda d: d >= start)))
        kw = {"record_key": str(i)}
        if source == "tax_rating":
            kw.update(year=draw(st.integers(2015, 2029)), grade=draw(st.sampled_from("ABMCD")))
        else:
            kw.update(started_on=start.isoformat(), ended_on=ended.isoformat() if ended else None, severity=severity)
        if source == "research_misconduct":
            kw["term_years"] = draw(st.sampled_from([1, 2, 3, 5, "life"]))
        out.append(rec(source, **kw))
    return out


@settings(max_examples=300, deadline=None)
@given(records(), dates)
def test_an_entry_is_on_from_since_and_leaves_exactly_on_until(recs, as_of):
    """"If nothing changes": no record dated after the as-of date."""
    lr = C.parse_rules(load_rules("lists").data)
    recs = [r for r in recs if all((C.record_start(rule, r, lr) or as_of) <= as_of for rule in lr.by_source[r.source])]
    entry = C.blacklist(recs, lr, as_of).get(FIRM)
    if entry is None:
        return
    assert entry.since <= as_of
    assert FIRM in C.blacklist(recs, lr, entry.since)
    if entry.until is not None:
        assert entry.until > as_of
        assert FIRM in C.blacklist(recs, lr, entry.until - dt.timedelta(days=1))
        assert FIRM not in C.blacklist(recs, lr, entry.until)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 3), st.integers(0, 30), dates)
def test_durations_round_trip_and_never_shrink(n, days, d):
    for unit in "ymd":
        dur = C.Duration(n, unit)
        assert dur.add(d) >= d
        assert C.Duration.parse(str(dur)) == dur


def test_the_lists_rules_are_validated_by_schemas_list_rules():
    import pytest

    from kqtools.kinds import load_schema
    from kqtools.rules import RulesError, validate

    assert load_schema("list-rules")["$id"].endswith("/list-rules.schema.json")
    with pytest.raises(RulesError, match="tax"):
        validate("lists", {"rules": []}, "x.toml")


def test_scopes_of_one_source_merge_into_the_widest_year_range_whatever_the_rule_order(lr):
    direct, score = (C.scope(r, D(2026, 6, 30), lr) for r in lr.by_source["tax_rating"])
    assert (direct.year_min, score.year_min, direct.year_max) == (2024, 2025, 2025)
    for order in ([direct, score], [score, direct], [score, score, direct]):
        assert C.merge_scopes(order) == [direct]
    unbounded = dataclasses.replace(direct, year_min=None)
    assert C.merge_scopes([score, unbounded]) == [unbounded]
    other = C.scope(lr.by_source["dishonest_debtor"][0], D(2026, 6, 30), lr)
    assert C.merge_scopes([direct, other, score]) == [direct, other]


# ---------------------------------------------------------------- edges the mutation run found (issue 19 item 6)
def test_a_minimum_exceeding_its_maximum_only_from_a_31st_is_refused():
    # 425 days from 2024-12-31 is 2026-03-01, 14 months is 2026-02-28: the check must try month ends
    with pytest.raises(C.ListRulesError, match="repair.general: min 425d exceeds max 14m"):
        C.parse_rules(_lists_data(repair__general__min="425d", repair__general__max="14m"))
    C.parse_rules(_lists_data(repair__general__min="424d", repair__general__max="14m"))


def test_record_dates_given_as_dates_count_like_iso_text(lr):
    as_text = [rec("dishonest_debtor", started_on="2025-03-01", record_key="a"),
               rec("dishonest_debtor", started_on="2019-03-01", ended_on="2021-05-10", uscc="91310000631696382C",
                   record_key="b")]
    as_dates = [r._replace(started_on=D.fromisoformat(r.started_on),
                           ended_on=r.ended_on and D.fromisoformat(r.ended_on)) for r in as_text]
    def windows(records):
        return {u: (e.since, e.until) for u, e in black(lr, records, D(2026, 6, 30)).items()}

    assert windows(as_dates) == windows(as_text) == {FIRM: (D(2025, 3, 1), None)}


def test_a_tax_rule_starting_on_the_record_date_falls_back_to_publication_without_one():
    lr = C.parse_rules(_lists_data(rules__0__start="started_on"))
    dated = rec("tax_rating", year=2024, grade="D", direct=True, started_on="2025-06-10", record_key="a")
    undated = rec("tax_rating", year=2024, grade="D", direct=True, uscc="91310000631696382C", record_key="b")
    entries = black(lr, [dated, undated], D(2026, 6, 30))
    assert entries[FIRM].since == D(2025, 6, 10)
    assert entries["91310000631696382C"].since == lr.publication(2024)


def test_a_negative_record_with_a_year_column_looks_back_from_its_own_date(lr):
    # the penalty's own window (at most a year) is over; the two-year look-back from its decision
    # date is not: whatever year column the office filled in, the firm stays off the whitelist
    penalty = rec("admin_penalty", severity="general", started_on="2025-01-15", year=2022, reference="苏环罚〔2025〕1号")
    entry, fails = C.whitelist_check(FIRM, good_firm(records=[penalty]), lr, D(2026, 6, 30), blacklisted=False)
    assert entry is None and any("苏环罚〔2025〕1号" in f for f in fails), fails


def test_the_pre_filter_keeps_every_record_a_rule_with_a_minimum_lists():
    # length 31 days, at least one month: from 2026-02-09 the window ends 2026-03-12, so the record is
    # on as of 2026-03-10 although a month after its start (2026-03-09) is past; the SQL pre-filter
    # (started_on > start_after) must not drop it
    lr = C.parse_rules(_lists_data(rules__8__length="31d", rules__8__min="1m"))
    rule = lr.by_source["commendation"][0]
    record = rec("commendation", started_on="2026-02-09")
    start, end = C.window(rule, record, lr)
    assert start <= D(2026, 3, 10) < end
    assert C.scope(rule, D(2026, 3, 10), lr).start_after < record.started_on


def test_a_blacklist_entry_carries_the_firm_name_and_says_open_or_until_when(lr):
    listed = rec("dishonest_debtor", started_on="2025-03-01", reference="(2025)苏0505执123号", name="苏州某某科技有限公司")
    entry = black(lr, [listed], D(2026, 6, 30))[FIRM]
    assert entry.name == "苏州某某科技有限公司"
    assert C.reasons_text(entry.reasons) == "dishonest_debtor 2025-03-01 (2025)苏0505执123号 (open)"
    capped = rec("serious_violation", started_on="2025-03-01", name="苏州某某科技有限公司")
    entry = black(lr, [capped], D(2026, 6, 30))[FIRM]
    assert C.reasons_text(entry.reasons) == "serious_violation 2025-03-01 to 2028-03-01"


def test_a_firm_joins_the_whitelist_when_its_last_negative_record_leaves_the_look_back(lr):
    # a general penalty of 2024-06-10 counts for two years: the firm is whitelisted from 2026-06-10,
    # later than its ratings (2026-04-01) and its certificate would allow
    penalty = rec("admin_penalty", severity="general", started_on="2024-06-10", reference="苏环罚〔2024〕7号")
    entry, fails = C.whitelist_check(FIRM, good_firm(records=[penalty]), lr, D(2026, 6, 30), blacklisted=False)
    assert fails == [] and entry.since == D(2026, 6, 10)
