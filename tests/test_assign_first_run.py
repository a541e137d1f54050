"""The first `kq assign` (no firm has a specialist yet) takes a set-based path: the plan is made on
counts of alike firms (kqtools.assignment.FirstRun) and SQLite writes the rows. These tests hold
it to the general path, kqtools.assignment.plan, firm by firm: in memory, and on real SQLite files.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from kqtools.assignment import FirstRun, Firm, Policy, Specialist, plan
from kqtools.rules import load_rules
from test_assign_properties import DISTRICTS, KINDS, POLICY, specialist_st   # the same random specialists

# as clerks' files have them: a stray space, an empty cell, no enterprise record at all (None)
RAW_DISTRICTS = DISTRICTS + [" 湖塘镇", "", None]
DAY = "2026-01-05"


@st.composite
def world(draw):
    specs = draw(st.lists(specialist_st, max_size=8, unique_by=lambda s: s.id))
    firms = []
    for i in range(draw(st.integers(0, 40))):
        firms.append(Firm(
            f"91320412MA{i:06d}X", f"企业{i}", draw(st.sampled_from(RAW_DISTRICTS)),
            ",".join(draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=2, unique=True))),
            draw(st.sampled_from([None, "", "C2710", "C3911", "Q8411"]))))
    method = draw(st.sampled_from(["fewest", "round_robin"]))
    return specs, firms, Policy(**{**POLICY.__dict__, "method": method})


def first_run(firms, specs, policy, shuffle: random.Random | None = None):
    """FirstRun fed as kq assign feeds it: groups in any order, picks in uscc order."""
    fr = FirstRun(specs, policy)
    order = list(firms)
    if shuffle:
        shuffle.shuffle(order)
    group = {f.uscc: fr.group(f.district, f.kinds, f.industry_code) for f in order}
    fr.place()
    chosen = {f.uscc: fr.pick(group[f.uscc], f.uscc) for f in sorted(firms)}
    return fr, chosen


@settings(max_examples=300, deadline=None)
@given(world(), st.randoms(use_true_random=False))
def test_first_run_on_counts_equals_the_general_plan(w, rnd):
    specs, firms, policy = w
    p = plan(firms, specs, policy)
    fr, chosen = first_run(firms, specs, policy, rnd)
    assert {u: s for u, s in chosen.items() if s} == {c.uscc: c.to_specialist for c in p.changes
                                                       if c.action == "assign"}
    assert [(u, fr.reason(g)) for u, g in fr.unplaced] == [(c.uscc, c.reason) for c in p.unassigned]
    assert fr.loads == p.loads
    assert fr.in_scope == p.in_scope == len(firms)


def test_pick_refuses_firms_out_of_uscc_order():
    specs = [Specialist("S01", "张", "高新技术处", frozenset({"湖塘镇"}))]
    fr = FirstRun(specs, POLICY)
    g = fr.group("湖塘镇", "hte", None)
    fr.group("湖塘镇", "hte", None)
    fr.place()
    fr.pick(g, "B")
    with pytest.raises(RuntimeError, match="out of uscc order"):
        fr.pick(g, "A")


# ---------------------------------------------------------------- on real SQLite files
def build_db(path: Path, specs, firms):
    from kqtools.storage import open_db

    db = open_db(str(path))
    c = db.conn
    c.execute("BEGIN")
    c.execute("INSERT INTO batches (id, kind, source, sha256, format, read, inserted, updated, unchanged, rejected, "
              "started_at, finished_at) VALUES (1, 'enterprises', 'test', '', 'csv', 0,0,0,0,0, '', '')")
    for f in firms:
        if f.district is not None:      # None: a designated firm missing from the enterprise register
            c.execute("INSERT INTO enterprises (uscc, name, district, industry_code, batch_id) VALUES (?,?,?,?,1)",
                      (f.uscc, f.name, f.district, f.industry_code))
        for k in f.kinds.split(","):
            c.execute("INSERT INTO designations (uscc, kind, level, recognized_on, expires_on, batch_id) "
                      "VALUES (?,?,'','2024-03-01',NULL,1)", (f.uscc, k))
    # out of scope on DAY: expired, and not yet recognized
    c.execute("INSERT INTO enterprises (uscc, name, district, batch_id) "
              "VALUES ('91320412MA999998X', '过期', '湖塘镇', 1)")
    c.execute("INSERT INTO designations (uscc, kind, level, recognized_on, expires_on, batch_id) "
              "VALUES ('91320412MA999998X', 'hte', '', '2020-01-01', '2025-12-31', 1)")
    c.execute("INSERT INTO designations (uscc, kind, level, recognized_on, expires_on, batch_id) "
              "VALUES ('91320412MA999999X', 'hte', '', '2026-02-01', NULL, 1)")
    c.executemany("INSERT INTO specialists (id, name, department, districts, kinds, capacity, active) "
                  "VALUES (?,?,?,?,?,?,?)",
                  [(s.id, s.name, s.department, json.dumps(sorted(s.districts), ensure_ascii=False),
                    json.dumps(sorted(s.kinds)), s.capacity, int(s.active)) for s in specs])
    c.execute("COMMIT")
    return db


def rules_file(folder: Path, policy: Policy) -> str:
    text = load_rules("assignment").text.replace('method = "fewest"', f'method = "{policy.method}"')
    path = folder / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@settings(max_examples=60, deadline=None)
@given(world())
def test_first_kq_assign_on_sqlite_equals_the_general_plan(w):
    from kqtools.storage.assignment import run_assign
    from kqtools.storage.scope import in_scope_firms, load_specialists

    specs, firms, policy = w
    with tempfile.TemporaryDirectory() as tmp:
        db = build_db(Path(tmp) / "kq.db", specs, firms)
        rules = rules_file(Path(tmp), policy)
        # the reference: the general in-Python plan over the same database
        expected = plan(in_scope_firms(db, DAY, policy, raw=True), load_specialists(db), policy)
        want = [tuple(c) for c in expected.changes]

        dry, run_id, _ = run_assign(db, dt.date.fromisoformat(DAY), rules=rules, dry_run=True)
        assert run_id is None
        assert [tuple(c) for c in dry.changes] == want
        assert db.conn.execute("SELECT count(*) FROM assignments").fetchone()[0] == 0

        p, run_id, _ = run_assign(db, dt.date.fromisoformat(DAY), rules=rules)
        assert [tuple(c) for c in p.changes] == want
        assert (p.in_scope, p.kept, p.counts, p.loads) == \
            (expected.in_scope, expected.kept, expected.counts, expected.loads)
        assert [tuple(c) for c in p.unassigned] == [tuple(c) for c in expected.unassigned]
        written = db.conn.execute("SELECT uscc, specialist_id, assigned_on, reason, run_id FROM assignments "
                                  "ORDER BY uscc").fetchall()
        assert written == [(c.uscc, c.to_specialist, DAY, "new in scope", run_id)
                           for c in expected.changes if c.action == "assign"]
        history = db.conn.execute("SELECT uscc, from_specialist, to_specialist, effective_on, run_id "
                                  "FROM assignment_history ORDER BY uscc").fetchall()
        assert history == [(u, None, s, DAY, run_id) for u, s, _, _, _ in written]
        if written:
            run = db.conn.execute("SELECT in_scope, kept, assigned, unassigned FROM assignment_runs "
                                  "WHERE id = ?", (run_id,)).fetchone()
            assert run == (len(firms), 0, len(written), len(expected.unassigned))
        else:
            assert run_id is None and db.conn.execute("SELECT count(*) FROM assignment_runs").fetchone()[0] == 0
        # settled: a second run writes nothing and reports the same firms as unassigned
        again, again_id, _ = run_assign(db, dt.date.fromisoformat(DAY), rules=rules)
        assert again_id is None and again.writes == []
        assert dict(again.loads) == expected.loads      # counted from `assignments` when asked
        assert [(c.uscc, c.reason) for c in again.unassigned] == [(c.uscc, c.reason) for c in expected.unassigned]
        db.conn.close()


def test_first_run_through_the_cli_streams_every_change(kq, db_path):
    """kq assign on a fresh database: every change on stdout in uscc order, the summary on stderr."""
    specs = [Specialist("S01", "张三", "高新技术处", frozenset({"湖塘镇"}), capacity=2),
             Specialist("S02", "李四", "高新技术处", frozenset({"湖塘镇"}))]
    firms = [Firm(f"91320412MA{i:06d}X", f"企业{i}", "湖塘镇", "hte") for i in (3, 1, 2, 5, 4)]
    firms.append(Firm("91320412MA000009X", "远方企业", "雪堰镇", "hte"))
    build_db(db_path, specs, firms).conn.close()
    r = kq("assign", "--as-of", DAY)
    assert r.returncode == 1              # one firm nobody may take: needs attention
    rows = r.jsonl()
    assert [x["uscc"] for x in rows] == sorted(f.uscc for f in firms)
    assert [x["to_specialist"] for x in rows] == ["S01", "S02", "S01", "S02", "S02", None]
    assert rows[-1]["action"] == "unassigned" and "雪堰镇" in rows[-1]["reason"]
    assert "6 in scope, 0 kept, 5 assigned" in r.stderr


# ---------------------------------------------------------------- a large first run: ranges read at once
# a helper that fails for the second range (part1.db) and does its job for the others
FAIL_FIRST_HELPER = [sys.executable, "-I", "-S", "-c",
                     "import io, runpy, sys\n"
                     "task = sys.stdin.read()\n"
                     "if 'part1.db' in task: sys.exit(3)\n"
                     "sys.stdin, sys.argv = io.StringIO(task), sys.argv[1:]\n"
                     "runpy.run_path(sys.argv[0], run_name='__main__')\n"]


def scratch_folders() -> set:
    """This process's scratch folders (kq-assign-PID-*): other runs on the machine make their own."""
    import os

    return set(Path(tempfile.gettempdir()).glob(f"kq-assign-{os.getpid()}-*"))


@settings(max_examples=25, deadline=None)
@given(world(), st.integers(2, 4), st.booleans())
def test_first_run_in_ranges_equals_the_general_plan(w, parts, a_helper_fails):
    """The scope split into uscc ranges read by helper processes, one of which may fail and have
    its range done in process: the same changes, rows and loads as the general plan, and no
    scratch file left behind."""
    from kqtools.storage import first_run as A
    from kqtools.storage.assignment import run_assign
    from kqtools.storage.scope import in_scope_firms, load_specialists

    specs, firms, policy = w
    folders = scratch_folders()
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(A, "PARTS_MIN_DESIGNATIONS", 1)      # split even these few firms
        if a_helper_fails:
            mp.setattr(A, "_HELPER", FAIL_FIRST_HELPER)
        db = build_db(Path(tmp) / "kq.db", specs, firms)
        rules = rules_file(Path(tmp), policy)
        expected = plan(in_scope_firms(db, DAY, policy, raw=True), load_specialists(db), policy)
        for dry_run in (True, False):
            p, run_id, _ = run_assign(db, dt.date.fromisoformat(DAY), rules=rules, dry_run=dry_run, parts=parts)
            assert [tuple(c) for c in p.changes] == [tuple(c) for c in expected.changes]
            assert (p.in_scope, p.counts, dict(p.loads)) == (expected.in_scope, expected.counts, expected.loads)
            assert [name for _, name, _ in db.conn.execute("PRAGMA database_list")] == ["main", "temp"]
        written = db.conn.execute("SELECT uscc, specialist_id FROM assignments ORDER BY uscc").fetchall()
        assert written == [(c.uscc, c.to_specialist) for c in expected.changes if c.action == "assign"]
        db.conn.close()
    assert scratch_folders() == folders


def test_split_points_cut_the_scope_into_ranges_of_alike_size(tmp_path):
    from kqtools.storage import first_run as A

    firms = [Firm(f"91320412MA{i:06d}X", f"企业{i}", "湖塘镇", "hte") for i in range(90)]
    db = build_db(tmp_path / "kq.db", [], firms)
    assert A._split_points(db.conn, 3) == [None, None]      # below PARTS_MIN_DESIGNATIONS: one range
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(A, "PARTS_MIN_DESIGNATIONS", 1)
        bounds = A._split_points(db.conn, 3)
    assert bounds[0] is None and bounds[-1] is None and len(bounds) == 4
    assert bounds[1] < bounds[2]
    sizes = [sum(1 for f in firms if (lo is None or f.uscc >= lo) and (hi is None or f.uscc < hi))
             for lo, hi in zip(bounds, bounds[1:])]
    assert sum(sizes) == 90 and max(sizes) - min(sizes) <= 2
    db.conn.close()


def test_scratch_folders_of_killed_runs_are_swept(tmp_path):
    """A run killed mid-way cannot remove its scratch folder; the next large first run does."""
    import os
    import subprocess

    from kqtools.storage.first_run import _sweep

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f"kq-assign-{int(gone.stdout)}-abc"
    alive = tmp_path / f"kq-assign-{os.getpid()}-def"
    other = tmp_path / "kq-assign-notes"
    for folder in (dead, alive, other):
        folder.mkdir()
        (folder / "part1.db").write_bytes(b"x")
    _sweep(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name])


def test_a_dry_run_that_an_import_overtakes_is_done_again_in_one_query(tmp_path):
    """A dry run holds no write lock, so its helpers may read another state than this process: a
    helper that, once done, lets another process add a firm stands for an import landing mid-run.
    The dry run then answers on one consistent state, the new firm included."""
    from kqtools.storage import first_run as A
    from kqtools.storage.assignment import run_assign

    specs = [Specialist("S01", "张三", "高新技术处", frozenset({"湖塘镇"}))]
    firms = [Firm(f"91320412MA{i:06d}X", f"企业{i}", "湖塘镇", "hte") for i in range(0, 60, 2)]
    db = build_db(tmp_path / "kq.db", specs, firms)
    late = "91320412MA000059X"      # in the last range
    add_firm = ("import sqlite3; c = sqlite3.connect(t['db'], timeout=30); "
                "c.execute(\"INSERT INTO batches (kind, source, sha256, format, read, inserted, updated, unchanged, "
                "rejected, started_at, finished_at) VALUES ('designations', 'x', '', 'csv', 1,1,0,0,0,'','')\"); "
                f"c.execute(\"INSERT INTO designations (uscc, kind, level, recognized_on) VALUES ('{late}', 'hte', "
                "'', '2024-03-01')\"); c.commit()")
    helper = [sys.executable, "-I", "-S", "-c",
              "import io, json, runpy, sys\n"
              "task = sys.stdin.read(); t = json.loads(task)\n"
              "sys.stdin, sys.argv = io.StringIO(task), sys.argv[1:]\n"
              "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
              "except SystemExit:\n    pass\n"
              f"if t['params']['hi'] is None:\n    {add_firm}\n"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(A, "PARTS_MIN_DESIGNATIONS", 1)
        mp.setattr(A, "_HELPER", helper)
        p, run_id, _ = run_assign(db, dt.date.fromisoformat(DAY), dry_run=True, parts=2)
    assert run_id is None
    assert late in [c.uscc for c in p.changes]
    assert p.in_scope == len(firms) + 1 == len(p.changes)
    db.conn.close()


def test_the_helper_answers_in_ascii_whatever_the_locale(tmp_path):
    """Chinese districts travel from the helper as JSON \\u escapes: a server whose locale is GBK
    (or Windows' code page) reads the same bytes as a UTF-8 one."""
    import subprocess

    from kqtools.storage import first_run as A

    firms = [Firm(f"91320412MA{i:06d}X", f"企业{i}", d, "hte", "C3911") for i, d in enumerate(["湖塘镇", "雪堰镇"] * 3)]
    db = build_db(tmp_path / "kq.db", [], firms)
    sql, params = A._part_sql(POLICY, DAY, firms[2].uscc, None)
    db.conn.close()
    task = {"db": str(tmp_path / "kq.db"), "out": str(tmp_path / "part1.db"), "sql": sql, "params": params}
    r = subprocess.run([*A._HELPER, str(Path(A.__file__).with_name("scope_worker.py"))], input=json.dumps(task).encode(),
                       capture_output=True, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.isascii()
    answer = json.loads(r.stdout)
    assert sorted(map(tuple, answer["keys"])) == [("湖塘镇", "hte", "C3911"), ("雪堰镇", "hte", "C3911")]
    assert sum(answer["sizes"]) == 4        # the firms from the third on
