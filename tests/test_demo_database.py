"""``kq demo --db PATH`` replaces only its own demo databases, and its hints name the PATH given."""
from __future__ import annotations

import hashlib
import shlex
import sqlite3
from pathlib import Path

import pytest

from conftest import run_kq, write_csv
from kqtools.errors import ExitStatus

A = "91110108551385082Q"


def fingerprint(path: Path) -> str:
    """The file's bytes and its -wal's, exactly (a dump could miss a header change)."""
    h = hashlib.sha256(path.read_bytes())
    wal = Path(f"{path}-wal")
    if wal.exists():
        h.update(wal.read_bytes())
    return h.hexdigest()


def real_database(path: Path) -> Path:
    src = write_csv(path.parent / "企业名录.csv", ["uscc", "name"], [[A, "甲公司"]])
    assert run_kq("import", "enterprises", src, db=path).returncode == 0
    return path


@pytest.mark.parametrize("force", [False, True], ids=["asked", "forced"])
def test_a_database_with_imports_of_its_own_is_never_replaced(tmp_path, force):
    db = real_database(tmp_path / "kq.db")
    before = fingerprint(db)
    r = run_kq("demo", "--db", db, *(["--force"] if force else []))
    assert r.returncode == ExitStatus.USAGE, r
    assert len(r.stderr.strip().splitlines()) == 1 and "企业名录.csv" in r.stderr and "never" in r.stderr
    assert r.stdout == ""
    assert fingerprint(db) == before


def test_a_demo_database_that_got_imports_of_its_own_is_kept(tmp_path):
    db = tmp_path / "demo.db"
    assert run_kq("demo", "--db", db).returncode == 0
    src = write_csv(tmp_path / "mine.csv", ["uscc", "name"], [[A, "改名公司"]])
    assert run_kq("import", "enterprises", src, db=db).returncode == 0
    before = fingerprint(db)
    assert run_kq("demo", "--db", db, "--force").returncode == ExitStatus.USAGE
    assert fingerprint(db) == before


def test_the_global_db_flag_and_never_kq_db(tmp_path):
    """``kq --db X demo`` means X; $KQ_DB (the production database of a deployment) is never the demo's."""
    production = real_database(tmp_path / "production.db")
    before = fingerprint(production)
    r = run_kq("demo", db=production, cwd=tmp_path)             # $KQ_DB names the production database
    assert r.returncode == 0, r
    assert (tmp_path / "kq-demo.db").exists() and fingerprint(production) == before
    r = run_kq("--db", tmp_path / "mine.db", "demo", cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "mine.db").exists()


@pytest.mark.parametrize("kind", ["text file", "empty kq database", "other program's database"])
def test_another_file_is_refused_unless_forced(tmp_path, kind):
    path = tmp_path / "x.db"
    if kind == "text file":
        path.write_text("notes\n", encoding="utf-8")
    elif kind == "empty kq database":
        assert run_kq("init", db=path).returncode == 0
    else:
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE photos (id INTEGER)")
        conn.commit()
        conn.close()
    before = fingerprint(path)
    r = run_kq("demo", "--db", path)
    assert r.returncode == ExitStatus.USAGE and "--force" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r
    assert fingerprint(path) == before
    forced = run_kq("demo", "--db", path, "--force")
    assert forced.returncode == 0, forced
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM batches").fetchone()[0] == 8    # six files, requests ledger, ladder pool
    conn.close()


def test_a_demo_database_is_replaced_without_asking(tmp_path):
    db = tmp_path / "demo.db"
    first = run_kq("demo", "--db", db)
    again = run_kq("demo", "--db", db)
    assert first.returncode == again.returncode == 0, again
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM batches").fetchone()[0] == 8    # fresh: not sixteen
    conn.close()


def test_a_symbolic_link_is_refused_and_its_target_kept(tmp_path):
    target = tmp_path / "demo.db"
    assert run_kq("demo", "--db", target).returncode == 0
    before = fingerprint(target)
    link = tmp_path / "link.db"
    link.symlink_to(target)
    r = run_kq("demo", "--db", link, "--force")
    assert r.returncode == ExitStatus.USAGE and "symbolic link" in r.stderr
    assert link.is_symlink() and fingerprint(target) == before


def test_hints_name_the_database_given(tmp_path):
    db = tmp_path / "my demo.db"
    r = run_kq("demo", "--db", db)
    assert r.returncode == 0, r
    hints = [line for line in r.stdout.splitlines() if "kq --db" in line]
    assert hints and "kq-demo.db" not in r.stdout
    assert all(f"kq --db {shlex.quote(str(db))} " in line for line in hints)
