"""The database file: another program's database refused, read-only use, private modes, and one
clear line (naming the file) for a damaged header, a lock held too long, a symbolic link."""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import import_rows, run_kq, write_csv
from kqtools.errors import ExitStatus

A, B = "91110108551385082Q", "91310000631696382C"


def dump_hash(path: Path) -> str:
    """A digest of the database's content. Read as ``immutable`` when no write-ahead log is pending, so
    that looking leaves no -wal/-shm behind (they would let a later writer in a read-only folder write)."""
    wal = Path(f"{path}-wal")
    pending = wal.exists() and wal.stat().st_size > 0
    conn = sqlite3.connect(f"file:{path}?{'mode=ro' if pending else 'immutable=1'}", uri=True)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


def one_line_error(r, *words):
    assert r.returncode == ExitStatus.USAGE, r
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("kq: error: "), r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def kq_database(path: Path) -> Path:
    src = write_csv(path.parent / "firms.csv", ["uscc", "name"], [[A, "甲公司"], [B, "乙公司"]])
    assert run_kq("import", "enterprises", src, db=path).returncode == 0
    return path


# ---------------------------------------------------------------- another program's database
def another_programs_database(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, taken_at TEXT)")
    conn.execute("INSERT INTO photos (taken_at) VALUES ('2024-05-01')")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize("args", [["enterprises", "list"], ["init"], ["check-uscc", "--allow", "--reason", "x", A],
                                  ["import", "enterprises", "-"]])
def test_another_programs_database_is_refused_and_left_as_it_was(tmp_path, args):
    db = another_programs_database(tmp_path / "photos.db")
    before = dump_hash(db)
    r = run_kq(*args, db=db, input=f"uscc,name\n{A},甲\n")
    one_line_error(r, str(db), "another program", "--force-init")
    assert dump_hash(db) == before
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"   # not even switched to WAL
    conn.close()


def test_init_force_init_adopts_another_programs_database(tmp_path):
    db = another_programs_database(tmp_path / "photos.db")
    r = run_kq("init", "--force-init", db=db)
    assert r.returncode == 0, r
    assert run_kq("import", "enterprises", "-", db=db, input=f"uscc,name\n{A},甲\n").returncode == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT taken_at FROM photos").fetchall() == [("2024-05-01",)]   # its data kept
    assert conn.execute("SELECT count(*) FROM enterprises").fetchone()[0] == 1
    conn.close()


def test_an_empty_file_or_an_empty_database_is_a_new_kq_database(tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert run_kq("init", db=empty).returncode == 0
    blank = tmp_path / "blank.db"
    sqlite3.connect(blank).close()
    assert run_kq("enterprises", "list", db=blank).returncode == 0


# ---------------------------------------------------------------- damaged files
def test_a_damaged_header_is_one_line_naming_the_file(tmp_path):
    db = kq_database(tmp_path / "kq.db")
    data = bytearray(db.read_bytes())
    data[:16] = b"not sqlite 3 \x00\x00\x00"
    db.write_bytes(bytes(data))
    for args in (["enterprises", "list"], ["init"], ["check-uscc", A], ["score", "show"]):
        one_line_error(run_kq(*args, db=db), str(db), "not an SQLite database")


def test_a_text_file_given_as_the_database_is_one_line(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes\n" * 400, encoding="utf-8")
    before = notes.read_bytes()
    one_line_error(run_kq("enterprises", "list", db=notes), "notes.txt", "not an SQLite database")
    assert notes.read_bytes() == before


# ---------------------------------------------------------------- a lock held past the busy timeout
@pytest.fixture
def locked(tmp_path):
    """A kq database another process holds a write lock on (until the test ends)."""
    db = kq_database(tmp_path / "kq.db")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield db
    holder.execute("ROLLBACK")
    holder.close()


def test_a_lock_held_too_long_is_one_line_for_any_writing_command(locked, tmp_path):
    fast = {"KQ_BUSY_TIMEOUT_MS": "200"}
    r = run_kq("check-uscc", "--allow", "--reason", "书面确认", "91350203M0001QKT19", db=locked, env=fast)
    one_line_error(r, str(locked), "is locked by another kq process", "try again")


def test_a_lock_held_too_long_in_score_run_is_one_line(tmp_path):
    db = tmp_path / "kq.db"
    from kqtools.storage import open_db

    conn = open_db(str(db))
    import_rows(conn, "enterprises", [{"uscc": A, "name": "甲", "size_class": "above", "founded_on": "2010-01-01"}])
    import_rows(conn, "metrics", [{"uscc": A, "year": 2025, "land_mu": 10, "revenue": 100, "tax": 10}])
    conn.conn.close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = run_kq("score", "run", "--year", "2025", db=db, env={"KQ_BUSY_TIMEOUT_MS": "200"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_line_error(r, str(db), "locked", "try again")


def test_any_sqlite_error_a_command_lets_escape_is_mapped_in_one_place():
    from kqtools.storage import DatabaseLocked, DatabaseReadOnly, database_error

    assert isinstance(database_error(sqlite3.OperationalError("database is locked"), "x.db"), DatabaseLocked)
    assert isinstance(database_error(sqlite3.OperationalError("attempt to write a readonly database"), "x.db"),
                      DatabaseReadOnly)
    assert database_error(sqlite3.OperationalError("no such column: nme"), "x.db") is None   # a bug stays a bug
    assert database_error(ValueError("x"), "x.db") is None


# ---------------------------------------------------------------- symbolic links, missing folders
def test_a_symbolic_link_at_db_is_refused_and_its_target_untouched(tmp_path):
    real = kq_database(tmp_path / "real.db")
    before = dump_hash(real)
    link = tmp_path / "link.db"
    link.symlink_to(real)
    for args in (["enterprises", "list"], ["init"], ["import", "enterprises", "-"]):
        one_line_error(run_kq(*args, db=link, input=f"uscc,name\n{A},改名\n"), "link.db", "symbolic link")
    assert dump_hash(real) == before and link.is_symlink()
    dangling = tmp_path / "dangling.db"
    dangling.symlink_to(tmp_path / "elsewhere.db")
    one_line_error(run_kq("init", db=dangling), "symbolic link")
    assert not (tmp_path / "elsewhere.db").exists()


# ---------------------------------------------------------------- private files
def db_files(folder: Path, name: str = "kq.db") -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir() if p.name.startswith(name)}


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_database_files_are_private_under_umask_022(tmp_path, umask_022):
    db = tmp_path / "kq.db"
    src = write_csv(tmp_path / "f.csv", ["uscc", "name"], [[A, "甲公司"]])
    holder = sqlite3.connect(tmp_path / "f.csv.db")   # an unrelated file, to show what umask 022 gives
    holder.close()
    assert stat.S_IMODE((tmp_path / "f.csv.db").stat().st_mode) == 0o644
    reader = None
    try:
        assert run_kq("import", "enterprises", src, db=db).returncode == 0
        reader = sqlite3.connect(db)           # keeps -wal and -shm in place to be looked at
        reader.execute("SELECT count(*) FROM enterprises").fetchone()
        assert run_kq("check-uscc", "--allow", "--reason", "x", "91350203M0001QKT19", db=db).returncode == 0
        files = db_files(tmp_path)
    finally:
        if reader:
            reader.close()
    assert {"kq.db", "kq.db-wal", "kq.db-shm"} <= set(files)
    assert files == dict.fromkeys(files, 0o600)


def test_a_shared_group_mode_from_kq_file_mode(tmp_path, umask_022):
    db = tmp_path / "kq.db"
    assert run_kq("init", db=db, env={"KQ_FILE_MODE": "0640"}).returncode == 0
    assert db_files(tmp_path)["kq.db"] == 0o640
    bad = run_kq("init", db=tmp_path / "other.db", env={"KQ_FILE_MODE": "0444"})
    one_line_error(bad, "KQ_FILE_MODE")
    assert not (tmp_path / "other.db").exists()


def test_the_demo_database_is_private_too(tmp_path, umask_022):
    assert run_kq("demo", "--db", tmp_path / "demo.db").returncode == 0
    files = db_files(tmp_path, "demo.db")
    assert files and files == dict.fromkeys(files, 0o600)


# ---------------------------------------------------------------- read-only databases
def _no_write_access_prefix() -> list[str] | None:
    """How to run a command without write access to read-only files: as root, drop the capabilities
    that let root write anything (setpriv); as anyone else, nothing is needed."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return None
    prefix = [setpriv, "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import os; os.open('/proc/1/environ', os.O_RDONLY)"],
                           capture_output=True)
    return prefix if probe.returncode != 0 else None   # root without the capabilities cannot read it


NO_WRITE = _no_write_access_prefix()
needs_no_write = pytest.mark.skipif(NO_WRITE is None, reason="cannot run without write access here (root, no setpriv)")


def run_without_write_access(*args, db, input=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "KQ_DB": str(db)}
    return subprocess.run([*NO_WRITE, sys.executable, "-m", "kqtools", *map(str, args)], input=input,
                          capture_output=True, text=True, env=env, cwd=db.parent, timeout=120)


@pytest.fixture
def read_only(tmp_path):
    """A kq WAL database (with a confirmed code) that this user cannot write: the file, its folder
    (SQLite cannot add its -wal and -shm), or both. Permissions are put back at the end."""
    folder = tmp_path / "shared"
    folder.mkdir()
    db = kq_database(folder / "kq.db")
    assert run_kq("check-uscc", "--allow", "--reason", "x", "91350203M0001QKT19", db=db).returncode == 0
    made = []

    def make(where: str):
        if where in ("file", "both"):
            db.chmod(0o444)
            made.append(db)
        if where in ("folder", "both"):
            folder.chmod(0o555)
            made.append(folder)
        return db
    yield make
    for p in made:
        p.chmod(0o755 if p.is_dir() else 0o644)


@needs_no_write
@pytest.mark.parametrize("where", ["file", "folder", "both"])
def test_read_commands_work_on_a_database_without_write_access(read_only, where):
    db = read_only(where)
    before = dump_hash(db)
    listed = run_without_write_access("enterprises", "list", db=db)
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split('"uscc": "')[1][:18] for line in listed.stdout.splitlines()) == [A, B]
    shown = run_without_write_access("enterprises", "show", A, db=db)
    assert shown.returncode == 0 and "甲公司" in shown.stdout, shown.stderr
    checked = run_without_write_access("check-uscc", "91350203M0001QKT19", db=db)   # confirmed in the database
    assert checked.returncode == 0, checked.stderr
    assert dump_hash(db) == before


@needs_no_write
@pytest.mark.parametrize("where", ["file", "folder", "both"])
def test_a_writing_command_says_the_database_is_read_only(read_only, where):
    db = read_only(where)
    before = dump_hash(db)
    for args in (["check-uscc", "--allow", "--reason", "x", "91350203M0001QKT20"], ["init"]):
        r = run_without_write_access(*args, db=db)
        assert r.returncode == ExitStatus.USAGE, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "read-only" in r.stderr and str(db) in r.stderr, r.stderr
    assert dump_hash(db) == before


# ---------------------------------------------------------------- stdin and dates
@pytest.mark.parametrize("command", ["import enterprises -", "check-uscc -"])
def test_a_closed_stdin_is_one_line(tmp_path, command):
    proc = subprocess.run(["bash", "-c", f"{sys.executable} -m kqtools --db {tmp_path / 'kq.db'} {command} <&-"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == ExitStatus.USAGE, proc.stderr
    assert proc.stderr.strip() == "kq: error: -: standard input is closed (give a file, or pipe one in: … - < FILE)"


@pytest.mark.parametrize("args", [
    ["enterprises", "list", "--as-of", "9999-12-31"], ["enterprises", "list", "--as-of", "0001-01-01"],
    ["visits", "due", "--as-of", "9999-12-31"], ["lists", "build", "--as-of", "0001-01-01"],
])
def test_dates_far_outside_any_real_use_are_refused_in_one_line(kq, args):
    r = kq(*args)
    assert r.returncode == ExitStatus.USAGE, r
    assert "dates run 1900-01-01 … 2200-12-31" in r.stderr and "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]   # after click's usage lines
    assert len(errors) == 1 and "--as-of" in errors[0] and args[-1] in errors[0]


def test_dates_at_the_edges_of_the_range_are_taken(kq):
    for day in ("1900-01-01", "2200-12-31"):
        assert kq("enterprises", "list", "--as-of", day).returncode == 0


@needs_no_write
def test_a_read_only_database_of_an_older_kq_asks_for_kq_init(read_only):
    from kqtools.storage import latest_version

    db = read_only("none")
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM schema_migrations WHERE version = ?", [latest_version()])   # as an older kq left it
    conn.commit()
    conn.close()
    db.chmod(0o444)
    r = run_without_write_access("enterprises", "list", db=db)
    assert r.returncode == ExitStatus.USAGE and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "read-only" in r.stderr and f"needs {latest_version()}" in r.stderr and "kq init" in r.stderr
    db.chmod(0o644)


# ---------------------------------------------------------------- bulk work
def test_bulk_mode_is_put_back_after_the_work_and_after_an_error(db):
    import gc

    from kqtools.storage import bulk

    cache = db.conn.execute("PRAGMA cache_size").fetchone()[0]
    assert gc.isenabled()
    with bulk(db, cache_kib=64 * 1024):
        assert not gc.isenabled()
        assert db.conn.execute("PRAGMA cache_size").fetchone()[0] == -64 * 1024
    assert gc.isenabled() and db.conn.execute("PRAGMA cache_size").fetchone()[0] == cache
    with pytest.raises(ZeroDivisionError):
        with bulk(db, cache_kib=1024):
            1 / 0
    assert gc.isenabled() and db.conn.execute("PRAGMA cache_size").fetchone()[0] == cache
    with bulk(db):                                  # the collector only; the cache as it is
        assert not gc.isenabled() and db.conn.execute("PRAGMA cache_size").fetchone()[0] == cache
    gc.disable()
    try:
        with bulk(db, 1024):
            pass
        assert not gc.isenabled()                   # a caller that had it off keeps it off
    finally:
        gc.enable()
