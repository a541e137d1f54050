"""Benchmark: firm requests at 100,000 requests with 500,000 timeline entries (issue 16).

Targets (this machine): ``kq requests list --overdue`` and ``kq requests stats --year`` each within
1 s; a single step (``route``, ``answer``) no slower than ``kq jobs run-due`` with nothing due,
measured side by side in the same run. Each command is a fresh process (as a clerk or cron runs
it); wall time and CPU time (user + system of the child) per run, medians reported.

The data are generated straight into a migrated database (not through the services, which would
take minutes): 20,000 firms, 100 specialists, 100,000 requests received 2024-01-01..2026-11-30 in
the statuses a real ledger has (most closed, a tail open and some overdue), numbered in the order
they arrive (as intake numbers them), due dates in working days on the same calendar kq uses, and 5
timeline entries a request on average (500,000).
``run-due`` runs against its own small database, twice before measuring, so that nothing is due.

Usage: python bench/bench_requests.py [--runs 7] [--requests 100000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = "2026-12-01"
CATEGORIES = ["融资", "人才", "用地用房", "政策兑现", "知识产权", "审批", "市场", "其他", "贷款", "专利"]
LEADS = {"融资": "区金融监管局", "贷款": "区金融监管局", "人才": "区委人才办", "用地用房": "区自然资源和规划局",
         "政策兑现": "区科技局", "知识产权": "区市场监管局", "专利": "区市场监管局", "审批": "区行政审批局",
         "市场": "区商务局", "其他": "区科技局"}
LIMITS = {"normal": 10, "urgent": 3, "major": 20}


def generate(path: Path, n: int, seed: int = 16) -> dict:
    """Write the data set; returns the ids kept aside for the step benchmarks."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from kqtools.storage import open_db
    from kqtools.storage.request_rules import _library
    from kqtools.uscc import make_uscc
    from kqtools.workdays import WorkCalendar

    rng = random.Random(seed)
    holidays, workdays, years, _ = _library()
    cal = WorkCalendar(holidays, workdays, years)
    first, last = dt.date(2024, 1, 1), dt.date(2026, 11, 30)
    index = cal.index(first, dt.date(2026, 12, 31))
    by_count = {}
    day = first
    while day <= dt.date(2026, 12, 31):
        by_count.setdefault(index.upto(day), day)
        day += dt.timedelta(days=1)

    def add(start: dt.date, k: int) -> dt.date:       # the k-th working day after start, by the running counts
        return by_count[index.upto(start) + k]

    db = open_db(str(path))
    conn = db.conn
    firms = [make_uscc("91", "320412", f"B{i:07d}") for i in range(20_000)]
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO enterprises (uscc, name, district) VALUES (?, ?, ?)",
                     [(u, f"常州测试企业{i}有限公司", f"街道{i % 12}") for i, u in enumerate(firms)])
    conn.executemany("INSERT INTO specialists (id, name, email, active) VALUES (?, ?, ?, 1)",
                     [(f"WJ{i:03d}", f"专员{i}", f"wj{i:03d}@kq.test") for i in range(100)])
    conn.executemany("INSERT INTO assignments (uscc, specialist_id, assigned_on) VALUES (?, ?, '2024-01-01')",
                     [(u, f"WJ{i % 100:03d}") for i, u in enumerate(firms)])
    span = (last - first).days
    requests, events = [], []
    # ids in the order requests arrive, as intake gives them (a ledger grows with time)
    arrivals = sorted(first + dt.timedelta(days=rng.randrange(span + 1)) for _ in range(n))
    for rid, received in enumerate(arrivals, 1):
        priority = rng.choices(["normal", "urgent", "major"], [80, 15, 5])[0]
        category = rng.choice(CATEGORIES)
        age = (last - received).days
        status = rng.choices(["closed", "revisited", "answered", "in_progress", "routed", "received"],
                             [85, 4, 3, 4, 3, 1] if age > 60 else [25, 10, 15, 20, 25, 5])[0]
        r = {"id": rid, "uscc": firms[rng.randrange(len(firms))], "category": category, "received_on": received,
             "priority": priority, "status": status, "department": None, "due_on": None, "answered": None,
             "closed": None, "satisfaction": None, "late": None, "reopened": 0}
        evs = [("received", received.isoformat(), "received")]
        if status != "received":
            due = add(received, LIMITS[priority])
            r["department"], r["due_on"] = LEADS[category], due
            evs.append(("routed", received.isoformat(), "routed"))
            t = received
            for _ in range(rng.choice([0, 0, 1]) + (status == "in_progress") if status != "routed" else 0):
                t = min(t + dt.timedelta(days=rng.randrange(1, 4)), last)
                evs.append(("progress", t.isoformat(), "in_progress"))
            if status in ("answered", "revisited", "closed"):
                t = min(t + dt.timedelta(days=rng.randrange(0, 12)), last)
                r["answered"], r["late"] = t, int(t > due)
                evs.append(("answered", t.isoformat(), "answered"))
            if status in ("revisited", "closed"):
                t = min(t + dt.timedelta(days=rng.randrange(1, 6)), last)
                r["satisfaction"] = rng.choices(["satisfied", "basically_satisfied"], [80, 20])[0]
                evs.append(("revisited", t.isoformat(), "revisited"))
            if status == "closed":
                r["closed"] = t
                evs.append(("closed", t.isoformat(), "closed"))
        requests.append(r)
        events += [(rid, *e) for e in evs]
    # top up to five entries a request on average with progress notes of long-closed requests
    closed = [r for r in requests if r["status"] == "closed"]
    while len(events) < 5 * n:
        r = closed[rng.randrange(len(closed))]
        events.append((r["id"], "progress", r["received_on"].isoformat(), "in_progress"))
    iso = (lambda d: d.isoformat() if d else None)
    conn.executemany(
        "INSERT INTO requests (id, external_id, uscc, name, category, summary, received_on, channel, priority, status, "
        "department, due_on, level, satisfaction, first_answered_on, first_answer_late, answered_on, closed_on) "
        "VALUES (?,?,?,NULL,?,?,?,'hotline',?,?,?,?,?,?,?,?,?,?)",
        [(r["id"], f"12345-{r['id']:07d}", r["uscc"], r["category"], f"诉求 {r['id']}", iso(r["received_on"]),
          r["priority"], r["status"], r["department"], iso(r["due_on"]),
          None if r["status"] == "received" else (2 if r["priority"] == "major" else 1), r["satisfaction"],
          iso(r["answered"]), r["late"], iso(r["answered"]), iso(r["closed"])) for r in requests])
    conn.executemany("INSERT INTO request_events (request_id, step, at, by, note, status_after, recorded_at) "
                     "VALUES (?, ?, ?, 'bench', NULL, ?, '2026-12-01T00:00:00Z')", sorted(events))
    # requests kept aside for the steps: received ones to route, routed ones to answer (received recently)
    aside = {"route": [], "answer": []}
    for i in range(40):
        received = dt.date(2026, 11, 20)
        rid = n + 1 + i
        routed = i >= 20
        conn.execute("INSERT INTO requests (id, uscc, category, summary, received_on, priority, status, department, "
                     "due_on) VALUES (?, ?, '融资', 'bench step', ?, 'normal', ?, ?, ?)",
                     (rid, firms[i], received.isoformat(), "routed" if routed else "received",
                      "区金融监管局" if routed else None, add(received, 10).isoformat() if routed else None))
        conn.execute("INSERT INTO request_events (request_id, step, at, status_after, recorded_at) "
                     "VALUES (?, 'received', ?, 'received', '2026-12-01T00:00:00Z')", (rid, received.isoformat()))
        aside["answer" if routed else "route"].append(rid)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    counts = {"requests": conn.execute("SELECT count(*) FROM requests").fetchone()[0],
              "events": conn.execute("SELECT count(*) FROM request_events").fetchone()[0],
              "overdue": conn.execute("SELECT count(*) FROM requests WHERE status IN ('routed', 'in_progress') "
                                      "AND due_on < ?", (AS_OF,)).fetchone()[0],
              "received_2026": conn.execute("SELECT count(*) FROM requests WHERE received_on >= '2026-01-01'"
                                            ).fetchone()[0]}
    conn.close()
    return {"aside": aside, "counts": counts}


def timed(cmd, env) -> tuple[float, float, bytes]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(map(str, cmd))} failed: {proc.stderr.decode()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stdout


def report(name: str, samples: list[tuple[float, float]], extra: str = "") -> dict:
    wall = statistics.median(s[0] for s in samples)
    cpu = statistics.median(s[1] for s in samples)
    print(f"{name:<46} wall {wall:6.3f} s   cpu {cpu:6.3f} s   "
          f"(runs {', '.join(f'{s[0]:.3f}' for s in samples)}){extra}", flush=True)
    return {"wall": wall, "cpu": cpu}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    args = ap.parse_args()
    runs = min(args.runs, 20)
    kq = [sys.executable, "-m", "kqtools"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "requests.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        t = time.perf_counter()
        made = generate(db, args.requests)
        print(f"generated {json.dumps(made['counts'])} in {time.perf_counter() - t:.1f} s; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        env = {**os.environ, "KQ_DB": str(db), "PYTHONIOENCODING": "utf-8"}
        for var in ("KQ_SMTP_URL", "KQ_WEBHOOK_URL", "PYTHONDONTWRITEBYTECODE"):
            env.pop(var, None)
        jobs_env = {**env, "KQ_DB": str(folder / "jobs.db")}
        subprocess.run(kq + ["--help"], env=env, capture_output=True)           # warm-up: byte-code written
        for _ in range(2):                                                       # afterwards nothing is due
            subprocess.run(kq + ["jobs", "run-due", "--no-deliver"], env=jobs_env, capture_output=True)
        subprocess.run(kq + ["requests", "list", "--status", "closed", "--category", "其他"], env=env,
                       capture_output=True)                                      # rule text validated once
        results = {}
        lines = None
        samples = []
        for _ in range(runs):
            wall, cpu, out = timed(kq + ["requests", "list", "--overdue", "--as-of", AS_OF], env)
            samples.append((wall, cpu))
            lines = out.count(b"\n")
        results["list"] = report("kq requests list --overdue (JSONL to a pipe)", samples, f"  {lines} rows")
        samples = [timed(kq + ["requests", "stats", "--year", "2026", "--as-of", AS_OF], env)[:2] for _ in range(runs)]
        results["stats"] = report("kq requests stats --year 2026", samples)
        samples = [timed(kq + ["requests", "stats", "--year", "2026", "--by", "category", "--as-of", AS_OF], env)[:2]
                   for _ in range(runs)]
        results["stats_by"] = report("kq requests stats --year 2026 --by category", samples)
        # steps and run-due interleaved, so that both see the same machine
        step_route, step_answer, run_due = [], [], []
        for i in range(min(runs, 20)):
            run_due.append(timed(kq + ["jobs", "run-due", "--no-deliver"], jobs_env)[:2])
            step_route.append(timed(kq + ["requests", "route", str(made["aside"]["route"][i]), "--on", "2026-11-20"],
                                    env)[:2])
            step_answer.append(timed(kq + ["requests", "answer", str(made["aside"]["answer"][i]), "--note", "已答复",
                                           "--on", "2026-11-30"], env)[:2])
        results["run_due"] = report("kq jobs run-due (nothing due)", run_due)
        results["route"] = report("kq requests route ID", step_route)
        results["answer"] = report("kq requests answer ID", step_answer)
        for name in ("route", "answer"):
            print(f"{name} / run-due: wall {results[name]['wall'] / results['run_due']['wall']:.2f}x, "
                  f"cpu {results[name]['cpu'] / results['run_due']['cpu']:.2f}x")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
