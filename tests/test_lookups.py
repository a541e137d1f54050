"""Lookups a clerk can use (issue 13, item 10): a firm by its name, the nearest command, districts."""
from __future__ import annotations

import pytest

from conftest import write_csv

A, B, C = "91320411MA00000156", "91320411MA00000231", "91320411MA0000031U"


@pytest.fixture
def firms(kq, tmp_path):
    src = write_csv(tmp_path / "firms.csv", ["统一社会信用代码", "企业名称", "所属区域"], [
        [A, "常州甲精密机械有限公司", "常州高新区"], [B, "常州乙精密机械有限公司", "经开区"],
        [C, "甲精密机械（常州）股份有限公司", "天宁区"]])
    assert kq("import", "enterprises", src).returncode == 0


def test_show_finds_a_firm_by_its_cleaned_name(kq, firms):
    r = kq("enterprises", "show", "乙精密机械", "-f", "json")
    assert r.returncode == 0, r
    assert r.json()["enterprise"]["uscc"] == B
    assert kq("enterprises", "show", "常州乙精密机械有限责任公司", "-f", "json").json()["enterprise"]["uscc"] == B


def test_show_lists_the_candidates_when_a_name_is_not_unique(kq, firms):
    r = kq("enterprises", "show", "甲精密机械")   # 常州甲精密机械有限公司 and 甲精密机械（常州）股份有限公司
    assert r.returncode == 1, r
    assert [(x["uscc"], x["name"]) for x in r.jsonl()] == [(A, "常州甲精密机械有限公司"), (C, "甲精密机械（常州）股份有限公司")]
    assert "甲精密机械: 2 firms match; give the credit code of one" in r.stderr


def test_show_of_an_unknown_name_says_so(kq, firms):
    r = kq("enterprises", "show", "常州丙科技有限公司")
    assert r.returncode == 1 and "no firm of that name in the database (compared as '丙科技')" in r.stderr, r


def test_show_by_credit_code_still_works(kq, firms):
    assert kq("enterprises", "show", A.lower(), "-f", "json").json()["enterprise"]["name"] == "常州甲精密机械有限公司"


@pytest.mark.parametrize("typed,suggested", [("enterprise", "'enterprises'"), ("import-s", "'imports', 'import'"),
                                             ("socre", "'score', 'screen'")])
def test_an_unknown_command_suggests_the_nearest(kq, typed, suggested):
    r = kq(typed)
    assert r.returncode == 2, r
    assert f"No such command '{typed}'. Did you mean {suggested}?" in r.stderr


def test_an_unknown_option_suggests_the_nearest(kq):
    r = kq("enterprises", "list", "--distric", "x")
    assert r.returncode == 2 and "Did you mean '--district'?" in r.stderr, r


def test_district_without_exact_match_suggests_the_districts_that_contain_it(kq, firms):
    r = kq("enterprises", "list", "--district", "高新")
    assert r.returncode == 2 and "no district '高新'; did you mean 常州高新区?" in r.stderr, r
    r = kq("enterprises", "list", "--district", "钟楼")
    assert r.returncode == 2 and "no district '钟楼' (known districts: 天宁区, 常州高新区, 经开区)" in r.stderr, r
    assert [x["uscc"] for x in kq("enterprises", "list", "--district", "经开区").jsonl()] == [B]
