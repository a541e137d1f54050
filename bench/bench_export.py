"""Benchmark: ``kq enterprises list -o x.xlsx`` at N firms (default 100,000), this checkout against an older one.

What a workbook costs to write: one sheet of ten register fields and the designations column, in
Chinese (labels and value labels, as a clerk gets it), dates as date cells, widths fitted, an
autofilter. Each run is a fresh ``python -m kqtools`` process; with ``--baseline-src DIR`` (a
``git archive`` of an older commit, ``schemas/`` copied into ``DIR/kqtools/schemas``) the old code
runs interleaved with this one, on the same database; CPU time (user + system) from ``wait4``.

    python bench/bench_export.py                                  # 100,000 firms, 5 runs
    python bench/bench_export.py --baseline-src /tmp/kq-main --runs 7

The database is built once with ``kq import enterprises`` from ``tools/synth.py`` rows (seed 1).
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import synth  # noqa: E402


def run(src: Path, db: str, *args, env_extra=None) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(src), "KQ_LANG": "zh", **(env_extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "kqtools", "--db", db, *args], env=env, cwd=tempfile.gettempdir(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"kq {' '.join(args)} failed: {proc.stderr.read().decode()}")
    return elapsed, usage.ru_utime + usage.ru_stime


def firms_in(db: str) -> int:
    if not os.path.exists(db):
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM enterprises").fetchone()[0]
    except sqlite3.Error:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db", default="/tmp/kq-bench-export.db")
    ap.add_argument("--baseline-src", type=Path, help="an older checkout to compare with (git archive)")
    args = ap.parse_args()
    if firms_in(args.db) != args.firms:
        for suffix in ("", "-wal", "-shm"):
            Path(args.db + suffix).unlink(missing_ok=True)
        csv_path = Path(tempfile.mkdtemp(prefix="kq-bench-export-")) / "enterprises.csv"
        synth.write_enterprises_csv(csv_path, args.firms, seed=1)
        run(ROOT, args.db, "import", "enterprises", str(csv_path))
    out = tempfile.mkdtemp(prefix="kq-bench-export-")
    cases = {"this checkout": ROOT}
    if args.baseline_src:
        cases["baseline"] = args.baseline_src.resolve()
    times: dict[str, list] = {k: [] for k in cases}
    for i in range(args.runs):
        order = list(cases) if i % 2 == 0 else list(reversed(cases))
        for name in order:
            target = os.path.join(out, f"{name.split()[0]}.xlsx")
            elapsed, cpu = run(cases[name], args.db, "enterprises", "list", "-o", target)
            times[name].append((elapsed, cpu))
            print(f"run {i + 1}: {name:<14} {elapsed:6.2f} s wall {cpu:6.2f} s CPU", flush=True)
    print(f"\n{args.firms} firms, {args.runs} runs each (medians); load average {os.getloadavg()[0]:.1f}")
    med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in times.items()}
    for name, (w, c) in med.items():
        size = os.path.getsize(os.path.join(out, f"{name.split()[0]}.xlsx"))
        print(f"{name:<14} {w:6.2f} s wall {c:6.2f} s CPU  {size / 1e6:6.1f} MB")
    if "baseline" in med:
        (w, c), (bw, bc) = med["this checkout"], med["baseline"]
        print(f"ratio this / baseline: {w / bw:.2f} wall, {c / bc:.2f} CPU")


if __name__ == "__main__":
    main()
