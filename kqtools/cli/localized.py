"""Commands as the user reads them: help texts in the language of the running command.

click keeps a command's help as the text given when the command was defined (its docstring, each
option's ``help=``), long before the language of a run is known, and a process may run commands in
both languages one after another (the tests do). So the command objects are never changed: a run
in another language than English works on a shallow copy of the command (and of its options and
subcommands) whose texts come from the catalog. English uses the commands as they are.

Chinese has no spaces to break lines at, and each character takes two columns of a terminal:
the copies use :class:`WideHelpFormatter`, which wraps help by display width and may break
between two Chinese characters (never before a closing punctuation mark).

Imported only when the language is not English.
"""
from __future__ import annotations

import copy
import inspect
import unicodedata

import click

from ..i18n import _, display_width


def translated(command: click.Command) -> click.Command:
    """A copy of ``command`` whose help, short help, epilog and option help are in the current
    language, with its subcommands translated the same way. The original is left as it is."""
    new = copy.copy(command)
    for attr in ("help", "short_help", "epilog"):
        text = getattr(command, attr, None)
        if text:
            setattr(new, attr, _text(text))
    new.params = [_translated_param(p) for p in command.params]
    if hasattr(new, "_help_option"):
        new._help_option = None       # click caches it with its help text: made afresh in this language
    new.context_class = LocalizedContext
    if isinstance(command, click.Group):
        new.commands = {name: translated(sub) for name, sub in command.commands.items()}
    return new


def _text(text: str) -> str:
    """A help text in the current language: the catalog holds docstrings as ``inspect.cleandoc``
    gives them (click cleans them only when it shows them)."""
    clean = inspect.cleandoc(text)
    found = _(clean)
    return text if found == clean else found


def _translated_param(param: click.Parameter) -> click.Parameter:
    text = getattr(param, "help", None)
    if not text:
        return param
    new = copy.copy(param)
    new.help = _text(text)
    return new


# ---------------------------------------------------------------- wrapping by display width
#: no line starts with these, and none ends with the opening ones (Chinese punctuation)
_CLOSING = frozenset("，。、；：？！）》」』】〉”’…")
_OPENING = frozenset("（《「『【〈“‘")
# (no regular expression over the CJK blocks: compiling one costs kq --help 7-30 ms)


def _wide(ch: str, _width=unicodedata.east_asian_width) -> bool:
    """Shown two columns wide: East Asian Wide or Fullwidth (ambiguous ones such as “ ” count one,
    as wcwidth and tabulate count them)."""
    return ch >= "\u1100" and _width(ch) in ("W", "F")


def _tokens(text: str) -> list[str]:
    """The units a line may break between: words, spaces and single wide characters; closing
    punctuation stays with what it closes, opening punctuation with what it opens."""
    out: list[str] = []
    word = opening = ""
    for ch in text:
        if opening and (ch in _CLOSING or ch in _OPENING):
            opening += ch                     # marks after an opening one stay with it, in order
        elif ch in _CLOSING and (word or (out and out[-1] != " ")):
            if word:
                word += ch
            else:
                out[-1] += ch
        elif ch in _OPENING:
            if word:
                out.append(word)
                word = ""
            opening = ch
        elif ch.isspace():
            if word:
                out.append(word)
                word = ""
            if opening:                       # an opening mark before a space stays where it is
                out.append(opening)
                opening = ""
            out.append(" ")
        elif _wide(ch):
            if word:
                out.append(word)
                word = ""
            out.append(opening + ch)
            opening = ""
        else:
            if word and _wide(word[-1]):
                out.append(word)
                word = ""
            word += opening + ch
            opening = ""
    if word or opening:
        out.append(word + opening)
    return out


def fill(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "") -> str:
    """One paragraph, wrapped greedily to ``width`` columns."""
    lines, line, used, space, started = [], initial_indent, len(initial_indent), False, False
    for tok in _tokens(text):
        if tok == " ":
            space = started
            continue
        size = display_width(tok)
        gap = 1 if space else 0
        if started and used + gap + size > width:
            lines.append(line)
            line, used, gap = subsequent_indent, len(subsequent_indent), 0
        line += " " * gap + tok
        used += gap + size
        started, space = True, False
    lines.append(line)
    return "\n".join(lines)


def _join(lines: list[str]) -> str:
    """The lines of a paragraph as one: a space between them, none between two Chinese characters."""
    out = ""
    for line in lines:
        if out and not (_wide(out[-1]) and _wide(line[0])):
            out += " "
        out += line
    return out


def wrap_text(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "") -> str:
    """click's ``wrap_text(..., preserve_paragraphs=True)`` by display width: paragraphs apart,
    a paragraph after a ``\\b`` line as written."""
    paragraphs: list[tuple[int, bool, list[str]]] = []
    buf: list[str] = []
    indent = 0
    for line in text.expandtabs().splitlines() + [""]:
        if line.strip():
            if not buf:
                indent = len(line) - len(line.lstrip())
            buf.append(line.strip() if not (buf and buf[0] == "\b") else line[indent:])
            continue
        if buf:
            raw = buf[0] == "\b"
            paragraphs.append((indent, raw, buf[1:] if raw else buf))
            buf = []
    out = []
    for indent, raw, lines in paragraphs:
        first, rest = initial_indent + " " * indent, subsequent_indent + " " * indent
        if raw:
            out.append("\n".join((first if i == 0 else rest) + line for i, line in enumerate(lines)))
        else:
            out.append(fill(_join(lines), width, first, rest))
    return "\n\n".join(out)


class WideHelpFormatter(click.HelpFormatter):
    """click's help formatter, wrapping by display width (see the module's docstring)."""

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        self.write(wrap_text(text, self.width, indent, indent))
        self.write("\n")

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = [tuple(r) + ("",) * (2 - len(r)) for r in rows]
        first_col = min(max((display_width(r[0]) for r in rows), default=0), col_max) + col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if display_width(first) <= first_col - col_spacing:
                self.write(" " * (first_col - display_width(first)))
            else:
                self.write("\n")
                self.write(" " * (first_col + self.current_indent))
            lines = wrap_text(second, max(self.width - first_col - 2, 10)).splitlines() or [""]
            self.write(f"{lines[0]}\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")


class LocalizedContext(click.Context):
    formatter_class = WideHelpFormatter
