"""Benchmark: `kq lists build` over 1,000,000 firms / 3,000,000 credit records, and screening
100,000 code-less names against a 100,000-entry list.

    /work/venv/bin/python bench/bench_lists.py                 # full size (about 5 minutes to load)
    /work/venv/bin/python bench/bench_lists.py --firms 100000 --records 300000 --screen 20000

Data come from tools/synth.py (deterministic) when it exists, else from a small generator below.
Loading uses plain executemany (not what is measured). Measured, median of --runs runs:

- build: kqtools.storage.lists.build_lists (both lists with reasons, since/until, a new version,
  changes against the previous version), and beside it a hand-written SQL baseline that only
  computes the two code sets (no reasons, no windows beyond SQL date arithmetic, nothing stored);
- screen: kqtools.screening.screen (cleaning both sides, blocking, rapidfuzz process.extract with
  score_cutoff), and beside it the unblocked all-pairs rapidfuzz extractOne on a sample of queries,
  extrapolated to all of them.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))  # synth

AS_OF = dt.date(2026, 6, 30)


def have_synth() -> bool:
    try:
        import synth  # noqa: F401
        return True
    except ImportError:
        return False


# ---------------------------------------------------------------- fallback generator
def _fallback_codes(n, seed=1):
    from kqtools.uscc import ALPHABET, make_uscc

    for i in range(n):
        x = (i * 387_420_489 + seed) % 31 ** 8
        body = ""
        for _ in range(8):
            x, r = divmod(x, 31)
            body += ALPHABET[r]
        yield make_uscc("91", "320594", body)


def _fallback_names(n, seed=1):
    rng = random.Random(seed)
    chars = "科达华美中创新源博远恒泰瑞丰鑫盛汇通宏图天成金星海川永信佳和德安正益明辉晨光凯越嘉禾东方卓越精工合力"
    words = ("科技", "智能", "电子", "新材料", "生物医药", "精密机械")
    for _ in range(n):
        yield "苏州" + "".join(rng.choice(chars) for _ in range(rng.choice((2, 3, 4)))) + rng.choice(words) + "有限公司"


def data_sources(firms, records, designations, seed=1, mix="realistic"):
    if have_synth():
        import synth

        return (zip(synth.iter_usccs(firms, seed), synth.iter_company_names(firms, seed)),
                synth.iter_credit_rows(firms, records, seed, mix),
                synth.iter_designation_rows(designations, firms, seed))
    rng = random.Random(seed)
    codes = list(_fallback_codes(firms, seed))

    def credit():
        sources = ("dishonest_debtor", "abnormal_operation", "serious_violation", "admin_penalty",
                   "research_misconduct", "commendation")
        for j in range(records):
            firm, rnd_no = j % firms, j // firms
            if rng.random() < 0.7:
                yield [codes[firm], None, "tax_rating", rng.choice("AAAABBMCD"), 2025 - rnd_no, "", "", "", "", "", ""]
            else:
                s = rng.choice(sources)
                start = dt.date(2018, 1, 1) + dt.timedelta(days=rng.randrange(3000))
                yield [codes[firm], None, s, "", "", start.isoformat(), "", rng.choice(("general", "serious")),
                       "3" if s == "research_misconduct" else "", f"REF{j}", ""]

    def desig():
        for j in range(designations):
            start = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(2500))
            yield [codes[j % firms], ("hte", "zjtx", "tsme")[j % 3], "provincial" if j % 3 == 1 else "",
                   start.isoformat(), "", f"GR{j}", ""]

    return zip(codes, _fallback_names(firms, seed)), credit(), desig()


def load(db, firms, records, designations, mix="realistic"):
    from kqtools.kinds import credit_defaults, designation_defaults, get_kind

    t = time.perf_counter()
    ents, credit, desig = data_sources(firms, records, designations, mix=mix)
    conn = db.conn
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO enterprises (uscc, name) VALUES (?, ?)", ents)
    schema = get_kind("designations").schema

    def drows():
        for uscc, kind, level, recognized, expires, cert, batch in desig:
            rec = {"kind": kind, "level": level, "recognized_on": recognized, "expires_on": expires or None}
            designation_defaults(rec, schema)
            yield uscc, kind, rec["level"], recognized, rec["expires_on"], cert

    conn.executemany("INSERT OR IGNORE INTO designations (uscc, kind, level, recognized_on, expires_on, certificate_no)"
                     " VALUES (?,?,?,?,?,?)", drows())

    def crows():
        for uscc, name, source, grade, year, started, ended, severity, term, ref, note in credit:
            rec = {"source": source, "year": year or None, "started_on": started or None, "reference": ref or None}
            credit_defaults(rec, {})
            t_years = ("life" if term == "life" else float(term)) if term else None
            yield (uscc, source, rec["record_key"], name, grade or None, year or None, started or None, ended or None,
                   severity or None, t_years, ref or None, note or None)

    conn.executemany("INSERT OR IGNORE INTO credit_records (uscc, source, record_key, name, grade, year, started_on,"
                     " ended_on, severity, term_years, reference, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", crows())
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    n_c = conn.execute("SELECT count(*) FROM credit_records").fetchone()[0]
    n_d = conn.execute("SELECT count(*) FROM designations").fetchone()[0]
    print(f"loaded {firms:,} firms, {n_c:,} credit records, {n_d:,} designations in {time.perf_counter() - t:.1f} s "
          f"({'tools/synth.py, ' + mix + ' mix' if have_synth() else 'fallback generator'})")


BASELINE_SQL = """
WITH live AS (SELECT * FROM credit_records WHERE repaired_on IS NULL OR repaired_on > :as_of),
black AS (
  SELECT uscc FROM live WHERE source = 'dishonest_debtor' AND started_on <= :as_of
         AND (ended_on IS NULL OR ended_on > :as_of)
  UNION SELECT uscc FROM live WHERE source = 'serious_violation' AND started_on <= :as_of
         AND started_on > date(:as_of, '-3 years') AND (ended_on IS NULL OR ended_on > :as_of)
  UNION SELECT uscc FROM live WHERE source = 'admin_penalty' AND severity = 'serious'
         AND started_on <= :as_of AND started_on > date(:as_of, '-3 years')
         AND (ended_on IS NULL OR ended_on > :as_of OR started_on > date(:as_of, '-1 years'))
  UNION SELECT uscc FROM live WHERE source = 'research_misconduct' AND started_on <= :as_of
         AND (term_years = 'life' OR term_years = 0 OR date(started_on, '+' || CAST(term_years * 12 AS INTEGER) || ' months') > :as_of)
  UNION SELECT uscc FROM live WHERE source = 'tax_rating' AND grade = 'D' AND year <= :latest
         AND date((year + 1) || '-04-01', CASE WHEN direct = 0 THEN '+1 years' ELSE '+2 years' END) > :as_of
),
blocked AS (
  SELECT uscc FROM live WHERE source IN ('dishonest_debtor', 'serious_violation', 'research_misconduct')
         AND started_on <= :as_of AND started_on > date(:as_of, '-2 years')
  UNION SELECT uscc FROM live WHERE source = 'admin_penalty' AND severity IN ('general', 'serious')
         AND started_on <= :as_of AND started_on > date(:as_of, '-2 years')
  UNION SELECT uscc FROM live WHERE source = 'abnormal_operation' AND started_on <= :as_of
         AND (ended_on IS NULL OR ended_on > :as_of)
),
white AS (
  SELECT DISTINCT d.uscc FROM designations d
  WHERE d.kind IN ('hte', 'zjtx', 'tsme') AND d.recognized_on <= :as_of AND (d.expires_on IS NULL OR d.expires_on >= :as_of)
    AND (SELECT count(DISTINCT c.year) FROM credit_records c WHERE c.uscc = d.uscc AND c.source = 'tax_rating'
         AND c.year IN (:latest, :latest - 1) AND c.grade = 'A') = 2
    AND d.uscc NOT IN (SELECT uscc FROM black) AND d.uscc NOT IN (SELECT uscc FROM blocked)
)
SELECT 'blacklist', count(*) FROM black UNION ALL SELECT 'whitelist', count(*) FROM white
"""


def timed(fn, runs):
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, result


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "n/a"


def bench_build(db, runs, as_of=AS_OF):
    """build_lists and the SQL baseline, alternated run by run so both see the same machine load.
    Wall time (perf_counter) and this process's CPU time (process_time) are both reported."""
    from kqtools.storage.lists import build_lists

    latest = as_of.year - 1 if as_of >= dt.date(as_of.year, 4, 1) else as_of.year - 2
    params = {"as_of": as_of.isoformat(), "latest": latest}
    times, cpus, btimes, result, counts = [], [], [], None, None
    for i in range(runs):
        load_before = loadavg()
        t, c = time.perf_counter(), time.process_time()
        result = build_lists(db, as_of)
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        t = time.perf_counter()
        counts = dict(db.conn.execute(BASELINE_SQL, params).fetchall())
        btimes.append(time.perf_counter() - t)
        print(f"  run {i + 1}: build_lists {times[-1]:.2f} s (CPU {cpus[-1]:.2f} s), SQL baseline {btimes[-1]:.2f} s, "
              f"ratio {times[-1] / btimes[-1]:.2f}; loadavg before {load_before}, after {loadavg()}", flush=True)
    med, bmed = statistics.median(times), statistics.median(btimes)
    print(f"build_lists as of {as_of}: median {med:.2f} s over {runs} runs {[round(x, 2) for x in times]}, "
          f"CPU median {statistics.median(cpus):.2f} s; whitelist {result['whitelist']:,}, "
          f"blacklist {result['blacklist']:,}")
    print(f"SQL baseline (code sets only): median {bmed:.2f} s {[round(x, 2) for x in btimes]}; "
          f"whitelist {counts.get('whitelist'):,}, blacklist {counts.get('blacklist'):,}")
    same = (result["whitelist"], result["blacklist"]) == (counts.get("whitelist"), counts.get("blacklist"))
    print(f"ratio kqtools / baseline: {med / bmed:.2f} (medians); counts {'identical' if same else 'DIFFER'}")
    return med, bmed, result, counts


def bench_screen(n, runs, sample):
    from rapidfuzz import fuzz, process

    from kqtools import names as N
    from kqtools.screening import Row, Settings, screen

    if have_synth():
        import synth

        list_names = list(synth.iter_company_names(n))
        codes = list(synth.iter_usccs(n))
        queries = list(synth.iter_names(n))
    else:
        list_names = list(_fallback_names(n, 1))
        codes = list(_fallback_codes(n, 1))
        rng = random.Random(2)
        queries = [nm if rng.random() < 0.5 else nm.replace("有限公司", "股份有限公司") for nm in _fallback_names(n, 1)]
    entries = [{"uscc": c, "name": nm, "reasons": []} for c, nm in zip(codes, list_names)]
    rows = [Row(i + 2, "", q) for i, q in enumerate(queries)]
    med, times, hits = timed(lambda: screen(rows, entries, Settings()), runs)
    rows_hit = len({h["line"] for h in hits})
    print(f"screen {n:,} code-less rows vs {n:,} entries: median {med:.2f} s {[round(x, 2) for x in times]}; "
          f"{len(hits):,} hits on {rows_hit:,} rows")
    # baseline: every query against every list name (no blocking), extrapolated from a sample
    cleaned = [N.clean_name(x).name for x in list_names]
    qs = [N.clean_name(x).name for x in queries[:sample]]
    t = time.perf_counter()
    for q in qs:
        process.extractOne(q, cleaned, scorer=fuzz.ratio, processor=None, score_cutoff=90)
    per = (time.perf_counter() - t) / len(qs)
    base = per * n
    print(f"all-pairs rapidfuzz extractOne (no blocking), {sample} queries timed: {per * 1000:.1f} ms/query, "
          f"{base:.0f} s extrapolated to {n:,}; ratio blocked / all-pairs: {med / base:.3f}")
    plain = None
    t = time.perf_counter()
    for q in qs[:20]:
        for c in cleaned:
            fuzz.ratio(q, c)
    plain = (time.perf_counter() - t) / 20 * n
    print(f"plain Python loop over all pairs (fuzz.ratio per pair), 20 queries timed: {plain / 3600:.1f} h extrapolated")
    return med, base


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--firms", type=int, default=1_000_000)
    ap.add_argument("--records", type=int, default=3_000_000)
    ap.add_argument("--designations", type=int, default=300_000)
    ap.add_argument("--screen", type=int, default=100_000, help="rows and list entries for the screening run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sample", type=int, default=200, help="queries timed for the all-pairs baseline")
    ap.add_argument("--mix", choices=("realistic", "stress"), default="realistic",
                    help="synthetic credit mix: realistic (default: ~2%% blacklisted) or stress (~31%%)")
    ap.add_argument("--db", help="reuse this database file (loaded if empty; keep one file per --mix)")
    ap.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF,
                    help="build the lists as of this date (default 2026-06-30; an earlier one = the scoring veto)")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--skip-screen", action="store_true")
    args = ap.parse_args(argv)

    from kqtools.storage import open_db

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    if not args.skip_build:
        path = args.db or os.path.join(tempfile.mkdtemp(prefix="kq-bench-lists-"), "bench.db")
        db = open_db(path)
        if db.conn.execute("SELECT count(*) FROM enterprises").fetchone()[0] == 0:
            load(db, args.firms, args.records, args.designations, args.mix)
        bench_build(db, args.runs, args.as_of)
        if not args.db:
            db.conn.close()
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
    if not args.skip_screen:
        bench_screen(args.screen, args.runs, args.sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
