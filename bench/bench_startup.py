"""Startup time: `kq --help` against `sqlite-utils --version` (issue 2: at most 0.7x), and `kq --help` in
English and Chinese against an older checkout (issue 15: within 10% of the time before the Chinese
interface).

    python bench/bench_startup.py                          # 30 runs each, interleaved; medians and the ratio
    git archive main | tar -x -C /tmp/kq-before            # the checkout to compare with, then:
    python bench/bench_startup.py --baseline /tmp/kq-before --runs 60

Cron jobs and shell pipelines pay the start-up cost on every call. Also lists the heavy modules
`kq --help` must not import (APScheduler, SQLAlchemy, rapidfuzz, Excel readers, sqlite_utils).

With ``--baseline DIR`` each run is ``python -m kqtools --help`` (``LANG=C.UTF-8``, and ``--lang zh``
for Chinese) with ``PYTHONPATH`` set to DIR or to this checkout, so both import the same Python and
libraries; the figure is the CPU time (user + system) of the child, from ``wait4``, less sensitive
than wall time to the load of a shared machine. The four kinds of run are interleaved, round after
round; the load average is printed before and after. ``--instructions`` adds the instruction count of
one run of each under valgrind (callgrind), which the load of a shared machine does not move.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent.parent
HEAVY = ("apscheduler", "sqlalchemy", "rapidfuzz", "python_calamine", "xlsxwriter", "openpyxl", "sqlite_utils",
         "fastjsonschema", "jsonschema", "tabulate")


def once(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def cpu_once(cmd: list[str], env: dict, cwd: str) -> tuple[float, float]:
    """(wall, user + system CPU) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (PYTHONPATH={env.get('PYTHONPATH')})")
    proc.returncode = 0
    return wall, usage.ru_utime + usage.ru_stime


def against_baseline(baseline: Path, runs: int, instructions: bool = False) -> int:
    cwd = tempfile.mkdtemp(prefix="kq-bench-")     # neutral folder: -m must not find a kqtools beside it
    # byte-code cached, as after pip install (a shell with PYTHONDONTWRITEBYTECODE=1 would measure the
    # compiler: the warm-up run writes the caches of both trees)
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("KQ_LANG", "LC_ALL", "LC_MESSAGES", "PYTHONDONTWRITEBYTECODE")}
    base_env["LANG"] = "C.UTF-8"
    kinds = {
        ("before", "en"): (baseline, []),
        ("now", "en"): (HERE, []),
        ("now", "zh"): (HERE, ["--lang", "zh"]),
    }
    if (baseline / "kqtools" / "i18n.py").exists():
        kinds[("before", "zh")] = (baseline, ["--lang", "zh"])
    results: dict = {k: [] for k in kinds}
    for (name, lang), (tree, flags) in kinds.items():        # warm the byte-code caches
        env = {**base_env, "PYTHONPATH": str(tree)}
        cpu_once([sys.executable, "-m", "kqtools", *flags, "--help"], env, cwd)
    load_before = os.getloadavg()
    for _ in range(runs):
        for key, (tree, flags) in kinds.items():
            env = {**base_env, "PYTHONPATH": str(tree)}
            results[key].append(cpu_once([sys.executable, "-m", "kqtools", *flags, "--help"], env, cwd))
    load_after = os.getloadavg()
    print(f"load average before {load_before[0]:.1f} {load_before[1]:.1f}, after {load_after[0]:.1f} "
          f"{load_after[1]:.1f}; {runs} rounds, interleaved")
    med = {}
    for key, pairs in results.items():
        walls, cpus = [p[0] for p in pairs], [p[1] for p in pairs]
        med[key] = statistics.median(cpus)
        print(f"kq --help {key[1]} ({key[0]:>6}): CPU median {med[key] * 1000:6.1f} ms (mean "
              f"{statistics.mean(cpus) * 1000:6.1f}), wall median {statistics.median(walls) * 1000:6.1f} ms")
    if instructions:
        counts = {}
        for key, (tree, flags) in kinds.items():
            env = {**base_env, "PYTHONPATH": str(tree)}
            out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                                  "-m", "kqtools", *flags, "--help"], env=env, cwd=cwd, capture_output=True,
                                 text=True).stderr
            counts[key] = int(next(line for line in out.splitlines() if "Collected" in line).split()[-1])
            print(f"kq --help {key[1]} ({key[0]:>6}): {counts[key] / 1e6:.1f} million instructions (callgrind)")
        for key in (("now", "en"), ("now", "zh")):
            print(f"instructions {key[1]} now / en before: {counts[key] / counts[('before', 'en')]:.3f}x")
    base = med[("before", "en")]
    for key in (("now", "en"), ("now", "zh")):
        # paired: each round's run against the English run of the same round (load drifts cancel)
        paired = statistics.median(now[1] / before[1] for now, before in zip(results[key], results[("before", "en")]))
        print(f"ratio {key[1]} now / en before: {med[key] / base:.3f}x of the CPU medians, {paired:.3f}x the median "
              f"of the paired rounds (target <= 1.10x)")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--baseline", type=Path, metavar="DIR",
                    help="a source tree of kqtools to compare `kq --help` (en and zh) with")
    ap.add_argument("--instructions", action="store_true",
                    help="with --baseline: also count the instructions of one run of each under valgrind's "
                         "callgrind (the same on a loaded machine)")
    args = ap.parse_args(argv)
    if args.baseline:
        return against_baseline(args.baseline.resolve(), args.runs, args.instructions)
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
