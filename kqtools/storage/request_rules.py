"""The requests rule file and the working-day calendar, as the request services load them.

Rules: ``kq requests ... --rules NAME|FILE`` (default the shipped ``kqtools/rules/requests.toml``),
validated against ``schemas/requests-rules.schema.json`` and compiled by
:func:`kqtools.requests.compile_rules`. A step that uses them stores the text in ``request_rules``
by its sha256 (its events name the hash); a text already stored there was validated against the
same schema, so it is not validated again: a step does not pay for importing jsonschema (~0.1 s)
on every call, which matters for a command meant to be as quick as ``kq jobs run-due``; it is not
even parsed again (what it parsed to is stored beside it).

Calendar: China's public holidays and adjusted working days from the chinesecalendar package
(2004-2026 in version 1.11.0), with the rule file's ``[calendar."YYYY"]`` years on top.
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from .. import clock
from ..requests import RequestRules, RequestRulesError, compile_rules
from ..workdays import WorkCalendar

_SCHEMA = "requests-rules.schema.json"


def _schema_text() -> str:
    import kqtools.schemas as pkg

    folder = Path(pkg.__file__).parent if getattr(pkg, "__file__", None) else None
    if folder is not None and (folder / _SCHEMA).is_file():
        return (folder / _SCHEMA).read_text(encoding="utf-8")
    from importlib import resources

    return resources.files("kqtools.schemas").joinpath(_SCHEMA).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def _schema_sha() -> str:
    return hashlib.sha256(_schema_text().encode("utf-8")).hexdigest()


class Loaded:
    """Compiled rules plus what is needed to store them with the step that used them."""

    def __init__(self, rules: RequestRules, text: str, checked: bool, data: dict | None = None):
        self.rules, self.text = rules, text
        self.checked, self.data = checked, data      # checked: parsed and validated in this process

    def store(self, conn) -> None:
        """Keep the text (and what it parsed to) by its hash, inside the step's write transaction."""
        if not self.checked:
            return
        conn.execute("INSERT OR IGNORE INTO request_rules (sha256, schema_sha256, name, text, data, stored_at) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     (self.rules.sha256, _schema_sha(), self.rules.name, self.text,
                      json.dumps(self.data, ensure_ascii=False, sort_keys=True),
                      clock.utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")))


def _shipped_text() -> str | None:
    """The shipped rule file read as a plain file (no importlib.resources: a step starts faster)."""
    import kqtools

    path = Path(kqtools.__file__).parent / "rules" / "requests.toml"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def load(db, name: str | None = None) -> Loaded:
    """The rules named (preset, file, or None for the shipped ones), validated once per text.

    A text stored before (``request_rules``, same schema) is taken as stored, parsed: neither TOML
    parsing nor schema validation is repeated. Raises :class:`kqtools.rules.RulesError` /
    :class:`RequestRulesError` with the file and the place."""
    text = _shipped_text() if name in (None, "requests") else None
    display, fmt = "requests", "toml"
    if text is None:
        from ..rules import read_text

        display, text, fmt = read_text("requests", name)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    conn = getattr(db, "conn", db)
    known = conn.execute("SELECT data FROM request_rules WHERE sha256 = ? AND schema_sha256 = ?",
                         (sha, _schema_sha())).fetchone()
    if known is not None:
        return Loaded(_compile(display, sha, json.loads(known[0])), text, checked=False)
    from ..rules import parse, validate

    data = parse(text, fmt, display)
    validate("requests", data, display)
    return Loaded(_compile(display, sha, data), text, checked=True, data=data)


def _compile(display: str, sha: str, data: dict) -> RequestRules:
    try:
        return compile_rules(data, display, sha)
    except (KeyError, TypeError, ValueError) as exc:   # a shape the schema should have refused
        raise RequestRulesError(f"{display}: {type(exc).__name__}: {exc}") from None


def remember(db, loaded: Loaded) -> None:
    """Store a freshly validated text outside a step (read commands), if the database can be written;
    a read-only or busy database just validates again next time."""
    if not loaded.checked:
        return
    import sqlite3

    from . import write_transaction

    try:
        with write_transaction(db) as conn:
            loaded.store(conn)
    except sqlite3.OperationalError:
        pass


# ---------------------------------------------------------------- calendar
@functools.lru_cache(maxsize=8)
def _library() -> tuple[frozenset, frozenset, frozenset, str]:
    """(holidays, worked weekend days, years, description) from chinesecalendar."""
    try:
        import chinese_calendar
        from chinese_calendar import constants
    except ImportError:  # not installed: only the rule file's years are known
        return frozenset(), frozenset(), frozenset(), "chinesecalendar is not installed"
    years = {d.year for d in constants.holidays} | {d.year for d in constants.workdays}
    version = getattr(chinese_calendar, "__version__", "?")
    span = f"{min(years)}-{max(years)}" if years else "no years"
    return (frozenset(constants.holidays), frozenset(constants.workdays), frozenset(years),
            f"chinesecalendar {version} knows {span}")


@functools.lru_cache(maxsize=8)
def _calendar(sha: str, years_key: tuple) -> WorkCalendar:
    holidays, workdays, years, source = _library()
    holidays, workdays, years = set(holidays), set(workdays), set(years)
    added = []
    for year, off, worked in years_key:
        holidays -= worked
        holidays |= off
        workdays -= off
        workdays |= worked
        if year not in years:
            added.append(year)
        years.add(year)
    if added:
        source += f"; the rules add {', '.join(map(str, sorted(added)))}"
    return WorkCalendar(frozenset(holidays), frozenset(workdays), frozenset(years), source)


def work_calendar(rules: RequestRules) -> WorkCalendar:
    """The working-day calendar of these rules (cached per rule text)."""
    key = tuple(sorted((y, off, worked) for y, (off, worked) in rules.calendar_years.items()))
    return _calendar(rules.sha256, key)
