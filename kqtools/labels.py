"""Labels: canonical field names and values as people read them, in human formats only.

Machine output (JSON, JSONL, CSV/TSV on standard output) keeps the canonical names and values in
every language, so scripts never break with the locale. Human formats (a table on the terminal, a
workbook or a CSV written with ``-o``) show labels: in English the canonical names themselves, in
Chinese

- a column that is a field of an import kind (``uscc``, ``size_class`` of ``enterprises`` …) is
  labelled with the first of its Chinese header aliases in the schema (``统一社会信用代码``), and an
  enumerated value with the first Chinese value alias that stands for it (``above`` → ``规上``):
  so a file kq wrote imports back as it is (:func:`kqtools.kinds.get_kind` reads those aliases);
- a column kq computes for a listing of a kind (:data:`COMPUTED`) with its label in the catalog in
  context ``column:KIND`` (``现有荣誉资质``), distinct from every header alias of that kind;
- any other column with its label in the catalog (context ``column``), and a value of an
  enumerated column (:data:`VALUES`) with its label in the catalog (context ``value:COLUMN``);
- true and false as 是 and 否 (the boolean import fields read them back).

A column kq computes for a listing of an import kind (:data:`COMPUTED`, e.g. the firm's current
designations beside the register's fields) is no field of that kind: the importer leaves a column
with that label out rather than keep it in ``extra`` (:func:`computed_headers`).

Standard library only (plus :mod:`kqtools.i18n`); the schemas are read on first use.
"""
from __future__ import annotations

import contextvars
import functools
import json
from importlib import resources
from typing import Callable, Iterable, Iterator, Sequence

from . import i18n
from .i18n import pgettext

COLUMN = "column"        #: catalog context of column labels

#: Enumerated columns that are not import fields: column -> the canonical values (catalog context
#: ``value:COLUMN``). Import fields take theirs from the schemas (:data:`SCHEMA_VALUES`).
VALUES: dict[str, tuple[str, ...]] = {
    "verdict": ("listed", "review", "unscreened", "meets", "missing_data", "fails"),
    "pace": ("ahead", "on_pace", "behind"),
    "match": ("uscc", "name"),
    "change": ("entered", "left", "raised", "assign", "move", "release"),
    "action": ("assign", "move", "release", "unassigned", "add", "remove"),
    "list": ("whitelist", "blacklist", "category", "firm"),
    "against": ("whitelist", "blacklist"),
    "status": ("done", "failed", "missed", "coalesced", "busy", "running", "pending", "sending", "sent", "acked",
               "undeliverable", "received", "routed", "in_progress", "answered", "revisited", "closed",
               "active", "expired", "revoked"),
    "last_status": ("done", "failed", "missed", "coalesced", "busy", "running"),
    "step": ("received", "routed", "progress", "answered", "revisited", "closed", "reopened", "escalated"),
    "next_steps": ("route", "progress", "answer", "revisit", "close", "reopen", "escalate"),
    "satisfaction": ("satisfied", "basically_satisfied", "unsatisfied"),
    "trigger_kind": ("scheduled", "manual"),
    "clock": ("clock", "given"),
    "channel": ("email", "webhook"),
    "group": ("total", "specialist", "district", "unassigned"),
    "cadence": ("key", "plan"),
    "scope": ("group", "district"),
    "kind": ("enterprises", "designations", "metrics", "credit", "specialists", "visits", "requests"),
    "key": ("(all)",),
    "item": ("total", "base", "bonus", "veto", "grade", "group", "credit", "batches", "excluded"),
}

#: Columns whose values are an import field's enumeration wherever they appear: column -> (kind, field)
SCHEMA_VALUES: dict[str, tuple[str, str]] = {
    "size_class": ("enterprises", "size_class"),
    "group": ("enterprises", "size_class"),
    "kind": ("designations", "kind"),
    "level": ("designations", "level"),
    "source": ("credit", "source"),
    "severity": ("credit", "severity"),
    "channel": ("requests", "channel"),
    "priority": ("requests", "priority"),
}

#: Columns kq computes in a listing of an import kind: never fields of that kind (see module doc)
COMPUTED: dict[str, tuple[str, ...]] = {
    "enterprises": ("designations",),
    "specialists": ("serves", "load", "left_on", "left_reason"),   # the last two: set by kq specialists deactivate
    # the ledger's own number and where a request stands: kq computes them, an import never sets them
    "requests": ("id", "status", "department", "co_departments", "due_on", "days_overdue", "level", "specialist"),
}

#: Columns whose label differs in one listing (catalog context ``column:LISTING``): in visit coverage a
#: row is a specialist or a district, so its name is no firm's name
LISTING_COLUMNS: dict[str, tuple[str, ...]] = {
    "coverage": ("key", "name"),
    "visits_due": ("priority",),        # the order to visit in (1 first), not a request's urgency
    "ladder_status": ("label", "count", "previous"),   # a tier's name; firms now and a year earlier
    "ladder_classes": ("label", "reason"),
    "ladder_candidates": ("verdict",),                  # meets the next tier's thresholds, not a screening
}

#: Columns shown by summaries and records that no ``*_COLUMNS`` list names (the catalog tool
#: finds those lists in the code; these it cannot)
EXTRA_COLUMNS: tuple[str, ...] = (
    "field", "value", "enterprise", "request", "timeline",
    # kq score run
    "A", "B", "C", "D", "T", "groups", "scopes", "credit_as_of", "skipped", "run", "rules",
    # kq lists build
    "as_of", "built_at", "whitelist", "blacklist", "entered", "left", "problems", "overrides_applied",
    "changes", "version", "rules_name", "rules_sha256", "previous", "whitelist_entered", "whitelist_left",
    "blacklist_entered", "blacklist_left",
    # kq import
    "source", "format", "encoding", "sheet", "read", "inserted", "updated", "unchanged", "rejected", "batch",
    "written", "unknown_columns", "new_enterprises", "sha256",
    # kq enterprises show
    "metrics", "credit", "batch_source", "seen_batch", "seen_line", "last_import", "extra", "batch_id", "record_key", "recognized_on", "expires_on", "revoked_on",
    "certificate_no", "year", "reference", "issuer", "note", "direct", "term_years", "amount",
    "repaired_on", "started_on", "ended_on", "grade", "severity",
    # kq requests (a step's record)
    "co_departments", "level", "satisfaction", "unsolvable", "reopened", "answered_on", "closed_on",
    "days_overdue", "specialist", "last_step_on", "working_days_overdue", "version", "detail", "level_title",
    "next_steps",
    # keys of readable detail text in workbooks (a list entry's or a screening hit's details, a job run's result)
    "rule", "records", "years", "from", "to", "basis", "basis_note", "threshold", "input_stripped", "list_stripped",
    "firms_due", "unassigned", "waiting", "escalated", "due_soon", "late", "sent_back", "due_from", "thresholds",
)

_missing: contextvars.ContextVar[set | None] = contextvars.ContextVar("kqtools_missing_labels", default=None)


def collect_missing(found: set | None) -> contextvars.Token:
    """Record the (context, msgid) of every label lookup the catalog cannot answer into ``found``
    (tests: every listing's headers are translated); give the token to :func:`stop_collecting`."""
    return _missing.set(found)


def stop_collecting(token: contextvars.Token) -> None:
    _missing.reset(token)


def _lookup(context: str, msgid: str) -> str:
    text = pgettext(context, msgid)
    found = _missing.get()
    if found is not None and text == msgid and not i18n.has_translation(msgid, context, i18n.current()):
        found.add((context, msgid))
    return text


# ---------------------------------------------------------------- schemas
@functools.lru_cache(maxsize=None)
def _schema(kind: str) -> dict:
    path = resources.files("kqtools.schemas").joinpath(f"{kind}.schema.json")
    return json.loads(path.read_text(encoding="utf-8"))


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@functools.lru_cache(maxsize=None)
def schema_field_label(kind: str, column: str) -> str | None:
    """The first Chinese header alias of ``kind``'s field ``column`` (None: no such field or alias)."""
    prop = _schema(kind)["properties"].get(column)
    if prop is None:
        return None
    return next((a for a in prop.get("x-aliases", []) if _chinese(a)), None)


@functools.lru_cache(maxsize=None)
def schema_value_labels(kind: str, column: str) -> dict:
    """canonical value -> its first Chinese value alias, for an enumerated field of ``kind``."""
    prop = _schema(kind)["properties"].get(column, {})
    values = prop.get("x-values")
    if values is None and "x-values-from" in prop:
        other, other_field = prop["x-values-from"].split(".")
        return schema_value_labels(other, other_field)
    out: dict = {}
    for raw, canonical in (values or {}).items():
        if isinstance(canonical, str) and _chinese(raw):
            out.setdefault(canonical, raw)
    return out


_IMPORT_KINDS = ("enterprises", "designations", "metrics", "credit", "specialists", "visits", "requests")


def is_field(kind: str | None, column: str) -> bool:
    """Whether ``column`` is a field of the import kind ``kind`` (a listing name is no import kind)."""
    return kind in _IMPORT_KINDS and column in _schema(kind)["properties"]


# ---------------------------------------------------------------- labels
def column_label(column: str, kind: str | None = None) -> str:
    """How a column is headed in a human format, in the current language."""
    if i18n.current() == i18n.DEFAULT:
        return column
    if kind and is_field(kind, column):
        label = schema_field_label(kind, column)
        if label:
            return label
    if kind and i18n.has_translation(column, f"{COLUMN}:{kind}", i18n.current()):
        return pgettext(f"{COLUMN}:{kind}", column)      # a computed column of a kind's listing, or a listing's own
    return _lookup(COLUMN, column)


def value_mapper(column: str, kind: str | None = None) -> Callable:
    """A function that shows a value of ``column`` in the current language (the value itself when
    it is not enumerated, or in English)."""
    if i18n.current() == i18n.DEFAULT:
        return _same
    if column == "designations":
        return _designations
    if column == "serves":
        return _kinds_served
    table: dict = {}
    source = (kind, column) if kind and is_field(kind, column) else SCHEMA_VALUES.get(column)
    if source is not None:
        table.update(schema_value_labels(*source))
    context = f"value:{column}"
    for value in VALUES.get(column, ()):
        if value not in table:
            table[value] = _lookup(context, value)
    yes, no = _lookup("value", "true"), _lookup("value", "false")

    def show(value):
        if value is True:
            return yes
        if value is False:
            return no
        if isinstance(value, str):
            return table.get(value, value)
        if isinstance(value, list):
            return [table.get(v, v) if isinstance(v, str) else v for v in value]
        return value
    return show


def _same(value):
    return value


def _designations(value):
    """``zjtx:national hte`` -> ``国家级专精特新 高新技术企业`` (level, then kind)."""
    if not isinstance(value, str) or not value:
        return value
    kinds, levels = schema_value_labels("designations", "kind"), schema_value_labels("designations", "level")
    out = []
    for item in value.split():
        kind, _, level = item.partition(":")
        out.append(f"{levels.get(level, level) if level else ''}{kinds.get(kind, kind)}")
    return " ".join(out)


def _kinds_served(value):
    """``hte, tass`` -> ``高新技术企业、技术先进型服务企业``."""
    if not isinstance(value, str) or not value:
        return value
    kinds = schema_value_labels("designations", "kind")
    return "、".join(kinds.get(k.strip(), k.strip()) for k in value.split(","))


class Heads(list):
    """The headers a human format shows, each remembering the canonical column it stands for
    (``fields``): a workbook types a column's cells by what the column is (a date, money …), which
    its label in another language does not say (:mod:`kqtools.xlsxcells`)."""

    def __init__(self, heads: Iterable[str], fields: Sequence[str]):
        super().__init__(heads)
        self.fields = list(fields)


def relabel(rows: Iterable[dict], columns: Sequence[str], kind: str | None = None) -> tuple[Iterator[dict], Heads]:
    """Rows and columns as a human format shows them: labelled keys, labelled values. In English
    the rows are passed through untouched. The headers are :class:`Heads`."""
    if i18n.current() == i18n.DEFAULT:
        return iter(rows), Heads(columns, columns)
    heads = Heads(distinct([column_label(c, kind) for c in columns], columns), columns)
    mappers = [value_mapper(c, kind) for c in columns]
    plan = list(zip(heads, columns, mappers))

    def labelled():
        for row in rows:
            yield {head: show(row.get(col)) for head, col, show in plan}
    return labelled(), heads


def distinct(heads: list[str], columns: Sequence[str]) -> list[str]:
    """Labels made distinct: two columns with one label get their canonical names after it."""
    seen: dict[str, int] = {}
    for h in heads:
        seen[h] = seen.get(h, 0) + 1
    return [f"{h} ({c})" if seen[h] > 1 else h for h, c in zip(heads, columns)]


@functools.lru_cache(maxsize=None)
def computed_header_keys(kind: str) -> frozenset:
    """:func:`computed_headers` as the importer compares headers (:func:`kqtools.kinds.header_key`)."""
    from .kinds import header_key

    return frozenset(header_key(h) for h in computed_headers(kind))


def computed_headers(kind: str) -> dict[str, str]:
    """The headers (in every language) of the columns kq computes for listings of ``kind``:
    header -> column. An import leaves such a column out (a file kq wrote imports back as it is)."""
    out = {}
    for column in COMPUTED.get(kind, ()):
        out[column] = column
        for lang in i18n.LANGUAGES:
            token = i18n.use(lang)
            try:
                out[column_label(column, kind)] = column
            finally:
                i18n.reset(token)
    return out


# ---------------------------------------------------------------- the catalog's share
def catalog_entries() -> Iterator[tuple[str, str, str]]:
    """(context, msgid, where) of every label the catalog must hold besides the columns the catalog
    tool finds in the code: the enumerated values, booleans and :data:`EXTRA_COLUMNS`."""
    where = "kqtools/labels.py"
    for column in EXTRA_COLUMNS:
        yield COLUMN, column, where
    for kind, columns in [*COMPUTED.items(), *LISTING_COLUMNS.items()]:
        for c in columns:
            yield f"{COLUMN}:{kind}", c, where
    for column, values in VALUES.items():
        for value in values:
            yield f"value:{column}", value, where
    yield "value", "true", where
    yield "value", "false", where

