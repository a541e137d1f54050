"""Startup time: `kq --help` against `sqlite-utils --version` (issue 2: at most 0.7x).

    python bench/bench_startup.py            # 30 runs each, interleaved; prints medians and the ratio

Cron jobs and shell pipelines pay the start-up cost on every call. Also lists the heavy modules
`kq --help` must not import (APScheduler, SQLAlchemy, rapidfuzz, Excel readers, sqlite_utils).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
HEAVY = ("apscheduler", "sqlalchemy", "rapidfuzz", "python_calamine", "xlsxwriter", "openpyxl", "sqlite_utils",
         "fastjsonschema", "jsonschema", "tabulate")


def once(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args(argv)
    kq = [str(BIN / "kq"), "--help"]
    su = [str(BIN / "sqlite-utils"), "--version"]
    once(kq), once(su)  # warm the OS caches
    a, b = [], []
    for _ in range(args.runs):
        a.append(once(kq))
        b.append(once(su))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"kq --help               median {ma * 1000:6.1f} ms  (min {min(a) * 1000:.1f}, {args.runs} runs)")
    print(f"sqlite-utils --version  median {mb * 1000:6.1f} ms  (min {min(b) * 1000:.1f}, {args.runs} runs)")
    print(f"ratio kq / sqlite-utils: {ma / mb:.2f}x (target <= 0.70x)")
    code = ("import sys; from kqtools.cli import cli; sys.argv=['kq','--help']\n"
            "try:\n    cli.main(prog_name='kq')\nexcept SystemExit:\n    pass\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    heavy = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ""
    print(f"heavy modules imported by kq --help: {heavy or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
