"""What every command shares: the settings and the database, output options, argument parsing.

A command parses its options, makes ONE service call, renders the result with :func:`emit` or
:func:`summary`, and returns an :class:`~kqtools.errors.ExitStatus` (``status_of(result.needs_attention)``
for a result that may need a person's attention). Errors are :class:`~kqtools.errors.KqtoolsError`
raised anywhere below; ``kqtools.cli.run`` reports them.

Only click is imported here: ``kq --help`` must stay fast. (A little over 500 lines: the output
options, table defaults and local times are the one output boundary every command shares.)
"""
from __future__ import annotations

import functools
import sys
from typing import Iterable, Sequence

import click

from ..errors import ExitStatus, KqtoolsError
from ..i18n import _

OK, ATTENTION = ExitStatus.OK, ExitStatus.ATTENTION   # for command modules not yet on ExitStatus


class KqError(KqtoolsError):
    """A one-line error raised by the command layer itself; exit 2 unless said otherwise."""

    def __init__(self, message: str, exit_code: int = ExitStatus.USAGE):
        super().__init__(message, exit_status=exit_code)


def settings():
    """The :class:`~kqtools.settings.Settings` of the running command (built once by the root group
    from the flags and ``KQ_*`` variables; ``--db`` after the command name replaces its database)."""
    from ..settings import Settings

    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Settings) if ctx is not None else None
    return found if found is not None else Settings.from_env()


def db_option(f):
    """``--db PATH`` on a command (also accepted before the command name); ``$KQ_DB``; ``./kq.db``."""

    @click.option("--db", "db_path", metavar="PATH", default=None,
                  help="SQLite database (default $KQ_DB, else ./kq.db).")
    @functools.wraps(f)
    def wrapper(*args, db_path=None, **kwargs):
        if db_path:
            use_db(db_path)
        return f(*args, **kwargs)

    return wrapper


def use_db(path: str) -> None:
    """This command works on the database at ``path`` (its own ``--db`` option)."""
    ctx = click.get_current_context()
    ctx.obj = settings().with_(db=str(path))


def require_db_dir(path: str) -> str:
    """A database path whose directory exists: a mistyped --db must not create folders."""
    from pathlib import Path

    parent = Path(path).parent
    if path != ":memory:" and not parent.is_dir():
        raise KqError(_("{path}: directory {parent} does not exist (a mistyped --db or $KQ_DB?)").format(
            path=path, parent=parent))
    return path


def chosen_db_path() -> str:
    """The database of this command: ``--db`` / ``$KQ_DB`` / ``./kq.db``, in a directory that exists."""
    return require_db_dir(settings().db)


def get_db(migrate: bool = True, readonly: bool | None = None, force_init: bool = False):
    """Open the database of this command (created and migrated on first use); closed when the
    command ends. ``readonly=True`` for a command that only reads (it then works on a database the
    user cannot write), ``False`` for one that writes (a read-only database is refused up front);
    see :func:`kqtools.storage.open_db`."""
    from ..storage import open_db

    s = settings()
    path = chosen_db_path()
    db = open_db(path, migrate=migrate, readonly=readonly, busy_timeout_ms=s.busy_timeout_ms,
                 file_mode=s.file_mode, force_init=force_init)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta["kq.db_opened"] = path
        ctx.call_on_close(db.conn.close)
    return db


#: output formats kq prints (``-f``, ``$KQ_FORMAT``)
FORMATS = ("table", "csv", "tsv", "json", "jsonl")


def format_option(formats: Sequence[str] = FORMATS):
    """``-f/--format``: the output format, on every command that prints records or a summary."""
    return click.option("-f", "--format", "fmt", type=click.Choice(list(formats)), default=None,
                        help="Output format (default: $KQ_FORMAT, else table on a terminal and JSON Lines "
                             "otherwise).")


def summary_format_option(formats: Sequence[str] = FORMATS):
    """``-f/--format`` of a command that prints one summary."""
    return click.option("-f", "--format", "fmt", type=click.Choice(list(formats)), default=None,
                        help="Output format (default: $KQ_FORMAT, else table on a terminal and one JSON "
                             "object otherwise).")


def file_option():
    """``-o/--output FILE``, on every command that prints records or a summary."""
    return click.option("-o", "--output", "output", metavar="FILE", default=None,
                        help="Write to FILE; format from the extension (.csv with BOM, .xlsx, .json, .jsonl, .tsv).")


def summary_file_option():
    """``-o/--output FILE`` of a command that prints one summary."""
    return click.option("-o", "--output", "output", metavar="FILE", default=None,
                        help="Write the summary to FILE; format from the extension (.json, .jsonl, .csv, .tsv, "
                             ".xlsx).")


def output_options(f):
    """``-f table|csv|tsv|json|jsonl``, ``-o FILE`` (format from the extension, .xlsx included),
    ``--columns a,b,c``, ``--wide`` and ``--labels/--no-labels``."""

    @format_option()
    @file_option()
    @click.option("--columns", "columns", metavar="A,B,C", default=None,
                  help="Only these columns, in this order (canonical names or their labels), in every format.")
    @click.option("--wide", is_flag=True, default=False,
                  help="A table with every column and no text cut (default: the main columns, cut to fit the "
                       "terminal).")
    @labels_option
    @functools.wraps(f)
    def wrapper(*args, fmt=None, output=None, columns=None, wide=False, **kwargs):
        keep_output(fmt, output, columns=columns, wide=wide)
        return f(*args, **kwargs)

    return wrapper


def summary_options(formats: Sequence[str] = FORMATS):
    """``-f/--format`` and ``-o/--output`` for a command whose own options come first (its result is
    a summary: :func:`summary` reads them), with ``--labels/--no-labels``."""

    def decorate(f):
        @summary_format_option(formats)
        @summary_file_option()
        @labels_option
        @functools.wraps(f)
        def wrapper(*args, fmt=None, output=None, **kwargs):
            keep_output(fmt, output)
            return f(*args, **kwargs)

        return wrapper

    return decorate


def keep_output(fmt, output, **table) -> None:
    """The output options of this command, for :func:`emit` and :func:`summary`; ``-o`` checked before
    any work (an unknown extension, a symbolic link, a missing folder)."""
    meta = click.get_current_context().meta
    meta.update({"kq.fmt": fmt, "kq.output": output, **{f"kq.{k}": v for k, v in table.items()}})
    if output:
        from ..output import check_output_path

        check_output_path(output)


def labels_option(f):
    """``--labels/--no-labels``: column headers and enumerated values in the chosen language, or the
    canonical names and values (default: labels in a table and in a .xlsx/.csv/.tsv written with -o;
    canonical names in JSON, JSONL and CSV/TSV on standard output)."""

    @click.option("--labels/--no-labels", "labels", default=None,
                  help="Headers and values in the chosen language (--lang), or the canonical field names and "
                       "values. Default: labels in a table and in .xlsx/.csv/.tsv files written with -o; "
                       "canonical names in JSON, JSONL and CSV/TSV on standard output.")
    @functools.wraps(f)
    def wrapper(*args, labels=None, **kwargs):
        click.get_current_context().meta["kq.labels"] = labels
        return f(*args, **kwargs)

    return wrapper


#: formats written with -o that are meant for people (Excel): labelled by default
HUMAN_FILE_FORMATS = ("xlsx", "csv", "tsv")


def labelled(human: bool) -> bool:
    """Whether this output shows labels: ``--labels/--no-labels`` if given, else ``human``."""
    ctx = click.get_current_context(silent=True)
    chosen = ctx.meta.get("kq.labels") if ctx is not None else None
    return human if chosen is None else chosen


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def stdout_is_file() -> bool:
    """Standard output is redirected to a regular file (``kq … -f csv > x.csv``), not a pipe or a
    terminal: CSV/TSV written there is meant for a spreadsheet, so formula-like text is neutralized."""
    import os
    import stat

    try:
        mode = os.fstat(sys.stdout.fileno()).st_mode
    except (OSError, ValueError, AttributeError):   # no descriptor (tests, an in-memory stream)
        mode = 0
    return stat.S_ISREG(mode)


def default_format(otherwise: str) -> str:
    """The format when ``-f`` is not given: ``$KQ_FORMAT`` (at a terminal and off it), else a table
    on a terminal and ``otherwise`` (``jsonl``, ``json`` for a summary) on a pipe or a file."""
    chosen = settings().format
    if chosen:
        if chosen not in FORMATS:
            raise KqError(_("$KQ_FORMAT: {value!r} is not an output format ({formats})").format(
                value=chosen, formats=", ".join(FORMATS)))
        return chosen
    return "table" if stdout_is_tty() else otherwise


def chosen_format() -> str:
    """The output format of this command: ``-f``, else :func:`default_format`."""
    ctx = click.get_current_context()
    return ctx.meta.get("kq.fmt") or default_format("jsonl")


#: Columns that hold a stored timestamp (kept as stored: UTC, ``Z``, or with an offset); every
#: listing and summary shows them in local time (:func:`kqtools.clock.shown_time`).
TIMESTAMP_COLUMNS = frozenset({
    "time", "at", "created_at", "built_at", "changed_at", "started_at", "finished_at", "fire_time", "next_fire",
    "last_fire", "sent_at", "sending_at", "acked_at", "added_at", "applied_at", "checked_at", "imported_at",
    "recorded_at", "replaced_at", "revoked_at", "saved_at", "stored_at", "updated_at",
})

#: Columns a table never cuts: codes and numbers a clerk copies whole.
UNCUT_COLUMNS = frozenset({"uscc", "input_uscc", "id", "external_id", "job_id", "batch", "run", "version",
                           "specialist_id"})


def local_times(rows: Iterable[dict], columns: Sequence[str], human: bool) -> Iterable[dict]:
    """Rows with their timestamp columns in local time (``$KQ_TZ``, default Asia/Shanghai): for a
    table or a file meant for Excel ``YYYY-MM-DD HH:MM:SS``, else ISO 8601 with the local offset."""
    stamps = [c for c in columns if c in TIMESTAMP_COLUMNS]
    if not stamps:
        return rows
    from ..clock import shown_time

    tz = _zone()

    def converted():
        for row in rows:
            yield {**row, **{c: shown_time(row.get(c), tz, human=human) for c in stamps}}
    return converted()


def local_time(value) -> str:
    """A stored timestamp for a message on stderr: local time, ``2026-12-06 21:40:53``."""
    from ..clock import shown_time

    return str(shown_time(value, _zone(), human=True))


def _zone() -> str:
    import zoneinfo

    tz = settings().tz
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise KqError(_("$KQ_TZ: {tz!r} is not a time zone (such as Asia/Shanghai)").format(tz=tz)) from None
    return tz


def chosen_columns(columns: Sequence[str], kind: str | None = None) -> list[str] | None:
    """``--columns a,b,c`` resolved against a listing's columns (canonical names or their labels in
    the chosen language, any case); None when not given. An unknown name is a usage error."""
    ctx = click.get_current_context(silent=True)
    given = ctx.meta.get("kq.columns") if ctx is not None else None
    if not given:
        return None
    from .. import labels

    known: dict[str, str] = {}
    for c in columns:
        known.setdefault(c.casefold(), c)
        known.setdefault(labels.column_label(c, kind).casefold(), c)
    picked = []
    for name in (n.strip() for n in given.replace("，", ",").split(",")):
        if not name:
            continue
        if name.casefold() not in known:
            raise KqError(_("--columns: no column {name!r} here (columns: {columns})").format(
                name=name, columns=", ".join(columns)))
        if known[name.casefold()] not in picked:
            picked.append(known[name.casefold()])
    return picked


#: the width of a table off a terminal (``KQ_FORMAT=table kq … | less``), unless ``$COLUMNS`` says
TABLE_WIDTH = 120


def table_width() -> int:
    """Columns a table may take: the terminal's width at a terminal (``$COLUMNS`` first, as the
    shell sets it), else ``$COLUMNS`` or :data:`TABLE_WIDTH`."""
    import os
    import shutil

    if stdout_is_tty():
        return shutil.get_terminal_size((TABLE_WIDTH, 24)).columns
    given = os.environ.get("COLUMNS", "")
    return int(given) if given.isdigit() and int(given) > 0 else TABLE_WIDTH


def emit(rows: Iterable[dict], columns: Sequence[str], *, sheets: dict | None = None, kind: str | None = None,
         default: Sequence[str] | None = None) -> int:
    """Print records in the chosen format, or write them to ``-o FILE``; returns the row count.

    Human formats (a table; .xlsx/.csv/.tsv written with ``-o``) show labels in the chosen language
    (:mod:`kqtools.labels`; ``kind``: the import kind whose fields the rows carry, so that the file
    imports back); machine formats keep the canonical names and values. Timestamps are shown in
    local time (:data:`TIMESTAMP_COLUMNS`). ``default``: the columns a table shows (the listing's
    main ones, first the most important) unless ``--wide`` or ``--columns``; a table is cut to fit
    the terminal, unless ``--wide``. Machine formats and files keep every column, never cut, unless
    ``--columns``."""
    from .. import output

    ctx = click.get_current_context()
    path = ctx.meta.get("kq.output")
    picked = chosen_columns(columns, kind)
    if picked is not None:
        columns = picked
    if path:
        human = output.format_for_path(path) in HUMAN_FILE_FORMATS
        rows = local_times(rows, columns, human)
        if labelled(human):
            rows, columns, sheets = _relabel(rows, columns, sheets, kind)
        n = output.write_file(path, rows, columns, sheets=sheets, mode=settings().file_mode, tz=settings().tz)
        info(_("wrote {n} rows to {path}").format(n=n, path=path))
        return n
    fmt = chosen_format()
    wide = bool(ctx.meta.get("kq.wide"))
    if fmt == "table" and picked is None and default and not wide:
        columns = [c for c in default if c in columns]
    rows = local_times(rows, columns, fmt == "table")
    uncut = [c for c in columns if c in UNCUT_COLUMNS or c in TIMESTAMP_COLUMNS]
    if labelled(fmt == "table"):
        uncut = [h for h, c in zip(_heads(columns, kind), columns) if c in uncut]
        rows, columns, _sheets = _relabel(rows, columns, None, kind)
    width = table_width() if fmt == "table" and not wide else None
    return output.render(rows, columns, fmt, sys.stdout, formula_safe=stdout_is_file(), width=width, uncut=uncut)


def _heads(columns, kind):
    from .. import labels

    return labels.relabel([], columns, kind)[1]


def _relabel(rows, columns, sheets, kind):
    from .. import labels

    rows, heads = labels.relabel(rows, columns, kind)
    if sheets:
        relabelled = {}
        for title, (sheet_columns, sheet_rows) in sheets.items():
            sheet_rows, sheet_heads = labels.relabel(sheet_rows, sheet_columns, kind)
            relabelled[title] = (sheet_heads, sheet_rows)
        sheets = relabelled
    return rows, heads, sheets


def info(message: str) -> None:
    """Diagnostics go to stderr, never stdout: one line, control characters shown escaped (a value
    quoted in it cannot recolour the terminal or add a line to the mail cron sends)."""
    from ..output import printable

    click.echo(printable(message), err=True)


def summary(record: dict, fmt: str | None = None, *, kind: str | None = None) -> None:
    """A single result object: key/value table on a terminal, one JSON object otherwise (canonical
    names and values in JSON; labels in the table, unless ``--no-labels``); written to ``-o FILE``
    when given (.json/.jsonl one object; .csv/.tsv/.xlsx field and value). Timestamps in local time;
    ``--columns`` keeps only those fields."""
    import json

    ctx = click.get_current_context()
    picked = chosen_columns(list(record), kind)
    if picked is not None:
        record = {k: record[k] for k in picked}
    path = ctx.meta.get("kq.output")
    if path:
        _summary_file(record, path, kind)
        return
    fmt = fmt or ctx.meta.get("kq.fmt") or default_format("json")
    human = labelled(fmt == "table")
    record = next(iter(local_times([record], list(record), fmt == "table")))
    if fmt in ("json", "jsonl") and not human:
        click.echo(json.dumps(record, ensure_ascii=False, default=str))
        return
    from .. import output

    if human:
        from .. import labels

        record = {labels.column_label(k, kind): labels.value_mapper(k, kind)(v) for k, v in record.items()}
    if fmt in ("json", "jsonl"):
        click.echo(json.dumps(record, ensure_ascii=False, default=str))
        return
    table = fmt == "table"
    rows = [{"field": k, "value": output.readable(v) if table else output.cell_text(v)} for k, v in record.items()]
    columns = ["field", "value"]
    if human:
        rows, columns, _sheets = _relabel(rows, columns, None, None)
    output.render(rows, columns, fmt, sys.stdout, formula_safe=stdout_is_file(),
                  width=table_width() if table else None)


def _summary_file(record: dict, path: str, kind: str | None) -> None:
    """``-o FILE`` for a summary: one JSON object (.json/.jsonl), or field and value rows."""
    from .. import output

    fmt = output.format_for_path(path)
    human = fmt in HUMAN_FILE_FORMATS
    record = next(iter(local_times([record], list(record), human)))
    if fmt == "json":
        output.write_document(path, record, mode=settings().file_mode)
    else:
        if labelled(human):
            from .. import labels

            record = {labels.column_label(k, kind): labels.value_mapper(k, kind)(v) for k, v in record.items()}
        if fmt == "jsonl":
            output.write_file(path, [record], list(record), mode=settings().file_mode)
        else:
            rows, columns = [{"field": k, "value": output.readable(v)} for k, v in record.items()], ["field", "value"]
            if labelled(human):
                rows, columns, _sheets = _relabel(rows, columns, None, None)
            output.write_file(path, rows, columns, mode=settings().file_mode)
    info(_("wrote the summary to {path}").format(path=path))


#: Dates a clerk may type: anything outside is a typo (9999-12-31, 0001-01-01), and date arithmetic
#: near the ends of Python's calendar overflows.
FIRST_DATE, LAST_DATE = "1900-01-01", "2200-12-31"


def date_arg(value: str | None, name: str = "date"):
    """A date typed by a clerk (2024-07-01, 2024/7/1, 2024年7月1日) or ``None``; refused (one line)
    outside 1900-01-01 … 2200-12-31."""
    if value is None:
        return None
    import datetime as dt

    from ..fields import parse_date_arg

    try:
        day = parse_date_arg(value)
    except (ValueError, OverflowError) as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None
    if day < dt.date.fromisoformat(FIRST_DATE):
        raise click.BadParameter(_("{value}: too far in the past (dates run {first} … {last}; a typo?)").format(
            value=value, first=FIRST_DATE, last=LAST_DATE), param_hint=name)
    if day > dt.date.fromisoformat(LAST_DATE):
        raise click.BadParameter(_("{value}: too far in the future (dates run {first} … {last}; a typo?)").format(
            value=value, first=FIRST_DATE, last=LAST_DATE), param_hint=name)
    return day


class StdinClosed(KqtoolsError):
    """``-`` names standard input, and there is none (``kq … - <&-``)."""


def stdin_bytes():
    """Standard input as a binary stream; one line if it is closed."""
    stream = sys.stdin
    if stream is None or getattr(stream, "closed", False):
        raise StdinClosed(_("-: standard input is closed (give a file, or pipe one in: … - < FILE)"))
    return stream.buffer


def stdin_lines():
    """Standard input as text lines; one line if it is closed."""
    stdin_bytes()
    return sys.stdin


def open_source(source: str):
    """A file argument: a path, or ``-`` for stdin (binary). One-line error if missing."""
    if source == "-":
        return stdin_bytes()
    try:
        return open(source, "rb")
    except FileNotFoundError:
        raise KqError(_("{path}: no such file").format(path=source)) from None
    except IsADirectoryError:
        raise KqError(_("{path}: is a directory, not a file").format(path=source)) from None
    except OSError as exc:
        raise KqError(_("{path}: {reason}").format(path=source, reason=exc.strerror)) from None
