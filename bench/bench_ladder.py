"""Benchmark: ``kq ladder status --by district``, ``kq targets progress`` and ``kq watch`` at scale.

Targets (issue 17): 1,000,000 firms with 3,000,000 designations: ladder status by district and
targets progress each within 3 s, watch within 10 s. Each command runs as a real ``kq`` process
(start-up included), several times; the script prints every run's wall and CPU time (user + system
of the child) and the medians. Beside them, as a floor, the one aggregate query a person would
write by hand for the same ladder counts (in this process).

    python bench/bench_ladder.py                       # 1,000,000 firms, 3 runs each
    python bench/bench_ladder.py --firms 100000 --runs 5 --db /tmp/ladder-bench.db

First the cost of the stored spans (migration 0017): a full build, then the refresh after an import
of 1,000 designations; then the commands (spans fresh); then, in process, each service call counted
from the spans and, alternating, from the designations as before the spans (the baseline).

The database is built once (deterministic, seed 17; rows inserted directly, not through the
importer) and reused while --firms matches: enterprises in 14 districts; designations (tech SMEs
registered yearly, high-tech certificates renewed every three years, gazelles, (potential)
unicorns, innovative SMEs, 专精特新 at four levels, the cultivation pool) about 3 per firm; metrics of
2024 and 2025 for 95% of the firms; the Changzhou 2027 targets plus one per district.
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

AS_OF = "2025-06-30"
DISTRICTS = ("武进区", "新北区", "天宁区", "钟楼区", "金坛区", "溧阳市", "经开区", "高新区", "湖塘镇", "牛塘镇",
             "礼嘉镇", "洛阳镇", "雪堰镇", "前黄镇")


def _codes(n: int, seed: int):
    """n distinct valid credit codes (a bijective scramble of i as the organization body)."""
    from kqtools.uscc import ALPHABET, make_uscc

    space, mult = 31 ** 8, 387_420_489
    for i in range(n):
        x = (i * mult + seed * 7_654_321) % space
        body = []
        for _ in range(8):
            x, r = divmod(x, 31)
            body.append(ALPHABET[r])
        yield make_uscc("91", "320412", "".join(body))


def _day(rnd, year: int) -> str:
    return f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"


def _end(day: str, years: int) -> str:
    import datetime as dt

    d = dt.date.fromisoformat(day)
    return (d.replace(year=d.year + years) - dt.timedelta(days=1)).isoformat()


def designations_of(rnd, u: str) -> list[tuple]:
    out = []
    r = rnd.random()
    if r < 0.6:                                    # tech SME register, yearly
        first = rnd.randint(2019, 2025)
        for y in range(first, min(2025, first + rnd.randint(0, 5)) + 1):
            d = _day(rnd, y)
            out.append((u, "tsme", "", d, _end(d, 1)))
    if rnd.random() < 0.45:                        # high-tech certificates, renewed or not
        y = rnd.randint(2016, 2025)
        while y <= 2025:
            d = _day(rnd, y)
            out.append((u, "hte", "", d, _end(d, 3)))
            if rnd.random() < 0.3:
                break
            y += 3
    if rnd.random() < 0.04:
        for y in range(rnd.randint(2021, 2025), 2026):
            out.append((u, "gazelle", "", f"{y}-06-18", f"{y}-12-31"))
    if rnd.random() < 0.004:
        out.append((u, rnd.choice(("potential_unicorn", "potential_unicorn", "unicorn")), "", "2025-06-18",
                    "2025-12-31"))
    if rnd.random() < 0.15:
        d = _day(rnd, rnd.randint(2020, 2025))
        out.append((u, "innovative_sme", "provincial", d, _end(d, 3)))
    if rnd.random() < 0.08:
        level = rnd.choice(("national", "provincial", "provincial", "city", "city", "district"))
        d = _day(rnd, rnd.randint(2019, 2025))
        out.append((u, "zjtx", level, d, _end(d, 3)))
    if rnd.random() < 0.05:
        y = rnd.randint(2023, 2025)
        out.append((u, "pool", "", f"{y}-03-18", f"{y}-12-31"))
    return out


def build(path: str, n: int) -> None:
    from kqtools.storage import open_db, write_transaction

    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    db = open_db(path)
    rnd = random.Random(17)
    t = time.perf_counter()
    conn = db.conn
    ndes = 0
    with write_transaction(db):
        codes = sorted(_codes(n, 17))
        for start in range(0, n, 100_000):
            ents, mets, des = [], [], []
            for u in codes[start:start + 100_000]:
                ents.append((u, f"企业{u[-8:]}", rnd.choice(DISTRICTS), "above" if rnd.random() < 0.4 else "below"))
                if rnd.random() < 0.95:
                    rev, tax, energy, land = (rnd.uniform(100, 50000), rnd.uniform(0, 3000), rnd.uniform(0, 5000),
                                              round(rnd.uniform(3, 200), 1))
                    mets.append((u, 2024, land, round(rev, 1), round(tax, 1), round(energy, 1)))
                    if rnd.random() < 0.97:   # about 6% of the firms raise a flag
                        mets.append((u, 2025, land if rnd.random() < 0.98 else land + 5,
                                     round(rev * rnd.gauss(1.05, 0.12), 1), round(tax * rnd.gauss(1.05, 0.2), 1),
                                     round(energy * rnd.gauss(1.03, 0.15), 1)))
                des += designations_of(rnd, u)
            conn.executemany("INSERT INTO enterprises (uscc, name, district, size_class) VALUES (?,?,?,?)", ents)
            conn.executemany("INSERT INTO metrics (uscc, year, land_mu, revenue, tax, energy_tce) "
                             "VALUES (?,?,?,?,?,?)", mets)
            conn.executemany("INSERT OR IGNORE INTO designations (uscc, kind, level, recognized_on, expires_on) "
                             "VALUES (?,?,?,?,?)", des)
            ndes += len(des)
        conn.execute("CREATE TABLE bench_meta (firms INTEGER, designations INTEGER)")
        conn.execute("INSERT INTO bench_meta VALUES (?, ?)", (n, ndes))
    conn.close()      # no ANALYZE: kq never runs it, so the planner works without statistics here too
    print(f"built {path}: {n} firms, {ndes} designations in {time.perf_counter() - t:.1f} s", flush=True)


def meta(path: str):
    if not Path(path).exists():
        return None
    try:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT firms, designations FROM bench_meta").fetchone()
    except sqlite3.Error:
        return None


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_kq(path: str, args: list[str]) -> tuple[float, float, int]:
    env = {**os.environ, "KQ_DB": path}
    c, t = _children_cpu(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "kqtools", *args, "-f", "jsonl"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, cwd="/")
    elapsed, cpu = time.perf_counter() - t, _children_cpu() - c
    if proc.returncode not in (0, 1):
        raise SystemExit(f"kq {' '.join(args)} failed: {proc.stderr.decode()}")
    return elapsed, cpu, proc.stdout.count(b"\n")


HAND_WRITTEN = """
SELECT e.district, f.now, f.prev, count(*) FROM (
  SELECT uscc,
    max(CASE WHEN recognized_on <= :now AND expires_on >= :now THEN
        CASE kind WHEN 'tsme' THEN 1 WHEN 'hte' THEN 2 WHEN 'gazelle' THEN 3 WHEN 'potential_unicorn' THEN 4
                  WHEN 'unicorn' THEN 5 END END) AS now,
    max(CASE WHEN recognized_on <= :prev AND expires_on >= :prev THEN
        CASE kind WHEN 'tsme' THEN 1 WHEN 'hte' THEN 2 WHEN 'gazelle' THEN 3 WHEN 'potential_unicorn' THEN 4
                  WHEN 'unicorn' THEN 5 END END) AS prev
  FROM designations GROUP BY uscc
) f LEFT JOIN enterprises e ON e.uscc = f.uscc GROUP BY 1, 2, 3
"""


class Instructions:
    """SQLite virtual-machine instructions executed on a connection (counted in thousands by a
    progress handler): a measure of the work that does not depend on the machine's load."""

    def __init__(self, conn):
        self.conn, self.n = conn, 0

    def _tick(self):
        self.n += 1
        return 0

    def __enter__(self):
        self.conn.set_progress_handler(self._tick, 1000)
        return self

    def __exit__(self, *exc):
        self.conn.set_progress_handler(None, 1000)

    @property
    def millions(self) -> float:
        return self.n / 1000


def run_hand_written(path: str) -> tuple[float, float, float]:
    conn = sqlite3.connect(path)
    t, c = time.perf_counter(), time.process_time()
    with Instructions(conn) as ins:
        conn.execute(HAND_WRITTEN, {"now": AS_OF, "prev": "2024-06-30"}).fetchall()
    out = time.perf_counter() - t, time.process_time() - c, ins.millions
    conn.close()
    return out


def in_process(path: str, runs: int) -> dict[str, tuple[float, float]]:
    """Median CPU seconds and SQLite instructions (millions) of each service call, in this process:
    counted from the stored spans (migration 0017) and, alternating with it, from the designations
    as before (the spans switched off: the baseline)."""
    import datetime as dt

    from kqtools.storage import ladder_spans, open_db
    from kqtools.storage.ladder import ladder_status
    from kqtools.storage.targets import target_progress
    from kqtools.storage.watch import watch

    db = open_db(path)
    day = dt.date.fromisoformat(AS_OF)
    fresh = ladder_spans.fresh

    def baseline(call):
        def run():
            ladder_spans.fresh = lambda *a, **k: False
            try:
                return call()
            finally:
                ladder_spans.fresh = fresh
        return run

    status = lambda: ladder_status(db, day, True)           # noqa: E731
    progress = lambda: target_progress(db, day, False)      # noqa: E731
    calls = {"ladder status --by district (spans)": status,
             "ladder status --by district (designations, before)": baseline(status),
             "targets progress (spans)": progress,
             "targets progress (designations, before)": baseline(progress)}
    samples: dict[str, list] = {k: [] for k in calls}
    for _ in range(runs):
        for label, call in calls.items():
            c = time.process_time()
            with Instructions(db.conn) as ins:
                call()
            samples[label].append((time.process_time() - c, ins.millions))
    c = time.process_time()
    with Instructions(db.conn) as ins:
        watch(db, 2025)
    samples["watch"] = [(time.process_time() - c, ins.millions)]
    db.conn.close()
    return {k: (statistics.median(x for x, _ in v), statistics.median(y for _, y in v)) for k, v in samples.items()}


def spans_costs(path: str) -> None:
    """The cost of keeping the spans: a full build (after migration 0017, or when the shipped rules
    change) and the refresh after a small import (1,000 firms get a designation)."""
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM ladder_spans_state")
    conn.commit()
    wall, cpu, _ = run_kq(path, ["ladder", "status", "--as-of", AS_OF])
    print(f"spans built in full (kq ladder status right after): {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    firms = [u for (u,) in conn.execute("SELECT uscc FROM enterprises ORDER BY uscc LIMIT 1000")]
    conn.executemany("INSERT OR IGNORE INTO designations (uscc, kind, level, recognized_on, expires_on) "
                     "VALUES (?, 'gazelle', '', '2025-06-18', '2025-12-31')", [(u,) for u in firms])
    conn.commit()
    dirty = conn.execute("SELECT count(*) FROM ladder_dirty").fetchone()[0]
    wall, cpu, _ = run_kq(path, ["ladder", "status", "--as-of", AS_OF])
    print(f"{dirty} firms marked by an import, refreshed by the next kq ladder status: {wall:.2f} s wall, "
          f"{cpu:.2f} s CPU", flush=True)
    conn.execute("DELETE FROM designations WHERE kind = 'gazelle' AND recognized_on = '2025-06-18' AND uscc IN "
                 f"({', '.join('?' * len(firms))})", firms)
    conn.commit()
    conn.close()
    run_kq(path, ["ladder", "status", "--as-of", AS_OF])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db", default="/tmp/kq-ladder-bench.db")
    ap.add_argument("--skip-build-costs", action="store_true", help="Do not time the full build of the spans.")
    args = ap.parse_args(argv)
    m = meta(args.db)
    if m is None or m[0] != args.firms:
        build(args.db, args.firms)
        m = meta(args.db)
    print(f"{m[0]} firms, {m[1]} designations; load average {os.getloadavg()[0]:.2f}", flush=True)
    env = {**os.environ, "KQ_DB": args.db}
    subprocess.run([sys.executable, "-m", "kqtools", "targets", "import", "changzhou-2027", "--replace"], env=env,
                   check=True, capture_output=True, cwd="/")
    table = Path(args.db + ".targets.csv")
    table.write_text("梯次,辖市区,目标年度,目标值,基期年度\n" + "".join(
        f"高新技术企业,{d},2027,{1000 + 100 * i},2022\n" for i, d in enumerate(DISTRICTS)), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "kqtools", "targets", "import", str(table)], env=env, check=True,
                   capture_output=True, cwd="/")
    if not args.skip_build_costs:
        spans_costs(args.db)
    commands = {
        "ladder status --by district (target 3 s)": ["ladder", "status", "--as-of", AS_OF, "--by", "district"],
        "targets progress (target 3 s)": ["targets", "progress", "--as-of", AS_OF],
        "targets progress --by district": ["targets", "progress", "--as-of", AS_OF, "--by", "district"],
        "watch (target 10 s)": ["watch", "--year", "2025"],
    }
    for label, cmd in commands.items():
        walls, cpus = [], []
        for _ in range(args.runs):
            wall, cpu, rows = run_kq(args.db, cmd)
            walls.append(wall)
            cpus.append(cpu)
            print(f"  {label}: {wall:.2f} s wall, {cpu:.2f} s CPU, {rows} rows "
                  f"(load {os.getloadavg()[0]:.2f})", flush=True)
        print(f"{label}: median {statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU", flush=True)
    hw = [run_hand_written(args.db) for _ in range(args.runs)]
    print(f"hand-written tech-ladder query by district (floor, in process): median "
          f"{statistics.median(w for w, _, _ in hw):.2f} s wall, {statistics.median(c for _, c, _ in hw):.2f} s CPU, "
          f"{hw[0][2]:.0f}M SQLite instructions")
    for label, (cpu, ins) in in_process(args.db, args.runs).items():
        print(f"in process: {label}: {cpu:.2f} s CPU, {ins:.0f}M SQLite instructions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
