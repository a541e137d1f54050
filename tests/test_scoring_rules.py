"""Scoring rule files: `kq rules check` runs what `kq score run` runs; old files keep their results;
the vetoes' documented defaults; every preset names its source."""
from __future__ import annotations

import copy
import json
import math
import sqlite3
import tomllib
from pathlib import Path

import pytest

from conftest import import_rows
from kqtools.rules import RulesError, check, load_rules
from kqtools.scoring import compile_rules, score_dicts
from kqtools.uscc import make_uscc

DATA = Path(__file__).parent / "data"
DEFAULT_TEXT = load_rules("scoring").text
LEGACY_FILE = DATA / "scoring-2025-bonus-section.toml"


def code(i: int) -> str:
    return make_uscc("91", "320412", f"{i:08d}")


# ---------------------------------------------------------------- one validation for check and run
BROKEN = {
    "nan_weight": (DEFAULT_TEXT.replace("weight = 40", "weight = nan"), "groups.0.indicators.0.weight: nan is not a finite"),
    "inf_cap": (DEFAULT_TEXT.replace("cap = 2 ", "cap = inf "), "cap: inf is greater than the maximum of 100"),
    "inf_threshold": (DEFAULT_TEXT + '\n[[adjustments]]\nid = "x"\nmetric = "tax"\nop = ">"\nvalue = -inf\npoints = 1\n',
                      "adjustments.4.value: -inf is not a finite number"),
    "duplicate_indicator": (DEFAULT_TEXT.replace('id = "revenue_per_mu"', 'id = "tax_per_mu"', 1),
                            "groups.above: duplicate indicator id 'tax_per_mu'"),
    "bands_out_of_order": (DEFAULT_TEXT.replace("upto = 60", "upto = 10"), "grades.bands: B upto 10 must be larger"),
    "unknown_tie_break": (DEFAULT_TEXT.replace('tie_break = ["tax_per_mu"]', 'tie_break = ["tax_per_m"]'),
                          "tie_break: 'tax_per_m' is not an indicator"),
    "undeclared_category": (DEFAULT_TEXT.replace('category = "zjtx"', 'category = "zjtxx"', 1),
                            "category 'zjtxx' is not declared"),
    "bad_credit_date": (DEFAULT_TEXT.replace('credit_as_of = "Y-12-31"', 'credit_as_of = "Y-02-30"'),
                        "vetoes.credit_as_of: 'Y-02-30' is not a date"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_check_and_run_refuse_the_same_files_with_the_same_reason(name, tmp_path, db):
    from kqtools.storage.scoring import load_method

    text, problem = BROKEN[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    verdict = check("scoring", str(path))
    assert verdict.needs_attention and problem in verdict.problem and verdict.problem.startswith(str(path))
    with pytest.raises(RulesError) as run_error:
        load_method(str(path))            # the first step of kq score run
    assert str(run_error.value) == verdict.problem


def test_the_cli_check_and_run_on_a_nan_weight(kq, db, tmp_path, db_path):
    import_rows(db, "enterprises", [{"uscc": code(1), "name": "甲", "size_class": "above"}])
    import_rows(db, "metrics", [{"uscc": code(1), "year": 2025, "tax": 10, "land_mu": 1}])
    path = tmp_path / "nan.toml"
    path.write_text(BROKEN["nan_weight"][0], encoding="utf-8")
    checked = kq("rules", "check", "scoring", path)
    assert checked.returncode == 1 and "nan is not a finite number" in checked.stderr
    ran = kq("score", "run", "--year", "2025", "--rules", path)
    assert ran.returncode == 2 and ran.stderr.strip() == f"kq: error: {checked.stderr.strip()[len('kq: '):]}"
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM scoring_runs").fetchone()[0] == 0


def test_check_runs_the_compile_step_of_lists_and_assignment_too(tmp_path):
    lists = load_rules("lists").text
    dup = lists.replace('id = "dishonest_debtor"', 'id = "tax_d"')
    path = tmp_path / "lists.toml"
    path.write_text(dup, encoding="utf-8")
    verdict = check("lists", str(path))
    assert verdict.problem and "two rules share the id 'tax_d'" in verdict.problem
    from kqtools.storage.lists import build_lists
    from kqtools.storage import open_db

    with pytest.raises(RulesError) as built:
        build_lists(open_db(str(tmp_path / "kq.db")), None, str(path))
    assert str(built.value) == verdict.problem
    assignment = load_rules("assignment").text
    assert "yearly_coverage_goal" in assignment
    bad = tmp_path / "assignment.toml"
    bad.write_text("\n".join("yearly_coverage_goal = nan" if line.startswith("yearly_coverage_goal") else line
                             for line in assignment.splitlines()), encoding="utf-8")
    verdict = check("assignment", str(bad))
    assert verdict.problem and "yearly_coverage_goal: nan is not a finite number" in verdict.problem
    from kqtools.storage.assignment import load_policy

    with pytest.raises(RulesError, match="not a finite number"):
        load_policy(str(bad))


def test_weights_that_do_not_add_up_to_100_are_a_warning(kq, tmp_path):
    path = tmp_path / "ninety.toml"
    path.write_text(DEFAULT_TEXT.replace("weight = 40", "weight = 30"), encoding="utf-8")
    r = kq("rules", "check", "scoring", path)
    assert r.returncode == 1
    assert "valid scoring rules" in r.stderr and "warning: group above: the weights add up to 90, not 100" in r.stderr
    fine = kq("rules", "check", "scoring", "scoring")
    assert fine.returncode == 0 and "warning" not in fine.stderr


@pytest.mark.parametrize("preset", ["scoring", "huaian-2024", "huangyan"])
def test_every_shipped_preset_names_its_source_and_checks_clean(preset):
    verdict = check("scoring", preset)
    assert verdict.problem is None and verdict.warnings == ()
    method = compile_rules(verdict.rules.data)
    assert method.source
    if preset != "scoring":
        assert "could not express" in verdict.rules.text


# ---------------------------------------------------------------- vetoes: documented defaults
@pytest.mark.parametrize("vetoes", [None, {}, {"grade": "D"}])
def test_omitted_veto_keys_mean_both_vetoes_on(vetoes):
    data = tomllib.loads(DEFAULT_TEXT)
    if vetoes is None:
        del data["vetoes"]
    else:
        data["vetoes"] = vetoes
    method = compile_rules(data)
    assert method.veto_incident is True and method.veto_blacklist is True and method.credit_as_of == "Y-12-31"
    firms = [{"uscc": f"F{i}", "size_class": "above", "tax": 100.0 - i, "land_mu": 1.0} for i in range(5)]
    firms[1]["incident"] = True
    r = score_dicts(firms, [], method, 2025, blacklist={"F0"}).by_uscc()
    assert r["F0"].grade == "D" and "blacklist" in r["F0"].veto_reason
    assert r["F1"].grade == "D" and "incident" in r["F1"].veto_reason


# ---------------------------------------------------------------- old rule files, today's results
@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    from importlib import resources

    from kqtools.storage.demo import DEMO_FILES
    from kqtools.importer import run_import
    from kqtools.readers import open_table
    from kqtools.storage import open_db

    db = open_db(str(tmp_path_factory.mktemp("demo") / "kq.db"))
    for kind, name in DEMO_FILES:
        with resources.files("kqtools.fixtures").joinpath("demo", name).open("rb") as fh:
            run_import(db, open_table(fh, name), kind)
    yield db
    db.conn.close()


@pytest.mark.parametrize("rules", ["scoring", str(LEGACY_FILE)], ids=["adjustments", "bonus_section"])
def test_old_and_new_default_rules_give_the_pinned_demo_results(demo_db, rules):
    from kqtools.storage.scoring import results, run_scoring

    pin = json.loads((DATA / "demo-scoring-2025.json").read_text(encoding="utf-8"))
    run = run_scoring(demo_db, 2025, rules, credit_as_of=pin["credit_as_of"])
    got = [r for r in results(demo_db, run["run"])]
    assert len(got) == len(pin["rows"])
    for want, r in zip(pin["rows"], got):
        have = [r["uscc"], r["group"], r["rank"], r["base_score"], r["bonus_points"], r["score"], r["grade_by_rank"],
                r["grade"], r["bonus_reason"], r["veto_reason"] is not None, r["not_graded_reason"]]
        assert have == want


def test_old_rule_files_compile_to_the_same_adjustments_as_the_new_default():
    legacy = compile_rules(tomllib.loads(LEGACY_FILE.read_text(encoding="utf-8")))
    new = compile_rules(tomllib.loads(DEFAULT_TEXT))
    key = [(a.id, a.points, a.uplift, a.kind, a.levels, a.window_years) for a in legacy.adjustments]
    assert key == [(a.id, a.points, a.uplift, a.kind, a.levels, a.window_years) for a in new.adjustments]
    assert legacy.categories["bonus"].best_only and new.categories["zjtx"].best_only
    stacked = copy.deepcopy(tomllib.loads(LEGACY_FILE.read_text(encoding="utf-8")))
    stacked["bonus"]["stack"] = True
    assert not compile_rules(stacked).categories["bonus"].best_only


def test_numbers_in_rule_data_given_directly_must_be_finite():
    data = tomllib.loads(DEFAULT_TEXT)
    data["groups"][1]["indicators"][0]["weight"] = math.inf
    with pytest.raises(ValueError, match=r"groups\.1\.indicators\.0\.weight: inf is not a finite number"):
        compile_rules(data)
