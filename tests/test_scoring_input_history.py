"""Migration 0006: runs no longer copy their raw inputs; the version history of metrics and
enterprises keeps old runs explainable after a re-import, and runs stored before 0006 still work."""
from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import import_rows
from kqtools.uscc import make_uscc


def code(i: int) -> str:
    return make_uscc("91", "320412", f"{i:08d}")


def enterprise(i, size="above", industry="C3911"):
    return {"uscc": code(i), "name": f"常州测试{i}号科技有限公司", "district": "武进区", "industry_code": industry,
            "size_class": size, "founded_on": "2010-05-01"}


def metrics(i, tax=None, land=10.0):
    return {"uscc": code(i), "year": 2025, "tax": 50.0 + 20 * i if tax is None else tax, "land_mu": land,
            "revenue": 800.0 + 90 * i, "energy_tce": 50.0, "emissions_t": 2.0, "employees": 100, "rd_expense": 30.0}


@pytest.fixture
def town(db):
    import_rows(db, "enterprises", [enterprise(i) for i in range(10)], name="企业名录.jsonl")
    import_rows(db, "metrics", [metrics(i) for i in range(10)], name="2025年指标-第一版.jsonl")
    return db


def explained(kq, uscc, run):
    r = kq("score", "explain", uscc, "--run", str(run))
    assert r.returncode == 0, r
    return {(x["item"], x.get("label") if x["item"] == "batch" else None): x for x in r.jsonl()}


def indicator_sum(rows):
    return round(sum(x["points"] for (item, _), x in rows.items()
                     if item not in ("base_score", "bonus", "score") and x.get("weight")), 4)


def test_reimport_keeps_the_old_run_explainable(kq, town, db):
    assert kq("score", "run", "--year", "2025").json()["run"] == 1
    before = explained(kq, code(5), 1)
    # a corrected metrics file (firm 5's tax) and a corrected enterprise list (firm 7 is 规下 after all)
    import_rows(db, "metrics", [metrics(5, tax=900.0)], name="2025年指标-更正.jsonl")
    import_rows(db, "enterprises", [enterprise(7, size="below")], name="企业名录-更正.jsonl")
    assert kq("score", "run", "--year", "2025").json()["run"] == 2

    old, new = explained(kq, code(5), 1), explained(kq, code(5), 2)
    assert old == before   # the re-import changed nothing in the explanation of run 1
    assert old[("tax_per_mu", None)]["inputs"] == {"tax": 150.0, "land_mu": 10.0}
    assert new[("tax_per_mu", None)]["inputs"] == {"tax": 900.0, "land_mu": 10.0}
    assert indicator_sum(old) == old[("base_score", None)]["points"]
    assert indicator_sum(new) == new[("base_score", None)]["points"]
    assert old[("batch", "metrics")]["note"].startswith("2025年指标-第一版.jsonl")
    assert new[("batch", "metrics")]["note"].startswith("2025年指标-更正.jsonl")

    old7, new7 = explained(kq, code(7), 1), explained(kq, code(7), 2)
    assert "size class above, group above" in old7[("firm", None)]["note"]
    assert "size class below, group below" in new7[("firm", None)]["note"]
    assert old7[("batch", "enterprise")]["note"].startswith("企业名录.jsonl")
    assert new7[("batch", "enterprise")]["note"].startswith("企业名录-更正.jsonl")
    assert indicator_sum(old7) == old7[("base_score", None)]["points"]
    d = {x["uscc"]: x for x in kq("score", "diff", "1", "2").jsonl()}
    assert d[code(7)]["group_a"] == "above" and d[code(7)]["group_b"] == "below"


def test_a_change_before_any_run_saves_no_version(town, db):
    """Nothing can need the old values yet: re-imports before the first run pay nothing."""
    import_rows(db, "metrics", [metrics(3, tax=1.5)], name="fix.jsonl")
    import_rows(db, "enterprises", [enterprise(3, size="below")], name="fix.jsonl")
    assert db.conn.execute("SELECT count(*) FROM metrics_versions").fetchone()[0] == 0
    assert db.conn.execute("SELECT count(*) FROM enterprise_versions").fetchone()[0] == 0


def test_an_unchanged_reimport_saves_no_version_and_a_change_saves_the_old_row(kq, town, db):
    kq("score", "run", "--year", "2025")
    import_rows(db, "metrics", [metrics(i) for i in range(10)], name="again.jsonl")
    import_rows(db, "enterprises", [enterprise(i) for i in range(10)], name="again.jsonl")
    assert db.conn.execute("SELECT count(*) FROM metrics_versions").fetchone()[0] == 0
    assert db.conn.execute("SELECT count(*) FROM enterprise_versions").fetchone()[0] == 0
    import_rows(db, "metrics", [metrics(3, tax=1.5)], name="fix.jsonl")
    rows = db.conn.execute("SELECT change, uscc, year, tax, land_mu FROM metrics_versions").fetchall()
    assert rows == [("update", code(3), 2025, 110.0, 10.0)]


def test_a_deleted_metrics_row_still_explains_the_old_run(kq, town, db):
    kq("score", "run", "--year", "2025")
    before = explained(kq, code(2), 1)
    with db.conn:
        db.conn.execute("DELETE FROM metrics WHERE uscc = ?", (code(2),))
    assert explained(kq, code(2), 1) == before
    assert db.conn.execute("SELECT change FROM metrics_versions").fetchall() == [("delete",)]


def test_an_enterprise_added_after_the_run_is_not_shown_as_its_input(kq, town, db):
    import_rows(db, "metrics", [metrics(40)], name="late.jsonl")   # metrics but no enterprise row yet
    kq("score", "run", "--year", "2025")
    import_rows(db, "enterprises", [enterprise(40)], name="企业名录-补充.jsonl")
    kq("score", "run", "--year", "2025")
    old, new = explained(kq, code(40), 1), explained(kq, code(40), 2)
    assert old[("grade", None)]["value"] == "T" and "size class unknown" in old[("grade", None)]["note"]
    assert "size class -," in old[("firm", None)]["note"] and ("batch", "enterprise") not in old
    assert "size class above" in new[("firm", None)]["note"] and new[("grade", None)]["value"] != "T"


# ---------------------------------------------------------------- runs stored before migration 0006
_OLD_COLUMNS = ("run_id", "pos", "uscc", "group_id", "rank", "base_score", "bonus_points", "score", "grade_by_rank",
                "grade", "bonus_reason", "veto_reason", "not_graded_reason", "land_mu", "revenue", "tax",
                "value_added", "energy_tce", "electricity_kwh", "emissions_t", "rd_expense", "employees", "incident",
                "size_class", "metrics_batch_id", "enterprise_batch_id", "designation_batch_ids")


def _store_run_as_before_0006(db, year):
    """A run written the way kqtools wrote it up to migration 0005: raw inputs in every result row."""
    import json

    from kqtools import scoring as S
    from kqtools.storage import write_transaction
    from kqtools.storage.scoring import load_method

    rules, method = load_method(None)
    rows = db.conn.execute(
        "SELECT m.uscc, NULL, NULL, e.industry_code, e.size_class, e.founded_on, m.incident, m.land_mu, m.revenue, "
        "m.tax, m.value_added, m.energy_tce, m.electricity_kwh, m.emissions_t, m.rd_expense, m.employees, "
        "m.batch_id, e.batch_id FROM metrics m LEFT JOIN enterprises e ON e.uscc = m.uscc WHERE m.year = ?",
        (year,)).fetchall()
    s = S.score_firms(rows, [], method, year)   # no designations in this database
    marks = {g: [m.as_dict() for m in ms] for g, ms in s.benchmarks.items()}
    with write_transaction(db):
        run_id = db.conn.execute(
            "INSERT INTO scoring_runs (year, rules_name, rules_text, rules_sha256, created_at, firms, counts, "
            "group_counts, benchmarks, skipped, notes) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (year, rules.name, rules.text, rules.sha256, "2026-01-05T10:00:00+08:00", len(s), json.dumps(s.counts),
             json.dumps(s.group_counts), json.dumps(marks), s.skipped, "[]")).lastrowid
        t = s.table
        db.conn.executemany(
            f"INSERT INTO scoring_results ({', '.join(_OLD_COLUMNS)}) VALUES ({', '.join('?' * len(_OLD_COLUMNS))})",
            [(run_id, pos, r.uscc, r.group, r.rank, r.base_score, r.bonus_points, r.score, r.grade_by_rank, r.grade,
              r.bonus_reason, r.veto_reason, r.not_graded_reason, *r.row[7:16], r.row[6], r.row[4], r.row[16],
              r.row[17], ",".join(map(str, r.bonus_batches)) or None)
             for pos, r in enumerate(s.results, 1)])
    assert len(t["uscc"]) == 10


def _old_import(db, table, rows, source):
    """Rows upserted into a database of migration 0005 with one new batch, as its importer did."""
    from kqtools.storage import write_transaction

    with write_transaction(db):
        batch = db.conn.execute(
            "INSERT INTO batches (kind, source, sha256, format, read, inserted, updated, unchanged, rejected, "
            "started_at, finished_at) VALUES (?, ?, '-', 'jsonl', ?, ?, 0, 0, 0, '2026-01-05', '2026-01-05')",
            (table, source, len(rows), len(rows))).lastrowid
        for r in rows:
            cols = [*r, "batch_id"]
            db.conn.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                            (*r.values(), batch))


def test_runs_stored_before_0006_migrate_and_still_explain_show_and_diff(kq, db_path, monkeypatch):
    import kqtools.storage as storage

    everything = storage.migrations
    # the importer inserts every column its schema has, so a migration adding an importable column
    # (0011: enterprises.key_firm) is part of the "old" database too; it does not touch scoring
    monkeypatch.setattr(storage, "migrations", lambda: [m for m in everything() if m[0] <= 5 or m[0] == 11])
    old_db = storage.open_db(str(db_path))
    assert "metrics_versions" not in old_db.table_names()
    # written with SQL as kqtools of that time wrote them: today's importer writes columns added since
    _old_import(old_db, "enterprises", [enterprise(i) for i in range(10)], "企业名录.jsonl")
    _old_import(old_db, "metrics", [metrics(i) for i in range(10)], "2025年指标-第一版.jsonl")
    _store_run_as_before_0006(old_db, 2025)
    _old_import(old_db, "metrics", [metrics(5, tax=900.0)], "2025年指标-更正.jsonl")  # no history yet
    old_db.conn.close()
    monkeypatch.setattr(storage, "migrations", everything)

    assert kq("score", "run", "--year", "2025").json()["run"] == 2          # migrates, then a new run
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT inputs_as_of IS NULL FROM scoring_runs ORDER BY id").fetchall() == [(1,), (0,)]
        assert conn.execute("SELECT count(*) FROM scoring_results WHERE run_id = 2 AND tax IS NOT NULL"
                            ).fetchone()[0] == 0
    old, new = explained(kq, code(5), 1), explained(kq, code(5), 2)
    assert old[("tax_per_mu", None)]["inputs"]["tax"] == 150.0      # from the run's own snapshot
    assert new[("tax_per_mu", None)]["inputs"]["tax"] == 900.0
    assert indicator_sum(old) == old[("base_score", None)]["points"]
    assert old[("batch", "metrics")]["note"].startswith("2025年指标-第一版.jsonl")
    assert [x["uscc"] for x in kq("score", "show", "--run", "1").jsonl()][:1] == [code(9)]
    d = {x["uscc"]: x for x in kq("score", "diff", "1", "2").jsonl()}
    assert d[code(5)]["rank_a"] > d[code(5)]["rank_b"] == 1


def test_every_row_shape_is_stored_as_scored(town, db):
    """Results are written by row shape (plain graded, graded with bonus/veto/batch, class T) so that
    no NULL is bound from Python; every column must still read back as score_firms produced it."""
    from kqtools import scoring as S
    from kqtools.storage.scoring import RESULT_COLUMNS, load_designations, load_inputs, load_method, run_scoring

    import_rows(db, "enterprises", [enterprise(30, industry="D4411"), enterprise(31, size="below")])
    import_rows(db, "metrics", [metrics(30), metrics(31, land=1.0), {**metrics(8), "incident": True},
                                metrics(50)])   # 50: metrics but no enterprise row (T, in no group)
    import_rows(db, "designations", [
        {"uscc": code(2), "kind": "zjtx", "level": "provincial", "recognized_on": "2024-06-18"},
        {"uscc": code(4), "kind": "zjtx", "level": "national", "recognized_on": "2025-01-02"}], name="专精特新.jsonl")
    run = run_scoring(db, 2025)["run"]
    _, method = load_method(None)
    s = S.score_firms(load_inputs(db, 2025, method), load_designations(db, method, 2025), method, 2025,
                      detail=False)
    t = s.table
    expected = [(run, pos, *row, ",".join(map(str, b)) or None) for pos, (*row, b) in enumerate(zip(
        t["uscc"], t["group"], t["rank"], t["base_score"], t["bonus_points"], t["score"], t["grade_by_rank"],
        t["grade"], t["bonus_reason"], t["veto_reason"], t["not_graded_reason"], t["bonus_batches"]), 1)]
    stored = db.conn.execute(f"SELECT {', '.join(RESULT_COLUMNS)} FROM scoring_results WHERE run_id = ? "
                             "ORDER BY pos", (run,)).fetchall()
    assert stored == expected
    outcomes = [json.loads(x) if x else None for x, in db.conn.execute(
        "SELECT adjustments FROM scoring_results WHERE run_id = ? ORDER BY pos", (run,))]
    assert outcomes == [[o.as_dict() for o in a] if a else None for a in t["adjustments"]]
    assert len({json.dumps(x) for x in outcomes if x}) == 2          # the provincial and the national firm
    shapes = {(r[10] is not None, r[11] is not None, r[13] is not None, r[9]) for r in stored}
    assert (True, False, True, "A") in shapes or (True, False, True, "B") in shapes   # bonus with its batch
    assert any(r[11] and "incident" in r[11] for r in stored)
    assert {r[2] for r in stored if r[9] == "T"} == {code(30), code(31), code(50)}
    assert [r[3] for r in stored if r[2] == code(50)] == [None]


def test_a_run_stored_before_0009_explains_its_bonus_as_stored(kq, town, db):
    """Runs of migrations 0006-0008 kept no per-item adjustments: explain shows their bonus reason as
    the run stored it, and claims no item was skipped."""
    import_rows(db, "designations", [{"uscc": code(3), "kind": "zjtx", "level": "provincial",
                                      "recognized_on": "2024-06-18", "certificate_no": "SZ-24-3"}])
    assert kq("score", "run", "--year", "2025").returncode == 0
    with db.conn:   # as such a run looks after migration 0009: no scope, no adjustments
        db.conn.execute("UPDATE scoring_runs SET scope = NULL, credit_as_of = NULL, credit_version = NULL")
        db.conn.execute("UPDATE scoring_results SET adjustments = NULL")
    rows = kq("score", "explain", code(3)).jsonl()
    adjustments = [x for x in rows if x["item"] == "adjustment"]
    assert [(x["label"], x["value"], x["points"], x["note"]) for x in adjustments] == [
        ("bonus", "applied", 2, "zjtx provincial recognized 2024-06-18, certificate SZ-24-3: +2 points")]
    assert not [x for x in rows if x["item"] == "credit_list"]
    assert [x["uscc"] for x in kq("score", "show").jsonl()][:1] == [code(9)]
