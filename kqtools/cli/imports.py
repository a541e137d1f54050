"""``kq import``, ``kq imports`` and ``kq rejects``."""
from __future__ import annotations

import sys

import click

from ..i18n import _
from .common import (ATTENTION, OK, KqError, db_option, emit, get_db, info, labelled, labels_option, open_source,
                     output_options)

KINDS = ("enterprises", "designations", "metrics", "credit", "specialists", "visits", "requests")
SHOW_REJECTS = 20


def parse_mapping(pairs) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        header, sep, field = pair.rpartition("=")
        if not sep or not header.strip() or not field.strip():
            raise click.BadParameter(_("{pair!r}: expected 'HEADER=field'").format(pair=pair), param_hint="--map")
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
@labels_option
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
        raise KqError(_("{source}: not valid {encoding} text (use --encoding)").format(
            source=source, encoding=exc.encoding)) from None
    except MemoryError:
        raise KqError(_("{source}: out of memory while reading; split the file").format(source=source)) from None
    except Exception as exc:  # sqlite3.OperationalError: locked past the busy timeout, disk full, ...
        import sqlite3

        if isinstance(exc, sqlite3.Error):
            raise KqError(_("{source}: database error, nothing imported: {error}").format(
                source=source, error=exc)) from None
        raise
    finally:
        if progress:
            progress.close()
        if stream is not sys.stdin.buffer:
            stream.close()

    if result.unknown_columns:
        info(_("{source}: kept unknown columns in 'extra': {columns}").format(
            source=source, columns=", ".join(result.unknown_columns)))
    for r in result.rejects[:SHOW_REJECTS]:
        where = (_("{source}: line {line}, column {column}") if r.column else _("{source}: line {line}")).format(
            source=source, line=r.line, column=r.column)
        said = _("{where}: {field}: {reason} (value {value!r})") if r.value else _("{where}: {field}: {reason}")
        info(said.format(where=where, field=r.field or _("row"), reason=r.reason, value=r.value))
    if len(result.rejects) > SHOW_REJECTS:
        more = len(result.rejects) - SHOW_REJECTS
        info((_("... and {n} more rejects") if rejects_path else
              _("... and {n} more rejects; use --rejects FILE for all of them")).format(n=more))
    if rejects_path:
        from .. import output

        rows, columns = (r.as_dict() for r in result.rejects), ["line", "column", "field", "value", "reason"]
        if labelled(output.format_for_path(rejects_path) in ("xlsx", "csv", "tsv")):
            from .. import labels

            rows, columns = labels.relabel(rows, columns)
        output.write_file(rejects_path, rows, columns)
        info(_("wrote {n} rejects to {path}").format(n=len(result.rejects), path=rejects_path))
    if strict and result.rejected:
        info(_("{source}: --strict and {n} rows rejected: nothing written").format(source=source, n=result.rejected))
    _print_summary(result.summary(), fmt)
    return ATTENTION if result.rejected else OK


def _print_summary(summary: dict, fmt: str | None):
    import json

    from .common import stdout_is_tty

    fmt = fmt or ("table" if stdout_is_tty() else "json")
    if fmt in ("json", "jsonl"):
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    from .. import labels, output

    shown = {k: v for k, v in summary.items() if k not in ("sha256",) and v not in (None, [], "")}
    if labelled(True):
        shown = {labels.column_label(k): labels.value_mapper(k)(v) for k, v in shown.items()}
        value = labels.column_label("value")
    else:
        value = "value"
    rows = [{"": k, value: output.cell_text(v)} for k, v in shown.items()]
    output.render(rows, ["", value], "table", click.get_text_stream("stdout"))


class _progress:
    """Rows staged so far, on stderr (only when stderr is a terminal)."""

    def __init__(self, source):
        self.source, self.shown = source, False

    def __call__(self, n):
        click.echo("\r" + _("{source}: {n:,} rows checked").format(source=self.source, n=n), err=True, nl=False)
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
        raise KqError(_("no import batch {batch} (see kq imports)").format(batch=batch))
    rows = db.execute_returning_dicts(
        "SELECT line, field, value, reason FROM rejects WHERE batch_id = ? ORDER BY line, rowid", [batch])
    emit(rows, ["line", "field", "value", "reason"])
    return 0
