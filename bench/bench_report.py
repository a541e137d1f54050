"""Benchmark: ``kq report score`` at N firms (default 100,000) against ``kq score show -o`` of the same run.

The baseline is the plain export of the same results (one sheet, XlsxWriter constant-memory mode, the
same library): the report writes that sheet too (评价结果), plus the public list, the class T sheet and
the summary sheet with its three charts, so its cost over the baseline is what the report adds.
Both run as subprocesses, alternating; the script prints each run, the medians and the ratio.

    python bench/bench_report.py                      # 100,000 firms, 3 runs each
    python bench/bench_report.py --firms 20000 --runs 2 --db /tmp/report-bench.db

The database is built by bench/bench_score.py's generator (seed 7) and scored once.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_score import YEAR, build, firms_in  # noqa: E402


def kq(db: str, *args) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kqtools", "--db", db, *args], check=True, capture_output=True)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db", default="/tmp/kq-bench-report.db")
    args = ap.parse_args()
    if firms_in(args.db) != args.firms:
        build(args.db, args.firms)
        kq(args.db, "score", "run", "--year", str(YEAR))
    out = tempfile.mkdtemp(prefix="kq-bench-report-")
    cases = {
        "report .xlsx": ("report", "score", "--year", str(YEAR), "-o", os.path.join(out, "r.xlsx")),
        "report .html": ("report", "score", "--year", str(YEAR), "-o", os.path.join(out, "r.html")),
        "show -o .xlsx": ("score", "show", "--year", str(YEAR), "-o", os.path.join(out, "s.xlsx")),
    }
    times: dict[str, list] = {k: [] for k in cases}
    for i in range(args.runs):
        order = list(cases) if i % 2 == 0 else list(reversed(cases))
        for name in order:
            elapsed, cpu = kq(args.db, *cases[name])
            times[name].append((elapsed, cpu))
            print(f"run {i + 1}: {name:<14} {elapsed:6.2f} s wall {cpu:6.2f} s CPU", flush=True)
    print(f"\n{args.firms} firms, {args.runs} runs each (medians); load average {os.getloadavg()[0]:.1f}")
    med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in times.items()}
    for name, (w, c) in med.items():
        size = os.path.getsize(cases[name][-1])
        print(f"{name:<14} {w:6.2f} s wall {c:6.2f} s CPU  {size / 1e6:6.1f} MB")
    base = med["show -o .xlsx"]
    print(f"ratio report .xlsx / show -o .xlsx: {med['report .xlsx'][0] / base[0]:.2f} wall, "
          f"{med['report .xlsx'][1] / base[1]:.2f} CPU")


if __name__ == "__main__":
    main()
