"""Import speed, side by side (issue 2, "Speed").

    python bench/bench_import.py                      # 1,000,000-row CSV, 3 runs each, 100,000-row XLSX
    python bench/bench_import.py --rows 200000 --runs 5 --sqlite-utils-runs 1

Measures, each in a fresh database and a child process (wall time, CPU time and peak RSS from wait4):
  kq          kq import enterprises FILE  (full validation: credit codes, dates, enumerations, schema)
  sqlite-utils  sqlite-utils insert DB enterprises FILE --csv --pk uscc
  bare        stdlib csv + executemany into a typed table with a text primary key, no validation
and for the XLSX: kq import vs python-calamine alone iterating over every row of the same workbook.
Data comes from tools/synth.py (deterministic, valid credit codes); nothing is written into the repo.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))  # synth

PY = sys.executable
BIN = Path(PY).parent

BARE = r"""
import csv, sqlite3, sys
conn = sqlite3.connect(sys.argv[2])
conn.execute("CREATE TABLE enterprises (uscc TEXT PRIMARY KEY, name TEXT, district TEXT, industry_code TEXT,"
             " industry TEXT, size_class TEXT, founded_on TEXT, address TEXT, contact TEXT, phone TEXT,"
             " registered_capital TEXT)")
with open(sys.argv[1], encoding="utf-8-sig", newline="") as fh:
    rows = csv.reader(fh)
    next(rows)
    conn.executemany("INSERT INTO enterprises VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
conn.commit()
"""

CALAMINE = r"""
import sys, python_calamine
book = python_calamine.CalamineWorkbook.from_path(sys.argv[1])
n = 0
for row in book.get_sheet_by_index(0).iter_rows():
    n += 1
print(n)
"""


def make_csv(path: Path, n: int) -> None:
    try:
        from synth import write_enterprises_csv
    except ImportError:  # pragma: no cover - fallback generator
        write_enterprises_csv = _fallback_csv
    write_enterprises_csv(path, n, seed=1)


def _fallback_csv(path, n, seed=1):
    import random

    from kqtools.uscc import ALPHABET, make_uscc

    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("uscc,name,district,industry_code,industry,size_class,founded_on,address,contact,phone,"
                 "registered_capital\n")
        for i in range(n):
            org = "".join(ALPHABET[(i // 31 ** k) % 31] for k in range(8))
            fh.write(f"{make_uscc('91', '320505', org)},苏州第{i}号科技有限公司,湖西街道,C3911,计算机制造,"
                     f"{'above' if rnd.random() < .35 else 'below'},2010-0{1 + i % 9}-1{i % 10},"
                     f"苏州工业园区星湖街{i % 400}号,张三,1381234{i % 10000:04d},{rnd.randrange(50, 20000)}\n")


def run(cmd: list[str], cleanup: list[Path], env: dict | None = None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one child process."""
    for p in cleanup:
        for suffix in ("", "-wal", "-shm"):
            Path(str(p) + suffix).unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}): {err[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def measure(label: str, cmd: list[str], runs: int, cleanup: list[Path], env: dict | None = None) -> dict:
    walls, cpus, rss = [], [], []
    for i in range(runs):
        w, c, m = run(cmd, cleanup, env)
        walls.append(w), cpus.append(c), rss.append(m)
        print(f"  {label:<13} run {i + 1}: {w:7.2f} s wall, {c:7.2f} s CPU, {m:4d} MB peak", flush=True)
    return {"label": label, "wall": statistics.median(walls), "cpu": statistics.median(cpus), "rss": max(rss),
            "runs": runs}


def report(title: str, results: list[dict], ours: str = "kq") -> None:
    base = next(r for r in results if r["label"] == ours)
    print(f"\n{title}")
    print(f"  {'':<13} {'median wall':>12} {'median CPU':>11} {'peak RSS':>9}  {'wall ratio':>11} {'CPU ratio':>10}")
    for r in results:
        ratio = r["wall"] / base["wall"]
        cratio = r["cpu"] / base["cpu"]
        print(f"  {r['label']:<13} {r['wall']:10.2f} s {r['cpu']:9.2f} s {r['rss']:6d} MB  "
              f"{ratio:9.2f}x  {cratio:9.2f}x   ({r['runs']} runs)")
    print("  (ratio = that tool's time / kq's time; > 1 means kq is faster)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sqlite-utils-runs", type=int, default=3, help="0 skips sqlite-utils (about 95 s a run)")
    ap.add_argument("--xlsx-rows", type=int, default=100_000, help="0 skips the XLSX benchmark")
    ap.add_argument("--workdir", help="keep data here (default: a temporary directory, removed afterwards)")
    args = ap.parse_args(argv)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="kq-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        csv_path = work / f"enterprises-{args.rows}.csv"
        if not csv_path.exists():
            t = time.perf_counter()
            make_csv(csv_path, args.rows)
            print(f"generated {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
        db = work / "bench.db"
        kq = [str(BIN / "kq"), "--db", str(db), "import", "enterprises", str(csv_path), "-f", "json"]
        sqlite_utils = [str(BIN / "sqlite-utils"), "insert", str(db), "enterprises", str(csv_path), "--csv",
                        "--pk", "uscc"]
        bare = [PY, "-c", BARE, str(csv_path), str(db)]
        print(f"\nCSV, {args.rows:,} rows x 11 columns (interleaved runs)")
        results = {"kq": [], "bare": [], "sqlite-utils": []}
        for i in range(args.runs):
            results["kq"].append(measure("kq", kq, 1, [db]))
            results["bare"].append(measure("bare", bare, 1, [db]))
            if i < args.sqlite_utils_runs:
                results["sqlite-utils"].append(measure("sqlite-utils", sqlite_utils, 1, [db]))
        summary = [_merge_runs(label, rs) for label, rs in results.items() if rs]
        report(f"CSV import, {args.rows:,} rows", summary)

        if args.xlsx_rows:
            from synth import write_enterprises_xlsx

            xlsx = work / f"enterprises-{args.xlsx_rows}.xlsx"
            if not xlsx.exists():
                write_enterprises_xlsx(xlsx, args.xlsx_rows, seed=1)
            print(f"\nXLSX, {args.xlsx_rows:,} rows")
            kqx = [str(BIN / "kq"), "--db", str(db), "import", "enterprises", str(xlsx), "-f", "json"]
            cal = [PY, "-c", CALAMINE, str(xlsx)]
            xr = {"kq": [], "calamine": []}
            for _ in range(args.runs):
                xr["kq"].append(measure("kq", kqx, 1, [db]))
                xr["calamine"].append(measure("calamine", cal, 1, []))
            report(f"XLSX import, {args.xlsx_rows:,} rows", [_merge_runs(k, v) for k, v in xr.items()])
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _merge_runs(label, runs):
    return {"label": label, "wall": statistics.median(r["wall"] for r in runs),
            "cpu": statistics.median(r["cpu"] for r in runs), "rss": max(r["rss"] for r in runs), "runs": len(runs)}


if __name__ == "__main__":
    sys.exit(main())
