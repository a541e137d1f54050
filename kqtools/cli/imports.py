"""``kq import``, ``kq imports`` and ``kq rejects``."""
from __future__ import annotations

import sys

import click

from .common import ATTENTION, OK, KqError, db_option, emit, get_db, info, open_source, output_options, settings

KINDS = ("enterprises", "designations", "metrics", "credit", "specialists", "visits", "requests")
SHOW_REJECTS = 20


def parse_mapping(pairs) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        header, sep, field = pair.rpartition("=")
        if not sep or not header.strip() or not field.strip():
            raise click.BadParameter(f"{pair!r}: expected 'HEADER=field'", param_hint="--map")
        mapping[header.strip()] = field.strip()
    return mapping


@click.command("import")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("source", metavar="SOURCE")
@click.option("--format", "source_format", type=click.Choice(["csv", "tsv", "xlsx", "json", "jsonl"]),
              help="Source format (default: from the extension or the content).")
@click.option("--encoding", help="Text encoding (default: UTF-8 with or without BOM, else GB18030/GBK).")
@click.option("--sheet", help="XLSX sheet name or number (default: the first).")
@click.option("--map", "maps", multiple=True, metavar="HEADER=field", help="Map a header to a field (repeatable).")
@click.option("--strict", is_flag=True, help="Write nothing if any row is rejected.")
@click.option("--rejects", "rejects_path", metavar="FILE", help="Write rejected rows to FILE (CSV: line,column,field,value,reason).")
@click.option("-f", "--format-output", "fmt", type=click.Choice(["table", "json", "jsonl"]), default=None,
              help="Summary format (default: table on a terminal, json otherwise).")
@db_option
def import_(kind, source, source_format, encoding, sheet, maps, strict, rejects_path, fmt):
    """Import SOURCE (a path, or - for stdin) as KIND.

    \b
    Formats: CSV, TSV, XLSX, JSON (array of objects), JSONL. Headers may be the canonical
    field names or the Chinese headers clerks use; money is in 万元.
    Rows are upserted by key; every rejected row is reported with its line and reason.
    Exit 0: nothing rejected; 1: some rows rejected; 2: the source is unusable.
    """
    from ..importer import UnknownField, resolve_mapping, run_import
    from ..kinds import get_kind
    from ..readers import SourceError, open_table

    mapping = parse_mapping(maps)
    if rejects_path:  # before the import: a symbolic link, a folder that does not exist, an unknown extension
        from ..output import check_output_path

        check_output_path(rejects_path)
    try:
        resolve_mapping(get_kind(kind), mapping)
    except UnknownField as exc:
        raise KqError(str(exc)) from None
    db = get_db()
    stream = open_source(source)
    progress = _progress(source) if sys.stderr.isatty() else None
    try:
        src = open_table(stream, source, source_format, encoding, sheet)
        result = run_import(db, src, kind, strict=strict, mapping=mapping, progress=progress)
    except SourceError as exc:
        raise KqError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise KqError(f"{source}: not valid {exc.encoding} text (use --encoding)") from None
    except MemoryError:
        raise KqError(f"{source}: out of memory while reading; split the file") from None
    except Exception as exc:  # sqlite3.OperationalError: locked past the busy timeout, disk full, ...
        import sqlite3

        if isinstance(exc, sqlite3.Error):
            raise KqError(f"{source}: database error, nothing imported: {exc}") from None
        raise
    finally:
        if progress:
            progress.close()
        if stream is not sys.stdin.buffer:
            stream.close()

    if result.unknown_columns:
        info(f"{source}: kept unknown columns in 'extra': {', '.join(result.unknown_columns)}")
    for r in result.rejects[:SHOW_REJECTS]:
        where = f"{source}: line {r.line}" + (f", column {r.column}" if r.column else "")
        info(f"{where}: {r.field or 'row'}: {r.reason}" + (f" (value {r.value!r})" if r.value else ""))
    if len(result.rejects) > SHOW_REJECTS:
        info(f"... and {len(result.rejects) - SHOW_REJECTS} more rejects"
             + ("" if rejects_path else "; use --rejects FILE for all of them"))
    failed = _write_rejects(rejects_path, result) if rejects_path else None
    if strict and result.rejected:
        info(f"{source}: --strict and {result.rejected} rows rejected: nothing written")
    _print_summary(result.summary(), fmt)
    if failed is not None:
        raise failed
    return ATTENTION if result.rejected else OK


def _write_rejects(path: str, result) -> KqError | None:
    """Write the rejects file; after the import, a failure is said plainly (exit 1), with what the
    import itself did, and returned to be raised once the summary is out."""
    from .. import output
    from ..files import OutputFileError

    try:
        output.write_file(path, (r.as_dict() for r in result.rejects), ["line", "column", "field", "value", "reason"],
                          mode=settings().file_mode)
    except OutputFileError as exc:
        done = (f"the import itself was committed (batch {result.batch}; kq rejects {result.batch} shows the "
                "rejected rows)" if result.written else "nothing was imported")
        return KqError(f"{exc}; {done}", exit_code=ATTENTION)
    info(f"wrote {len(result.rejects)} rejects to {path}")
    return None


def _print_summary(summary: dict, fmt: str | None):
    import json

    from .common import stdout_is_tty

    fmt = fmt or ("table" if stdout_is_tty() else "json")
    if fmt in ("json", "jsonl"):
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    from .. import output

    shown = {k: v for k, v in summary.items() if k not in ("sha256",) and v not in (None, [], "")}
    rows = [{"": k, "value": output.cell_text(v)} for k, v in shown.items()]
    output.render(rows, ["", "value"], "table", click.get_text_stream("stdout"))


class _progress:
    """Rows staged so far, on stderr (only when stderr is a terminal)."""

    def __init__(self, source):
        self.source, self.shown = source, False

    def __call__(self, n):
        click.echo(f"\r{self.source}: {n:,} rows checked", err=True, nl=False)
        self.shown = True

    def close(self):
        if self.shown:
            click.echo("", err=True)


@click.command()
@click.option("--kind", type=click.Choice(KINDS), help="Only batches of this kind.")
@click.option("--limit", type=int, default=50, show_default=True)
@output_options
@db_option
def imports(kind, limit):
    """List import batches, newest first."""
    db = get_db()
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    rows = db.execute_returning_dicts(
        f"SELECT id AS batch, kind, source, format, encoding, read, inserted, updated, unchanged, rejected, "
        f"finished_at AS time, sha256 FROM batches {where} ORDER BY id DESC LIMIT ?", [*params, limit])
    emit(rows, ["batch", "kind", "source", "format", "encoding", "read", "inserted", "updated", "unchanged",
                "rejected", "time", "sha256"])
    return 0


@click.command()
@click.argument("batch", type=int)
@output_options
@db_option
def rejects(batch):
    """Show the rejected rows of import batch BATCH."""
    db = get_db()
    if not db.execute("SELECT 1 FROM batches WHERE id = ?", [batch]).fetchone():
        raise KqError(f"no import batch {batch} (see kq imports)")
    rows = db.execute_returning_dicts(
        "SELECT line, field, value, reason FROM rejects WHERE batch_id = ? ORDER BY line, rowid", [batch])
    emit(rows, ["line", "field", "value", "reason"])
    return 0
