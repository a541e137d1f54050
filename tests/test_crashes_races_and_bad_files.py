"""Crash safety, racing processes and bad files: a killed import or first assignment leaves the
database as it was; concurrent imports and a reader; a corpus of bad files gives one-line errors or
row rejects.

Real subprocesses, files on disk. Nothing here is timed; the sizes only make the windows wide enough.
"""
from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import run_kq
from kqtools.uscc import ALPHABET, make_uscc

A, B = "91110108551385082Q", "91310000631696382C"


def codes(n: int, seed: int):
    rnd = random.Random(seed)
    seen = set()
    while len(seen) < n:
        org = "".join(rnd.choice(ALPHABET) for _ in range(8))
        code = make_uscc("91", f"3205{rnd.randrange(100):02d}", org)
        if code not in seen:
            seen.add(code)
            yield code


def write_firms(path: Path, n: int, seed: int = 1, bad_every: int = 0) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("统一社会信用代码,企业名称,所属区域,企业规模,成立日期,注册地址,联系电话\n")
        for i, code in enumerate(codes(n, seed)):
            if bad_every and i % bad_every == 0:
                code = code[:-1] + ("0" if code[-1] != "0" else "1")
            fh.write(f"{code},苏州第{seed}-{i}号科技有限公司,高新区,{'规上' if i % 3 else '规下'},"
                     f"2010/{i % 12 + 1}/{i % 28 + 1},工业园区星湖街{i}号,0512-6{i:07d}\n")
    return path


def dump_hash(db_path: Path) -> str:
    """A digest of every table's content (the schema and all rows, in a stable order)."""
    conn = sqlite3.connect(db_path)
    try:
        h = hashlib.sha256()
        for line in conn.iterdump():
            h.update(line.encode())
        return h.hexdigest()
    finally:
        conn.close()


def kq_env(db_path):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "KQ_DB": str(db_path)}
    return env


# ------------------------------------------------------------------ SIGKILL
@pytest.mark.slow
@pytest.mark.parametrize("phase", ["reading", "writing"])
def test_sigkill_mid_import_leaves_db_as_before(tmp_path, phase):
    db_path = tmp_path / "kq.db"
    small = write_firms(tmp_path / "small.csv", 50, seed=7)
    assert run_kq("import", "enterprises", small, db=db_path).returncode == 0
    before = dump_hash(db_path)
    big = write_firms(tmp_path / "big.csv", 150_000, seed=8)
    proc = subprocess.Popen([sys.executable, "-m", "kqtools", "import", "enterprises", str(big)],
                            env=kq_env(db_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wal = Path(str(db_path) + "-wal")
    wal_start = wal.stat().st_size if wal.exists() else 0
    deadline = time.time() + 120
    killed = False
    while time.time() < deadline and proc.poll() is None:
        if phase == "reading" and time.time() > deadline - 118.5:
            proc.send_signal(signal.SIGKILL)  # about 1.5 s in: still converting and staging rows
            killed = True
            break
        if phase == "writing" and wal.exists() and wal.stat().st_size > wal_start + 2_000_000:
            proc.send_signal(signal.SIGKILL)  # the big upsert transaction is writing into the WAL
            killed = True
            break
        time.sleep(0.01)
    proc.wait()
    if not killed:
        pytest.skip("the import finished before it could be killed")
    assert proc.returncode == -signal.SIGKILL
    assert dump_hash(db_path) == before
    # a re-run completes
    r = run_kq("import", "enterprises", big, "-f", "json", db=db_path)
    assert r.returncode == 0, r
    assert r.json()["inserted"] == 150_000
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM enterprises").fetchone()[0] == 150_050
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def many_firms_to_assign(db_path: Path, n: int) -> None:
    """``n`` designated firms in three districts and ten specialists, written by SQLite itself."""
    from kqtools.storage import open_db

    db = open_db(str(db_path))
    c = db.conn
    c.execute("BEGIN")
    c.execute("INSERT INTO batches (id, kind, source, sha256, format, read, inserted, updated, unchanged, rejected, "
              "started_at, finished_at) VALUES (1, 'enterprises', 'test', '', 'csv', 0,0,0,0,0, '', '')")
    firms = "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < ?) "
    c.execute(firms + "INSERT INTO enterprises (uscc, name, district, batch_id) SELECT printf('91320412MA%07dX', n), "
              "'企业' || n, CASE n % 3 WHEN 0 THEN '湖塘镇' WHEN 1 THEN '雪堰镇' ELSE '牛塘镇' END, 1 FROM i", (n - 1,))
    c.execute(firms + "INSERT INTO designations (uscc, kind, level, recognized_on, batch_id) "
              "SELECT printf('91320412MA%07dX', n), 'hte', '', '2024-03-01', 1 FROM i", (n - 1,))
    c.executemany("INSERT INTO specialists (id, name, department, districts, kinds, capacity, active) "
                  "VALUES (?, ?, '高新技术处', ?, '[]', NULL, 1)",
                  [(f"S{j:02d}", f"专员{j}", f'["{d}"]') for j, d in enumerate(["湖塘镇", "雪堰镇", "牛塘镇"] * 3 + ["湖塘镇"])])
    c.execute("COMMIT")
    c.close()


def start_first_assign(db_path: Path) -> subprocess.Popen:
    """``kq assign`` on a database without assignments, with a small page cache: the transaction
    spills pages into the file long before its commit."""
    code = ("import sys, kqtools.storage.assignment as A; A.BULK_CACHE_KIB = 1024; "
            "from kqtools.cli import main; sys.argv[0] = 'kq'; main()")
    return subprocess.Popen([sys.executable, "-c", code, "assign", "-q", "--as-of", "2026-01-05"],
                            env=kq_env(db_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_pages_in_the_file(proc, db_path: Path, size: int) -> tuple[bool, bool]:
    """(journaled, writing): a rollback journal appeared; the run is writing new pages straight into
    the file now (False: it finished first)."""
    journal = Path(str(db_path) + "-journal")
    deadline = time.time() + 120
    journaled = False
    while time.time() < deadline and proc.poll() is None:
        journaled = journaled or journal.exists()
        if journaled and db_path.stat().st_size > size + 1_000_000:
            return True, True
        time.sleep(0.002)
    return journaled, False


@pytest.mark.slow
def test_sigkill_mid_first_assign_leaves_db_as_before(tmp_path):
    """A first kq assign writes its new pages straight into the database file (rollback journal,
    see storage.assignment._writes_once); killed while doing so, the journal puts everything back."""
    db_path = tmp_path / "kq.db"
    many_firms_to_assign(db_path, 100_000)
    before, size = dump_hash(db_path), db_path.stat().st_size
    proc = start_first_assign(db_path)
    journaled, writing = wait_for_pages_in_the_file(proc, db_path, size)
    if writing:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert journaled, "the first assign never used a rollback journal"
    if not writing:
        pytest.skip("the first assign finished before it could be killed")
    assert proc.returncode == -signal.SIGKILL
    assert dump_hash(db_path) == before     # the first connection to open it rolls the journal back
    r = run_kq("assign", "-q", "--as-of", "2026-01-05", db=db_path)
    assert r.returncode == 0, r
    assert "100000 assigned" in r.stderr
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM assignment_history").fetchone()[0] == 100_000
    conn.close()


@pytest.mark.slow
def test_a_reader_during_a_first_assign_waits_and_sees_all_of_it(tmp_path):
    """While a first kq assign writes straight into the file, a clerk's query waits for the commit
    (busy timeout) instead of failing, then sees every assignment. (Before the first page is
    written, a query reads the state before the run, as in WAL mode.)"""
    db_path = tmp_path / "kq.db"
    many_firms_to_assign(db_path, 100_000)
    size = db_path.stat().st_size
    proc = start_first_assign(db_path)
    _, writing = wait_for_pages_in_the_file(proc, db_path, size)
    if not writing:
        proc.wait()
        pytest.skip("the first assign finished before a reader could start")
    r = run_kq("specialists", "list", "-f", "json", db=db_path)
    proc.wait()
    assert proc.returncode == 0
    assert r.returncode == 0, r
    assert sum(s["load"] for s in r.json()) == 100_000


def test_a_first_assign_with_the_database_open_elsewhere_stays_in_wal_mode(tmp_path):
    db_path = tmp_path / "kq.db"
    many_firms_to_assign(db_path, 3000)
    other = sqlite3.connect(db_path)
    assert other.execute("SELECT count(*) FROM enterprises").fetchone()[0] == 3000   # open, between reads
    r = run_kq("assign", "-q", "--as-of", "2026-01-05", db=db_path)
    assert r.returncode == 0, r      # the switch to a rollback journal refused: the run went on in WAL mode
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("SELECT count(*) FROM assignments").fetchone()[0] == 3000
    other.close()


# ------------------------------------------------------------------ concurrency
def test_two_imports_and_a_reader_at_the_same_time(tmp_path):
    db_path = tmp_path / "kq.db"
    assert run_kq("init", db=db_path).returncode == 0
    f1 = write_firms(tmp_path / "one.csv", 30_000, seed=1)
    f2 = write_firms(tmp_path / "two.csv", 30_000, seed=2)
    metrics = tmp_path / "metrics.csv"
    with open(metrics, "w", encoding="utf-8") as fh:
        fh.write("统一社会信用代码,年度,营业收入\n")
        for i, code in enumerate(codes(20_000, 3)):
            fh.write(f"{code},2024,{i}\n")
    env = kq_env(db_path)
    procs = [subprocess.Popen([sys.executable, "-m", "kqtools", "import", kind, str(f), "-f", "json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for kind, f in (("enterprises", f1), ("enterprises", f2), ("metrics", metrics))]
    reads = 0
    reader_errors = []
    while any(p.poll() is None for p in procs):
        r = run_kq("imports", "-f", "jsonl", db=db_path)
        reads += 1
        if r.returncode != 0:
            reader_errors.append(r.stderr)
    outs = [p.communicate() for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert b"locked" not in err
    assert not reader_errors and reads >= 1
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM enterprises").fetchone()[0] == 60_000
    assert conn.execute("SELECT count(*) FROM metrics").fetchone()[0] == 20_000
    assert conn.execute("SELECT count(*) FROM batches").fetchone()[0] == 3
    conn.close()


# ------------------------------------------------------------------ bad files
def _xlsx(path, write):
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    write(wb.add_worksheet())
    wb.close()
    return path


def _truncated_xlsx(path):
    good = _xlsx(path.with_name("good.xlsx"), lambda ws: [ws.write_row(i, 0, [A, f"甲{i}"]) for i in range(200)])
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _corrupt_zip(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    return path


def _formula_xlsx(path):
    def write(ws):
        ws.write_row(0, 0, ["统一社会信用代码", "企业名称"])
        ws.write_formula(1, 0, '=CONCATENATE("9111","0108551385082Q")')  # no cached value: reads as 0
        ws.write(1, 1, "甲公司")
        ws.write_formula(2, 0, "=A2", None, B)  # cached value is a valid code
        ws.write_formula(2, 1, '=HYPERLINK("http://x","乙")', None, "乙公司")
    return _xlsx(path, write)


BAD_FILES = {
    # name: (builder, expected exit code, words expected on stderr)
    "empty.csv": (lambda p: p.write_bytes(b""), 2, "empty"),
    "blank.csv": (lambda p: p.write_bytes(b"\n\n  \n"), 2, "empty"),
    "header_only.csv": (lambda p: p.write_text("统一社会信用代码,企业名称\n", encoding="utf-8"), 2, "no data rows"),
    "junk.csv": (lambda p: p.write_bytes(bytes(random.Random(1).randrange(256) for _ in range(5000))), 2, "junk.csv"),
    "junk.bin": (lambda p: p.write_bytes(b"\x7fELF" + bytes(range(256)) * 20), 2, "junk.bin"),
    "truncated.xlsx": (_truncated_xlsx, 2, "xlsx"),
    "notbook.xlsx": (_corrupt_zip, 2, "xlsx"),
    "old.xls": (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600), 2, ".xlsx"),
    "latin1.csv": (lambda p: p.write_bytes("uscc,name\n91110108551385082Q,Caf\xe9,x\n".encode("latin-1")), 2, "encoding"),
    "ragged.csv": (lambda p: p.write_text(f"uscc,name\n{A},甲,多余,更多\n{B},乙\n", encoding="utf-8"), 1, "line 2"),
    "short_rows.csv": (lambda p: p.write_text(f"uscc,name,district\n{A}\n{B},乙\n", encoding="utf-8"), 1, "line 2"),
    "long_cell.csv": (lambda p: p.write_text(f"uscc,name\n{A},{'长' * 10_000}\n{B},乙\n", encoding="utf-8"), 1,
                      "longer than 200"),
    "formula.xlsx": (_formula_xlsx, 1, "line 2"),
    # text that begins like a formula is stored as text and counted (issue 18 item 7), not rejected
    "cmd.csv": (lambda p: p.write_text(f"uscc,name\n{A},\"=cmd|' /C calc'!A0\"\n{B},乙\n", encoding="utf-8"), 0,
                "formula"),
    "dup_headers.csv": (lambda p: p.write_text(f"统一社会信用代码,企业名称,信用代码\n{A},甲,{A}\n", encoding="utf-8"), 2,
                        "all map to field 'uscc'"),
    "title_only.csv": (lambda p: p.write_text("2024年度企业名单\n", encoding="utf-8"), 2, "no header row"),
    "title_only.xlsx": (lambda p: _xlsx(p, lambda ws: ws.write(0, 0, "2024年度企业名单")), 2, "no header row"),
    "object.json": (lambda p: p.write_text('{"uscc": "x", "name": "y"}', encoding="utf-8"), 2, "got an object"),
    "scalar.json": (lambda p: p.write_text("42", encoding="utf-8"), 2, "got int"),
    "broken.json": (lambda p: p.write_text('[{"uscc": "x",', encoding="utf-8"), 2, "not JSON"),
    "broken_line.jsonl": (lambda p: p.write_text(
        f'{{"uscc": "{A}", "name": "甲"}}\n{{"uscc": "{B}", "name": \n[1, 2]\n', encoding="utf-8"), 1, "line 2"),
    "csv_as.jsonl": (lambda p: p.write_text(f"uscc,name\n{A},甲\n", encoding="utf-8"), 2, "no line is a JSON object"),
    "nul.csv": (lambda p: p.write_bytes(f"uscc,name\n{A},甲\x00\n".encode()), 2, "NUL"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_gives_one_line_error_or_row_rejects(kq, tmp_path, db_path, name):
    build, code, words = BAD_FILES[name]
    path = tmp_path / name
    build(path)
    r = kq("import", "enterprises", path)
    assert r.returncode == code, r
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert words in r.stderr, r.stderr
    if code == 2:
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stderr.startswith("kq: error: ") and name in r.stderr
        assert r.stdout == ""


def test_rejected_rows_of_bad_files_leave_good_rows(kq, tmp_path, db_path):
    BAD_FILES["ragged.csv"][0](tmp_path / "ragged.csv")
    r = kq("import", "enterprises", tmp_path / "ragged.csv", "-f", "json")
    assert (r.json()["inserted"], r.json()["rejected"]) == (1, 1)
    _formula_xlsx(tmp_path / "f.xlsx")
    r = kq("import", "enterprises", tmp_path / "f.xlsx", "-f", "json")
    # line 2: a formula without a cached value reads as 0; line 3: the cached values are used
    assert (r.json()["inserted"], r.json()["updated"], r.json()["rejected"]) == (0, 1, 1)
    assert "f.xlsx: line 2" in r.stderr


def test_utf16_files_import(kq, tmp_path, db_path):
    """Excel's "Unicode text" export is UTF-16 with a BOM and tabs; without the BOM it is still recognised."""
    text = f"统一社会信用代码\t企业名称\n{A}\t甲公司\n{B}\t乙公司\n"
    (tmp_path / "bom.txt").write_bytes(text.encode("utf-16"))
    (tmp_path / "nobom.tsv").write_bytes(text.encode("utf-16-le"))
    for name in ("bom.txt", "nobom.tsv"):
        r = kq("import", "enterprises", tmp_path / name, "-f", "json")
        assert r.returncode == 0, r
        assert r.json()["encoding"].startswith("utf-16")
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT name FROM enterprises ORDER BY uscc").fetchall() == [("甲公司",), ("乙公司",)]
    conn.close()


def test_wrong_encoding_override_is_one_line(kq, tmp_path):
    (tmp_path / "g.csv").write_bytes(f"统一社会信用代码,企业名称\n{A},甲公司\n".encode("gbk"))
    r = kq("import", "enterprises", tmp_path / "g.csv", "--encoding", "utf-8")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_database_locked_past_the_timeout_is_one_line(tmp_path):
    db_path = tmp_path / "kq.db"
    assert run_kq("init", db=db_path).returncode == 0
    src = write_firms(tmp_path / "f.csv", 10)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock and does not let go
    try:
        r = run_kq("import", "enterprises", src, db=db_path, env={"KQ_BUSY_TIMEOUT_MS": "300"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.returncode == 2, r
    assert len(r.stderr.strip().splitlines()) == 1 and "locked" in r.stderr and "nothing imported" in r.stderr
    assert run_kq("import", "enterprises", src, db=db_path).returncode == 0


def _import_file(db, path, **kw):
    from kqtools.importer import run_import
    from kqtools.readers import open_table

    with open(path, "rb") as fh:
        return run_import(db, open_table(fh, str(path)), "enterprises", **kw)


def test_reimporting_a_file_with_rejects_and_a_duplicate_gives_the_same_rejects(db, tmp_path):
    src = write_firms(tmp_path / "f.csv", 3000, bad_every=500)
    with open(src, "a", encoding="utf-8") as fh:
        fh.write(list(codes(2, 1))[1] + ",重复,高新区,规上,2010/1/1,x,y\n")  # duplicate of line 3
    first = _import_file(db, src)
    again = _import_file(db, src)
    assert (first.read, first.inserted, first.rejected) == (3001, 2994, 7)
    assert [r.line for r in first.rejects] == [r.line for r in again.rejects]
    assert first.rejects[-1].reason == "duplicate uscc: the same record is on line 3"
    assert first.sha256 == again.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert first.unknown_columns == again.unknown_columns == []
    assert (again.unchanged, again.inserted) == (2994, 0)


def test_binary_tail_of_a_big_file_is_a_source_error_and_nothing_is_written(db, tmp_path):
    from kqtools.readers import SourceError

    src = write_firms(tmp_path / "f.csv", 2000)
    with open(src, "ab") as fh:
        fh.write(b"\x00\x01\x02 binary tail\n")
    with pytest.raises(SourceError, match="NUL"):
        _import_file(db, src)
    assert db.execute("SELECT count(*) FROM enterprises").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM batches").fetchone()[0] == 0
