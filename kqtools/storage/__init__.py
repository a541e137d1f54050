"""The one SQLite database: how it is opened, what its errors mean, its migrations, bulk mode.

Every command opens the database through :func:`open_db`. The connection is in autocommit
mode; writers wrap their work in :func:`write_transaction` (``BEGIN IMMEDIATE``), so a
scheduled job and a clerk can work at the same time: WAL lets readers go on during a write,
and the busy timeout makes a second writer wait instead of failing with "database is locked".

:func:`open_db` is also where a database kq cannot use is refused with one line naming the file
(:class:`DatabaseError` and its subclasses): another program's SQLite file, a damaged header, a
symbolic link, a read-only file for a command that writes, a lock held past the busy timeout.
:func:`database_error` maps any ``sqlite3`` error met later to the same classes; the command
line calls it in one place (``kqtools.cli.LazyGroup.invoke``).

The database file and its ``-wal``/``-shm``/``-journal`` are created private
(``Settings.file_mode``, 0600 by default): kq creates the file itself with
``O_CREAT|O_EXCL|O_NOFOLLOW`` (:func:`kqtools.files.open_private`) before SQLite opens it, and
SQLite gives the files it adds the database file's mode.
"""
from __future__ import annotations

import contextlib
import gc
import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..errors import KqtoolsError
from ..files import open_private
from ..i18n import _
from ..settings import DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_FILE_MODE

if TYPE_CHECKING:  # sqlite_utils is imported where a Database is made: `kq jobs run-due` with nothing due
    import sqlite_utils  # imports this package and must not pay for it

#: The default busy timeout. Commands pass ``Settings.busy_timeout_ms`` (``$KQ_BUSY_TIMEOUT_MS``) to
#: :func:`open_db`; code that opens its own connections asks :func:`busy_timeout_ms` of an open one.
BUSY_TIMEOUT_MS = DEFAULT_BUSY_TIMEOUT_MS
_MIGRATION = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_UMASK = threading.Lock()


# --------------------------------------------------------------------------- errors
class DatabaseError(KqtoolsError):
    """A database kq cannot use or a database operation that failed, named, with what to do."""


class DatabaseLocked(DatabaseError):
    """Another process held the database past the busy timeout."""


class DatabaseReadOnly(DatabaseError):
    """The command writes, and the file (or its folder) is read-only for this user."""


class DatabaseDamaged(DatabaseError):
    """Not an SQLite file (a damaged header, another kind of file) or a damaged database."""


class NotAKqDatabase(DatabaseError):
    """An SQLite database of another program (tables, but no kq schema history)."""


def database_error(exc: BaseException, path: str, busy_timeout_ms: int | None = None) -> DatabaseError | None:
    """The :class:`DatabaseError` an ``sqlite3`` error means for the database at ``path``, or None
    for errors that are bugs (SQL mistakes, constraint failures): those stay internal errors."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        waited = f" (waited {busy_timeout_ms / 1000:g} s)" if busy_timeout_ms else ""
        return DatabaseLocked(f"{path} is locked by another kq process or program{waited}; try again")
    if name == "SQLITE_READONLY_DIRECTORY":
        folder = os.path.dirname(os.path.abspath(path))
        return DatabaseReadOnly(f"{path}: its folder {folder} is read-only (SQLite keeps its write-ahead log "
                                "beside the database): this command writes to it")
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return DatabaseReadOnly(f"{path} is read-only: this command writes to the database "
                                "(ask its owner, or work on a copy)")
    if name == "SQLITE_NOTADB" or "file is not a database" in text:
        return DatabaseDamaged(f"{path}: not an SQLite database (a damaged header, or another kind of file: "
                               "a mistyped --db?)")
    if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        return DatabaseDamaged(f"{path}: the database file is damaged ({text}); restore it from a backup")
    if name.startswith("SQLITE_CANTOPEN") or "unable to open database" in text:
        return DatabaseError(f"{path}: cannot open the database file ({_why_not_open(path)})")
    if name == "SQLITE_FULL" or "database or disk is full" in text:
        return DatabaseError(f"{path}: the disk is full")
    if name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        return DatabaseError(f"{path}: input/output error on the database file ({text})")
    return None


def _why_not_open(path: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(path) and not os.access(path, os.R_OK):
        return "no permission to read it"
    if not os.access(folder, os.W_OK):
        return f"its folder {folder} is not writable"
    return "see its permissions"


# --------------------------------------------------------------------------- opening
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
        raise RuntimeError(_("two migrations share a version number: {versions}").format(versions=versions))
    return found


def latest_version() -> int:
    """The highest migration this kq knows."""
    return max(v for v, _, _ in migrations())


def migration_versions() -> set[int]:
    """The version numbers of the migrations this kq knows, from the file names alone (no SQL read)."""
    from importlib import resources

    return {int(m.group(1)) for entry in resources.files("kqtools.storage").joinpath("migrations").iterdir()
            if (m := _MIGRATION.match(entry.name))}


def open_current(path: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS,
                 file_mode: int = DEFAULT_FILE_MODE) -> sqlite3.Connection | None:
    """A connection to an existing kq database this process may write, already at the latest schema,
    made with the standard library only (no sqlite-utils: for commands cron runs often); ``None``
    for anything else (a new, read-only, foreign or outdated file), which :func:`open_db` then
    creates, migrates or refuses with its reason."""
    if path == ":memory:" or not os.path.isfile(path) or os.path.islink(path) or not _writable(path):
        return None
    check_db_path(path)
    conn = _connect_private(path, busy_timeout_ms, file_mode)
    try:
        done = {v for v, in conn.execute("SELECT version FROM schema_migrations")}
    except sqlite3.Error:  # no such table: not a kq database; open_db says what it is
        done = set()
    if done >= migration_versions():
        return conn
    conn.close()
    return None


def connect(path: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS, *, uri: bool = False) -> sqlite3.Connection:
    """A raw connection with kq's settings (autocommit, busy timeout, foreign keys)."""
    conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None,
                           check_same_thread=False, uri=uri)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def busy_timeout_ms(db: sqlite_utils.Database) -> int:
    """The busy timeout the database was opened with (for helpers that open their own connections)."""
    return db.conn.execute("PRAGMA busy_timeout").fetchone()[0]


def open_db(path: str | None = None, migrate: bool = True, *, readonly: bool | None = None,
            busy_timeout_ms: int = BUSY_TIMEOUT_MS, file_mode: int = DEFAULT_FILE_MODE,
            force_init: bool = False) -> sqlite_utils.Database:
    """Open the database at ``path`` (created on first use, mode ``file_mode``), in WAL mode,
    migrated to the latest version. Raises :class:`DatabaseError` (one line, naming ``path``).

    ``readonly`` says what the caller will do. ``True``: it only reads, so a database this user
    cannot write still opens (read-only; ``immutable`` when even its folder is read-only and no
    write-ahead log is pending). ``False``: it writes, so a read-only database is refused before any
    work starts. ``None`` (not declared): opened as for reading when it cannot be written; a write
    then fails with :class:`DatabaseReadOnly`. A read-only database below the latest schema version
    is refused (its owner runs ``kq init``).

    ``force_init``: adopt an SQLite file of another program (tables, no ``schema_migrations``)
    instead of refusing it.
    """
    import sqlite_utils

    if path is None:
        from ..settings import Settings

        path = Settings.from_env().db
    path = str(path)
    if path == ":memory:":
        db = sqlite_utils.Database(connect(path, busy_timeout_ms))
        if migrate:
            apply_migrations(db)
        return db
    check_db_path(path)
    try:
        created = _create_private(path, file_mode)
        if not created and not _writable(path):
            if readonly is False:
                raise DatabaseReadOnly(_("{path} is read-only: this command writes to the database (ask its "
                                         "owner, or work on a copy)").format(path=path))
            conn, ro = _connect_readonly(path, busy_timeout_ms), True
        else:
            try:
                conn, ro = _connect_private(path, busy_timeout_ms, file_mode), False
            except sqlite3.OperationalError as exc:
                if readonly is False or not _is_readonly_error(exc):
                    raise
                conn, ro = _connect_readonly(path, busy_timeout_ms), True
        try:
            _refuse_foreign(conn, path, force_init)
            db = sqlite_utils.Database(conn)
            if ro:
                _refuse_outdated(conn, path)
            else:
                _wal(conn)
                if migrate:
                    apply_migrations(db, path)
        except BaseException:
            conn.close()
            raise
    except sqlite3.DatabaseError as exc:
        mapped = database_error(exc, path, busy_timeout_ms)
        raise (mapped or DatabaseError(f"{path}: {exc}")) from None
    return db


def check_db_path(path: str) -> None:
    """Refuse a symbolic link and a folder that does not exist (one line each)."""
    if os.path.islink(path):
        raise DatabaseError(_("{path} is a symbolic link: kq opens its database only by its real path (give "
                              "--db {value})").format(path=path, value=os.path.realpath(path)))
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise DatabaseError(_("{path}: directory {value} does not exist (a mistyped --db or $KQ_DB?)").format(
                                path=path, value=os.path.dirname(path) or parent))
    if os.path.isdir(path):
        raise DatabaseError(_("{path} is a directory, not a database file").format(path=path))


def _create_private(path: str, mode: int) -> bool:
    """Create an empty database file with ``mode`` (never through a symbolic link); True if created."""
    try:
        fd = open_private(path, mode)
    except FileExistsError:
        if os.path.islink(path):  # appeared between the check and here
            raise DatabaseError(_("{path} is a symbolic link: kq opens its database only by its real path").format(
                                    path=path)) from None
        return False
    except PermissionError:
        raise DatabaseReadOnly(_("{path}: cannot create the database: its folder is not writable").format(
                                   path=path)) from None
    except OSError as exc:
        raise DatabaseError(_("{path}: cannot create the database: {strerror}").format(
                                path=path, strerror=exc.strerror)) from None
    os.close(fd)
    return True


def _writable(path: str) -> bool:
    """Whether this process may open ``path`` for writing (as SQLite will try to)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return False
    os.close(fd)
    return True


@contextlib.contextmanager
def private_umask(mode: int):
    """Files created meanwhile get at most ``mode`` (SQLite's ``-wal``/``-shm``/``-journal``)."""
    with _UMASK:
        old = os.umask(0o777 & ~mode)
        try:
            yield
        finally:
            os.umask(old)


def _connect_private(path: str, busy_timeout_ms: int, file_mode: int) -> sqlite3.Connection:
    with private_umask(file_mode):
        conn = connect(path, busy_timeout_ms)
        try:
            # the first read opens the file: a damaged header, a read-only folder fail here
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise
    return conn


def _is_readonly_error(exc: sqlite3.Error) -> bool:
    return (getattr(exc, "sqlite_errorname", "") or "").startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")) \
        or "readonly database" in str(exc) or "unable to open database" in str(exc)


def _connect_readonly(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """Open for reading only; ``immutable`` when SQLite cannot even make the shared-memory file
    (a read-only folder) and no write-ahead log is pending."""
    target = quote(os.path.abspath(path))
    try:
        conn = connect(f"file:{target}?mode=ro", busy_timeout_ms, uri=True)
    except sqlite3.OperationalError:
        pass
    else:
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            conn.close()
    wal = path + "-wal"
    if os.path.exists(wal) and os.path.getsize(wal) > 0:
        raise DatabaseReadOnly(_("{path} is read-only and has a write-ahead log ({wal}) this user cannot read "
                                 "through: ask its owner to run `kq init` (it checkpoints the log)").format(
                                   path=path, wal=wal))
    conn = connect(f"file:{target}?immutable=1", busy_timeout_ms, uri=True)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


def _wal(conn: sqlite3.Connection) -> None:
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if mode.lower() != "wal":
        with contextlib.suppress(sqlite3.OperationalError):
            conn.execute("PRAGMA journal_mode = WAL")


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {n for n, in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not n.startswith("sqlite_")}


def _refuse_foreign(conn: sqlite3.Connection, path: str, force_init: bool) -> None:
    """Another program's database (tables, no kq schema history) is not taken over unasked."""
    tables = _tables(conn)
    if tables and "schema_migrations" not in tables and not force_init:
        shown = ", ".join(sorted(tables)[:3]) + (", …" if len(tables) > 3 else "")
        raise NotAKqDatabase(_("{path}: an SQLite database of another program (tables {shown}; no kq schema "
                               "history): a mistyped --db? `kq init --force-init` adopts it").format(
                                 path=path, shown=shown))


def _refuse_outdated(conn: sqlite3.Connection, path: str) -> None:
    have = {v for v, in conn.execute("SELECT version FROM schema_migrations")} \
        if "schema_migrations" in _tables(conn) else set()
    missing = [v for v, _, _ in migrations() if v not in have]
    if missing:
        raise DatabaseReadOnly(_("{path} is read-only and at schema version {value}; this kq needs {value2}: "
                                 "ask its owner to run `kq init`").format(
                                   path=path, value=max(have, default=0), value2=latest_version()))


# --------------------------------------------------------------------------- migrations
@dataclass(frozen=True)
class InitReport:
    """What ``kq init`` did: the migrations it applied (``0003_lists`` …) and the version now."""

    applied: list[str]
    version: int


def init_db(db: sqlite_utils.Database, path: str | None = None) -> InitReport:
    """Bring an open database to the latest schema version (``kq init``)."""
    applied = apply_migrations(db, path)
    return InitReport(applied, current_version(db))


def current_version(db: sqlite_utils.Database) -> int:
    return db.conn.execute("PRAGMA user_version").fetchone()[0]


def applied_versions(db: sqlite_utils.Database) -> set[int]:
    """Versions recorded in ``schema_migrations`` (empty for a new database)."""
    try:
        return {v for v, in db.conn.execute("SELECT version FROM schema_migrations")}
    except sqlite3.OperationalError:  # no such table: nothing applied yet
        return set()


def apply_migrations(db: sqlite_utils.Database, path: str | None = None) -> list[str]:
    """Apply every migration not yet recorded in ``schema_migrations``, in order, each in its own
    transaction. A migration numbered below one already applied (two branches landing in either
    order) is still applied; ``PRAGMA user_version`` holds the highest version applied."""
    done = applied_versions(db)
    pending = [m for m in migrations() if m[0] not in done]
    applied = []
    for version, name, sql in pending:
        try:
            with write_transaction(db):
                if version in applied_versions(db):  # another process got here first
                    continue
                for statement in _split_sql(sql):
                    db.conn.execute(statement)
                db.conn.execute(
                    "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, datetime('now'))",
                    (version, name))
                db.conn.execute(f"PRAGMA user_version = {max(version, current_version(db))}")
        except sqlite3.DatabaseError as exc:
            if database_error(exc, path or "database") is not None:
                raise
            raise DatabaseError(_("{value}: migration {version:04d}_{name} failed: {exc}").format(
                                    value=path or 'database', version=version, name=name, exc=exc)) from None
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


# --------------------------------------------------------------------------- transactions, bulk work
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


@contextlib.contextmanager
def bulk(db: sqlite_utils.Database, cache_kib: int | None = None):
    """Work on millions of rows: no cyclic garbage collection meanwhile (it would rescan the
    millions of small tuples again and again) and, given ``cache_kib``, a page cache of that size
    for this connection. Both are put back afterwards, also on an error."""
    enabled = gc.isenabled()
    gc.disable()
    old_cache = None
    try:
        if cache_kib is not None:
            old_cache = db.conn.execute("PRAGMA cache_size").fetchone()[0]
            db.conn.execute(f"PRAGMA cache_size = {-int(cache_kib)}")
        yield db
    finally:
        if old_cache is not None:
            db.conn.execute(f"PRAGMA cache_size = {old_cache}")
        if enabled:
            gc.enable()
