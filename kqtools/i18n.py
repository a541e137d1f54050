"""The language kq speaks: English, or Chinese (中文) from a gettext catalog.

The language of a command is decided once (:func:`resolve`: ``--lang``, else ``$KQ_LANG``, else the
locale: ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG``, the first one set, starting with ``zh``; else
English) and set for the duration of the command with :func:`use`/:func:`reset` (a context
variable: nothing leaks from one in-process run into the next, and code outside a command speaks
English).

Marking and translating:

- ``_("{path}: no such file").format(path=p)``: a message, translated when it is made. Values go
  in through named placeholders, never by concatenation, so that a translation can reorder them.
- ``N_("...")``: marks a string for the catalog without translating it (help texts and command
  summaries written at import time; they are translated when shown).
- ``pgettext(context, msgid)``: a word that means different things in different places (column
  labels, enumerated values: see :mod:`kqtools.labels`).

The catalog is ``kqtools/locale/zh_CN/LC_MESSAGES/kqtools.mo``, compiled from the ``.po`` beside it
by ``python tools/catalog.py`` (a test checks that it is current) and read on first use by
:class:`Catalog`, which looks messages up in the file as it lies: English loads nothing.

Standard library only: the command line imports this before anything else, and domain modules
use it for their error messages.
"""
from __future__ import annotations

import contextvars
import os
from typing import Mapping

LANGUAGES = ("en", "zh")
DEFAULT = "en"
#: the catalog directory of each language that has one (gettext's locale naming)
CATALOG_DIRS = {"zh": "zh_CN"}
DOMAIN = "kqtools"

#: (language, chosen): chosen when --lang or $KQ_LANG named it (not the locale nor the default)
_current: contextvars.ContextVar[tuple[str, bool]] = contextvars.ContextVar("kqtools_language",
                                                                           default=(DEFAULT, False))
_catalogs: dict[str, object] = {}   # language -> its GNUTranslations, read once per process (immutable)


def language_of(text: str | None) -> str | None:
    """``zh``, ``zh_CN.UTF-8``, ``zh-Hans`` -> ``zh``; ``en``, ``en_US`` -> ``en``; else None."""
    if not text:
        return None
    head = text.strip().lower().replace("-", "_").split("_")[0].split(".")[0]
    return head if head in LANGUAGES else None


def locale_language(env: Mapping[str, str]) -> str:
    """The language of the locale: the first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set
    (POSIX's order) names Chinese if it starts with ``zh``; anything else is English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return "zh" if value.strip().lower().startswith("zh") else "en"
    return DEFAULT


def resolve(flag: str | None, env: Mapping[str, str]) -> str:
    """The language of a command: ``--lang``, else ``$KQ_LANG``, else the locale, else English.

    A flag or ``$KQ_LANG`` that names no language kq speaks raises ``ValueError(value)`` (the
    caller says which); the locale never does: an unknown locale means English."""
    for given in (flag, env.get("KQ_LANG")):
        if given:
            lang = language_of(given)
            if lang is None:
                raise ValueError(given)
            return lang
    return locale_language(env)


def use(lang: str, chosen: bool = False) -> contextvars.Token:
    """Speak ``lang`` from now on in this context (``chosen``: a user asked for it by ``--lang`` or
    ``$KQ_LANG``); give the token back to :func:`reset`."""
    if lang not in LANGUAGES:
        raise LookupError(f"unknown language {lang!r}")   # a programmer's error: users go through resolve()
    return _current.set((lang, chosen))


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


def current() -> str:
    """The language of the running command (English outside a command)."""
    return _current.get()[0]


def chosen() -> bool:
    """Whether the user named the language (``--lang``, ``$KQ_LANG``) rather than the locale or the
    default deciding it: reports for leaders are in Chinese unless English was asked for."""
    return _current.get()[1]



class Catalog:
    """A compiled GNU ``.mo`` catalog, looked up where it lies.

    :class:`gettext.GNUTranslations` decodes every entry into a dict when it opens a catalog: about
    6 ms for kqtools' (850 entries), a twentieth of ``kq --help``, which shows forty of them. The
    ``.mo`` format keeps its original strings sorted, so a message is found by bisection over the
    file's bytes, decoding only the few strings compared. Same answers as ``GNUTranslations`` (a
    test holds the two together); a language with more than one plural form is left to it.
    """

    def __init__(self, data: bytes):
        import struct

        magic, _revision, self.count, originals, translations = struct.unpack_from("<5I", data)
        if magic != 0x950412DE:             # not a little-endian GNU .mo file: English, as if missing
            raise ValueError(magic)
        self.data = data
        self.originals = struct.unpack_from(f"<{2 * self.count}I", data, originals)
        self.translations = struct.unpack_from(f"<{2 * self.count}I", data, translations)
        self._cache: dict[bytes, str | None] = {}

    def _original(self, i: int) -> bytes:
        size, at = self.originals[2 * i], self.originals[2 * i + 1]
        return self.data[at:at + size]

    def find(self, key: str) -> str | None:
        """The translation stored for ``key`` (``msgid``, ``ctx\x04msgid`` or ``msgid\0plural``)."""
        raw = key.encode("utf-8")
        found = self._cache.get(raw, self)
        if found is not self:
            return found
        lo, hi = 0, self.count
        while lo < hi:                          # the originals are sorted by their bytes
            mid = (lo + hi) // 2
            if self._original(mid) < raw:
                lo = mid + 1
            else:
                hi = mid
        found = None
        if lo < self.count and self._original(lo) == raw:
            size, at = self.translations[2 * lo], self.translations[2 * lo + 1]
            found = self.data[at:at + size].decode("utf-8")
        self._cache[raw] = found
        return found

    def keys(self):
        """Every original the catalog holds (``msgid`` or ``ctx\x04msgid``), in its sorted order."""
        return (self._original(i).decode("utf-8") for i in range(self.count))

    def gettext(self, message: str) -> str:
        return self.find(message) or message

    def pgettext(self, context: str, message: str) -> str:
        return self.find(f"{context}\x04{message}") or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        found = self.find(f"{singular}\x00{plural}")
        if found is None:
            return singular if n == 1 else plural
        return found.split("\x00")[0]          # one plural form (nplurals=1): Chinese has no plural


def catalog(lang: str) -> Catalog | None:
    """The compiled catalog of ``lang`` (``None`` for English, or if it is missing from the install)."""
    if lang == DEFAULT:
        return None
    found = _catalogs.get(lang)
    if found is None:
        # beside this module in the installed package (setup.cfg package_data); a plain path, as
        # importlib.resources would cost kq --help several milliseconds to import
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale", CATALOG_DIRS[lang],
                            "LC_MESSAGES", f"{DOMAIN}.mo")
        try:
            with open(path, "rb") as fh:
                found = Catalog(fh.read())
        except (OSError, ValueError):
            found = False        # a broken install: English rather than a traceback
        _catalogs[lang] = found
    return found or None


def _(message: str) -> str:
    """``message`` in the current language (itself in English, or when the catalog lacks it)."""
    lang = _current.get()[0]
    if lang == DEFAULT or not message:
        return message
    cat = catalog(lang)
    return cat.gettext(message) if cat is not None else message


gettext = _


def gettext_in(lang: str, message: str) -> str:
    """``message`` in ``lang``, whatever the language of the running command (a report made for
    leaders in Chinese while the command speaks English)."""
    if lang == DEFAULT or not message:
        return message
    cat = catalog(lang)
    return cat.gettext(message) if cat is not None else message


def ngettext(singular: str, plural: str, n: int) -> str:
    lang = _current.get()[0]
    cat = catalog(lang) if lang != DEFAULT else None
    if cat is None:
        return singular if n == 1 else plural
    return cat.ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language, as it is meant in ``context``."""
    lang = _current.get()[0]
    if lang == DEFAULT or not message:
        return message
    cat = catalog(lang)
    return cat.pgettext(context, message) if cat is not None else message


def has_translation(message: str, context: str | None = None, lang: str = "zh") -> bool:
    """Whether the catalog of ``lang`` holds ``message`` (in ``context``)."""
    cat = catalog(lang)
    if cat is None:
        return False
    return cat.find(message if context is None else f"{context}\x04{message}") is not None


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


# ---------------------------------------------------------------- display width
def char_width(ch: str) -> int:
    """Columns a character takes on a terminal (and, near enough, in an Excel column or an SVG label):
    two for a Chinese character (East Asian Wide or Fullwidth), as tabulate (with wcwidth) counts
    them; none for a combining mark; one for the rest, ambiguous ones such as “ ” included."""
    if ch < "\u0300":
        return 1
    import unicodedata  # a built-in module: after the first call, a dictionary lookup

    if unicodedata.combining(ch):
        return 0
    return 2 if ch >= "\u1100" and unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns ``text`` (one line) takes: the sum of :func:`char_width`. The one measure of width in
    kq: tables, help, the demo, workbooks' columns and the reports' charts use it."""
    return len(text) if text.isascii() else sum(map(char_width, text))


def pad(text: str, width: int, align: str = "<") -> str:
    """``text`` padded with spaces to ``width`` terminal columns (``<`` left, ``>`` right), as
    ``f"{text:<width}"`` pads ASCII: a Chinese label lines up under an English one. Text wider than
    ``width`` is left as it is."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if align == ">" else text + fill


# ---------------------------------------------------------------- click's own words
#: click's modules that say something to the user through ``gettext`` (Usage:, Options, Error: …)
CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "shell_completion", "termui",
                 "types", "utils", "_termui_impl")


def patch_click() -> None:
    """Let click's own words (``Usage:``, ``Options``, ``Show this message and exit.``, its error
    messages) come from kqtools' catalog in the language of the running command.

    click 8 binds ``from gettext import gettext as _`` (and ``ngettext``) in each module; the
    standard ``gettext`` picks the language from the environment of the whole process, so those
    names are pointed at this module's functions, which follow the command's language and, in
    English, return click's text unchanged. Idempotent and cheap: called by every run, it
    patches the modules click has loaded so far (``shell_completion`` loads late)."""
    import sys

    for name in CLICK_MODULES:
        module = sys.modules.get(f"click.{name}")   # a module click has not loaded yet is patched by a later call
        if module is None:
            continue
        if "_" in module.__dict__ and module.__dict__["_"] is not _:
            module._ = _
        if "ngettext" in module.__dict__ and module.__dict__["ngettext"] is not ngettext:
            module.ngettext = ngettext


__all__ = ["LANGUAGES", "N_", "_", "char_width", "chosen", "current", "display_width", "gettext", "gettext_in", "ngettext", "pad",
           "pgettext", "resolve", "reset", "use"]
