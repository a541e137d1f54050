"""Benchmark: `kq jobs run-due` with 100 jobs and nothing due (cron calls it every few minutes).

Target: under 0.3 s wall. Side by side, several runs each, medians:

* ``python -c pass``            the interpreter's own start-up (the floor);
* ``kq --help``                 the CLI's start-up (click + the lazy command table);
* ``kq jobs run-due``           100 spec files, nothing due: the fast path (digest of the spec
                                files + one read-only query of the job_state cache);
* ``kq jobs run-due --full``    the same answer without the shortcut: parse and validate 100 specs,
                                build 100 APScheduler triggers, check each job in the database
                                (what a straightforward implementation costs);
* ``kq jobs run-due`` (1 due)   one of the 100 jobs due: claim, run, outbox.

Usage: python bench/bench_jobs.py [--runs 15] [--jobs 100]
Data are generated into a temporary directory (100 deterministic spec files, one database).
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

SHIPPED = ("visit-reminders", "expiry-reminders", "policy-briefing", "december-meeting", "lists-rebuild", "score-run")
CRONS = ["{m} {h} * * *", "{m} {h} * * mon", "{m} {h} 1 * *", "{m} {h} * * 1-5", "{m} {h} 15 */3 *"]


def make_jobs(folder: Path, n: int) -> None:
    """``n`` jobs in total: the shipped ones plus ``n - 6`` meeting reminders with varied cron triggers."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n - len(SHIPPED)):
        cron = CRONS[i % len(CRONS)].format(m=(7 * i) % 60, h=8 + i % 10)
        (folder / f"job-{i:03d}.toml").write_text(
            f'id = "job-{i:03d}"\ndescription = "例会提醒 {i}"\naction = "meeting-reminder"\n'
            f'trigger = {{ cron = "{cron}", timezone = "Asia/Shanghai" }}\nmisfire_grace = "1h"\n'
            f'recipients = ["office{i}@kjj.example.gov.cn"]\nchannels = ["email"]\n'
            f'params = {{ subject = "第 {i} 号例会 {{date}}" }}\n', encoding="utf-8")


def timed(cmd, env, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True)
        times.append(time.perf_counter() - t)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(map(str, cmd))} failed: {proc.stderr.decode()[-500:]}")
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--no-bytecode-cache", action="store_true", help="keep PYTHONDONTWRITEBYTECODE=1")
    args = ap.parse_args()
    kq = [sys.executable, "-m", "kqtools"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        jobs = tmp / "jobs"
        make_jobs(jobs, args.jobs)
        env = {**os.environ, "KQ_DB": str(tmp / "kq.db"), "KQ_JOBS_DIR": str(jobs)}
        env.pop("KQ_SMTP_URL", None)
        env.pop("KQ_WEBHOOK_URL", None)
        # as installed by pip: byte-code cached (with PYTHONDONTWRITEBYTECODE=1 every kqtools module would be
        # compiled from source on every call, ~25 ms for the reminders module alone)
        if env.pop("PYTHONDONTWRITEBYTECODE", None) and not args.no_bytecode_cache:
            print("note: PYTHONDONTWRITEBYTECODE was set; byte-code caching enabled for the benchmark "
                  "(--no-bytecode-cache to keep it off)")
        if args.no_bytecode_cache:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        subprocess.run(kq + ["--help"], env=env, capture_output=True)          # warm-up: write the .pyc files
        # a quiet Sunday night: the first run records the state; afterwards nothing is due for a while
        base = "2026-01-04T23:{:02d}+08:00"
        first = subprocess.run(kq + ["jobs", "run-due", "--now", base.format(0)], env=env, capture_output=True)
        assert first.returncode in (0, 1), first.stderr.decode()
        count = subprocess.run(kq + ["jobs", "list"], env=env, capture_output=True, text=True).stdout.count("\n")
        print(f"{count} jobs in the spec files; {args.runs} runs each (median, min)\n")

        results = {}
        results["python -c pass"] = timed([sys.executable, "-c", "pass"], env, args.runs)
        results["kq --help"] = timed(kq + ["--help"], env, args.runs)
        results["kq jobs run-due (nothing due)"] = timed(kq + ["jobs", "run-due", "--now", base.format(1)], env,
                                                         args.runs)
        results["kq jobs run-due --full (nothing due)"] = timed(
            kq + ["jobs", "run-due", "--full", "--now", base.format(2)], env, args.runs)
        # one job due each time: a fresh minute with a fresh one-off job
        due_times = []
        for i in range(args.runs):
            (jobs / "zz-once.toml").write_text(
                f'id = "zz-once"\naction = "meeting-reminder"\ntrigger = {{ at = "2026-01-05T00:{i + 10:02d}" }}\n'
                f'recipients = ["x@kjj.example.gov.cn"]\nparams = {{ subject = "once {i}" }}\n', encoding="utf-8")
            due_times += timed(kq + ["jobs", "run-due", "--now", f"2026-01-05T00:{i + 10:02d}+08:00"], env, 1)
        results["kq jobs run-due (one job due)"] = due_times

        width = max(map(len, results))
        floor = statistics.median(results["kq --help"])
        for name, times in results.items():
            med = statistics.median(times)
            print(f"{name:<{width}}  median {med * 1000:7.1f} ms  min {min(times) * 1000:7.1f} ms  "
                  f"x{med / floor:5.2f} of kq --help")
        fast = statistics.median(results["kq jobs run-due (nothing due)"])
        full = statistics.median(results["kq jobs run-due --full (nothing due)"])
        print(f"\nfast path vs --full: {full / fast:.2f}x faster; target < 300 ms: "
              f"{'met' if fast < 0.3 else 'NOT met'} ({fast * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
