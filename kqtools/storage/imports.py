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
                 "rejected", "time", "converted", "undone_by", "sha256"]
REJECT_COLUMNS = ["line", "column", "name", "field", "value", "reason"]


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
        f"finished_at AS time, converted, undone_by, sha256 FROM batches {where} ORDER BY id DESC LIMIT ?",
        [*params, limit])


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
        'SELECT line, column_name AS "column", name, field, value, reason FROM rejects WHERE batch_id = ? '
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


# ---------------------------------------------------------------- undo
UNDO_COLUMNS = ["table", "key", "changed_by", "what"]


class CannotUndo(KqtoolsError):
    """``kq imports undo BATCH`` for a batch that cannot be reverted (an undo, undone already, too old)."""


@dataclass
class Undo:
    """What ``kq imports undo`` did, or would have done: ``conflicts`` are rows a later batch
    changed since (or a later import listed, for firms the batch created); without ``force`` nothing
    was written (``batch`` None), with ``force`` those rows kept their later values."""
    undone: int
    kind: str
    batch: int | None = None
    restored: int = 0
    deleted: int = 0
    conflicts: list[dict] | None = None
    force: bool = False

    @property
    def needs_attention(self) -> bool:
        return bool(self.conflicts) and not self.force

    def summary(self) -> dict:
        return {"undone": self.undone, "kind": self.kind, "batch": self.batch, "restored": self.restored,
                "deleted": self.deleted, "kept": len(self.conflicts or ()) if self.force else 0,
                "refused": self.needs_attention}


def _literal(text):
    """A value written by SQLite's ``quote()`` back as a Python value (REAL with every digit)."""
    if text is None or text == "NULL":
        return None
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text[:2] in ("X'", "x'"):
        return bytes.fromhex(text[2:-1])
    return float(text) if any(ch in text for ch in ".eEnN") else int(text)


def undo_batch(db, batch: int, force: bool = False) -> Undo:
    """Revert import batch ``batch``: rows it changed get their previous values back (the whole row,
    as it was), rows it inserted are deleted, and so are the firms it created in ``enterprises``.
    Rows a later batch changed since are *conflicts*: without ``force`` nothing is written and they
    are returned; with ``force`` they keep their later values and the rest is reverted. The undo is
    itself a batch (kind ``undo``, ``undoes`` = ``batch``); the reverted batch is marked ``undone_by``."""
    import json

    from ..kinds import get_kind

    with write_transaction(db) as conn:
        found = conn.execute("SELECT kind, inserted_rowids, undone_by FROM batches WHERE id = ?", [batch]).fetchone()
        if found is None:
            raise NoSuchBatch(f"no import batch {batch} (see kq imports)")
        kind_name, ranges, undone_by = found
        if kind_name == "undo":
            raise CannotUndo(f"batch {batch} is itself an undo; import the file again instead")
        if kind_name == "requests":  # each request has a timeline of steps taken since: not a list to revert
            raise CannotUndo(f"batch {batch} imported requests, whose steps are recorded since; "
                             f"change them with kq requests")
        if undone_by is not None:
            raise CannotUndo(f"batch {batch} was undone already (by batch {undone_by})")
        if ranges is None:
            raise CannotUndo(f"batch {batch} was imported by an older kq that did not keep what it changed: "
                             f"it cannot be undone; import the earlier file again instead")
        kind = get_kind(kind_name)
        table = kind.table
        q = '"' + table + '"'
        keys = ", ".join(f'"{k}"' for k in kind.key)
        result = Undo(batch, kind_name, force=force)
        conflicts: list[dict] = []

        def conflict(tbl, key, changed_by, what):
            conflicts.append({"table": tbl, "key": "/".join("" if k is None else str(k) for k in key),
                              "changed_by": changed_by, "what": what})

        restore = []
        for row_id, old_row in conn.execute("SELECT row_id, old_row FROM import_changes WHERE batch_id = ? "
                                            "AND tbl = ? ORDER BY row_id", [batch, table]).fetchall():
            cur = conn.execute(f"SELECT batch_id, seen_batch, {keys} FROM {q} WHERE rowid = ?", [row_id]).fetchone()
            old = {c: _literal(v) for c, v in json.loads(old_row).items()}
            if cur is None:
                conflict(table, [old.get(k) for k in kind.key], None, "deleted since")
            elif cur[0] != batch and cur[0] != old.get("batch_id"):
                conflict(table, cur[2:], cur[0], "changed since")
            else:
                if cur[1] != batch:  # a later import listed it (unchanged): it keeps that mark
                    old.pop("seen_batch", None)
                    old.pop("seen_line", None)
                restore.append((row_id, old))
        ranges = json.loads(ranges)
        for tbl, (after, upto) in ranges.items():
            tkeys = ", ".join(f'"{k}"' for k in (kind.key if tbl == table else ["uscc"]))
            for rowid, changed_by, *key in conn.execute(
                    f'SELECT rowid, batch_id, {tkeys} FROM "{tbl}" WHERE rowid > ? AND rowid <= ? '
                    f"AND batch_id IS NOT ?", [after, upto, batch]).fetchall():
                conflict(tbl, key, changed_by, "changed since")
        result.conflicts = conflicts
        if conflicts and not force:
            return result
        from ..clock import now_iso

        now = now_iso()
        undo_id = conn.execute(
            "INSERT INTO batches (kind, source, sha256, format, encoding, sheet, read, inserted, updated, unchanged,"
            " rejected, unknown_columns, started_at, finished_at, undoes) "
            "VALUES ('undo', ?, '', 'undo', NULL, NULL, 0, 0, 0, 0, 0, '[]', ?, ?, ?)",
            [f"batch {batch}", now, now, batch]).lastrowid
        for row_id, old in restore:
            cols = list(old)
            conn.execute(f"UPDATE {q} SET {', '.join(f'{chr(34)}{c}{chr(34)} = ?' for c in cols)} WHERE rowid = ?",
                         [old[c] for c in cols] + [row_id])
        result.restored = len(restore)
        for tbl, (after, upto) in ranges.items():
            ids = conn.execute(f'SELECT rowid FROM "{tbl}" WHERE rowid > ? AND rowid <= ? AND batch_id IS ?',
                               [after, upto, batch]).fetchall()
            conn.executemany(f'DELETE FROM "{tbl}" WHERE rowid = ?', ids)
            result.deleted += len(ids)
        conn.execute("UPDATE batches SET read = ?, updated = ?, unchanged = ?, deleted = ? WHERE id = ?",
                     [result.restored + result.deleted + len(conflicts), result.restored, len(conflicts),
                      result.deleted, undo_id])
        conn.execute("UPDATE batches SET undone_by = ? WHERE id = ?", [undo_id, batch])
        result.batch = undo_id
    return result
