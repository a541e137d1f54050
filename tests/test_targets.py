"""kq targets: import a table or the Changzhou 2027 preset, and the pace towards each target."""
from __future__ import annotations

import datetime as dt
import sqlite3
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import import_rows, write_csv
from kqtools import targets as T
from kqtools.uscc import make_uscc


def code(i: int) -> str:
    return make_uscc("91", "320412", f"{i:08d}")


def target(**kw) -> T.Target:
    base = {"tiers": ("hte",), "district": "", "target_year": 2027, "target": 8000, "baseline_year": 2023}
    return T.Target(**{**base, **kw})


# ---------------------------------------------------------------- the arithmetic
def test_hand_checked_pace_baseline_2023_5000_target_2027_8000_on_2025_06_30():
    # end of 2023 -> 2025-06-30 is 1.5 of the 4 years; the line is at 5,000 + 3,000 x 1.5 / 4 = 6,125
    r = T.progress(target(), 5000, 6125, dt.date(2025, 6, 30))
    assert (r["years_gone"], r["years_left"], r["expected"]) == (1.5, 2.5, 6125)
    assert r["gap"] == 1875 and r["needed_per_year"] == 750          # 1,875 over the 2.5 years left
    assert r["pace"] == "on_pace"
    assert T.progress(target(), 5000, 6126, dt.date(2025, 6, 30))["pace"] == "on_pace"   # within one firm
    assert T.progress(target(), 5000, 6127, dt.date(2025, 6, 30))["pace"] == "ahead"
    assert T.progress(target(), 5000, 6123, dt.date(2025, 6, 30))["pace"] == "behind"
    assert T.progress(target(), 5000, 6000, dt.date(2025, 6, 30))["needed_per_year"] == 800


def test_time_gone_counts_months_as_twelfths_split_by_their_days():
    assert T.years_gone(2023, dt.date(2023, 12, 31)) == 0
    assert T.years_gone(2023, dt.date(2024, 12, 31)) == 1
    assert T.years_gone(2023, dt.date(2024, 1, 31)) == Fraction(1, 12)
    assert T.years_gone(2023, dt.date(2024, 2, 29)) == Fraction(2, 12)     # end of a leap February
    assert T.years_gone(2023, dt.date(2024, 3, 16)) == Fraction(2, 12) + Fraction(16, 31 * 12)


def test_before_the_baseline_ends_and_after_the_target_year_the_line_is_flat():
    early = T.progress(target(), 5000, 5000, dt.date(2023, 6, 30))
    assert early["expected"] == 5000 and early["years_gone"] == 0 and early["pace"] == "on_pace"
    late = T.progress(target(), 5000, 7900, dt.date(2028, 3, 31))
    assert late["expected"] == 8000 and late["years_left"] == 0
    assert late["needed_per_year"] is None and late["pace"] == "behind"          # no time left, gap open
    assert T.progress(target(), 5000, 8100, dt.date(2028, 3, 31))["needed_per_year"] == 0
    assert T.progress(target(), 5000, 8000, dt.date(2028, 3, 31))["needed_per_year"] == 0    # met exactly


@pytest.mark.parametrize("written", ["", "全部", "全区", "合计", "all"])
def test_all_districts_as_clerks_write_it(written):
    t = T.target_from({"tier": "hte", "district": written, "target_year": 2027, "target": 100,
                       "baseline_year": 2023}, {"hte": "hte"})
    assert t.district == ""


@given(base=st.integers(0, 20000), goal=st.integers(0, 20000), current=st.integers(0, 20000),
       day=st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)))
def test_pace_is_on_the_line_within_one_firm_and_expected_stays_between_baseline_and_target(base, goal, current, day):
    t = target(target=goal)
    r = T.progress(t, base, current, day)
    assert min(base, goal) - 0.01 <= r["expected"] <= max(base, goal) + 0.01
    exact = base + Fraction(goal - base) * min(max(T.years_gone(2023, day), 0), 4) / 4
    assert r["pace"] == ("on_pace" if abs(current - exact) <= 1 else "ahead" if current > exact else "behind")
    assert r["gap"] == goal - current


# ---------------------------------------------------------------- import
HEADER = ["梯次", "辖市区", "目标年度", "目标值", "基期年度", "基期数", "统计口径", "备注"]


def test_import_a_chinese_table_and_read_the_progress(kq, db, db_path, tmp_path):
    path = write_csv(tmp_path / "分解表.csv", HEADER, [
        ["高新技术企业", "全市", "2027", "8,000", "2023", "5000", "在库", "超8000家"],
        ["高新技术企业", "武进区", "2027", "2000", "2023", "", "", ""],
        ["独角兽、潜在独角兽企业", "", "2027", "100家", "2022", "", "累计", ""],
    ], encoding="gb18030")
    r = kq("targets", "import", path)
    assert r.returncode == 0, r
    assert (r.json()["targets"], r.json()["inserted"]) == (3, 3)
    stored = db.conn.execute("SELECT tier, district, target, baseline, counting FROM targets ORDER BY rowid").fetchall()
    assert stored == [("hte", "", 8000, 5000, "in_force"), ("hte", "武进区", 2000, None, "in_force"),
                      ("unicorn+potential_unicorn", "", 100, None, "cumulative")]
    r = kq("targets", "import", path)
    assert (r.json()["unchanged"], r.json()["inserted"]) == (3, 0)


def test_import_xlsx_with_a_title_row(kq, db, tmp_path):
    import xlsxwriter

    path = tmp_path / "targets.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["常州市倍增行动指标任务分解表"])
    ws.write_row(1, 0, ["类型", "区域", "目标年份", "目标数", "基准年"])
    ws.write_row(2, 0, ["瞪羚企业", "新北区", 2027, 300, 2022])
    wb.close()
    r = kq("targets", "import", path)
    assert r.returncode == 0, r
    assert db.conn.execute("SELECT tier, district, target FROM targets").fetchall() == [("gazelle", "新北区", 300)]


@pytest.mark.parametrize("row, where", [
    (["高新技术企业", "", "2027", "八千", "2023"], "line 3, column D (target): '八千' is not a number"),
    (["高企业", "", "2027", "8000", "2023"], "line 3, column A (tier): unknown tier '高企业'"),
    (["高新技术企业", "", "2027", "8000", "2027"], "line 3, column E (baseline_year): 2027 is not before"),
    (["高新技术企业", "", "2027", "80.5", "2023"], "line 3, column D (target): '80.5' is not a whole number"),
    (["高新技术企业", "", "", "8000", "2023"], "line 3, column C (target_year): required, and empty"),
])
def test_a_bad_row_is_one_line_naming_line_and_column_and_nothing_is_written(kq, db_path, tmp_path, row, where):
    path = write_csv(tmp_path / "t.csv", HEADER[:5], [["科技型中小企业", "", "2027", "10000", "2022"], row])
    r = kq("targets", "import", path)
    assert r.returncode == 2, r
    assert r.stderr.startswith(f"kq: error: {path}: {where}") and r.stderr.count("\n") == 1, r.stderr
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM targets").fetchone()[0] == 0


def test_duplicate_rows_and_a_file_without_the_columns_are_refused(kq, tmp_path):
    path = write_csv(tmp_path / "d.csv", HEADER[:5], [["高企", "", "2027", "1", "2023"], ["高新技术企业", "", "2027", "2", "2023"]])
    r = kq("targets", "import", path)
    assert r.returncode == 2 and "line 3: a second target for hte, all districts, 2027 (the first is at line 2)" in r.stderr
    path = write_csv(tmp_path / "x.csv", ["名称", "数量"], [["a", "1"]])
    r = kq("targets", "import", path)
    assert r.returncode == 2 and "no header row with the columns tier" in r.stderr
    r = kq("targets", "import", tmp_path / "missing.csv")
    assert r.returncode == 2 and "no such file" in r.stderr


def test_the_changzhou_2027_preset_is_the_document_as_it_states_it(kq, db):
    r = kq("targets", "import", "changzhou-2027")
    assert r.returncode == 0, r
    got = {row[0]: row[1:] for row in db.conn.execute(
        "SELECT tier, district, target_year, target, baseline_year, counting, note FROM targets")}
    assert got == {
        "hte": ("", 2027, 8000, 2022, "in_force", "到2027年底,全市高新技术企业数超8000家"),
        "gazelle": ("", 2027, 1200, 2022, "cumulative", "瞪羚企业累计超1200家"),
        "unicorn+potential_unicorn": ("", 2027, 100, 2022, "cumulative", "独角兽、潜在独角兽企业累计超100家"),
        "tsme": ("", 2027, 10000, 2022, "in_force", "科技型中小企业入库数超10000家"),
    }
    assert "常科发〔2023〕46号" in kq("rules", "show", "targets-changzhou-2027").stdout


# ---------------------------------------------------------------- progress from the database
def seed(db):
    import_rows(db, "enterprises", [{"uscc": code(i), "name": f"企业{i}", "district": "武进区" if i % 2 else "新北区"}
                                    for i in range(1, 9)])
    import_rows(db, "designations", [
        {"uscc": code(1), "kind": "hte", "recognized_on": "2021-12-01"},   # in force 2021-12-01 .. 2024-11-30
        {"uscc": code(2), "kind": "hte", "recognized_on": "2022-11-01"},
        {"uscc": code(3), "kind": "hte", "recognized_on": "2024-11-20"},
        {"uscc": code(4), "kind": "hte", "recognized_on": "2025-02-10"},
        {"uscc": code(4), "kind": "gazelle", "recognized_on": "2023-06-18"},   # the 2023 list, lapsed since
        {"uscc": code(5), "kind": "gazelle", "recognized_on": "2025-06-18"},
        {"uscc": code(6), "kind": "unicorn", "recognized_on": "2024-06-18"},
        {"uscc": code(6), "kind": "potential_unicorn", "recognized_on": "2023-06-18"},   # counted once
        {"uscc": code(7), "kind": "potential_unicorn", "recognized_on": "2025-06-18"},
    ])


def test_progress_counts_holders_in_force_or_cumulatively_once_per_firm(kq, db):
    seed(db)
    kq("targets", "import", "changzhou-2027")
    r = kq("targets", "progress", "--as-of", "2025-06-30", "-f", "json")
    assert r.returncode == 0, r
    got = {x["tier"]: x for x in r.json()}
    assert list(r.json()[0]) == list(T.PROGRESS_FIELDS)
    # high-tech in force on 2025-06-30: codes 2, 3, 4; at the end of 2022: codes 1 and 2
    assert (got["hte"]["current"], got["hte"]["baseline"]) == (3, 2)
    # gazelles ever listed by the date: codes 4 and 5, although code 4's list lapsed; none by 2022
    assert (got["gazelle"]["current"], got["gazelle"]["baseline"]) == (2, 0)
    assert (got["unicorn+potential_unicorn"]["current"], got["unicorn+potential_unicorn"]["baseline"]) == (2, 0)
    h = got["hte"]
    assert h["years_gone"] == 2.5 and h["expected"] == round(2 + (8000 - 2) * 2.5 / 5, 2) and h["pace"] == "behind"


def test_progress_by_district_uses_district_targets_and_shows_counts_elsewhere(kq, db, tmp_path):
    seed(db)
    path = write_csv(tmp_path / "t.csv", HEADER[:6], [["高新技术企业", "全市", "2027", "10", "2022", "2"],
                                                      ["高新技术企业", "新北区", "2027", "6", "2022", ""]])
    kq("targets", "import", path)
    plain = {(x["tier"], x["district"]): x for x in kq("targets", "progress", "--as-of", "2025-06-30", "-f", "json").json()}
    assert plain[("hte", "")]["current"] == 3 and plain[("hte", "")]["baseline"] == 2
    assert plain[("hte", "新北区")]["current"] == 2 and plain[("hte", "新北区")]["baseline"] == 1   # codes 2, 4 / 2
    by = {x["district"]: x for x in kq("targets", "progress", "--as-of", "2025-06-30", "--by", "district",
                                       "-f", "json").json()}
    assert by["新北区"]["target"] == 6 and by["新北区"]["current"] == 2
    assert by["武进区"]["target"] is None and by["武进区"]["current"] == 1 and by["武进区"]["pace"] is None


def test_progress_without_targets_says_how_to_import_them(kq):
    r = kq("targets", "progress")
    assert r.returncode == 2 and "kq targets import changzhou-2027" in r.stderr


def test_import_from_stdin(kq, db):
    text = "梯次,目标年度,目标值,基期年度\n高新技术企业,2027,8000,2022\n"
    r = kq("targets", "import", "-", input=text)
    assert r.returncode == 0, r
    assert db.conn.execute("SELECT tier, target FROM targets").fetchall() == [("hte", 8000)]


# ---------------------------------------------------------------- the counting query against the rules
TIER_SETS = [("hte",), ("unicorn", "potential_unicorn"), ("zjtx_sme",), ("tsme", "hte")]
KINDS = [("tsme", ""), ("hte", ""), ("gazelle", ""), ("potential_unicorn", ""), ("unicorn", ""),
         ("zjtx", "provincial"), ("zjtx", "city"), ("pool", "")]
# dates from a short list, so that recognitions, expiries and the days asked about often coincide
EDGES = [dt.date(2021, 12, 31), dt.date(2022, 12, 31), dt.date(2023, 6, 30), dt.date(2024, 2, 29),
         dt.date(2024, 6, 30), dt.date(2024, 12, 31), dt.date(2025, 6, 30)]
some_day = st.one_of(st.sampled_from(EDGES), st.dates(dt.date(2021, 1, 1), dt.date(2026, 12, 31)))
designation = st.tuples(st.sampled_from(KINDS), some_day, st.one_of(st.none(), some_day))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(firms=st.lists(st.tuples(st.sampled_from([None, "武进区", "新北区"]), st.lists(designation, max_size=4)),
                      min_size=1, max_size=6),
       days=st.lists(some_day, min_size=1, max_size=3, unique=True))
def test_counting_query_matches_the_firm_by_firm_rules(firms, days):
    from kqtools import ladder as L
    from kqtools.storage import open_db
    from kqtools.storage.ladder import load_setup
    from kqtools.storage.targets import count_firms

    db = open_db(":memory:")
    setup = load_setup()
    tiers = setup.rules.tiers()
    recs, district_of = {}, {}
    for i, (district, ds) in enumerate(firms):
        u = code(500 + i)
        district_of[u] = district
        if district:
            db.conn.execute("INSERT INTO enterprises (uscc, name, district) VALUES (?, 'x', ?)", (u, district))
        for (kind, level), day, end in {(k, d): (k, d, n) for k, d, n in ds}.values():
            expires = None if end is None else max(day, end).isoformat()
            recs.setdefault(u, []).append({"kind": kind, "level": level, "recognized_on": day.isoformat(),
                                           "expires_on": expires})
            db.conn.execute("INSERT INTO designations (uscc, kind, level, recognized_on, expires_on) "
                            "VALUES (?, ?, ?, ?, ?)", (u, kind, level, day.isoformat(), expires))
    wanted = [(ids, counting, day) for ids in TIER_SETS for counting in (T.IN_FORCE, T.CUMULATIVE) for day in days]
    got = count_firms(db, setup, wanted, True)
    for ids, counting, day in wanted:
        want: dict = {}
        for u, rs in recs.items():
            mine = [r for r in rs if any(tiers[t].matches(r["kind"], r["level"]) for t in ids)]
            if counting == T.IN_FORCE:
                hit = any(L.in_force(r, day.isoformat(), setup.rules.validity) for r in mine)
            else:
                hit = any(r["recognized_on"] <= day.isoformat() for r in mine)
            if hit:
                want[district_of[u]] = want.get(district_of[u], 0) + 1
        assert {k: v for k, v in got[(ids, counting, day)].items() if v} == want, (ids, counting, day)
    db.conn.close()


def test_rules_check_targets_names_an_unknown_tier(tmp_path):
    from conftest import run_kq

    text = run_kq("rules", "show", "targets-changzhou-2027").stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('tier = "gazelle"', 'tier = "gazelles"'), encoding="utf-8")
    r = run_kq("rules", "check", "targets", bad)
    assert r.returncode == 1 and "targets.1.tier: unknown tier 'gazelles'" in r.stderr
    r = run_kq("targets", "import", bad)
    assert r.returncode == 2 and "targets.1.tier: unknown tier 'gazelles'" in r.stderr
