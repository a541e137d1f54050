"""Building the lists through the database (with its SQL pre-filter and whitelist candidates)
gives exactly what the pure list rules give over every record (issue 19 item 2).

Generated: every credit source, rating years back to five years before the as-of date, direct /
score / unknown tax D, repaired and removed records, designations expiring or revoked on the as-of date,
overrides added, extended, expired and revoked; dates clustered on the boundaries (whole years
and months before the as-of date, +-1 day); and the rule file's durations varied too, so the
pre-filter is checked for rules other than the shipped ones.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lists_data import CODES, clear, database_lists, insert, rule_lists

from kqtools import creditlists as C
from kqtools.rules import load_rules

AS_OFS = [dt.date(2026, 6, 30), dt.date(2026, 4, 1), dt.date(2026, 3, 31), dt.date(2025, 12, 31),
          dt.date(2024, 2, 29), dt.date(2027, 1, 31)]
FIRMS = CODES[:4]
SOURCES = ("tax_rating", "dishonest_debtor", "abnormal_operation", "serious_violation", "admin_penalty",
           "research_misconduct", "commendation")


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory):
    from kqtools.storage import open_db

    db = open_db(str(tmp_path_factory.mktemp("parity") / "kq.db"))
    yield db
    db.conn.close()


def near(as_of: dt.date):
    """A date on a boundary (whole months or years before as_of, +-1 day; two draws in three) or
    anywhere in the four years before it."""
    on_boundary = st.builds(lambda m, d: C.add_months(as_of, m) + dt.timedelta(days=d),
                            st.sampled_from([-48, -36, -24, -18, -12, -6, -3, 0, 12]), st.sampled_from([-1, 0, 1]))
    anywhere = st.integers(-1500, 60).map(lambda d: as_of + dt.timedelta(days=d))
    return st.one_of(on_boundary, on_boundary, anywhere)


def maybe(strategy):
    return st.one_of(st.none(), strategy)


@st.composite
def cases(draw):
    as_of = draw(st.sampled_from(AS_OFS))
    day = near(as_of).map(dt.date.isoformat)
    records, designations, overrides = [], [], []
    latest = as_of.year - 1 if as_of >= dt.date(as_of.year, 4, 1) else as_of.year - 2
    for uscc in FIRMS:
        if draw(st.booleans()):  # a firm that could be whitelisted: A in the latest years, a designation
            for y in range(latest - draw(st.integers(1, 3)), latest + 1):
                records.append(C.Record(uscc, "tax_rating", f"{y}", grade="A", year=y))
            designations.append(C.Designation(uscc, None, draw(st.sampled_from(["hte", "zjtx", "tsme"])), "",
                                              draw(day), draw(maybe(day)), None))
    for i in range(draw(st.integers(0, 10))):
        uscc, source = draw(st.sampled_from(FIRMS)), draw(st.sampled_from(SOURCES + ("tax_rating",)))
        kw = {"repaired_on": draw(maybe(day)), "reference": draw(st.sampled_from([None, f"文书{i}号"]))}
        if source == "tax_rating":
            year = latest - draw(st.integers(-1, 5))
            kw.update(year=year, grade=draw(st.sampled_from("ABMCDDD")), direct=draw(st.sampled_from([None, 0, 1])))
        else:
            kw.update(started_on=draw(day), ended_on=draw(maybe(day)))
            if source == "admin_penalty":
                kw["severity"] = draw(st.sampled_from(["minor", "general", "serious"]))
            if source == "research_misconduct":
                kw["term_years"] = draw(st.sampled_from([1, 2, 3, 5, 0.5, "life", 0, None]))
        records.append(C.Record(uscc, source, f"k{i}", **kw))
    for i in range(draw(st.integers(0, 3))):
        d = C.Designation(draw(st.sampled_from(FIRMS)), None, draw(st.sampled_from(["hte", "zjtx", "tsme", "gazelle"])),
                          draw(st.sampled_from(["", "provincial"])), draw(day), draw(maybe(day)), f"证{i}",
                          draw(maybe(day)))
        if all(d[:1] + d[2:5] != x[:1] + x[2:5] for x in designations):  # the table's key
            designations.append(d)
    for i in range(draw(st.integers(0, 3))):
        overrides.append(C.Override(
            i + 1, draw(st.sampled_from(C.LISTS)), draw(st.sampled_from(["add", "add", "remove"])),
            draw(st.sampled_from(FIRMS)), f"理由{i}", "王科员", draw(day) + "T09:00:00+08:00", draw(maybe(day)),
            None, draw(st.sampled_from([None, None, "2026-01-05T10:00:00+08:00"]))))
    return as_of, records, designations, overrides


@st.composite
def rule_data(draw):
    """The shipped rules, or a variant with other durations and settings the schema allows."""
    data = json.loads(json.dumps(load_rules("lists").data))
    if draw(st.booleans()):
        return data
    by_id = {r["id"]: r for r in data["rules"]}
    by_id["tax_d"]["length"] = draw(st.sampled_from(["2y", "18m", "3y"]))
    by_id["tax_d_score"]["length"] = draw(st.sampled_from(["1y", "6m"]))
    sv = by_id["serious_violation"]
    sv.pop("max")
    sv.update(draw(st.sampled_from([{"max": "3y"}, {"min": "1y", "max": "3y"}, {"min": "3y"}, {}])))
    by_id["commendation"]["length"] = draw(st.sampled_from(["3y", "400d"]))
    data["repair"]["serious"] = draw(st.sampled_from([{"min": "1y", "max": "3y"}, {"min": "6m", "max": "2y"}]))
    data["tax"]["unknown_basis"] = draw(st.sampled_from(["direct", "score"]))
    data["whitelist"]["negative_until_removed"] = draw(st.sampled_from([["abnormal_operation"], []]))
    data["whitelist"]["negative_lookback"] = draw(st.sampled_from(["2y", "1y", "18m"]))
    return data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases(), rule_data())
def test_the_database_build_equals_the_rules_over_every_record(shared_db, tmp_path, case, data):
    as_of, records, designations, overrides = case
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    clear(shared_db)
    insert(shared_db, records, designations, overrides)
    expected = rule_lists(records, designations, overrides, C.parse_rules(data), as_of)
    assert database_lists(shared_db, as_of, str(path)) == expected
