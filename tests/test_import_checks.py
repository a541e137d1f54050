"""Impossible values are rejected with their reason (issue 11, items 10 and 13): bounds from the
schemas, dates a firm's record cannot carry, and the cross-field checks of kqtools/importer/checks.py."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kqtools import fields as F
from kqtools.importer import run_import
from kqtools.readers import open_table

A, B, C = "91110108551385082Q", "91310000631696382C", "9144030071526726XG"
TOMORROW = (dt.date.today() + dt.timedelta(days=1)).isoformat()


def load(db, kind, text):
    return run_import(db, open_table(io.BytesIO(text.encode("utf-8")), "t.csv"), kind)


def only_reject(r):
    assert r.rejected == 1, r.rejects
    return r.rejects[0]


@pytest.mark.parametrize("column,value,words", [
    ("用地面积", "-3.5", "must be at least 0"),
    ("营业收入", "-100", "must be at least 0"),
    ("研发投入", "-1", "must be at least 0"),
    ("综合能耗", "-2", "must be at least 0"),
])
def test_negative_amounts_that_cannot_be_negative_are_rejected(db, column, value, words):
    rej = only_reject(load(db, "metrics", f"信用代码,年度,{column}\n{A},2024,{value}\n"))
    assert rej.column == column and rej.value == value and words in rej.reason


def test_tax_and_value_added_may_be_negative(db):
    # 税收实际贡献 net of refunds and the value added of a loss-making firm can be below zero
    r = load(db, "metrics", f"信用代码,年度,实缴税收,工业增加值\n{A},2024,-12.5,-3\n")
    assert r.rejected == 0 and db.execute("SELECT tax, value_added FROM metrics").fetchone() == (-12.5, -3.0)


def test_a_negative_fine_is_rejected(db):
    rej = only_reject(load(db, "credit", f"信用代码,信用类型,处罚日期,严重程度,罚款金额,决定书文号\n"
                                         f"{A},行政处罚,2024-03-01,一般,-50,苏园罚〔2024〕1号\n"))
    assert rej.field == "amount" and rej.value == "-50" and "0" in rej.reason


@pytest.mark.parametrize("value,words", [
    ("2099-01-01", "2099-01-01 is in the future"),
    ("0001-01-01", "not a real date for a firm's records"),
    ("1899-12-31", "not a real date for a firm's records"),
    ("99999", "as an Excel date number it would be 2173-10-13"),
    (TOMORROW, "is in the future"),
])
def test_founding_dates_a_firm_cannot_have_are_rejected(db, value, words):
    rej = only_reject(load(db, "enterprises", f"信用代码,企业名称,成立日期\n{A},甲公司,{value}\n"))
    assert rej.field == "founded_on" and rej.column == "成立日期" and words in rej.reason


def test_excel_date_numbers_within_1900_to_2100_are_dates():
    assert F.to_date("45474") == "2024-07-01" and F.to_date(45474.0) == "2024-07-01"
    assert F.to_date(73415) == "2100-12-31"
    with pytest.raises(ValueError, match="2101-01-01"):
        F.to_date(73416)


def test_a_designation_that_expires_before_it_is_recognized_is_rejected(db):
    rej = only_reject(load(db, "designations", "信用代码,荣誉类型,认定日期,有效期至\n"
                                               f"{A},高新技术企业,2024-11-06,2023-11-05\n{B},高新技术企业,2023-11-06,2026-11-05\n"))
    assert (rej.line, rej.field, rej.column, rej.value) == (2, "expires_on", "有效期至", "2023-11-05")
    assert rej.reason == "expires (2023-11-05) before it is recognized (2024-11-06)"


def test_a_designation_recognized_in_the_future_is_rejected(db):
    rej = only_reject(load(db, "designations", f"信用代码,荣誉类型,认定日期\n{A},高新技术企业,{TOMORROW}\n"))
    assert rej.field == "recognized_on" and "in the future" in rej.reason


def test_a_credit_record_that_ends_before_it_starts_is_rejected(db):
    rej = only_reject(load(db, "credit", "信用代码,信用类型,列入日期,移出日期,决定书文号\n"
                                         f"{A},经营异常名录,2024-03-01,2024-02-01,苏园市监〔2024〕1号\n"))
    assert (rej.field, rej.column) == ("ended_on", "移出日期")
    assert rej.reason == "ends (2024-02-01) before it starts (2024-03-01)"


@pytest.mark.parametrize("value,expected", [
    ("2025-01-15", "a date, not a year (2025-01-15): put the year, e.g. 2025"),
    ("2025/1/15", "a date, not a year (2025-01-15): put the year, e.g. 2025"),
    ("45672", "a date, not a year (2025-01-15, which Excel keeps as 45672): put the year, e.g. 2025"),
])
def test_a_date_in_the_year_column_says_so(db, value, expected):
    rej = only_reject(load(db, "metrics", f"信用代码,年度,营业收入\n{A},{value},100\n"))
    assert rej.field == "year" and rej.reason == expected


def test_years_are_still_read_as_clerks_write_them(db):
    r = load(db, "metrics", f"信用代码,年度,营业收入\n{A},2024年,1\n{B},２０２３,2\n{C},2022年度,3\n")
    assert r.rejected == 0 and sorted(y for y, in db.execute("SELECT year FROM metrics")) == [2022, 2023, 2024]


@settings(max_examples=200, deadline=None)
@given(st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)), st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)))
def test_cross_field_checks_blame_exactly_the_records_whose_end_is_before_their_start(start, end):
    from kqtools.importer import CHECKS, run_checks

    designation = {"recognized_on": start.isoformat(), "expires_on": end.isoformat()}
    credit = {"started_on": start.isoformat(), "ended_on": end.isoformat()}
    assert bool(run_checks(CHECKS["designations"], designation, "2100-12-31")) == (end < start)
    assert bool(run_checks(CHECKS["credit"], credit, "2100-12-31")) == (end < start)
    # a missing end never fails
    assert run_checks(CHECKS["credit"], {"started_on": start.isoformat()}, "2100-12-31") == []
