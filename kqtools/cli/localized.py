"""Commands as the user reads them: help texts in the language of the running command.

click keeps a command's help as the text given when the command was defined (its docstring, each
option's ``help=``), long before the language of a run is known, and a process may run commands in
both languages one after another (the tests do). So the command objects are never changed: a run
in another language than English works on a shallow copy of the command (and of its options and
subcommands) whose texts come from the catalog. English uses the commands as they are.

Imported only when the language is not English.
"""
from __future__ import annotations

import copy

import click

from ..i18n import _


def translated(command: click.Command) -> click.Command:
    """A copy of ``command`` whose help, short help, epilog and option help are in the current
    language, with its subcommands translated the same way. The original is left as it is."""
    new = copy.copy(command)
    for attr in ("help", "short_help", "epilog"):
        text = getattr(command, attr, None)
        if text:
            setattr(new, attr, _(text))
    new.params = [_translated_param(p) for p in command.params]
    if hasattr(new, "_help_option"):
        new._help_option = None       # click caches it with its help text: made afresh in this language
    if isinstance(command, click.Group):
        new.commands = {name: translated(sub) for name, sub in command.commands.items()}
    return new


def _translated_param(param: click.Parameter) -> click.Parameter:
    text = getattr(param, "help", None)
    if not text:
        return param
    new = copy.copy(param)
    new.help = _(text)
    return new
