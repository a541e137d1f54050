"""Import speed, side by side (issues 2 and 12).

    python bench/bench_import.py                              # both CSV shapes at 1,000,000 rows, XLSX at 100,000
    python bench/bench_import.py --rows 200000 --runs 3 --sqlite-utils-runs 0 --xlsx-rows 0
    python bench/bench_import.py --rows 100000 --shapes extra-numeric --sqlite-utils-runs 3
    python bench/bench_import.py --rows 200000 --baseline-src /tmp/kq-old   # an older commit beside this one

Two CSV shapes, 11 columns each:
  standard       the 10 enterprise fields (canonical names and values) + registered_capital (in extra)
  extra-numeric  5 enterprise fields under Chinese headers + 6 numeric columns the enterprise schema
                 does not know (注册资本, 从业人数, 营业收入, 实缴税收, 研发投入, 出口额: kept in extra)

Measures, each in a fresh database and a child process (wall time, CPU time = user + system of the
child, and peak RSS, from wait4), runs interleaved so each comparison sees the same load:
  kq            kq import enterprises FILE  (full validation: credit codes, dates, enumerations, schema)
  baseline      the same command from another source tree (--baseline-src DIR: e.g. `git worktree add`
                or `git archive` of an older commit), run as PYTHONPATH=DIR python -m kqtools
  sqlite-utils  sqlite-utils insert DB enterprises FILE --csv --pk uscc
  bare          stdlib csv + executemany into a typed table with a text primary key, no validation
and for the XLSX: kq import vs python-calamine alone iterating over every row of the same workbook.
Data comes from tools/synth.py (deterministic, valid credit codes); nothing is written into the repo.
Ratios are printed for CPU time (steadier on a shared machine) and wall time; the load average
before and after each set is printed too.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
BIN = Path(PY).parent
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))  # synth

BARE = r"""
import csv, sqlite3, sys
conn = sqlite3.connect(sys.argv[2])
with open(sys.argv[1], encoding="utf-8-sig", newline="") as fh:
    rows = csv.reader(fh)
    header = next(rows)
    cols = ", ".join(f'"c{i}" TEXT' + (" PRIMARY KEY" if i == 0 else "") for i in range(len(header)))
    conn.execute(f"CREATE TABLE enterprises ({cols})")
    conn.executemany(f"INSERT INTO enterprises VALUES ({', '.join('?' * len(header))})", rows)
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

EXTRA_NUMERIC_HEADER = ["统一社会信用代码", "企业名称", "所属区域", "行业代码", "企业规模", "注册资本（万元）",
                        "从业人数", "营业收入（万元）", "实缴税收（万元）", "研发投入（万元）", "出口额（万元）"]


def make_standard_csv(path: Path, n: int) -> None:
    from synth import write_enterprises_csv

    write_enterprises_csv(path, n, seed=1)


def make_extra_numeric_csv(path: Path, n: int) -> None:
    """11 columns: 5 the enterprise schema knows, 6 numeric ones it does not (kept in ``extra``)."""
    from synth import DISTRICTS, INDUSTRIES, iter_company_names, iter_usccs

    rnd = random.Random(7).random
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(EXTRA_NUMERIC_HEADER) + "\n")
        buf = []
        for code, name in zip(iter_usccs(n, 1), iter_company_names(n, 1)):
            revenue = 500 * (400 ** rnd())
            buf.append(f"{code},{name},{DISTRICTS[int(rnd() * len(DISTRICTS))]},"
                       f"{INDUSTRIES[int(rnd() * 16)][0]},{'规上' if rnd() < 0.35 else '规下'},"
                       f"{int(50 + rnd() * 20000)},{int(5 + rnd() * 800)},{revenue:.1f},"
                       f"{revenue * (0.02 + rnd() * 0.06):.1f},{revenue * rnd() * 0.08:.2f},"
                       f"{revenue * rnd() * 0.3 if rnd() < 0.4 else 0:.1f}\n")
            if len(buf) == 8192:
                fh.write("".join(buf))
                buf.clear()
        fh.write("".join(buf))


SHAPES = {"standard": make_standard_csv, "extra-numeric": make_extra_numeric_csv}


def run(cmd: list[str], cleanup: list[Path], env: dict | None = None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one child process."""
    for p in cleanup:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(p) + suffix).unlink(missing_ok=True)
    start = time.perf_counter()
    # from a neutral folder: `python -m kqtools` puts the working directory first on sys.path, and a
    # checkout there would shadow --baseline-src
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})}, cwd=tempfile.gettempdir())
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}): {err[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def measure(label: str, cmd: list[str], cleanup: list[Path], env: dict | None = None) -> dict:
    w, c, m = run(cmd, cleanup, env)
    print(f"  {label:<13} {w:7.2f} s wall, {c:7.2f} s CPU, {m:4d} MB peak", flush=True)
    return {"wall": w, "cpu": c, "rss": m}


def report(title: str, results: dict[str, list[dict]], ours: str = "kq") -> None:
    merged = {label: {"wall": statistics.median(r["wall"] for r in rs), "cpu": statistics.median(r["cpu"] for r in rs),
                      "rss": max(r["rss"] for r in rs), "runs": len(rs)} for label, rs in results.items() if rs}
    base = merged[ours]
    print(f"\n{title}   (load average now {_load()})")
    print(f"  {'':<13} {'median wall':>12} {'median CPU':>11} {'peak RSS':>9}  {'kq / this, CPU':>15} {'kq / this, wall':>16}")
    for label, r in merged.items():
        print(f"  {label:<13} {r['wall']:10.2f} s {r['cpu']:9.2f} s {r['rss']:6d} MB  "
              f"{base['cpu'] / r['cpu']:13.2f}x  {base['wall'] / r['wall']:14.2f}x   ({r['runs']} runs)")
    print("  (kq / this < 1: kq is faster than that tool; the target against bare is <= 2.00x,"
          " against sqlite-utils <= 0.167x)")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_csv(shape: str, rows: int, work: Path, args) -> None:
    path = work / f"enterprises-{shape}-{rows}.csv"
    if not path.exists():
        t = time.perf_counter()
        SHAPES[shape](path, rows)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
    db = work / "bench.db"
    kq = [str(BIN / "kq"), "--db", str(db), "import", "enterprises", str(path), "-f", "json"]
    commands = {"kq": (kq, None)}
    if args.baseline_src:
        commands["baseline"] = ([PY, "-m", "kqtools", "--db", str(db), "import", "enterprises", str(path), "-f", "json"],
                                {"PYTHONPATH": str(Path(args.baseline_src).resolve())})
    commands["bare"] = ([PY, "-c", BARE, str(path), str(db)], None)
    su = [str(BIN / "sqlite-utils"), "insert", str(db), "enterprises", str(path), "--csv", "--pk", "uscc"]
    print(f"\nCSV '{shape}', {rows:,} rows x 11 columns (interleaved runs; load average {_load()})")
    results: dict[str, list[dict]] = {label: [] for label in [*commands, "sqlite-utils"]}
    for i in range(args.runs):
        for label, (cmd, env) in commands.items():
            results[label].append(measure(label, cmd, [db], env))
        if i < args.sqlite_utils_runs:
            results["sqlite-utils"].append(measure("sqlite-utils", su, [db]))
    report(f"CSV import '{shape}', {rows:,} rows", results)


def bench_xlsx(rows: int, work: Path, args) -> None:
    from synth import write_enterprises_xlsx

    xlsx = work / f"enterprises-{rows}.xlsx"
    if not xlsx.exists():
        write_enterprises_xlsx(xlsx, rows, seed=1)
    db = work / "bench.db"
    print(f"\nXLSX, {rows:,} rows (load average {_load()})")
    kqx = [str(BIN / "kq"), "--db", str(db), "import", "enterprises", str(xlsx), "-f", "json"]
    cal = [PY, "-c", CALAMINE, str(xlsx)]
    xr: dict[str, list[dict]] = {"kq": [], "calamine": []}
    for _ in range(args.runs):
        xr["kq"].append(measure("kq", kqx, [db]))
        xr["calamine"].append(measure("calamine", cal, []))
    report(f"XLSX import, {rows:,} rows", xr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--shapes", default="standard,extra-numeric", help="comma-separated: standard, extra-numeric")
    ap.add_argument("--sqlite-utils-runs", type=int, default=1, help="0 skips sqlite-utils (minutes a run at 1M rows)")
    ap.add_argument("--xlsx-rows", type=int, default=100_000, help="0 skips the XLSX benchmark")
    ap.add_argument("--baseline-src", metavar="DIR", help="also run kq from this source tree (an older commit)")
    ap.add_argument("--workdir", help="keep data here (default: a temporary directory, removed afterwards)")
    args = ap.parse_args(argv)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="kq-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for shape in args.shapes.split(","):
            bench_csv(shape.strip(), args.rows, work, args)
        if args.xlsx_rows:
            bench_xlsx(args.xlsx_rows, work, args)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
