"""Import batches as a capability: import a source, list the batches, show and purge their rejects.

The import pipeline itself (header plan, row code, record reading, SQL writing) is
:mod:`kqtools.importer`; this module is the one call each ``kq import``/``imports``/``rejects``
command makes, with the errors a clerk can meet turned into one line.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import IO, Callable

from ..clock import now_iso
from ..errors import KqtoolsError
from . import write_transaction

BATCH_COLUMNS = ["batch", "kind", "source", "format", "encoding", "read", "inserted", "updated", "unchanged",
                 "rejected", "time", "sha256"]
REJECT_COLUMNS = ["line", "column", "field", "value", "reason"]


class NoSuchBatch(KqtoolsError):
    """``kq rejects N`` for a batch that does not exist."""


def import_stream(db, stream: IO[bytes], name: str, kind: str, *, fmt: str | None = None,
                  encoding: str | None = None, sheet: str | None = None, strict: bool = False,
                  mapping: dict | None = None, progress: Callable[[int], None] | None = None,
                  constants: dict | None = None, header_row: int | None = None):
    """Read ``stream`` (named ``name``; ``-`` for stdin) as ``kind`` and import it: the
    :class:`~kqtools.importer.ImportResult`. An unusable source raises
    :class:`~kqtools.readers.SourceError`; a database that fails (locked past the busy timeout, a
    full disk) the :class:`~kqtools.storage.DatabaseError` that says so, adding that nothing was
    imported."""
    from ..importer import run_import
    from ..readers import SourceError, open_table

    try:
        source = open_table(stream, name, fmt, encoding, sheet)
        return run_import(db, source, kind, strict=strict, mapping=mapping, progress=progress,
                          constants=constants, header_row=header_row)
    except MemoryError:
        raise SourceError(f"{name}: out of memory while reading; split the file") from None
    except sqlite3.Error as exc:  # locked past the busy timeout, disk full, ...
        from . import database_error

        path = db.conn.execute("PRAGMA database_list").fetchone()[2] or ":memory:"
        mapped = database_error(exc, path)
        if mapped is None:  # an SQL mistake: a bug, shown as one
            raise
        raise type(mapped)(f"{mapped}; {name}: nothing imported") from None


def list_batches(db, kind: str | None = None, limit: int = 50) -> list[dict]:
    """Import batches, newest first (:data:`BATCH_COLUMNS`)."""
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    return db.execute_returning_dicts(
        f"SELECT id AS batch, kind, source, format, encoding, read, inserted, updated, unchanged, rejected, "
        f"finished_at AS time, sha256 FROM batches {where} ORDER BY id DESC LIMIT ?", [*params, limit])


@dataclass
class BatchRejects:
    batch: int
    rows: list[dict]                 # REJECT_COLUMNS
    purged_at: str | None = None     # when the rows were purged (then ``rows`` is empty)


def batch_rejects(db, batch: int) -> BatchRejects:
    """The rejected rows of one batch, in line order."""
    found = db.execute("SELECT rejects_purged_at FROM batches WHERE id = ?", [batch]).fetchone()
    if found is None:
        raise NoSuchBatch(f"no import batch {batch} (see kq imports)")
    rows = db.execute_returning_dicts(
        'SELECT line, column_name AS "column", field, value, reason FROM rejects WHERE batch_id = ? '
        "ORDER BY line, rowid", [batch])
    return BatchRejects(batch, rows, found[0])


@dataclass
class Purge:
    before: str
    batches: int
    rejects: int

    def summary(self) -> dict:
        return {"purged_before": self.before, "batches": self.batches, "rejects": self.rejects}


def purge_rejects(db, before: dt.date) -> Purge:
    """Delete the stored rejected rows of the batches finished before ``before`` (the batches and
    their counts stay, marked with the time of the purge)."""
    day = before.isoformat()
    old = "SELECT id FROM batches WHERE finished_at < ?"
    with write_transaction(db) as conn:
        batches = conn.execute(f"UPDATE batches SET rejects_purged_at = ? WHERE id IN "
                               f"(SELECT DISTINCT batch_id FROM rejects WHERE batch_id IN ({old}))",
                               [now_iso(), day]).rowcount
        deleted = conn.execute(f"DELETE FROM rejects WHERE batch_id IN ({old})", [day]).rowcount
    return Purge(day, batches, deleted)
