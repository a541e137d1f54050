"""The bundled demo set (fixtures/demo) and the synthetic generators (tools/synth.py)."""
from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

import synth
from conftest import ROOT, TOOLS
from kqtools.uscc import check_uscc, is_valid

DEMO = ROOT / "fixtures" / "demo"
MANIFEST = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _import(kq, kind, name, tmp_path):
    rejects = tmp_path / f"{kind}-rejects.csv"
    res = kq("import", kind, DEMO / name, "-f", "json", "--rejects", rejects)
    summary = json.loads(res.stdout)
    # the --rejects file holds the rejected rows whole (行号, 错误原因); line, field and reason as stored
    rows = kq("rejects", str(summary["batch"]), "-f", "jsonl").jsonl() if summary.get("batch") else []
    if rows:
        assert [int(r["行号"]) for r in csv.DictReader(rejects.open(encoding="utf-8-sig"))] == \
            sorted({r["line"] for r in rows})
    return res, summary, rows


# ---------------------------------------------------------------- demo set
def test_enterprises_csv_is_gbk_with_crlf_as_excel_writes_it(kq, tmp_path):
    raw = (DEMO / "enterprises.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("gbk")
    assert text.startswith("统一社会信用代码,企业名称,所属区域")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    res, summary, _ = _import(kq, "enterprises", "enterprises.csv", tmp_path)
    assert summary["encoding"] == "gb18030", res


def test_enterprises_rejects_exactly_the_deliberate_rows_with_their_reasons(kq, db, tmp_path):
    res, summary, rejects = _import(kq, "enterprises", "enterprises.csv", tmp_path)
    assert res.returncode == 1, res   # rows rejected: needs attention
    assert summary["read"] == 305 and summary["inserted"] == 300 and summary["rejected"] == 5
    got = [(int(r["line"]), r["field"], r["reason"]) for r in rejects]
    assert [(line, field) for line, field, _ in got] == [(e["line"], e["field"]) for e in MANIFEST["enterprises_rejects"]]
    reasons = [reason for _, _, reason in got]
    for fragment, reason in zip(["Excel turned this code into a number", "resident ID", "check character",
                                 "duplicate", "15-digit registration number"], reasons):
        assert fragment in reason
    first_line = MANIFEST["enterprises_rejects"][3]["reason_contains"]   # "line N" of the first occurrence
    assert first_line in reasons[3]
    # the dirt that normalizes: full-width, lower-case and spaced codes are stored clean
    stored = {r["uscc"]: r["name"] for r in db.query("select uscc, name from enterprises")}
    dirt = MANIFEST["dirt_that_normalizes"]
    assert {d["dirt"] for d in dirt} == {"full-width code", "lower-case code", "code with spaces"}
    for d in dirt:
        assert stored.get(d["uscc"]) == d["name"]
    assert not any(name != name.strip() for name in stored.values())


def test_other_demo_files_import_without_rejects_and_excel_dates_land_as_iso(kq, db, tmp_path):
    _import(kq, "enterprises", "enterprises.csv", tmp_path)
    for kind, name in [("designations", "designations.xlsx"), ("metrics", "metrics.xlsx"),
                       ("credit", "credit.jsonl"), ("specialists", "specialists.csv"), ("visits", "visits.jsonl")]:
        res, summary, rejects = _import(kq, kind, name, tmp_path)
        assert res.returncode == 0 and summary["rejected"] == 0, (kind, rejects[:3])
        assert summary["inserted"] == summary["read"] > 0
    dates = [r["recognized_on"] for r in db.query("select recognized_on from designations")]
    assert dates and all(ISO.match(d) for d in dates)
    star = db.execute("select uscc from enterprises where name = '苏州晶石半导体股份有限公司'").fetchone()[0]
    zjtx = {(r[0], r[1]) for r in db.execute(
        "select level, recognized_on from designations where uscc = ? and kind = 'zjtx'", [star])}
    assert zjtx == {("national", "2025-07-18"), ("provincial", "2023-12-05")}   # “小巨人” with quotation marks
    # every kind and every 专精特新 level is present
    kinds = {tuple(r) for r in db.execute("select distinct kind, level from designations")}
    assert {k for k, _ in kinds} == {"zjtx", "hte", "tsme", "tass", "gazelle", "unicorn", "potential_unicorn",
                                     "innovative_sme"}
    assert {lvl for k, lvl in kinds if k == "zjtx"} == {"national", "provincial", "city", "district"}
    # numbers typed as text with thousands separators became numbers; the odd rows are there
    assert db.execute("select count(*) from metrics where typeof(revenue) != 'real'").fetchone()[0] == 0
    assert db.execute("select count(*) from metrics where incident = 1").fetchone()[0] == 2
    assert db.execute("select count(*) from metrics where tax < 0").fetchone()[0] == 1
    assert db.execute("select count(*) from credit_records where source = 'research_misconduct' "
                      "and term_years = 'life'").fetchone()[0] == 1     # 终身 (for life)
    assert {r[0] for r in db.execute("select distinct source from credit_records")} == set(synth.CREDIT_SOURCES)
    specialist = db.execute("select districts, kinds, active from specialists where id = 'KJ002'").fetchone()
    assert json.loads(specialist[0]) == ["月亮湾", "独墅湖科教区"] and json.loads(specialist[1]) == ["hte", "tass"]
    assert db.execute("select count(*) from specialists where active = 0").fetchone()[0] == 1


def test_kq_demo_loads_all_six_files(tmp_path):
    db = tmp_path / "demo.db"
    proc = subprocess.run([sys.executable, "-m", "kqtools", "demo", "--db", str(db)], capture_output=True,
                          text=True, encoding="utf-8", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = re.findall(r"imported (\w+)\s+from (\S+).*?(\d+) rejected", proc.stdout)
    assert [(k, f) for k, f, _ in imported] == [
        ("enterprises", "enterprises.csv"), ("designations", "designations.xlsx"), ("metrics", "metrics.xlsx"),
        ("credit", "credit.jsonl"), ("specialists", "specialists.csv"), ("visits", "visits.jsonl")]
    assert [int(n) for _, _, n in imported] == [5, 0, 0, 0, 0, 0]


def test_make_demo_reproduces_the_committed_files_byte_for_byte(tmp_path):
    out = tmp_path / "demo"
    subprocess.run([sys.executable, str(TOOLS / "make_demo.py"), "--out", str(out)], check=True,
                   capture_output=True, timeout=120)
    committed = sorted(p.name for p in DEMO.iterdir() if p.is_file())
    assert sorted(p.name for p in out.iterdir()) == committed
    for name in committed:
        assert (out / name).read_bytes() == (DEMO / name).read_bytes(), name
    assert sum((DEMO / n).stat().st_size for n in committed) < 1_000_000


# ---------------------------------------------------------------- synthetic generators
@pytest.mark.parametrize("kind, n, extra", [
    ("enterprises", 3000, []), ("metrics", 3000, ["--year", "2024"]), ("designations", 3000, ["--firms", "1000"]),
    ("credit", 3000, ["--firms", "800"]), ("specialists", 40, []), ("visits", 3000, ["--firms", "500"]),
])
def test_synth_files_have_the_requested_rows_and_import_cleanly(kq, tmp_path, kind, n, extra):
    out = tmp_path / f"{kind}.csv"
    subprocess.run([sys.executable, str(TOOLS / "synth.py"), kind, str(n), str(out), "--seed", "7", *extra],
                   check=True, capture_output=True, timeout=120)
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n
    if "uscc" in rows[0]:
        assert all(is_valid(r["uscc"]) for r in rows)
    if kind == "visits":  # visits name their specialists: those come first
        staff = tmp_path / "specialists.csv"
        synth.write_specialists_csv(staff, 50, seed=7)
        assert kq("import", "specialists", staff).returncode == 0
    res = kq("import", kind, out, "-f", "json")
    summary = json.loads(res.stdout)
    assert res.returncode == 0 and summary["rejected"] == 0 and summary["inserted"] == n, res


def test_synth_enterprises_codes_are_unique_and_the_eleventh_column_lands_in_extra(kq, db, tmp_path):
    path = tmp_path / "ent.csv"
    assert synth.write_enterprises_csv(path, 5000, seed=3) == 5000
    header, *rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    assert header == synth.ENTERPRISE_COLUMNS and all(len(r) == 11 for r in rows)
    codes = [r[0] for r in rows]
    assert len(set(codes)) == 5000 and all(check_uscc(c)[1] is None for c in codes)
    assert any("(" in r[1] for r in rows) and any(r[3].startswith("D44") or r[3].startswith("D45") for r in rows)
    res = kq("import", "enterprises", path, "-f", "json")
    assert json.loads(res.stdout)["unknown_columns"] == ["registered_capital"]
    assert json.loads(db.execute("select extra from enterprises limit 1").fetchone()[0]).keys() == {"registered_capital"}


def test_synth_is_deterministic_and_seeds_differ(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    synth.write_enterprises_csv(a, 500, seed=1)
    synth.write_enterprises_csv(b, 500, seed=1)
    synth.write_enterprises_csv(c, 500, seed=2)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    # the same firm i has the same code in every generator of one seed
    m = tmp_path / "m.csv"
    synth.write_metrics_csv(m, 500, 2025, seed=1)
    metrics = list(csv.DictReader(m.open(encoding="utf-8")))
    assert [r["uscc"] for r in metrics] == [r["uscc"] for r in csv.DictReader(a.open(encoding="utf-8"))]


def test_synth_names_are_variants_of_listed_names():
    listed = list(synth.iter_company_names(2000, seed=5))
    names = list(synth.iter_names(2000, seed=5))
    assert len(names) == 2000
    exact = sum(a == b for a, b in zip(names, listed))
    assert 0.3 * 2000 < exact < 0.5 * 2000
    assert any("(" in n and "(" not in l for n, l in zip(names, listed))     # region moved into brackets
    assert any(n != l and len(n) == len(l) and sum(x != y for x, y in zip(n, l)) == 1
               for n, l in zip(names, listed))                                 # one character mistyped


@settings(max_examples=300, deadline=None)
@given(i=st.integers(0, synth._SPACE - 1), j=st.integers(0, synth._SPACE - 1), seed=st.integers(0, 10_000))
def test_synth_codes_are_valid_and_distinct_for_distinct_firms(i, j, seed):
    a, b = synth.uscc_at(i, seed), synth.uscc_at(j, seed)
    assert is_valid(a) and is_valid(b)
    assert (a == b) == (i == j)


def test_fast_code_stream_equals_make_uscc():
    assert list(synth.iter_usccs(3000, seed=11)) == [synth.uscc_at(i, 11) for i in range(3000)]
