"""The ``kq`` command line: a thin layer that parses, calls the library, and renders.

Command modules are imported only when their command runs (or ``--help`` lists
them); a module imports heavy libraries inside its functions, never at the top.
"""
from __future__ import annotations

import functools
import importlib
import os
import sys

import click

from .. import __version__, i18n
from ..errors import ExitStatus, KqtoolsError
from ..i18n import N_, _

# name -> (module, attribute, one-line help). Help lives here so `kq --help` imports nothing else.
COMMANDS = {
    "init": ("kqtools.cli.db", "init", N_("Create or migrate the database (idempotent).")),
    "import": ("kqtools.cli.imports", "import_", N_("Import a list: enterprises, designations, metrics, credit, specialists, visits, requests.")),
    "imports": ("kqtools.cli.imports", "imports", N_("List import batches (source, sha256, counts).")),
    "rejects": ("kqtools.cli.imports", "rejects", N_("Show the rejected rows of an import batch.")),
    "enterprises": ("kqtools.cli.enterprises", "enterprises", N_("List firms, or show one with everything known about it.")),
    "check-uscc": ("kqtools.cli.enterprises", "check_uscc", N_("Validate unified social credit codes.")),
    "rules": ("kqtools.cli.rules", "rules", N_("Show or check rule files (scoring, lists, assignment).")),
    "score": ("kqtools.cli.score", "score", N_("Resource-utilization scoring: run, show, explain, diff.")),
    "lists": ("kqtools.cli.lists", "lists", N_("Credit whitelist and blacklist: build, show, diff, override.")),
    "screen": ("kqtools.cli.lists", "screen", N_("Screen an incoming list against the blacklist or whitelist.")),
    "specialists": ("kqtools.cli.specialists", "specialists", N_("Service specialists and their load.")),
    "assign": ("kqtools.cli.specialists", "assign", N_("Assign firms in scope to service specialists.")),
    "assignments": ("kqtools.cli.specialists", "assignments", N_("Show who serves which firm.")),
    "visits": ("kqtools.cli.specialists", "visits", N_("Log visits; visits due; yearly coverage.")),
    "jobs": ("kqtools.cli.jobs", "jobs", N_("Reminder jobs: list, run-due, run, history, check.")),
    "outbox": ("kqtools.cli.jobs", "outbox", N_("Messages produced by jobs: list, ack, retry.")),
    "scheduler": ("kqtools.cli.jobs", "scheduler", N_("Run the reminder scheduler in the foreground.")),
    "requests": ("kqtools.cli.requests", "requests", N_("Firm requests (诉求): add, route, answer, revisit, close; list, stats.")),
    "report": ("kqtools.cli.report", "report", N_("Reports with charts for leaders: score, lists, visits, requests (.xlsx/.html).")),
    "ladder": ("kqtools.cli.ladder", "ladder", N_("Growth ladder: firms per tier and movement, cultivation classes, candidates.")),
    "targets": ("kqtools.cli.ladder", "targets", N_("Targets per tier (import a table or a preset) and the pace towards them.")),
    "watch": ("kqtools.cli.ladder", "watch", N_("Firms whose yearly figures turned (经营异动): revenue, tax, energy, land.")),
    "demo": ("kqtools.cli.demo", "demo", N_("Load the bundled demo data and run the main jobs on it.")),
    "completion": ("kqtools.cli.completion", "completion", N_("Print the shell completion script (bash, zsh or fish).")),
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
        module, attr, _help = COMMANDS[name]
        try:
            command = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise CommandLoadError(
                _("command {name!r} cannot be loaded from {module}: {error} (a bug or a broken installation; "
                  "--debug shows the traceback)").format(name=name, module=module,
                                                         error=f"{type(exc).__name__}: {exc}")) from exc
        if i18n.current() != i18n.DEFAULT:
            from .localized import translated

            command = translated(command)
        return command

    def resolve_command(self, ctx, args):
        """An unknown command suggests the nearest (``kq enterprise`` -> did you mean ``enterprises``?),
        as click does for options."""
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            import difflib

            near = difflib.get_close_matches(name, list(COMMANDS), n=3, cutoff=0.6) or \
                [c for c in COMMANDS if c.startswith(name) or name.startswith(c)][:3]
            if near:
                from ..i18n import _

                ctx.fail(_("No such command {name!r}. Did you mean {names}?").format(
                    name=name, names=", ".join(f"'{c}'" for c in near)))
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx, formatter):
        rows = [(name, _(help_)) for name, (_module, _attr, help_) in COMMANDS.items()]
        with formatter.section(_("Commands")):
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
@click.option("--lang", "lang", type=click.Choice(i18n.LANGUAGES, case_sensitive=False), default=None,
              help="Language of help, messages and tables: zh (中文) or en (default $KQ_LANG, else the locale).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__, prog_name="kq")
@click.pass_context
def cli(ctx, db_path, lang, debug):
    """kq: enterprise lists, resource-utilization scoring, credit lists, service specialists and reminders.

    \b
    Exit codes: 0 done; 1 done, but rows were rejected or something needs attention;
    2 usage error or unusable input; 130 interrupted (Ctrl-C);
    141 the reader of a pipe stopped early (| head).
    """
    from ..settings import Settings

    given = ctx.obj if isinstance(ctx.obj, Settings) else None   # run(argv, settings=...) in process
    if given is None:
        ctx.obj = Settings.from_env(db=db_path, debug=debug, lang=lang)
    else:
        ctx.obj = given.with_(**{k: v for k, v in (("db", db_path), ("debug", debug), ("lang", lang)) if v})
    if (ctx.obj.lang, ctx.obj.lang_given) != (i18n.current(), i18n.chosen()):   # cli.main() without run()
        ctx.call_on_close(functools.partial(i18n.reset, i18n.use(ctx.obj.lang, ctx.obj.lang_given)))


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
    token = i18n.use(*_language(args, settings))
    try:
        return _run(args, settings, debug)
    finally:
        i18n.reset(token)


def _language(args: list[str], settings) -> tuple[str, bool]:
    """(language, chosen) of this run, known before click parses anything (``kq --help`` is answered
    while parsing): ``--lang`` before the command name, else the given settings', else ``$KQ_LANG`` or
    the locale; chosen when ``--lang`` or ``$KQ_LANG`` named it. A value kq does not know gives the
    locale's language here; click or the settings then report it."""
    flag, i = None, 0
    while i < len(args):
        arg = args[i]
        if arg == "--lang":
            flag = args[i + 1] if i + 1 < len(args) else None
            break
        if arg.startswith("--lang="):
            flag = arg.partition("=")[2]
            break
        if not arg.startswith("-"):
            break                               # the command's name: what follows is the command's
        i += 2 if arg == "--db" else 1
    if not flag and settings is not None:
        return settings.lang, settings.lang_given
    try:
        return i18n.resolve(flag, os.environ), bool(flag or os.environ.get("KQ_LANG"))
    except ValueError:
        return i18n.locale_language(os.environ), False


def _run(args: list[str], settings, debug: bool) -> int:
    root = cli
    if i18n.current() != i18n.DEFAULT:
        from .localized import translated

        i18n.patch_click()
        root = translated(cli)
    try:
        rv = root.main(args=args, prog_name="kq", standalone_mode=False, obj=settings)
        code = int(rv) if isinstance(rv, int) else ExitStatus.OK
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except KqtoolsError as exc:
        if debug:
            raise
        click.echo(_("kq: error: {message}").format(message=_printable(str(exc))), err=True)
        code = exc.exit_status
    except click.ClickException as exc:
        _show(exc)
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo(_("kq: aborted"), err=True)
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
        click.echo(_("kq: internal error: {error} (run with --debug for the traceback)").format(
            error=f"{type(exc).__name__}: {_printable(str(exc))}"), err=True)
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
