"""The one SQLite database: where it is, how it is opened, and its migrations.

Every command opens the database through :func:`open_db`. The connection is in
autocommit mode; writers wrap their work in :func:`write_transaction`
(``BEGIN IMMEDIATE``), so a scheduled job and a clerk can work at the same time:
WAL lets readers go on during a write, and the busy timeout makes a second
writer wait instead of failing with "database is locked".
"""
from __future__ import annotations

import contextlib
import os
import re
import sqlite3

DEFAULT_DB = "kq.db"
BUSY_TIMEOUT_MS = int(os.environ.get("KQ_BUSY_TIMEOUT_MS", "120000"))
_MIGRATION = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def db_path(explicit: str | None = None) -> str:
    """``--db PATH``, else ``$KQ_DB``, else ``./kq.db``."""
    return explicit or os.environ.get("KQ_DB") or DEFAULT_DB


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every ``storage/migrations/NNNN_name.sql``, in order."""
    from importlib import resources  # here: `kq jobs run-due` with nothing due imports this package too

    found = []
    for entry in resources.files("kqtools.storage").joinpath("migrations").iterdir():
        m = _MIGRATION.match(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def open_db(path: str | None = None, migrate: bool = True) -> sqlite_utils.Database:
    """Open (and create on first use) the database, in WAL mode, migrated to the latest version."""
    import sqlite_utils  # here, not at the top: `kq jobs run-due` with nothing due never needs it

    path = db_path(path)
    conn = connect(path)
    if path != ":memory:":
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            with contextlib.suppress(sqlite3.OperationalError):
                conn.execute("PRAGMA journal_mode = WAL")
    db = sqlite_utils.Database(conn)
    if migrate:
        apply_migrations(db)
    return db


def current_version(db: sqlite_utils.Database) -> int:
    return db.conn.execute("PRAGMA user_version").fetchone()[0]


def applied_versions(db: sqlite_utils.Database) -> set[int]:
    """Versions recorded in ``schema_migrations`` (empty for a new database)."""
    try:
        return {v for v, in db.conn.execute("SELECT version FROM schema_migrations")}
    except sqlite3.OperationalError:  # no such table: nothing applied yet
        return set()


def apply_migrations(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet recorded in ``schema_migrations``, in order, each in its own
    transaction. A migration numbered below one already applied (two branches landing in either
    order) is still applied; ``PRAGMA user_version`` holds the highest version applied."""
    done = applied_versions(db)
    pending = [m for m in migrations() if m[0] not in done]
    applied = []
    for version, name, sql in pending:
        with write_transaction(db):
            if version in applied_versions(db):  # another process got here first
                continue
            for statement in _split_sql(sql):
                db.conn.execute(statement)
            db.conn.execute(
                "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, datetime('now'))",
                (version, name))
            db.conn.execute(f"PRAGMA user_version = {max(version, current_version(db))}")
        applied.append(f"{version:04d}_{name}")
    return applied


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements (``sqlite3.complete_statement`` knows about triggers)."""
    statements, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip() and not buf.strip().startswith("--"):
        statements.append(buf.strip())
    return statements


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database):
    """``BEGIN IMMEDIATE`` … ``COMMIT``; ``ROLLBACK`` on any exception. Not re-entrant."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
