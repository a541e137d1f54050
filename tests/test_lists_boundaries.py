"""Every documented boundary, table-driven, through the database (``kq lists build``) and through the
pure rules: the last day a record counts and the first day it does not, designations expiring on
the as-of date, rating publication, overrides (issue 19 items 1 and 3)."""
from __future__ import annotations

import datetime as dt

import pytest

from lists_data import CODES, clear, database_lists, insert, rule_lists

from kqtools import creditlists as C
from kqtools.rules import load_rules

D = dt.date
FIRM, OTHER = CODES[0], CODES[1]
AS_OF = D(2026, 6, 30)


def rec(source, **kw):
    return C.Record(kw.pop("uscc", FIRM), source, kw.pop("record_key", "k"), **kw)


def days(n, base=AS_OF):
    return (base + dt.timedelta(days=n)).isoformat()


def years(n, plus_days=0, base=AS_OF):
    return (C.add_months(base, 12 * n) + dt.timedelta(days=plus_days)).isoformat()


def whitelistable(as_of=AS_OF, expires=None, recognized=None):
    """FIRM with A ratings in the latest rating years and a current high-tech designation."""
    latest = as_of.year - 1 if as_of >= D(as_of.year, 4, 1) else as_of.year - 2
    records = [rec("tax_rating", year=y, grade="A", record_key=str(y)) for y in (latest - 2, latest - 1, latest)]
    designation = C.Designation(FIRM, None, "hte", "", recognized or years(-2, base=as_of),
                                expires or years(1, base=as_of), "GR1")
    return records, [designation]


def override(i, action, until=None, revoked_at=None, lst="blacklist", uscc=FIRM):
    return C.Override(i, lst, action, uscc, f"理由{i}", "王科员", "2026-01-05T09:00:00+08:00", until, None, revoked_at)


# (case, as_of, records, designations, overrides, blacklist, whitelist); blacklist/whitelist: {uscc: until}
B, W = "blacklist", "whitelist"
CASES = [
    # a record's window: the last day it counts, and the first day it does not
    ("debtor removed the day after: still on", AS_OF, [rec("dishonest_debtor", started_on="2025-01-01", ended_on=days(1))],
     [], [], {FIRM: days(1)}, {}),
    ("debtor removed on the as-of date: off", AS_OF, [rec("dishonest_debtor", started_on="2025-01-01", ended_on=days(0))],
     [], [], {}, {}),
    ("serious violation, last day of its 3 years", AS_OF, [rec("serious_violation", started_on=years(-3, 1))],
     [], [], {FIRM: days(1)}, {}),
    ("serious violation, 3 years to the day: off", AS_OF, [rec("serious_violation", started_on=years(-3))],
     [], [], {}, {}),
    ("serious violation removed the day after", AS_OF,
     [rec("serious_violation", started_on="2025-05-01", ended_on=days(1))], [], [], {FIRM: days(1)}, {}),
    ("serious violation removed on the as-of date", AS_OF,
     [rec("serious_violation", started_on="2025-05-01", ended_on=days(0))], [], [], {}, {}),
    ("serious penalty, last day of its 3-year maximum", AS_OF,
     [rec("admin_penalty", severity="serious", started_on=years(-3, 1))], [], [], {FIRM: days(1)}, {}),
    ("serious penalty at its maximum: off", AS_OF,
     [rec("admin_penalty", severity="serious", started_on=years(-3))], [], [], {}, {}),
    ("serious penalty ended early, last day of its 1-year minimum", AS_OF,
     [rec("admin_penalty", severity="serious", started_on=years(-1, 1), ended_on=years(-1, 40))],
     [], [], {FIRM: days(1)}, {}),
    ("serious penalty ended early, minimum over", AS_OF,
     [rec("admin_penalty", severity="serious", started_on=years(-1), ended_on=years(-1, 40))], [], [], {}, {}),
    ("research ban of 2 years, last day", AS_OF,
     [rec("research_misconduct", started_on=years(-2, 1), term_years=2)], [], [], {FIRM: days(1)}, {}),
    ("research ban of 2 years, served", AS_OF,
     [rec("research_misconduct", started_on=years(-2), term_years=2)], [], [], {}, {}),
    ("repaired the day after: still on", AS_OF,
     [rec("dishonest_debtor", started_on="2025-01-01", repaired_on=days(1))], [], [], {FIRM: days(1)}, {}),
    ("repaired on the as-of date: off", AS_OF,
     [rec("dishonest_debtor", started_on="2025-01-01", repaired_on=days(0))], [], [], {}, {}),
    # tax ratings: published April 1 of the next year; direct 2 years, by score its rating year
    ("2024 D direct, last day", D(2027, 3, 31), [rec("tax_rating", year=2024, grade="D", direct=1)],
     [], [], {FIRM: "2027-04-01"}, {}),
    ("2024 D direct, 2 years after publication", D(2027, 4, 1), [rec("tax_rating", year=2024, grade="D", direct=1)],
     [], [], {}, {}),
    ("2024 D direct as of 2026-06-30: not only the latest rating year counts", AS_OF,
     [rec("tax_rating", year=2024, grade="D", direct=1)], [], [], {FIRM: "2027-04-01"}, {}),
    ("2024 D by score, last day of its rating year", D(2026, 3, 31),
     [rec("tax_rating", year=2024, grade="D", direct=0)], [], [], {FIRM: "2026-04-01"}, {}),
    ("2024 D by score, the next rating published", D(2026, 4, 1),
     [rec("tax_rating", year=2024, grade="D", direct=0)], [], [], {}, {}),
    ("2025 D, not published yet", D(2026, 3, 31), [rec("tax_rating", year=2025, grade="D")], [], [], {}, {}),
    ("2025 D, published today", D(2026, 4, 1), [rec("tax_rating", year=2025, grade="D")], [], [],
     {FIRM: "2028-04-01"}, {}),
    # the whitelist
    ("designation expiring on the as-of date is current", AS_OF, *whitelistable(expires=days(0)), [],
     {}, {FIRM: days(1)}),
    ("designation expired the day before", AS_OF, *whitelistable(expires=days(-1)), [], {}, {}),
    ("designation revoked the day after", AS_OF, whitelistable()[0], [whitelistable()[1][0]._replace(revoked_on=days(1))],
     [], {}, {FIRM: days(1)}),
    ("designation revoked on the as-of date", AS_OF, whitelistable()[0],
     [whitelistable()[1][0]._replace(revoked_on=days(0))], [], {}, {}),
    ("designation recognized on the as-of date", AS_OF, *whitelistable(recognized=days(0)), [], {}, {FIRM: "2027-04-01"}),
    ("designation recognized the day after", AS_OF, *whitelistable(recognized=days(1)), [], {}, {}),
    ("ratings as of March 31: 2024 and 2023", D(2026, 3, 31), *whitelistable(D(2026, 3, 31)), [], {},
     {FIRM: "2026-04-01"}),
    ("ratings as of April 1: 2025 and 2024", D(2026, 4, 1), *whitelistable(D(2026, 4, 1)), [], {},
     {FIRM: "2027-04-01"}),
    # the 2-year look-back, the last day of the general penalty's 1-year window
    ("general penalty 2 years ago to the day: look-back over", AS_OF,
     whitelistable()[0] + [rec("admin_penalty", severity="general", started_on=years(-2))], whitelistable()[1], [],
     {}, {FIRM: "2027-04-01"}),
    ("general penalty, last day of the look-back", AS_OF,
     whitelistable()[0] + [rec("admin_penalty", severity="general", started_on=years(-2, 1))], whitelistable()[1], [],
     {}, {}),
    ("abnormal operation removed on the as-of date", AS_OF,
     whitelistable()[0] + [rec("abnormal_operation", started_on="2026-01-10", ended_on=days(0))], whitelistable()[1],
     [], {}, {FIRM: "2027-04-01"}),
    ("abnormal operation removed the day after", AS_OF,
     whitelistable()[0] + [rec("abnormal_operation", started_on="2026-01-10", ended_on=days(1))], whitelistable()[1],
     [], {}, {}),
    # overrides: applied before their until, never when revoked; extending keeps the later end
    ("override add, last day", AS_OF, [], [], [override(1, "add", until=days(1))], {FIRM: days(1)}, {}),
    ("override add, its until date", AS_OF, [], [], [override(1, "add", until=days(0))], {}, {}),
    ("override add revoked", AS_OF, [], [], [override(1, "add", revoked_at="2026-03-01T10:00:00+08:00")], {}, {}),
    ("override remove revoked", AS_OF, [rec("dishonest_debtor", started_on="2025-01-01")], [],
     [override(1, "remove", revoked_at="2026-03-01T10:00:00+08:00")], {FIRM: None}, {}),
    ("override extends a listed firm's end", AS_OF, [rec("tax_rating", year=2024, grade="D", direct=1)], [],
     [override(1, "add", until="2028-01-01")], {FIRM: "2028-01-01"}, {}),
    ("override ending earlier keeps the records' end", AS_OF, [rec("tax_rating", year=2024, grade="D", direct=1)], [],
     [override(1, "add", until="2026-12-31")], {FIRM: "2027-04-01"}, {}),
    ("override without expiry on a listed firm: open-ended", AS_OF, [rec("tax_rating", year=2024, grade="D", direct=1)],
     [], [override(1, "add")], {FIRM: None}, {}),
]


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory):
    from kqtools.storage import open_db

    db = open_db(str(tmp_path_factory.mktemp("boundaries") / "kq.db"))
    yield db
    db.conn.close()


@pytest.fixture(scope="module")
def lr():
    return C.parse_rules(load_rules("lists").data)


@pytest.mark.parametrize("case, as_of, records, designations, overrides, black, white", CASES,
                         ids=[c[0] for c in CASES])
def test_boundary(shared_db, lr, case, as_of, records, designations, overrides, black, white):
    expected = {B: black, W: white}
    pure = rule_lists(records, designations, overrides, lr, as_of)
    assert {lst: {u: e["until"] for u, e in found.items()} for lst, found in pure.items()} == expected, "rules"
    clear(shared_db)
    insert(shared_db, records, designations, overrides)
    assert database_lists(shared_db, as_of) == pure, "database"
