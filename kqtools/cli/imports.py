"""``kq import``, ``kq imports`` and ``kq rejects``: parse, one call to :mod:`kqtools.storage.imports`, print."""
from __future__ import annotations

import sys

import click

from ..i18n import _, ngettext
from .common import (KqError, date_arg, db_option, emit, get_db, info, labelled, labels_option, open_source,
                     output_options, settings, summary)
from .common import FORMATS, keep_output, summary_file_option

KINDS = ("enterprises", "designations", "metrics", "credit", "specialists", "visits", "requests")
SHOW_REJECTS = 20
INPUT_FORMATS = ["csv", "tsv", "xlsx", "xls", "json", "jsonl"]
#: the columns of a table (the rest with --wide or --columns; every one in JSON, CSV and files)
BATCH_TABLE = ["batch", "time", "kind", "source", "read", "inserted", "updated", "rejected"]


def parse_mapping(pairs, option: str = "--map", shape: str = "HEADER=field") -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        if option == "--set":
            header, sep, field = pair.partition("=")
        else:
            header, sep, field = pair.rpartition("=")
        if not sep or not header.strip() or not field.strip():
            raise click.BadParameter(_("{pair!r}: expected '{shape}'").format(pair=pair, shape=shape), param_hint=option)
        mapping[header.strip()] = field.strip()
    return mapping


@click.command("import")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("source", metavar="SOURCE")
@click.option("--input-format", "source_format", type=click.Choice(INPUT_FORMATS),
              help="Source format (default: from the extension or the content).")
@click.option("--format", "old_format", type=click.Choice(INPUT_FORMATS), hidden=True,
              help="Deprecated spelling of --input-format (for one release).")
@click.option("--encoding", help="Text encoding (default: UTF-8 with or without BOM, else GB18030/GBK).")
@click.option("--sheet", help="XLSX sheet name or number (default: the first).")
@click.option("--map", "maps", multiple=True, metavar="HEADER=field", help="Map a header to a field (repeatable).")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
              help="Fill FIELD with VALUE in every row (repeatable), read like a cell: --set kind=专精特新 --set year=2025.")
@click.option("--header-row", type=click.IntRange(min=1), metavar="N",
              help="The header is on row N (sheet row or line; default: found among the first 10 rows).")
@click.option("--strict", is_flag=True, help="Write nothing if any row is rejected.")
@click.option("--rejects", "rejects_path", metavar="FILE",
              help="Write each rejected row whole to FILE (.csv or .xlsx), with 行号 and 错误原因 columns: fix it and import it again.")
@click.option("-f", "--format-output", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format of the summary (default: $KQ_FORMAT, else table on a terminal and JSON "
                   "otherwise). --format will mean this, as on every other command, once its deprecated "
                   "use for the input format is gone.")
@summary_file_option()
@labels_option
@db_option
def import_(kind, source, source_format, old_format, encoding, sheet, maps, sets, header_row, strict, rejects_path,
            fmt, output):
    """Import SOURCE (a path, or - for stdin) as KIND.

    \b
    Formats: CSV, TSV, XLSX, XLS, JSON (array of objects), JSONL. Headers may be the canonical
    field names or the Chinese headers clerks use; money is in 万元 (other units are converted).
    Rows are upserted by key; every rejected row is reported with its line and reason.
    Exit 0: nothing rejected; 1: some rows rejected; 2: the source is unusable.
    """
    from ..errors import status_of
    from ..importer import resolve_constants, resolve_mapping
    from ..importer.diagnostics import notes, reject_line
    from ..kinds import get_kind
    from ..storage.imports import import_stream

    if old_format:
        if source_format and source_format != old_format:
            raise click.UsageError(_("--format (deprecated) and --input-format disagree; give --input-format only"))
        info(_("kq: warning: --format on kq import is deprecated: use --input-format (-f is the output format)"))
        source_format = source_format or old_format
    keep_output(fmt, output)
    mapping = parse_mapping(maps)
    if rejects_path:  # before the import: a symbolic link, a folder that does not exist, an unknown extension
        from ..output import check_output_path

        check_output_path(rejects_path)
    constants = parse_mapping(sets, "--set", "FIELD=VALUE")
    resolve_mapping(get_kind(kind), mapping)  # an unknown --map target fails before the database is opened
    resolve_constants(get_kind(kind), constants)
    db = get_db()
    stream = open_source(source)
    progress = _progress(source) if sys.stderr.isatty() else None
    try:
        result = import_stream(db, stream, source, kind, fmt=source_format, encoding=encoding, sheet=sheet,
                               strict=strict, mapping=mapping, progress=progress, constants=constants,
                               header_row=header_row)
    finally:
        if progress:
            progress.close()
        if stream is not sys.stdin.buffer:
            stream.close()

    for line in notes(source, result):
        info(line)
    for r in result.rejects[:SHOW_REJECTS]:
        info(reject_line(source, r))
    if len(result.rejects) > SHOW_REJECTS:
        more = len(result.rejects) - SHOW_REJECTS
        info((_("... and {n} more rejects") if rejects_path else
              _("... and {n} more rejects; use --rejects FILE for all of them")).format(n=more))
    failed = _write_rejects(rejects_path, result) if rejects_path else None
    if strict and result.rejected:
        info(_("{source}: --strict and {n} rows rejected: nothing written").format(source=source, n=result.rejected))
    _print_summary(result.summary(), fmt if not output else None)
    if failed is not None:
        raise failed
    return status_of(result.needs_attention)


def _print_summary(record: dict, fmt: str | None):
    """One JSON object, or on a terminal a table of the fields that have a value."""
    from .common import default_format

    fmt = fmt or (None if click.get_current_context().meta.get("kq.output") else default_format("json"))
    if fmt == "table":
        record = {k: v for k, v in record.items() if k != "sha256" and v not in (None, [], "", 0) or k in (
            "read", "inserted", "updated", "unchanged", "rejected")}
    summary(record, fmt)


def _write_rejects(path: str, result) -> KqError | None:
    """Write the rejects file (the rejected rows whole: :func:`~kqtools.importer.diagnostics.rejects_table`);
    after the import, a failure is said plainly (exit 1), with what the import itself did, and
    returned to be raised once the summary is out."""
    from .. import output
    from ..errors import ExitStatus
    from ..files import OutputFileError
    from ..importer.diagnostics import rejects_table

    # the rows under the source's own headers, plus 行号 and 错误原因: already what a clerk reads
    columns, rows = rejects_table(result)
    try:
        output.write_file(path, rows, columns, mode=settings().file_mode, tz=settings().tz)
    except OutputFileError as exc:
        done = (_("the import itself was committed (batch {batch}; kq rejects {batch} shows the rejected rows)")
                if result.written else _("nothing was imported")).format(batch=result.batch)
        return KqError(f"{exc}; {done}", exit_code=ExitStatus.ATTENTION)
    info(_("wrote {n} rejected rows to {path}, whole, with 行号 and 错误原因: fix them there and import the file "
           "again").format(n=len(rows), path=path))
    return None


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


@click.group(invoke_without_command=True)
@click.option("--kind", type=click.Choice(KINDS + ("undo",)), help="Only batches of this kind.")
@click.option("--limit", type=int, default=50, show_default=True)
@output_options
@db_option
@click.pass_context
def imports(ctx, kind, limit):
    """List import batches, newest first; `kq imports undo BATCH` reverts one."""
    from ..errors import ExitStatus
    from ..storage.imports import BATCH_COLUMNS, list_batches

    if ctx.invoked_subcommand is not None:
        return ExitStatus.OK
    emit(list_batches(get_db(), kind, limit), BATCH_COLUMNS, default=BATCH_TABLE)
    return ExitStatus.OK


@imports.command("undo")
@click.argument("batch", type=int)
@click.option("--force", is_flag=True, help="Revert anyway; rows a later batch changed keep their later values.")
@output_options
@db_option
def undo(batch, force):
    """Revert import batch BATCH: the rows it changed get their previous values back, the rows it
    inserted are deleted. Refused (exit 1, the rows listed) when a later batch changed some of them
    since, unless --force. The undo is itself a batch (kind undo)."""
    from ..errors import status_of
    from ..storage.imports import UNDO_COLUMNS, undo_batch

    done = undo_batch(get_db(), batch, force)
    if done.conflicts:
        if force:
            info(_("batch {batch}: {n} rows kept their later values").format(batch=batch, n=len(done.conflicts)))
        else:
            info(_("batch {batch}: {n} rows were changed since by a later batch; nothing was undone (--force "
                   "reverts the rest and keeps those)").format(batch=batch, n=len(done.conflicts)))
        emit(done.conflicts, UNDO_COLUMNS)
    if done.batch is not None:
        info(_("batch {batch} undone by batch {undo}: {restored} rows restored, {deleted} deleted").format(
            batch=batch, undo=done.batch, restored=done.restored, deleted=done.deleted))
        if not done.conflicts:
            summary(done.summary())
    return status_of(done.needs_attention)


@click.command()
@click.argument("batch", type=int, required=False)
@click.option("--purge-before", "purge_before", metavar="DATE",
              help="Delete the stored rejected rows of every batch finished before DATE (the batches and their "
                   "counts stay).")
@output_options
@db_option
def rejects(batch, purge_before):
    """Show the rejected rows of import batch BATCH, or delete old ones with --purge-before DATE."""
    from ..errors import ExitStatus
    from ..storage.imports import REJECT_COLUMNS, batch_rejects, purge_rejects

    if (batch is None) == (purge_before is None):
        raise click.UsageError(_("give a BATCH to show, or --purge-before DATE (not both)"))
    if purge_before is not None:
        done = purge_rejects(get_db(), date_arg(purge_before, "--purge-before"))
        rows = ngettext("{rejects:,} rejected row", "{rejects:,} rejected rows", done.rejects)
        batches = ngettext("{batches:,} batch", "{batches:,} batches", done.batches)
        info(_("deleted {rows} of {batches} finished before {before}").format(
            rows=rows.format(rejects=done.rejects), batches=batches.format(batches=done.batches), before=done.before))
        summary(done.summary())
        return ExitStatus.OK
    found = batch_rejects(get_db(), batch)
    if found.purged_at:
        info(_("the rejected rows of batch {batch} were deleted on {date} (kq rejects --purge-before)").format(
            batch=batch, date=found.purged_at[:10]))
    emit(found.rows, REJECT_COLUMNS)
    return ExitStatus.OK
