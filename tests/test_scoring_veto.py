"""The blacklist veto as of the evaluation: the credit lists of a date the rules set (default the last
day of the year) or --credit-as-of, built when no list version has that date; stored runs never change."""
from __future__ import annotations

import sqlite3

import pytest

from conftest import import_rows
from kqtools.uscc import make_uscc


def code(i: int) -> str:
    return make_uscc("91", "320412", f"{i:08d}")


@pytest.fixture
def town(db):
    """Ten firms; firm 9 (the best) a dishonest debtor from 2025-03-01, removed from that list on 2026-02-01."""
    import_rows(db, "enterprises", [{"uscc": code(i), "name": f"淮安测试{i}号有限公司", "size_class": "above",
                                     "founded_on": "2010-01-01"} for i in range(10)])
    import_rows(db, "metrics", [{"uscc": code(i), "year": 2025, "tax": 100.0 + 20 * i, "land_mu": 10.0,
                                 "revenue": 1000.0, "energy_tce": 50.0} for i in range(10)])
    import_rows(db, "credit", [{"uscc": code(9), "source": "dishonest_debtor", "started_on": "2025-03-01",
                                "ended_on": "2026-02-01", "reference": "(2025)苏0812执77号"}])
    return db


def graded(kq, run):
    return {x["uscc"]: x for x in kq("score", "show", "--run", str(run)).jsonl()}


def test_a_2025_run_vetoes_a_firm_blacklisted_on_31_december_whatever_is_rebuilt_later(kq, town, db_path):
    first = kq("score", "run", "--year", "2025")
    assert first.returncode == 0, first
    summary = first.json()
    assert (summary["credit_as_of"], summary["credit_version"]) == ("2025-12-31", 1)
    assert "credit list version 1 as of 2025-12-31 (built now for this run)" in summary["notes"][0]
    best = graded(kq, 1)[code(9)]
    assert (best["rank"], best["grade_by_rank"], best["grade"]) == (1, "A", "D")
    assert best["veto_reason"] == "on the credit blacklist (version 1 as of 2025-12-31): grade D"
    shown_before = kq("score", "show", "--run", "1").jsonl()
    explained_before = kq("score", "explain", code(9), "--run", "1").jsonl()

    # the lists are rebuilt later, as of a date the firm is off them
    rebuilt = kq("lists", "build", "--as-of", "2026-06-30")
    assert rebuilt.returncode == 0, rebuilt
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT as_of FROM list_versions WHERE version = 2").fetchone() == ("2026-06-30",)
        assert conn.execute("SELECT count(*) FROM list_entries WHERE version = 2 AND list = 'blacklist'"
                            ).fetchone() == (0,)

    again = kq("score", "run", "--year", "2025").json()
    assert (again["credit_as_of"], again["credit_version"]) == ("2025-12-31", 1)   # found, not rebuilt
    assert graded(kq, again["run"])[code(9)]["grade"] == "D"
    later = kq("score", "run", "--year", "2025", "--credit-as-of", "2026-06-30").json()
    assert later["credit_version"] == 2 and graded(kq, later["run"])[code(9)]["grade"] == "A"

    # the stored run is as it was
    assert kq("score", "show", "--run", "1").jsonl() == shown_before
    explained = kq("score", "explain", code(9), "--run", "1").jsonl()
    assert explained == explained_before
    credit = next(x for x in explained if x["item"] == "credit_list")
    assert credit["value"] == 1 and "as of 2025-12-31" in credit["note"]
    grade = next(x for x in explained if x["item"] == "grade")
    assert grade["value"] == "D" and "version 1 as of 2025-12-31" in grade["note"]


def test_the_rules_set_the_credit_date_and_a_switched_off_veto_builds_nothing(kq, town, tmp_path, db_path):
    text = kq("rules", "show", "scoring").stdout
    spring = tmp_path / "spring.toml"
    spring.write_text(text.replace('credit_as_of = "Y-12-31"', 'credit_as_of = "Y+1-03-31"'), encoding="utf-8")
    r = kq("score", "run", "--year", "2025", "--rules", spring).json()
    assert r["credit_as_of"] == "2026-03-31" and graded(kq, r["run"])[code(9)]["grade"] == "A"   # removed by then
    off = tmp_path / "off.toml"
    off.write_text(text.replace("blacklist = true", "blacklist = false"), encoding="utf-8")
    r = kq("score", "run", "--year", "2025", "--rules", off, "--credit-as-of", "2025-12-31").json()
    assert r["credit_version"] is None and graded(kq, r["run"])[code(9)]["grade"] == "A"
    assert "blacklist veto off in the rules" in r["notes"]
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT as_of FROM list_versions").fetchall() == [("2026-03-31",)]


def test_a_bad_credit_date_is_a_usage_error(kq, town):
    r = kq("score", "run", "--year", "2025", "--credit-as-of", "2025-02-30")
    assert r.returncode == 2 and "--credit-as-of" in r.stderr and "Traceback" not in r.stderr
