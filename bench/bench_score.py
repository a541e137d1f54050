"""Benchmark: ``kq score run`` over N firms (default 1,000,000) against one hand-written SQLite query.

The baseline computes the same six weighted, capped ratios to the group averages (规上: six
indicators; 规下 with >= 3 mu: two), the same class-T exclusions, and a window-function rank
per group, and writes its result rows to a table — the work ``kq score run`` does, minus the
bonus, vetoes, grades and stored explanations. Both run side by side, alternating, several
times; the script prints each time, the medians and the ratio.

    python bench/bench_score.py                 # 1,000,000 firms, 5 runs each
    python bench/bench_score.py --firms 100000 --runs 3 --db /tmp/score-bench.db
    python bench/bench_score.py --phases        # where one run's time goes

The database is built once (deterministic data, seed 7) and reused while --firms matches.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))  # synth

YEAR = 2025

BASELINE = """
CREATE TABLE bench_baseline AS
WITH f AS (
  SELECT m.uscc,
    CASE WHEN e.size_class = 'above' THEN 'above'
         WHEN e.size_class = 'below' AND m.land_mu >= 3 THEN 'below' END AS grp,
    CASE WHEN m.land_mu > 0 AND m.tax >= 0 THEN m.tax / m.land_mu END AS v1,
    CASE WHEN m.land_mu > 0 AND m.revenue >= 0 THEN m.revenue / m.land_mu END AS v2,
    CASE WHEN m.energy_tce > 0 AND m.tax >= 0 THEN m.tax / m.energy_tce END AS v3,
    CASE WHEN m.emissions_t > 0 AND m.tax >= 0 THEN m.tax / m.emissions_t END AS v4,
    CASE WHEN m.employees > 0 AND m.revenue >= 0 THEN m.revenue / m.employees END AS v5,
    CASE WHEN m.revenue > 0 AND m.rd_expense >= 0 THEN m.rd_expense / m.revenue END AS v6
  FROM metrics m JOIN enterprises e ON e.uscc = m.uscc
  WHERE m.year = :year
    AND substr(ltrim(upper(coalesce(e.industry_code, '')), 'ABCDEFGHIJKLMNOPQRST'), 1, 2) NOT IN ('44', '45', '46')
    AND (e.founded_on IS NULL OR e.founded_on <= :cutoff)
), b AS (
  SELECT *, avg(v1) OVER w AS b1, avg(v2) OVER w AS b2, avg(v3) OVER w AS b3,
            avg(v4) OVER w AS b4, avg(v5) OVER w AS b5, avg(v6) OVER w AS b6
  FROM f WHERE grp IS NOT NULL WINDOW w AS (PARTITION BY grp)
), s AS (
  SELECT uscc, grp, CASE grp WHEN 'above' THEN
        40 * coalesce(min(v1 / b1, 2), 0) + 20 * coalesce(min(v2 / b2, 2), 0) + 10 * coalesce(min(v3 / b3, 2), 0)
      + 10 * coalesce(min(v4 / b4, 2), 0) + 10 * coalesce(min(v5 / b5, 2), 0) + 10 * coalesce(min(v6 / b6, 2), 0)
    ELSE 50 * coalesce(min(v1 / b1, 2), 0) + 50 * coalesce(min(v2 / b2, 2), 0) END AS score
  FROM b
)
SELECT uscc, grp, score, rank() OVER (PARTITION BY grp ORDER BY score DESC) AS rnk FROM s
"""


def build(path: str, n: int) -> None:
    from kqtools.storage import open_db, write_transaction
    from synth import iter_usccs

    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    db = open_db(path)
    rnd = random.Random(7)
    t = time.perf_counter()
    districts = ["武进区", "新北区", "天宁区", "钟楼区", "金坛区", "溧阳市"]
    codes = ["C3911", "C2614", "C3411", "C1711", "C3360", "D4411", "C3985", "I6513"]
    with write_transaction(db):
        db.conn.execute("INSERT INTO batches (id, kind, source, sha256, format, read, inserted, updated, unchanged, "
                        "rejected, started_at, finished_at) VALUES (1, 'metrics', 'bench', '-', 'csv', 0, 0, 0, 0, 0, "
                        "'2026-01-01', '2026-01-01')")
        ents, mets, desig = [], [], []
        for i, u in enumerate(iter_usccs(n, seed=7)):
            above = rnd.random() < 0.6
            ents.append((u, f"企业{i}", rnd.choice(districts), rnd.choice(codes), "above" if above else "below",
                         f"{rnd.randint(1990, 2024)}-0{rnd.randint(1, 9)}-15", 1))
            energy = round(rnd.uniform(0, 5000), 2) if rnd.random() > 0.05 else None
            mets.append((u, YEAR, round(rnd.uniform(1, 200), 2), round(rnd.uniform(0, 50000), 2),
                         round(rnd.uniform(-5, 3000), 2), round(rnd.uniform(0, 10000), 2), energy,
                         round(rnd.uniform(0, 100), 3), round(rnd.uniform(0, 2000), 2), float(rnd.randint(0, 2000)),
                         int(rnd.random() < 0.001), 1))
            if rnd.random() < 0.03:
                desig.append((u, "zjtx", rnd.choice(["national", "provincial", "city", "district"]),
                              f"{rnd.randint(2020, 2025)}-06-01", 1))
        db.conn.executemany("INSERT INTO enterprises (uscc, name, district, industry_code, size_class, founded_on, "
                            "batch_id) VALUES (?,?,?,?,?,?,?)", ents)
        db.conn.executemany("INSERT INTO metrics (uscc, year, land_mu, revenue, tax, value_added, energy_tce, "
                            "emissions_t, rd_expense, employees, incident, batch_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                            mets)
        db.conn.executemany("INSERT INTO designations (uscc, kind, level, recognized_on, batch_id) "
                            "VALUES (?,?,?,?,?)", desig)
        db.conn.execute("CREATE TABLE bench_meta (firms INTEGER)")
        db.conn.execute("INSERT INTO bench_meta VALUES (?)", (n,))
    db.conn.close()
    print(f"built {path}: {n} firms in {time.perf_counter() - t:.1f} s", flush=True)


def firms_in(path: str) -> int | None:
    if not Path(path).exists():
        return None
    try:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT firms FROM bench_meta").fetchone()[0]
    except sqlite3.Error:
        return None


def run_baseline(path: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the query, run in this process."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE IF EXISTS bench_baseline")
    t, c = time.perf_counter(), time.process_time()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(BASELINE, {"year": YEAR, "cutoff": f"{YEAR - 2}-12-31"})
    conn.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    conn.execute("DROP TABLE bench_baseline")
    conn.close()
    return elapsed, cpu


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_kq(path: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``kq score run`` as a subprocess, Python start-up included."""
    env = {**os.environ, "KQ_DB": path}
    t, c = time.perf_counter(), _children_cpu()
    proc = subprocess.run([sys.executable, "-m", "kqtools", "score", "run", "--year", str(YEAR), "-f", "json"],
                          env=env, capture_output=True, text=True)
    elapsed, cpu = time.perf_counter() - t, _children_cpu() - c
    if proc.returncode != 0:
        raise SystemExit(f"kq score run failed: {proc.stderr}")
    with sqlite3.connect(path) as conn:  # keep the database small between runs (not timed)
        conn.execute("DELETE FROM scoring_results")
        conn.execute("DELETE FROM scoring_runs")
    return elapsed, cpu


def phases(path: str) -> None:
    """One run of ``run_scoring``'s steps in this process, each timed (CPU and wall)."""
    import gc

    from kqtools import scoring as S
    from kqtools.storage import open_db, write_transaction
    from kqtools.storage import scoring as SS

    marks = [("start", time.process_time(), time.perf_counter())]

    def mark(label):
        marks.append((label, time.process_time(), time.perf_counter()))

    db = open_db(path)
    rules, method = SS.load_method(None)
    mark("open, migrate, rules")
    gc.disable()
    rows, as_of = SS.load_inputs_as_of(db, YEAR, method)
    mark("load query + fetch into tuples")
    designations = SS.load_designations(db, method, YEAR)
    blacklist, _ = SS.blacklist_as_of(db, method.credit_date(YEAR))
    mark("designations, blacklist")
    members, t_firms, _ = S.classify(rows, method, YEAR)
    mark("score: classify (scope, class T, groups)")
    result = S.score_firms(rows, designations, method, YEAR, blacklist=blacklist, detail=False)
    mark("score: score_firms (its own classify again, indicators, benchmarks, bonus, rank, grades, vetoes)")
    del rows, members, t_firms
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    run_id = conn.execute("INSERT INTO scoring_runs (year, rules_name, rules_text, rules_sha256, created_at, firms, "
                          "counts, group_counts, benchmarks, skipped, notes, inputs_as_of) "
                          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                          (YEAR, rules.name, rules.text, rules.sha256, "bench", len(result), "{}", "{}", "{}", 0,
                           "[]", "{}")).lastrowid
    SS.insert_results(conn, run_id, result)
    mark("insert: build parameters + executemany (three row shapes)")
    conn.execute("COMMIT")
    mark("commit (+ WAL checkpoint)")
    del result
    mark("free the results")
    for (_, c0, w0), (label, c1, w1) in zip(marks, marks[1:]):
        print(f"{label:<90} {c1 - c0:6.2f} s CPU {w1 - w0:6.2f} s wall")
    print(f"{'total':<90} {marks[-1][1] - marks[0][1]:6.2f} s CPU {marks[-1][2] - marks[0][2]:6.2f} s wall")
    with write_transaction(db):
        conn.execute("DELETE FROM scoring_results")
        conn.execute("DELETE FROM scoring_runs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db", default="/tmp/kq-bench-score.db")
    ap.add_argument("--phases", action="store_true", help="time one in-process run phase by phase")
    args = ap.parse_args()
    if firms_in(args.db) != args.firms:
        build(args.db, args.firms)
    if args.phases:
        return phases(args.db)
    run_kq(args.db)  # warm the page cache and apply migrations
    ours, base = [], []
    for i in range(args.runs):
        pair = [("baseline", run_baseline), ("kq", run_kq)]
        if i % 2:
            pair.reverse()
        for name, fn in pair:
            elapsed, cpu = fn(args.db)
            (base if name == "baseline" else ours).append((elapsed, cpu))
            print(f"run {i + 1}: {name:<8} {elapsed:6.2f} s wall, {cpu:6.2f} s CPU", flush=True)
    mo, mb = (statistics.median(x[0] for x in ours), statistics.median(x[0] for x in base))
    co, cb = (statistics.median(x[1] for x in ours), statistics.median(x[1] for x in base))
    print(f"\n{args.firms} firms, {args.runs} runs each (medians)")
    print(f"kq score run (subprocess, stores every result): {mo:7.2f} s wall {co:7.2f} s CPU")
    print(f"hand-written SQLite query (CREATE TABLE AS):     {mb:7.2f} s wall {cb:7.2f} s CPU")
    print(f"ratio kq / baseline: {mo / mb:.2f} wall, {co / cb:.2f} CPU")


if __name__ == "__main__":
    main()
