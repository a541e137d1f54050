"""Due dates in working days: China's holidays and adjusted working days, exact; years nobody knows."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from conftest import import_rows

from kqtools.requests import compile_rules
from kqtools.storage.request_rules import _library, work_calendar
from kqtools.workdays import UnknownYear, WorkCalendar, expand_days

D = dt.date.fromisoformat
FIRM = "91320412RQ000001X9"


def library_calendar() -> WorkCalendar:
    holidays, workdays, years, source = _library()
    return WorkCalendar(holidays, workdays, years, source)


@pytest.mark.parametrize("received, priority_days, due, why", [
    # Spring Festival 2026: 2/15-2/23 off, Saturdays 2/14 and 2/28 worked
    ("2026-02-13", 3, "2026-02-25", "Sat 2/14 worked, the holiday skipped: 2/14, 2/24, 2/25"),
    ("2026-02-12", 10, "2026-03-04", "2/13, 2/14 (Sat), 2/24-2/27, 2/28 (Sat), 3/2, 3/3, 3/4"),
    # National Day 2026: 10/1-10/7 off, Mid-Autumn 9/25 off, Sunday 9/20 and Saturday 10/10 worked
    ("2026-09-29", 3, "2026-10-09", "9/30, 10/8, 10/9"),
    ("2026-09-30", 3, "2026-10-10", "10/8, 10/9, then the adjusted working Saturday 10/10 itself"),
    ("2026-09-24", 10, "2026-10-15", "9/25 Mid-Autumn off: 9/28-9/30, 10/8, 10/9, 10/10 (Sat), 10/12-10/15"),
    # New Year 2026 (1/1-1/3 off, Sunday 1/4 worked) for a major request's 20 days
    ("2025-12-20", 20, "2026-01-19", "12/22-12/31 (8), Sunday 1/4, 1/5-1/16, 1/19"),
    # Spring Festival 2025: 1/28-2/4 off, Sunday 1/26 worked
    ("2025-01-24", 3, "2025-02-05", "Sunday 1/26, Monday 1/27, then Wednesday 2/5"),
])
def test_due_dates_across_holidays_and_adjusted_working_days_are_exact(received, priority_days, due, why):
    assert library_calendar().add(D(received), priority_days) == D(due), why


def test_route_stores_the_due_date_of_the_priority_across_the_spring_festival(db):
    from kqtools.storage import requests as S

    import_rows(db, "enterprises", [{"uscc": FIRM, "name": "常州测试科技有限公司"}])
    urgent = S.add_request(db, FIRM, category="融资", summary="贷款贴息", priority="紧急", on=D("2026-02-13"))
    normal = S.add_request(db, FIRM, category="人才", summary="人才公寓", on=D("2026-02-12"))
    major = S.add_request(db, FIRM, category="用地用房", summary="厂房", priority="major", on=D("2026-09-24"))
    assert S.route(db, urgent["id"], on=D("2026-02-13"))["due_on"] == "2026-02-25"
    assert S.route(db, normal["id"], on=D("2026-02-13"))["due_on"] == "2026-03-04"
    # 20 working days from Thursday 9/24: 9/25 off, 9/28-9/30 (3), 10/8-10/10 (6, Saturday worked),
    # 10/12-10/16 (11), 10/19-10/23 (16), 10/26-10/29 (20)
    assert S.route(db, major["id"], on=D("2026-09-25"))["due_on"] == "2026-10-29"


def test_days_overdue_count_only_working_days(db):
    from kqtools.storage import request_views as V
    from kqtools.storage import requests as S

    r = S.add_request(db, FIRM, category="融资", summary="x", on=D("2026-09-29"), name="测试")
    S.route(db, r["id"], on=D("2026-09-29"), due=D("2026-09-30"))
    on = {d: V.list_requests(db, as_of=D(d), overdue=True).rows for d in ("2026-09-30", "2026-10-07", "2026-10-08",
                                                                             "2026-10-10", "2026-10-12")}
    assert on["2026-09-30"] == []                                   # due today: not overdue
    assert on["2026-10-07"][0]["days_overdue"] == 0                 # past due, but no working day since
    assert on["2026-10-08"][0]["days_overdue"] == 1                 # the first working day after the holiday
    assert on["2026-10-10"][0]["days_overdue"] == 3                 # the worked Saturday counts
    assert on["2026-10-12"][0]["days_overdue"] == 4


def _edge_of_the_library():
    """(first unknown year, a receipt date <= today whose 20 working days reach into it), or skip."""
    last = max(_library()[2])
    received = dt.date(last, 12, 4)
    if received > dt.date.today():
        pytest.skip(f"chinesecalendar knows {last}: no receipt date today reaches an unknown year")
    return last + 1, received


def test_a_year_nobody_knows_stops_the_route_and_names_the_year(kq, db, db_path):
    year, received = _edge_of_the_library()
    import_rows(db, "enterprises", [{"uscc": FIRM, "name": "常州测试科技有限公司"}])
    added = kq("requests", "add", FIRM, "--category", "融资", "--summary", "贴息", "--priority", "major",
               "--on", received)
    assert added.returncode == 0, added
    before = list(db.conn.iterdump())
    r = kq("requests", "route", "1", "--on", received)            # 20 working days reach into the next year
    assert r.returncode == 2, r
    assert r.stderr.count("\n") == 1 and f"working days of {year} are unknown" in r.stderr, r.stderr
    assert f'calendar."{year}"' in r.stderr
    assert list(db.conn.iterdump()) == before
    # --due needs no calendar: the clerk can route anyway
    assert kq("requests", "route", "1", "--on", received, "--due", received + dt.timedelta(days=30)).returncode == 0


def test_the_rules_can_add_a_year_the_library_does_not_know(kq, db, tmp_path):
    from kqtools.rules import read_text

    year, received = _edge_of_the_library()
    _, text, _ = read_text("requests", None)
    rules = tmp_path / "rules.toml"
    # made-up test data (not a published schedule): 1/1 off
    rules.write_text(text + f'\n[calendar."{year}"]\nholidays = ["{year}-01-01"]\n', encoding="utf-8")
    assert kq("rules", "check", "requests", rules).returncode == 0
    import_rows(db, "enterprises", [{"uscc": FIRM, "name": "常州测试科技有限公司"}])
    kq("requests", "add", FIRM, "--category", "融资", "--summary", "贴息", "--priority", "major", "--on", received)
    r = kq("requests", "route", "1", "--on", received, "--rules", rules, "-f", "json")
    assert r.returncode == 0, r
    if year == 2027:   # Friday 2026-12-04: 12/7-12/31 (19 working days), 1/1 off, Monday 1/4
        assert r.json()["due_on"] == "2027-01-04"


def test_a_year_from_the_rules_counts_its_holidays_and_worked_weekend_days():
    import tomllib

    from kqtools.rules import read_text

    _, text, _ = read_text("requests", None)
    # made-up test data for 2031 (1/1 is a Wednesday): 1/1-1/3 off, Saturday 1/4 worked
    data = tomllib.loads(text + '\n[calendar."2031"]\nholidays = ["2031-01-01..2031-01-03"]\n'
                                'workdays = ["2031-01-04"]\n')
    cal = work_calendar(compile_rules(data, "t", "sha-2031"))
    assert cal.add(D("2031-01-01"), 1) == D("2031-01-04")
    assert cal.add(D("2031-01-01"), 2) == D("2031-01-06")
    assert cal.count(D("2031-01-01"), D("2031-01-10")) == 6
    with pytest.raises(UnknownYear, match="2030"):
        cal.add(D("2030-12-30"), 1)


def test_calendar_days_in_the_rules_are_checked_with_their_place(tmp_path, kq):
    from kqtools.rules import read_text

    _, text, _ = read_text("requests", None)
    bad = tmp_path / "bad.toml"
    bad.write_text(text + '\n[calendar."2027"]\nholidays = ["2027-02-05..2027-02-01"]\n', encoding="utf-8")
    r = kq("requests", "list", "--rules", bad)
    assert r.returncode == 2 and "calendar.2027" in r.stderr and "runs backwards" in r.stderr, r
    with pytest.raises(ValueError, match="not a date"):
        expand_days(["2027-02-30"])


def test_unknown_years_raise_in_steps_and_are_guessed_loudly_in_views():
    cal = library_calendar()
    with pytest.raises(UnknownYear, match="2027"):
        cal.add(D("2026-12-30"), 5)
    lenient = cal.lenient()
    assert lenient.add(D("2026-12-30"), 5) == D("2027-01-06")     # 12/31, then Monday-Friday
    assert lenient.guessed == {2027}


# ---------------------------------------------------------------- properties, against chinesecalendar itself
_days = st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2026, 6, 30))


@settings(max_examples=300, deadline=None)
@given(start=_days, n=st.integers(min_value=0, max_value=60))
def test_add_lands_on_the_nth_working_day_as_chinesecalendar_counts_them(start, n):
    import chinese_calendar

    due = library_calendar().add(start, n)
    day, seen = start, 0
    while seen < n:                                   # the oracle: the package's own is_workday
        day += dt.timedelta(days=1)
        seen += chinese_calendar.is_workday(day)
    assert due == day


@settings(max_examples=200, deadline=None)
@given(a=_days, b=_days)
def test_count_is_antisymmetric_and_matches_the_index(a, b):
    cal = library_calendar()
    assert cal.count(a, b) == -cal.count(b, a)
    lo, hi = min(a, b), max(a, b)
    index = cal.index(lo, hi)
    assert index.count(a, b) == cal.count(a, b)
    assert cal.count(lo, cal.add(lo, 7)) == 7
