"""``kq demo``: the bundled demo data loaded into a fresh database, then each capability's step on it.

A demo database is one whose every import batch is a bundled demo file (same name and sha256).
Only such a database is replaced without asking; ``force`` replaces any other file except a
database with import batches of its own, which the demo never deletes.

A capability adds a step: a function ``demo_step(db, echo)`` outside ``kqtools/cli``, named
``"module:function"`` in the command's ``STEPS`` list. ``echo`` prints one line of the demo's
story; a step raises :class:`~kqtools.errors.KqtoolsError` for a problem worth reporting.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import shlex
import sqlite3
from dataclasses import dataclass
from typing import Callable, Sequence
from urllib.parse import quote

from ..errors import KqtoolsError
from ..i18n import _, display_width, pad, pgettext
from ..labels import column_label
from ..settings import DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_FILE_MODE
from . import DatabaseDamaged, check_db_path, database_error, open_db

DEFAULT_PATH = "kq-demo.db"
# (kind, file in fixtures/demo): the formats clerks really send
DEMO_FILES = [
    ("enterprises", "enterprises.csv"),       # GBK CSV exported by Excel, Chinese headers
    ("designations", "designations.xlsx"),    # workbook with a title row and Excel date cells
    ("metrics", "metrics.xlsx"),              # two years of metrics
    ("credit", "credit.jsonl"),               # credit records from another system
    ("specialists", "specialists.csv"),
    ("visits", "visits.jsonl"),
]


class DemoRefused(KqtoolsError):
    """The demo will not replace this file (it is not a demo database, or it holds imports of its own)."""


@dataclass
class DemoReport:
    path: str
    problems: int = 0

    @property
    def needs_attention(self) -> bool:
        return self.problems > 0


def demo_dir():
    from importlib import resources

    return resources.files("kqtools.fixtures").joinpath("demo")


def _demo_digests() -> set[tuple[str, str]]:
    """(name, sha256) of every bundled demo file, and of those one folder down (``ladder/``): a step may
    import one that DEMO_FILES does not list."""
    return {(entry.name, hashlib.sha256(entry.read_bytes()).hexdigest())
            for top in demo_dir().iterdir() for entry in (top.iterdir() if top.is_dir() else (top,)) if entry.is_file()}


def _batches(path: str) -> list[tuple[str, str]] | None:
    """(source, sha256) of every import batch in the SQLite file at ``path``; None if it is not an
    SQLite database at all; [] for one without kq batches."""
    uri = f"file:{quote(os.path.abspath(path))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        tables = {n for n, in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "batches" not in tables:
            return []
        return [(s, h) for s, h in conn.execute("SELECT source, sha256 FROM batches")]
    except sqlite3.DatabaseError as exc:
        mapped = database_error(exc, path)
        if mapped is None or isinstance(mapped, DatabaseDamaged):
            return None
        raise mapped from None
    finally:
        conn.close()


def check_target(path: str, force: bool = False) -> str:
    """Whether ``kq demo`` may (re)create the database at ``path``: ``"new"`` (nothing there),
    ``"demo"`` (a demo database), ``"forced"`` (another file, replaced because of ``force``).
    Raises :class:`DemoRefused` otherwise, and always for a database with imports of its own."""
    check_db_path(path)
    if not os.path.lexists(path):
        return "new"
    batches = _batches(path)
    if batches:
        demo = _demo_digests()
        own = [source for source, digest in batches if (source, digest) not in demo]
        if own:
            raise DemoRefused(_("{path}: a database with {n} import batch(es) of its own (e.g. {value}): kq "
                                "demo never replaces it, even with --force; give the demo another --db").format(
                                  path=path, n=len(own), value=own[0]))
        return "demo"
    if force:
        return "forced"
    if batches is None:    # two whole sentences, not one with a phrase put in: a translation may reorder
        raise DemoRefused(_("{path} exists and is not an SQLite database: kq demo replaces only its own demo "
                            "databases (--force replaces this file; or give the demo another --db)").format(path=path))
    raise DemoRefused(_("{path} exists and is a database without demo imports: kq demo replaces only its own demo "
                        "databases (--force replaces this file; or give the demo another --db)").format(path=path))


def _naming(echo: Callable[[str], None], shown: str) -> Callable[[str], None]:
    """Steps written before their hints named the database say ``--db kq-demo.db``: say this one."""
    def echo_naming(line: str) -> None:
        echo(line.replace(f"--db {DEFAULT_PATH}", f"--db {shown}"))
    return echo_naming


def run_demo(path: str, steps: Sequence[str], echo: Callable[[str], None], warn: Callable[[str], None], *,
             force: bool = False, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
             file_mode: int = DEFAULT_FILE_MODE) -> DemoReport:
    """Replace (see :func:`check_target`) the database at ``path`` with a fresh one, import the demo
    files into it and run each step; ``echo`` tells the story, ``warn`` reports problems."""
    from ..importer import run_import
    from ..readers import open_table

    check_target(path, force)
    for suffix in ("", "-wal", "-shm", "-journal"):   # a stale journal would be applied to the new file
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass
    report = DemoReport(path)
    db = open_db(path, readonly=False, busy_timeout_ms=busy_timeout_ms, file_mode=file_mode)
    shown = shlex.quote(path)
    if path != DEFAULT_PATH:
        echo = _naming(echo, shown)
    try:
        echo(_("kq demo: fresh database {path}").format(path=path))
        folder = demo_dir()
        kinds = {kind: pgettext("value:kind", kind) for kind, _name in DEMO_FILES}
        kind_width = max(map(display_width, kinds.values())) + 1
        for kind, name in DEMO_FILES:
            entry = folder.joinpath(name)
            if not entry.is_file():
                warn(_("demo: {name} missing from the package").format(name=name))
                report.problems += 1
                continue
            with entry.open("rb") as fh:
                result = run_import(db, open_table(fh, name), kind)
            echo(_("  imported {kind} from {name} ({format}): {read} read, {inserted} inserted, "
                   "{rejected} rejected").format(
                kind=pad(kinds[kind], kind_width), name=pad(name, 20),
                format=", ".join(x for x in (result.format, result.encoding) if x),
                read=result.read, inserted=result.inserted, rejected=result.rejected))
            for r in result.rejects[:10]:
                echo(_("    line {line}: {field}: {reason}").format(
                    line=r.line, field=column_label(r.field, kind) if r.field else _("row"), reason=r.reason))
            if len(result.rejects) > 10:
                echo(_("    … and {n} more (kq --db {db} rejects {batch})").format(
                    n=len(result.rejects) - 10, db=shown, batch=result.batch))
        for step in steps:
            module, attr = step.split(":")
            try:
                fn = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                warn(_("demo step {step} cannot be loaded: {error}").format(
                    step=step, error=f"{type(exc).__name__}: {exc}"))
                report.problems += 1
                continue
            echo("")
            try:
                fn(db, echo)
            except KqtoolsError as exc:
                warn(_("demo step {module}: {error}").format(module=module, error=exc))
                report.problems += 1
        echo("")
        echo(_("Explore it: kq --db {db} enterprises list | head; kq --db {db} imports").format(db=shown))
    finally:
        db.conn.close()
    return report
