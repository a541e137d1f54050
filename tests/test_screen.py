"""Screening incoming lists against a credit list: codes first, cleaned names only without a valid code."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import import_rows, write_csv

from kqtools import names as N
from kqtools.screening import Row, Settings, match_text, screen

KEDA = "91310000631696382C"
HUAWEI = "91110108551385082Q"
OTHER_VALID = "9144030071526726XG"


def entry(uscc, name):
    return {"uscc": uscc, "name": name, "reasons": [{"rule": "dishonest_debtor", "source": "dishonest_debtor",
                                                      "reference": "(2025)苏0505执1号", "from": "2025-01-01"}]}


LIST = [entry(KEDA, "苏州科达科技股份有限公司"), entry(HUAWEI, "北京华为科技有限公司")]


def run(rows, entries=LIST, **kw):
    return screen([Row(i + 2, u, n) for i, (u, n) in enumerate(rows)], entries, Settings(**kw), version=7)


# ---------------------------------------------------------------- the cases of the issue
def test_keda_without_code_is_a_review_hit_with_both_cleaned_names():
    hits = run([("", "科达科技(苏州)有限公司")])
    assert len(hits) == 1
    h = hits[0]
    assert (h["match"], h["verdict"], h["uscc"], h["score"]) == ("name", "review", KEDA, 100.0)
    assert h["input_clean"] == h["list_clean"] == "科达科技"
    assert h["stripped"] == {"input": ["(苏州)", "有限公司"], "list": ["股份有限公司", "苏州"]}
    assert h["raw_score"] == 66.7 and h["code_problem"] == "no credit code" and h["version"] == 7
    assert h["details"][1]["reference"] == "(2025)苏0505执1号"      # the records behind the entry


def test_huawei_and_huamei_are_different_firms_at_the_default_threshold():
    assert N.clean_name("北京华美科技有限公司").name == "华美科技"
    assert run([("", "北京华美科技有限公司")]) == []
    assert run([("", "北京华美科技有限公司")], threshold=70, short=())[0]["score"] == 75.0


def test_same_name_with_two_different_valid_codes_is_not_a_hit():
    assert run([(OTHER_VALID, "苏州科达科技股份有限公司")]) == []


def test_a_valid_listed_code_is_listed_whatever_the_name():
    hits = run([(" 9131 0000 6316 9638 2c ", "另一个名字有限公司")])
    assert [(h["match"], h["verdict"], h["uscc"], h["score"]) for h in hits] == [("uscc", "listed", KEDA, 100.0)]


def test_an_invalid_code_falls_back_to_the_name_and_says_why():
    hits = run([("91310000631696382D", "苏州科达科技股份有限公司")])
    assert hits[0]["verdict"] == "review" and "check character" in hits[0]["code_problem"]


def test_a_branch_is_flagged_for_review_not_merged():
    c = N.clean_name("苏州科达科技股份有限公司北京分公司")
    assert c.branch and c.name == "科达科技北京分公司" and c.parent == "科达科技"
    hits = run([("", "苏州科达科技股份有限公司北京分公司")])
    assert [(h["uscc"], h["verdict"], h["branch"]) for h in hits] == [(KEDA, "review", True)]
    why = hits[0]["details"][0]
    assert (why["rule"], why["input_clean"], why["list_clean"]) == ("branch_of", "科达科技", "科达科技")
    assert why["branch"] == ("苏州科达科技股份有限公司北京分公司 is a branch (分公司) of a firm named like the listed one: "
                             "another entity, check before deciding")
    assert match_text(why) == ("branch of 科达科技 ~ 科达科技 (threshold 95; stripped 股份有限公司 苏州)"
                               "; 分公司: a branch is another entity, check")
    # as kq screen renders it: the one-line reasons start with the match
    line = screen([Row(2, "", "苏州科达科技股份有限公司北京分公司")], LIST, Settings(),
                  reasons_text=lambda rs: match_text(rs[0]))[0]["reasons"]
    assert line == match_text(why)
    # a listed branch is not the firm it belongs to
    branch_list = [entry(KEDA, "苏州科达科技股份有限公司北京分公司")]
    assert run([("", "苏州科达科技股份有限公司")], entries=branch_list) == []


def test_a_branch_matching_a_listed_branch_by_name_is_flagged_too():
    branch_list = [entry(KEDA, "科达科技(苏州)有限公司北京分公司")]
    hits = run([("", "苏州科达科技股份有限公司北京分公司")], entries=branch_list)
    assert [(h["match"], h["verdict"], h["branch"], h["score"]) for h in hits] == [("name", "review", True, 100.0)]
    why = hits[0]["details"][0]
    assert why["rule"] == "name" and why["branch"] == "a branch (分公司) is another entity: check which one is meant"
    assert match_text(why).startswith("name 科达科技北京分公司 ~ 科达科技北京分公司")
    assert match_text(why).endswith("; 分公司: a branch is another entity, check")
    # a listed branch found from a row that is not one (a low threshold): flagged as well
    hits = screen([Row(2, "", "科达科技北京办事处")], branch_list, Settings(threshold=60, short=()))
    assert [(h["branch"], h["details"][0]["rule"]) for h in hits] == [(True, "name")]
    assert hits[0]["details"][0]["branch"] == "a branch (分公司) is another entity: check which one is meant"
    # a firm that is not a branch is not flagged
    plain = run([("", "科达科技(苏州)有限公司")])[0]
    assert plain["branch"] is False and "branch" not in plain["details"][0] and "分公司" not in match_text(plain["details"][0])


def test_short_names_need_a_higher_score():
    short = ((2, 10), (4, 5))
    assert N.threshold_for("科达", "科达", 90, short) == 100
    assert N.threshold_for("科达科技", "科达科技科技", 90, short) == 95
    assert N.threshold_for("科达视讯科技", "科达视讯科技", 90, short) == 90
    assert N.threshold_for("科达科技", "科达科技", 70, short) == 75


@pytest.mark.parametrize("raw, clean", [
    ("ＡＢＣ 科技（中国）有限公司", "ABC科技"),
    ("江苏省苏州市宏达电子集团有限公司", "宏达电子"),
    ("苏州工业园区某某创业投资合伙企业(有限合伙)", "某某创业投资"),
    ("上海市浦东新区张江科技有限公司", "张江科技"),
    ("科达(苏州)视讯技术有限责任公司", "科达视讯技术"),
    ("有限公司", "有限公司"),
])
def test_cleaning(raw, clean):
    assert N.clean_name(raw).name == clean


# ---------------------------------------------------------------- never a silent pass (issue 13 item 7)
def test_rows_with_neither_a_valid_code_nor_a_name_are_unscreened_with_the_reason():
    rows = [Row(2, KEDA, None), Row(3, "", None), Row(4, "91310000631696382D", None), Row(5, OTHER_VALID, None)]
    hits = screen(rows, LIST, Settings(), version=7, name_column=False)
    assert [(h["line"], h["verdict"], h["uscc"], h["match"]) for h in hits] == [
        (2, "listed", KEDA, "uscc"), (3, "unscreened", None, None), (4, "unscreened", None, None)]
    blank, invalid = hits[1], hits[2]
    assert blank["details"][0] == {"rule": "unscreened", "code_problem": "no credit code",
                                   "name_problem": "the input has no name column"}
    assert "check character" in invalid["code_problem"] and invalid["input_uscc"] == "91310000631696382D"
    assert match_text(blank["details"][0]) == ("not screened: no credit code and the input has no name column; "
                                               "check this row by hand (or give a name column: --map 'HEADER=name')")
    # with a name column, an empty name cell says so
    hits = screen([Row(2, "", "  ")], LIST, Settings())
    assert hits[0]["verdict"] == "unscreened" and hits[0]["details"][0]["name_problem"] == "no name in the row"


def test_unscreened_rows_keep_their_place_among_the_hits():
    rows = [Row(2, "", None), Row(3, "", "科达科技(苏州)有限公司"), Row(4, "", ""), Row(5, HUAWEI, None)]
    assert [(h["line"], h["verdict"]) for h in screen(rows, LIST, Settings())] == [
        (2, "unscreened"), (3, "review"), (4, "unscreened"), (5, "listed")]


# ---------------------------------------------------------------- the command
def build(db):
    import_rows(db, "enterprises", [{"uscc": KEDA, "name": "苏州科达科技股份有限公司"},
                                    {"uscc": HUAWEI, "name": "北京华为科技有限公司"}])
    import_rows(db, "credit", [{"uscc": KEDA, "source": "失信被执行人", "started_on": "2025-03-01",
                                "reference": "(2025)苏0505执123号"},
                               {"uscc": HUAWEI, "source": "严重违法失信名单", "started_on": "2025-01-01"}])
    from kqtools.storage.lists import build_lists

    build_lists(db, dt.date(2026, 6, 30))


def test_screen_command_exit_codes_and_rows(kq, db, tmp_path):
    build(db)
    src = write_csv(tmp_path / "申报名单.csv", ["序号", "企业名称", "统一社会信用代码"],
                    [[1, "科达科技(苏州)有限公司", ""], [2, "北京华美科技有限公司", ""],
                     [3, "苏州科达科技股份有限公司", OTHER_VALID], [4, "某公司", HUAWEI]], encoding="gb18030")
    r = kq("screen", src)
    assert r.returncode == 1, r
    rows = r.jsonl()
    assert [(x["line"], x["match"], x["verdict"]) for x in rows] == [(2, "name", "review"), (5, "uscc", "listed")]
    assert set(rows[0]) >= {"line", "input_uscc", "input_name", "uscc", "name", "match", "score", "verdict", "reasons"}
    assert "科达科技 ~ 科达科技" in rows[0]["reasons"] and "(2025)苏0505执123号" in rows[0]["reasons"]
    assert "4 rows, 4 screened against blacklist version 1: 1 listed, 1 to review" in r.stderr
    clean = write_csv(tmp_path / "clean.csv", ["企业名称"], [["无锡某某精密机械有限公司"]])
    assert kq("screen", clean).returncode == 0


def test_screen_reads_stdin_json_and_xlsx(kq, db, tmp_path):
    build(db)
    data = json.dumps([{"单位名称": "科达科技(苏州)有限公司"}], ensure_ascii=False)
    r = kq("screen", "-", input=data)
    assert r.returncode == 1 and r.jsonl()[0]["uscc"] == KEDA
    import xlsxwriter

    path = tmp_path / "applicants.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["2026年申报企业名单"])
    sheet.write_row(1, 0, ["社会信用代码", "名称"])
    sheet.write_row(2, 0, [HUAWEI, "北京华为科技有限公司"])
    book.close()
    r = kq("screen", path, "-f", "csv")
    assert r.returncode == 1 and r.stdout.splitlines()[1].startswith("3,")


def test_screen_against_whitelist_and_threshold_option(kq, db, tmp_path):
    build(db)
    src = write_csv(tmp_path / "a.csv", ["企业名称"], [["北京华美科技有限公司"]])
    assert kq("screen", src, "--against", "whitelist").returncode == 0
    r = kq("screen", src, "--threshold", "70")
    assert r.returncode == 1 and r.jsonl()[0]["score"] == 75.0 and r.jsonl()[0]["verdict"] == "review"


def test_no_name_column_and_blank_codes_are_unscreened_and_exit_1(kq, db, tmp_path):
    build(db)
    src = write_csv(tmp_path / "申报名单.csv", ["序号", "统一社会信用代码", "注册资本（万元）"],
                    [[1, "", 500], [2, OTHER_VALID, 800], [3, "", 300]])
    r = kq("screen", src)
    assert r.returncode == 1, r
    rows = r.jsonl()
    assert [(x["line"], x["verdict"]) for x in rows] == [(2, "unscreened"), (4, "unscreened")]
    assert rows[0]["reasons"].startswith("not screened: no credit code and the input has no name column")
    assert ("3 rows, 1 screened against blacklist version 1: 0 listed, 0 to review (0 rows with hits); "
            "2 unscreened (no valid credit code and no name column: check them by hand)") in r.stderr
    # every row with a valid code: screened, nothing found, exit 0
    ok = write_csv(tmp_path / "ok.csv", ["统一社会信用代码"], [[OTHER_VALID]])
    r = kq("screen", ok)
    assert r.returncode == 0 and r.stdout == "" and "1 rows, 1 screened" in r.stderr


@pytest.mark.parametrize("header", ["申报单位", "申报企业", "单位名称", "企业（单位）名称", "公司名称"])
def test_application_list_name_headers_are_read(kq, db, tmp_path, header):
    build(db)
    src = write_csv(tmp_path / "申报.csv", ["序号", header, "统一社会信用代码"], [[1, "科达科技(苏州)有限公司", ""]])
    r = kq("screen", src)
    assert r.returncode == 1 and [(x["verdict"], x["uscc"]) for x in r.jsonl()] == [("review", KEDA)], r


def test_screen_unusable_input_is_exit_2_one_line(kq, db, tmp_path):
    build(db)
    src = write_csv(tmp_path / "a.csv", ["金额", "备注"], [["1", "2"]])
    r = kq("screen", src)
    assert r.returncode == 2 and "no column for the credit code or the name" in r.stderr
    assert kq("screen", tmp_path / "missing.csv").returncode == 2


# ---------------------------------------------------------------- properties
CHARS = st.sampled_from(list("科达华为美技电子机械精密新材料智能苏州北京ABC"))
name_st = st.text(CHARS, min_size=2, max_size=9)


@settings(max_examples=60, deadline=None)
@given(st.lists(name_st, min_size=1, max_size=30), st.lists(name_st, min_size=1, max_size=15))
def test_blocking_finds_every_pair_brute_force_finds(choices, queries):
    from rapidfuzz import fuzz

    index = N.NameIndex.build(choices)
    found = {(h.query, h.choice) for h in N.match_names(queries, index, 90, (), limit=1000)}
    brute = {(qi, ci) for qi, q in enumerate(queries) for ci, c in enumerate(choices) if fuzz.ratio(q, c) >= 90}
    assert found == brute


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_cleaning_never_fails_and_never_returns_empty_for_a_real_name(raw):
    c = N.clean_name(raw)
    assert isinstance(c.name, str)
    if any(ch.isalnum() for ch in raw):
        assert c.name


def test_screen_against_takes_the_chinese_list_names(kq, db, tmp_path):
    build(db)
    src = write_csv(tmp_path / "a.csv", ["统一社会信用代码", "企业名称"], [[HUAWEI, "北京华为科技有限公司"]])
    r = kq("screen", src, "--against", "黑名单")
    assert r.returncode == 1 and r.jsonl()[0]["verdict"] == "listed" and "against blacklist" in r.stderr
    r = kq("screen", src, "--against", "白名单")
    assert r.returncode == 0 and "against whitelist" in r.stderr
    r = kq("screen", src, "--against", "灰名单")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_a_line_in_another_encoding_is_unscreened_never_passed(kq, db, tmp_path):
    """A UTF-8 applicants file with one line saved as GBK: that line's name cannot be read, so it
    is reported as unscreened (exit 1), not dropped or matched on garbled text."""
    build(db)
    src = tmp_path / "申报.csv"
    src.write_bytes("企业名称,统一社会信用代码\n".encode("utf-8")
                    + f"北京华美科技有限公司,{OTHER_VALID}\n".encode("utf-8")
                    + "北京科达科技有限公司,\n".encode("gbk"))
    r = kq("screen", src)
    assert r.returncode == 1, r
    bad = [x for x in r.jsonl() if x["line"] == 3]
    assert bad and bad[0]["verdict"] == "unscreened"
    assert bad[0]["details"][0]["name_problem"] == "the line could not be read"


# ---------------------------------------------------------------- the machine-output contract (issue 19 item 6)
#: the columns of ``kq screen`` as docs/lists.md documents them, in order: written out here, not
#: imported, so that dropping or renaming one in the code fails
SCREEN_COLUMNS = ["line", "input_uscc", "input_name", "uscc", "name", "match", "score", "verdict", "reasons",
                  "input_clean", "list_clean", "stripped", "branch", "raw_score", "code_problem", "list", "version",
                  "details"]


def test_screen_jsonl_rows_carry_every_documented_field(kq, db, tmp_path):
    build(db)
    src = write_csv(tmp_path / "申报名单.csv", ["企业名称", "统一社会信用代码"],
                    [["科达科技(苏州)有限公司", ""], ["某公司", HUAWEI]])
    r = kq("screen", src)
    assert r.returncode == 1, r
    name_hit, code_hit = r.jsonl()
    assert list(name_hit) == SCREEN_COLUMNS and list(code_hit) == SCREEN_COLUMNS
    assert (name_hit["input_clean"], name_hit["list_clean"], name_hit["raw_score"]) == ("科达科技", "科达科技", 66.7)
    assert name_hit["stripped"] == {"input": ["(苏州)", "有限公司"], "list": ["股份有限公司", "苏州"]}
    assert (name_hit["list"], name_hit["version"], code_hit["list"]) == ("blacklist", 1, "blacklist")
    csv_out = kq("screen", src, "-f", "csv")
    assert csv_out.stdout.splitlines()[0] == ",".join(SCREEN_COLUMNS)


def test_a_hit_shows_the_input_name_and_code_as_given_and_null_when_blank():
    hits = run([("", "科达科技(苏州)有限公司"), (HUAWEI, "某公司"), ("", None)])
    assert [(h["line"], h["input_uscc"], h["input_name"]) for h in hits] == [
        (2, None, "科达科技(苏州)有限公司"), (3, HUAWEI, "某公司"), (4, None, None)]


def test_the_library_defaults_are_the_shipped_screening_rules():
    """A caller of :func:`screen` without a rule file gets the published thresholds: 90, raised by
    10 for cleaned names of at most 2 characters and by 5 for at most 4, 5 hits a row, blocks of 3."""
    from kqtools.rules import load_rules
    from kqtools.screening import settings_from_rules

    shipped = settings_from_rules(load_rules("lists", None).data)
    default = Settings()
    assert (default.threshold, default.short, default.max_hits, default.block_width) == (
        shipped.threshold, shipped.short, shipped.max_hits, shipped.block_width) == (
        90.0, ((2, 10.0), (4, 5.0)), 5, 3)
    # what the thresholds mean for a clerk: a 2-character name must match exactly at a threshold
    # of 85 (85 + 10 = 95: 科达 ~ 科达 passes, 科达 ~ 科迭 does not), a 4-character one needs 90
    assert run([("", "科达有限公司")], [entry(KEDA, "科达有限公司")], threshold=85)[0]["score"] == 100.0
    assert N.threshold_for("科达", "科达", 85, default.short) == 95.0
    assert N.threshold_for("科达科技", "科达科技", 85, default.short) == 90.0
