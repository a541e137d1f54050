"""The ``kq`` command line: a thin layer that parses, calls the library, and renders.

Command modules are imported only when their command runs (or ``--help`` lists
them); a module imports heavy libraries inside its functions, never at the top.
"""
from __future__ import annotations

import importlib
import os
import sys

import click

from .. import __version__
from ..errors import ExitStatus, KqtoolsError

# name -> (module, attribute, one-line help). Help lives here so `kq --help` imports nothing else.
COMMANDS = {
    "init": ("kqtools.cli.db", "init", "Create or migrate the database (idempotent)."),
    "import": ("kqtools.cli.imports", "import_", "Import a list: enterprises, designations, metrics, credit, specialists, visits, requests."),
    "imports": ("kqtools.cli.imports", "imports", "List import batches (source, sha256, counts)."),
    "rejects": ("kqtools.cli.imports", "rejects", "Show the rejected rows of an import batch."),
    "enterprises": ("kqtools.cli.enterprises", "enterprises", "List firms, or show one with everything known about it."),
    "check-uscc": ("kqtools.cli.enterprises", "check_uscc", "Validate unified social credit codes."),
    "rules": ("kqtools.cli.rules", "rules", "Show or check rule files (scoring, lists, assignment)."),
    "score": ("kqtools.cli.score", "score", "Resource-utilization scoring: run, show, explain, diff."),
    "lists": ("kqtools.cli.lists", "lists", "Credit whitelist and blacklist: build, show, diff, override."),
    "screen": ("kqtools.cli.lists", "screen", "Screen an incoming list against the blacklist or whitelist."),
    "specialists": ("kqtools.cli.specialists", "specialists", "Service specialists and their load."),
    "assign": ("kqtools.cli.specialists", "assign", "Assign firms in scope to service specialists."),
    "assignments": ("kqtools.cli.specialists", "assignments", "Show who serves which firm."),
    "visits": ("kqtools.cli.specialists", "visits", "Log visits; visits due; yearly coverage."),
    "jobs": ("kqtools.cli.jobs", "jobs", "Reminder jobs: list, run-due, run, history, check."),
    "outbox": ("kqtools.cli.jobs", "outbox", "Messages produced by jobs: list, ack, retry."),
    "scheduler": ("kqtools.cli.jobs", "scheduler", "Run the reminder scheduler in the foreground."),
    "requests": ("kqtools.cli.requests", "requests", "Firm requests (诉求): add, route, answer, revisit, close; list, stats."),
    "report": ("kqtools.cli.report", "report", "Reports with charts for leaders: score, lists, visits, requests (.xlsx/.html)."),
    "ladder": ("kqtools.cli.ladder", "ladder", "Growth ladder: firms per tier and movement, cultivation classes, candidates."),
    "targets": ("kqtools.cli.ladder", "targets", "Targets per tier (import a table or a preset) and the pace towards them."),
    "watch": ("kqtools.cli.ladder", "watch", "Firms whose yearly figures turned (经营异动): revenue, tax, energy, land."),
    "demo": ("kqtools.cli.demo", "demo", "Load the bundled demo data and run the main jobs on it."),
}


class CommandLoadError(KqtoolsError):
    """A command module that cannot be imported: a bug or a broken installation, never "No such command"."""


class LazyGroup(click.Group):
    """The root group: imports a command's module only when it runs, builds the settings once, and
    turns a database error met anywhere in a command into one line naming the database."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise CommandLoadError(f"command {name!r} cannot be loaded from {module}: {type(exc).__name__}: {exc} "
                                   "(a bug or a broken installation; --debug shows the traceback)") from exc

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            mapped = _database_error(exc, ctx)
            if mapped is None:
                raise
            raise mapped from exc


def _database_error(exc: Exception, ctx) -> Exception | None:
    """An ``sqlite3`` error that escaped a command, as the storage layer's one-line error."""
    storage = sys.modules.get("kqtools.storage")
    if storage is None:  # nothing opened a database
        return None
    from ..settings import Settings

    settings = ctx.find_object(Settings)
    opened = ctx.meta.get("kq.db_opened")
    return storage.database_error(exc, opened or (settings.db if settings else "database"),
                                  settings.busy_timeout_ms if settings else None)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", "db_path", metavar="PATH", help="SQLite database (default $KQ_DB, else ./kq.db).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__, prog_name="kq")
@click.pass_context
def cli(ctx, db_path, debug):
    """kq: enterprise lists, resource-utilization scoring, credit lists, service specialists and reminders.

    \b
    Exit codes: 0 done; 1 done, but rows were rejected or something needs attention;
    2 usage error or unusable input; 130 interrupted (Ctrl-C);
    141 the reader of a pipe stopped early (| head).
    """
    from ..settings import Settings

    given = ctx.obj if isinstance(ctx.obj, Settings) else None   # run(argv, settings=...) in process
    if given is None:
        ctx.obj = Settings.from_env(db=db_path, debug=debug)
    else:
        ctx.obj = given.with_(**{k: v for k, v in (("db", db_path), ("debug", debug)) if v})


def main(argv=None):
    """``kq``: run the command and exit with its :class:`~kqtools.errors.ExitStatus`."""
    code = run(argv)
    if code == ExitStatus.BROKEN_PIPE:
        _silence_stdout()
    sys.exit(code)


def run(argv=None, settings=None) -> int:
    """Run ``kq ARGV`` in this process and return the exit status; the one place where errors
    become a line on stderr and an exit code (``--debug``/``$KQ_DEBUG``: the traceback instead).

    Callable many times in one process (tests run it under click's ``CliRunner``): it keeps no
    state between calls. ``settings``: a :class:`~kqtools.settings.Settings` to use instead of the
    environment's (flags given in ``argv`` still win).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or bool(os.environ.get("KQ_DEBUG")) or bool(settings and settings.debug)
    try:
        rv = cli.main(args=args, prog_name="kq", standalone_mode=False, obj=settings)
        code = int(rv) if isinstance(rv, int) else ExitStatus.OK
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except KqtoolsError as exc:
        if debug:
            raise
        click.echo(f"kq: error: {_printable(str(exc))}", err=True)
        code = exc.exit_status
    except click.ClickException as exc:
        _show(exc)
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("kq: aborted", err=True)
        code = ExitStatus.INTERRUPTED
    except BrokenPipeError:
        code = ExitStatus.BROKEN_PIPE
    except SystemExit:
        from click.utils import PacifyFlushWrapper

        if not isinstance(sys.stdout, PacifyFlushWrapper):  # click's own EPIPE handling marks stdout so
            raise
        sys.stdout, sys.stderr = _unwrapped(sys.stdout), _unwrapped(sys.stderr)
        code = ExitStatus.BROKEN_PIPE
    except KeyboardInterrupt:
        code = ExitStatus.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into one line
        if debug:
            raise
        click.echo(f"kq: internal error: {type(exc).__name__}: {_printable(str(exc))} "
                   "(run with --debug for the traceback)", err=True)
        code = ExitStatus.USAGE
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = ExitStatus.BROKEN_PIPE
    return int(code)


def _printable(text: str) -> str:
    """One line with control characters shown escaped (a firm name with a terminal escape sequence)."""
    from ..output import printable

    return printable(text)


def _show(exc: click.ClickException) -> None:
    """click's usage error, each line with control characters shown escaped (they echo arguments)."""
    import io

    buf = io.StringIO()
    exc.show(file=buf)
    click.echo("\n".join(_printable(line) for line in buf.getvalue().split("\n")), err=True, nl=False)


def _unwrapped(stream):
    return getattr(stream, "wrapped", stream)


def _silence_stdout():
    """``kq ... | head``: the process ends quietly, exit 141. Standard output points at a pipe nobody
    reads; pointing it at /dev/null keeps the interpreter's last flush from complaining (the
    Python docs' recipe for SIGPIPE). Only :func:`main` does this: it ends the process."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
