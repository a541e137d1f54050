"""``kq score`` as a user runs it: real subprocesses on a real database file."""
from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import import_rows, write_csv
from kqtools.uscc import make_uscc


def code(i: int) -> str:
    return make_uscc("91", "320412", f"{i:08d}")


def enterprise(i, size="above", district="武进区", industry="C3911", founded="2010-05-01"):
    return {"uscc": code(i), "name": f"常州测试{i}号科技有限公司", "district": district, "industry_code": industry,
            "size_class": size, "founded_on": founded}


def metrics(i, year=2025, tax=100.0, land=10.0, revenue=1000.0, energy=50.0, **kw):
    return {"uscc": code(i), "year": year, "tax": tax, "land_mu": land, "revenue": revenue, "energy_tce": energy,
            "emissions_t": 2.0, "employees": 100, "rd_expense": 30.0, **kw}


@pytest.fixture
def park(db):
    """Twelve ordinary firms, twins 20 and 21, a utility, a young firm and a small below-size firm."""
    ents = [enterprise(i, district="武进区" if i % 2 else "新北区") for i in range(12)]
    ents += [enterprise(20), enterprise(21), enterprise(30, industry="D4411"), enterprise(31, founded="2024-03-01"),
             enterprise(32, size="below")]
    import_rows(db, "enterprises", ents, name="企业名录.jsonl")
    rows = [metrics(i, tax=50.0 + 20 * i, revenue=800.0 + 90 * i) for i in range(12)]
    rows += [metrics(20, tax=150.0), metrics(21, tax=150.0), metrics(30), metrics(31), metrics(32, land=2.0)]
    import_rows(db, "metrics", rows, name="2025年亩均指标.jsonl")
    import_rows(db, "designations", [
        {"uscc": code(21), "kind": "zjtx", "level": "provincial", "recognized_on": "2024-06-18",
         "certificate_no": "SZJTX-2024-088"},
    ], name="专精特新名单.jsonl")
    return db


def test_provincial_twin_scores_two_more_and_ranks_above(kq, park):
    r = kq("score", "run", "--year", "2025")
    assert r.returncode == 0, r
    summary = r.json()
    assert summary["run"] == 1 and summary["year"] == 2025 and summary["rules"] == "scoring"
    assert len(summary["rules_sha256"]) == 64
    assert summary["T"] == 3 and summary["firms"] == 17
    rows = {x["uscc"]: x for x in kq("score", "show").jsonl()}
    a, b = rows[code(21)], rows[code(20)]
    assert a["base_score"] == b["base_score"]
    assert round(a["score"] - b["score"], 9) == 2 and a["bonus_points"] == 2
    assert a["rank"] < b["rank"]
    assert "provincial" in a["bonus_reason"] and "2024-06-18" in a["bonus_reason"]


def test_show_fields_filters_and_class_t_reasons(kq, park):
    assert kq("score", "run", "--year", "2025").returncode == 0
    rows = kq("score", "show").jsonl()
    for f in ("rank", "uscc", "name", "district", "group", "base_score", "bonus_points", "score", "grade_by_rank",
              "grade", "bonus_reason"):
        assert f in rows[0]
    t = {x["uscc"]: x for x in rows if x["grade"] == "T"}
    assert set(t) == {code(30), code(31), code(32)}
    assert "D4411" in t[code(30)]["not_graded_reason"]
    assert "2024-03-01" in t[code(31)]["not_graded_reason"]
    assert "in no group" in t[code(32)]["not_graded_reason"]
    assert rows[-1]["grade"] == "T" and rows[0]["rank"] == 1
    top = kq("score", "show", "--top", "3").jsonl()
    assert [x["rank"] for x in top] == [1, 2, 3]
    assert all(x["district"] == "新北区" for x in kq("score", "show", "--district", "新北区").jsonl())
    a_only = kq("score", "show", "--grade", "a").jsonl()
    assert a_only and all(x["grade"] == "A" for x in a_only)
    table = kq("score", "show", "--top", "2", "-f", "table", "--wide")
    assert "常州测试" in table.stdout and "grade_by_rank" in table.stdout


def test_explain_shows_inputs_benchmarks_bonus_and_batches(kq, park):
    kq("score", "run", "--year", "2025")
    r = kq("score", "explain", code(21).lower())
    assert r.returncode == 0, r
    rows = {x["item"]: x for x in r.jsonl() if x["item"] != "batch"}
    tax = rows["tax_per_mu"]
    assert tax["inputs"] == {"tax": 150.0, "land_mu": 10.0} and tax["value"] == 15
    assert tax["benchmark"] > 0 and tax["ratio"] == pytest.approx(15 / tax["benchmark"])
    assert tax["points"] == pytest.approx(40 * tax["ratio"])
    assert rows["bonus"]["points"] == 2 and "SZJTX-2024-088" in rows["bonus"]["note"]
    indicator_points = sum(x["points"] for k, x in rows.items() if k in (
        "tax_per_mu", "revenue_per_mu", "tax_per_energy", "tax_per_emission", "labour_productivity", "rd_intensity"))
    assert round(indicator_points, 4) == rows["base_score"]["points"]
    sources = {x["label"]: x["note"] for x in r.jsonl() if x["item"] == "batch"}
    assert sources["metrics"].startswith("2025年亩均指标.jsonl")
    assert sources["enterprise"].startswith("企业名录.jsonl")
    assert sources["designation (bonus)"].startswith("专精特新名单.jsonl")


def test_explain_flags_missing_inputs_and_class_t(kq, db):
    import_rows(db, "enterprises", [enterprise(i) for i in range(4)] + [enterprise(9, industry="4610")])
    import_rows(db, "metrics", [metrics(0, energy=None), metrics(1, land=0), metrics(2), metrics(3), metrics(9)])
    kq("score", "run", "--year", "2025")
    rows = {x["item"]: x for x in kq("score", "explain", code(0)).jsonl()}
    assert rows["tax_per_energy"]["points"] == 0 and "no energy_tce: 0 points" in rows["tax_per_energy"]["note"]
    rows = {x["item"]: x for x in kq("score", "explain", code(1)).jsonl()}
    assert rows["tax_per_mu"]["points"] == 0 and "land_mu is 0" in rows["tax_per_mu"]["note"]
    rows = {x["item"]: x for x in kq("score", "explain", code(9)).jsonl()}
    assert rows["grade"]["value"] == "T" and "4610" in rows["grade"]["note"]


def test_incident_veto_and_national_uplift_through_the_cli(kq, db):
    import_rows(db, "enterprises", [enterprise(i) for i in range(10)])
    import_rows(db, "metrics", [metrics(i, tax=100.0 + 10 * i, incident=(i == 9)) for i in range(10)])
    # firm 3 ranks 7th of 10 (band C); national recognized in 2023 raises it to B
    import_rows(db, "designations", [{"uscc": code(3), "kind": "zjtx", "level": "national",
                                      "recognized_on": "2023-02-01"}])
    assert kq("score", "run", "--year", "2025").returncode == 0
    rows = {x["uscc"]: x for x in kq("score", "show").jsonl()}
    best = rows[code(9)]
    assert best["rank"] == 1 and best["grade_by_rank"] == "A" and best["grade"] == "D"
    assert "incident" in best["veto_reason"]
    assert (rows[code(3)]["grade_by_rank"], rows[code(3)]["grade"]) == ("C", "B")


def test_runs_are_kept_and_diff_shows_changes(kq, park, db):
    assert kq("score", "run", "--year", "2025").json()["run"] == 1
    import_rows(db, "metrics", [metrics(0, tax=5000.0)])   # the weakest firm becomes the best
    r2 = kq("score", "run", "--year", "2025", "--rules", "huangyan")
    assert r2.returncode == 0 and r2.json()["run"] == 2 and r2.json()["rules"] == "scoring-huangyan"
    runs = kq("score", "runs").jsonl()
    assert [x["run"] for x in runs] == [1, 2]
    d = {x["uscc"]: x for x in kq("score", "diff", "1", "2").jsonl()}
    moved = d[code(0)]
    assert moved["rank_b"] == 1 and moved["rank_a"] > 1 and moved["grade_a"] != "A" and moved["grade_b"] == "A"
    assert "grade" in moved["change"] and "rank" in moved["change"]
    assert code(30) not in d  # class T in both runs: unchanged
    assert kq("score", "diff", "1", "1").jsonl() == []
    old = {x["uscc"]: x for x in kq("score", "show", "--run", "1").jsonl()}
    assert old[code(0)]["rank"] == moved["rank_a"]
    assert kq("score", "show", "--year", "2025").jsonl()[0]["uscc"] == code(0)


def test_errors_are_one_line_and_write_nothing(kq, park, tmp_path, db_path):
    r = kq("score", "run", "--year", "2030")
    assert r.returncode == 2 and r.stderr.strip() == "kq: error: no metrics for 2030: import them first " \
        "(kq import metrics FILE)"
    r = kq("score", "show", "--run", "42")
    assert r.returncode == 2 and "no scoring run 42" in r.stderr and "Traceback" not in r.stderr
    assert kq("score", "diff", "1", "2").returncode == 2
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("title = \n", encoding="utf-8")
    r = kq("score", "run", "--year", "2025", "--rules", bad_toml)
    assert r.returncode == 2 and "not valid TOML" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    bad_schema = tmp_path / "weights.toml"
    bad_schema.write_text(kq("rules", "show", "scoring").stdout.replace("weight = 40", "weight = -40"),
                          encoding="utf-8")
    r = kq("score", "run", "--year", "2025", "--rules", bad_schema)
    assert r.returncode == 2 and "weight" in r.stderr and "Traceback" not in r.stderr
    bands = tmp_path / "bands.toml"
    bands.write_text(kq("rules", "show", "scoring").stdout.replace("upto = 60", "upto = 10"), encoding="utf-8")
    r = kq("score", "run", "--year", "2025", "--rules", bands)
    assert r.returncode == 2 and "grades.bands" in r.stderr
    assert kq("score", "run", "--year", "2025", "--rules", "nosuch").returncode == 2
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM scoring_runs").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM scoring_results").fetchone()[0] == 0
    r = kq("score", "explain", code(99))
    assert r.returncode == 2 and "no scoring run" in r.stderr


def test_explain_unknown_firm_in_a_run(kq, park):
    kq("score", "run", "--year", "2025")
    r = kq("score", "explain", code(99))
    assert r.returncode == 2 and "not in scoring run 1" in r.stderr


def test_edited_rule_file_from_rules_show(kq, park, tmp_path):
    text = kq("rules", "show", "scoring").stdout
    assert "tax_per_mu" in text and "window_years = 3" in text
    mine = tmp_path / "mine.toml"
    assert "best_only = true" in text and "points = 2\n" in text
    mine.write_text(text.replace("best_only = true", "best_only = false").replace("points = 2\n", "points = 5\n"),
                    encoding="utf-8")
    r = kq("score", "run", "--year", "2025", "--rules", mine)
    assert r.returncode == 0, r
    rows = {x["uscc"]: x for x in kq("score", "show").jsonl()}
    assert rows[code(21)]["bonus_points"] == 5
    assert kq("score", "runs").jsonl()[0]["rules"] == str(mine)


def test_csv_files_with_chinese_headers_then_score(kq, tmp_path):
    ent = write_csv(tmp_path / "企业.csv", ["统一社会信用代码", "企业名称", "所属区域", "行业代码", "企业规模", "成立日期"],
                    [[code(i), f"苏州{i}号精密机械有限公司", "园区", "C3411", "规上", "2015-01-01"] for i in range(5)],
                    encoding="gb18030")
    met = write_csv(tmp_path / "指标.csv", ["统一社会信用代码", "年度", "用地面积", "营业收入", "实缴税收", "综合能耗"],
                    [[code(i), "2025", "20", str(1000 + i * 100), str(80 + i * 40), "60"] for i in range(5)])
    assert kq("import", "enterprises", ent).returncode == 0
    assert kq("import", "metrics", met).returncode == 0
    r = kq("score", "run", "--year", "2025", "--rules", "huangyan")
    assert r.returncode == 0, r
    rows = kq("score", "show").jsonl()
    assert [x["uscc"] for x in rows] == [code(i) for i in (4, 3, 2, 1, 0)]
    assert [x["grade"] for x in rows] == ["A", "B", "B", "C", "C"]


def test_demo_step_scores_and_prints_the_top(park):
    from kqtools.storage.scoring import demo_step

    lines: list[str] = []
    demo_step(park, lines.append)
    assert lines[0].startswith("kq score run --year 2025: run 1, 17 firms")
    assert any("+2 points" in line for line in lines)
    assert sum(1 for line in lines if line.startswith("  above")) == 10


def test_run_scoring_contract_for_scheduled_jobs(park):
    from kqtools.storage.scoring import run_scoring

    s = run_scoring(park, 2025)
    assert {"run", "year", "rules", "rules_sha256", "counts"} <= set(s)
    assert s["counts"] == {"A": 3, "B": 6, "C": 5, "D": 0, "T": 3}
    assert json.dumps(s, ensure_ascii=False)
    assert run_scoring(park, 2025, "huangyan")["run"] == 2


def test_json_rule_file_and_explain_of_its_run(kq, park, tmp_path):
    import tomllib

    data = tomllib.loads(kq("rules", "show", "scoring").stdout)
    data["groups"][0]["indicators"][0]["weight"] = 60
    path = tmp_path / "规则.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    r = kq("score", "run", "--year", "2025", "--rules", path)
    assert r.returncode == 0, r
    rows = {x["item"]: x for x in kq("score", "explain", code(5)).jsonl()}
    assert rows["tax_per_mu"]["weight"] == 60
    assert rows["tax_per_mu"]["points"] == pytest.approx(60 * rows["tax_per_mu"]["ratio"])


def test_new_metric_and_designation_columns_import_from_chinese_headers(kq, tmp_path, db_path):
    ent = write_csv(tmp_path / "企业.csv", ["统一社会信用代码", "企业名称", "企业规模", "成立日期"],
                    [[code(i), f"常州{i}号", "规上", "2015-01-01"] for i in range(4)])
    met = write_csv(tmp_path / "指标.csv", ["统一社会信用代码", "年度", "用地面积", "实缴税收", "出租面积", "重点排污单位",
                                          "安全生产事故", "环保处罚金额", "超总量排污", "租赁企业"],
                    [[code(i), "2025", "10", str(100 + i), "2.5" if i == 0 else "0", "是" if i == 1 else "否", "否",
                      "0", "否", "否"] for i in range(4)])
    des = write_csv(tmp_path / "专精特新.csv", ["统一社会信用代码", "荣誉类型", "级别", "认定日期", "撤销日期"],
                    [[code(2), "专精特新", "省级", "2024-03-01", "2025-07-01"]])
    for kind, path in (("enterprises", ent), ("metrics", met), ("designations", des)):
        r = kq("import", kind, path)
        assert r.returncode == 0, r
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT rented_out_mu, key_polluter, safety_incident, env_penalty, emissions_over_quota, "
                            "renter FROM metrics WHERE uscc = ?", (code(0),)).fetchone() == (2.5, 0, 0, 0.0, 0, 0)
        assert conn.execute("SELECT key_polluter FROM metrics WHERE uscc = ?", (code(1),)).fetchone() == (1,)
        assert conn.execute("SELECT revoked_on FROM designations").fetchone() == ("2025-07-01",)
    assert kq("score", "run", "--year", "2025").returncode == 0
    row = next(x for x in kq("score", "show").jsonl() if x["uscc"] == code(2))
    assert row["bonus_points"] == 0 and "left out: revoked 2025-07-01" in row["bonus_reason"]
