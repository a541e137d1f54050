"""One error base and one exit vocabulary for all of kqtools.

Every error a user can meet derives from :class:`KqtoolsError`: one line of text (no
traceback) and the :class:`ExitStatus` it ends the command with. Library code raises them;
the command line turns them into ``kq: error: …`` in one place (``kqtools.cli.main``).
Results that are not errors but need a person's attention (rejected rows, screening hits)
say so themselves and the command line maps that to :attr:`ExitStatus.ATTENTION`.

Standard library only: the command line imports this before anything else.
"""
from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """How ``kq`` ends (as httpie's ``ExitStatus``). Documented in the README's table."""

    OK = 0               #: done
    ATTENTION = 1        #: done, but the input or the result needs a person's attention
    USAGE = 2            #: usage error or unusable input (missing file, not a table, bad rule file)
    INTERRUPTED = 130    #: Ctrl-C (128 + SIGINT)
    BROKEN_PIPE = 141    #: the reader of a pipe stopped early (128 + SIGPIPE), as ``cat | head``


class KqtoolsError(Exception):
    """An error for the user: one line, and the exit status it ends the command with.

    ``exit_status`` is a class attribute (``USAGE`` unless a subclass says otherwise) and may be
    given per instance.
    """

    exit_status: ExitStatus = ExitStatus.USAGE

    def __init__(self, message: str = "", *args, exit_status: ExitStatus | int | None = None):
        super().__init__(message, *args)
        if exit_status is not None:
            self.exit_status = ExitStatus(exit_status)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return self.message


def status_of(attention: bool) -> ExitStatus:
    """The exit status of a finished command whose result does (or does not) need attention."""
    return ExitStatus.ATTENTION if attention else ExitStatus.OK
