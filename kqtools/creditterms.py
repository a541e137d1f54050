"""Credit terms (信用记录的效力期间): records, list rules and the windows in which a record counts.

Pure domain: no SQL, no click, no printing. :mod:`kqtools.creditlists` builds the lists from
these windows; the storage layer turns :func:`scope` into its SQL pre-filter.

A rule (``kqtools/rules/lists.toml``) names the records it looks at (source, grades,
severities, the basis of a tax rating), their effective *window* and its effect:

- ``blacklist``: the firm is on the blacklist while a record's window covers the date;
- ``blocks_whitelist``: the firm cannot be whitelisted while the window covers the date;
- ``supports_whitelist``: shown among a whitelisted firm's reasons.

A window is ``[start, end)``: the firm is on from ``start`` and off from ``end``; ``end`` is
``None`` when the window is open-ended. Dates are ``datetime.date`` here and ISO text in
records and entries (what the database stores and the CLI prints).

Credit terms (CREDIT.md; every duration is in the rule file):

- a record with ``repaired_on`` (信用修复) stops counting on that date, for every rule and for
  the whitelist's look-back (NDRC order No. 36: repaired information is no longer used);
- ``until_removed`` rules end at the removal date (``ended_on``, 移出日期) and ``max`` caps them
  (严重违法失信名单: while listed, never beyond 3 years from listing);
- a rule with ``direct`` applies to tax ratings assigned directly (直接判级, ``direct = true``) or
  by score (``direct = false``); a rating whose basis is unknown counts as ``tax.unknown_basis``
  says, and its reason says "basis unknown";
- the whitelist's look-back is a window too (:func:`negative_window`): ``[start, start +
  negative_lookback)``, ended early by a repair and, for ``negative_until_removed`` sources
  (经营异常名录), by the removal.
"""
from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from .errors import KqtoolsError
from .i18n import _

RECORD_COLUMNS = ("uscc", "source", "record_key", "name", "grade", "year", "started_on", "ended_on",
                  "severity", "term_years", "reference", "issuer", "note", "repaired_on", "direct")
BASES = ("direct", "score")  # how a tax rating D was reached: 直接判级 or by score (评价得分)
DESIGNATION_COLUMNS = ("uscc", "name", "kind", "level", "recognized_on", "expires_on", "certificate_no", "revoked_on")
_DURATION = re.compile(r"^(\d{1,3})([ymd])$")


# ---------------------------------------------------------------- dates and durations
@dataclass(frozen=True)
class Duration:
    n: int
    unit: str  # y, m, d

    @classmethod
    def parse(cls, text: str) -> "Duration":
        m = _DURATION.match(text)
        if not m:
            raise ValueError(_("not a duration: {text!r} (use e.g. 3m, 1y, 90d)").format(text=text))
        return cls(int(m.group(1)), m.group(2))

    def add(self, d: dt.date, sign: int = 1) -> dt.date:
        if self.unit == "d":
            return d + dt.timedelta(days=sign * self.n)
        months = sign * (self.n * 12 if self.unit == "y" else self.n)
        return add_months(d, months)

    def __str__(self) -> str:
        return f"{self.n}{self.unit}"


@functools.lru_cache(maxsize=65536)
def add_months(d: dt.date, months: int) -> dt.date:
    """Same day ``months`` later (or earlier); the 31st becomes the month's last day."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def to_date(value) -> dt.date | None:
    if type(value) is str:  # the common case: ISO text from the database
        return _parse_date(value[:10]) if value else None
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    return _parse_date(str(value)[:10])


@functools.lru_cache(maxsize=65536)
def _parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


# ---------------------------------------------------------------- plain data
class Record(NamedTuple):
    """One row of credit_records (dates as ISO text, as stored). A tuple: cheap to make by the million."""
    uscc: str
    source: str
    record_key: str = ""
    name: str | None = None
    grade: str | None = None
    year: int | None = None
    started_on: str | None = None
    ended_on: str | None = None
    severity: str | None = None
    term_years: object = None     # a number of years, 'life' (0 also means life), or None
    reference: str | None = None
    issuer: str | None = None
    note: str | None = None
    repaired_on: str | None = None  # 信用修复: the record stops counting on this date
    direct: object = None           # tax rating: 1/True = 直接判级, 0/False = by score, None = unknown


class Designation(NamedTuple):
    uscc: str
    name: str | None
    kind: str
    level: str
    recognized_on: str
    expires_on: str | None = None
    certificate_no: str | None = None
    revoked_on: str | None = None   # 撤销认定: not current from this date (migration 0009)

    def current(self, as_of: dt.date) -> bool:
        """Recognized on or before ``as_of``, not expired before it (``expires_on`` is the last valid
        day) and not revoked on or before it."""
        recognized = to_date(self.recognized_on)
        if recognized is None or recognized > as_of:
            return False
        expires, revoked = to_date(self.expires_on), to_date(self.revoked_on)
        return (expires is None or expires >= as_of) and (revoked is None or revoked > as_of)


# ---------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    source: str
    effect: str
    grades: frozenset | None = None
    severities: frozenset | None = None
    start: str = "started_on"
    length: Duration | str | None = None     # Duration, "term_years", or None
    until_removed: bool = False
    min: Duration | None = None
    max: Duration | None = None
    repair: str | None = None
    direct: bool | None = None               # only tax ratings assigned directly (True) or by score (False)
    unknown_basis_matches: bool = False      # ... and those whose basis is unknown (tax.unknown_basis)

    def applies(self, rec: Record) -> bool:
        if rec.source != self.source:
            return False
        if self.grades is not None and rec.grade not in self.grades:
            return False
        if self.severities is not None and rec.severity not in self.severities:
            return False
        return self.direct is None or self.basis_matches(rec)

    def basis_matches(self, rec: Record) -> bool:
        direct = rec.direct
        if direct is None or direct == "":
            return self.unknown_basis_matches
        return bool(direct) == self.direct


@dataclass(frozen=True)
class ListRules:
    rules: tuple[Rule, ...]
    publication_month: int
    publication_day: int
    require_valid_code: bool
    tax_grades: frozenset
    tax_years: int
    designation_kinds: tuple[str, ...]
    negative_lookback: Duration
    negative_sources: frozenset
    negative_tax_grades: frozenset
    ignore_severities: frozenset
    repair: dict
    unknown_basis: str = "direct"
    negative_until_removed: frozenset = frozenset()
    by_source: dict = field(default_factory=dict, compare=False, hash=False)

    def publication(self, year: int) -> dt.date:
        """Publication date of the tax rating for ``year`` (April 1 of the next year by default)."""
        return dt.date(year + 1, self.publication_month, self.publication_day)

    def latest_rating_year(self, as_of: dt.date) -> int:
        """As of 2026-06-30 the latest published rating year is 2025; as of 2026-03-31 it is 2024."""
        return as_of.year - 1 if as_of >= dt.date(as_of.year, self.publication_month, self.publication_day) \
            else as_of.year - 2

    def rating_years(self, as_of: dt.date) -> list[int]:
        latest = self.latest_rating_year(as_of)
        return [latest - i for i in range(self.tax_years)]


class ListRulesError(KqtoolsError, ValueError):
    """A ``lists`` rule file that passes its schema but cannot be used (the storage layer adds the file name)."""


# a minimum must not exceed its maximum from any start date: these starts cover month ends and Feb 29
_CHECK_STARTS = tuple(dt.date(y, m, d) for y in (2023, 2024) for m in range(1, 13) for d in (1, 28, 29, 30, 31)
                      if d <= calendar.monthrange(y, m)[1])


def _min_over_max(mn: Duration | None, mx: Duration | None) -> bool:
    return mn is not None and mx is not None and any(mn.add(d) > mx.add(d) for d in _CHECK_STARTS)


def parse_rules(data: dict) -> ListRules:
    """A validated ``lists`` rule file (``Rules.data``) -> :class:`ListRules`.

    Raises :class:`ListRulesError` for what the schema cannot say: two rules with one id, a
    minimum longer than its maximum (in a rule or a ``[repair]`` tier, from any start date),
    ``direct`` on a rule that does not look at tax ratings, a whitelist that asks for neither a
    tax rating nor a designation.
    """
    repair = data["repair"]
    for tier in ("general", "serious"):
        mn, mx = Duration.parse(repair[tier]["min"]), Duration.parse(repair[tier]["max"])
        if _min_over_max(mn, mx):
            raise ListRulesError(_("repair.{tier}: min {mn} exceeds max {mx}").format(tier=tier, mn=mn, mx=mx))
    unknown_basis = data["tax"].get("unknown_basis", "direct")
    rules = []
    for i, r in enumerate(data["rules"]):
        where = f"rules.{i} ({r['id']})"
        length = r.get("length")
        if length is not None and length != "term_years":
            length = Duration.parse(length)
        mn = Duration.parse(r["min"]) if r.get("min") else None
        mx = Duration.parse(r["max"]) if r.get("max") else None
        if _min_over_max(mn, mx):
            raise ListRulesError(_("{where}: min {mn} exceeds max {mx}").format(where=where, mn=mn, mx=mx))
        until_removed = bool(r.get("until_removed", False))
        if r.get("repair"):
            tier = repair[r["repair"]]
            mn, mx, until_removed = Duration.parse(tier["min"]), Duration.parse(tier["max"]), True
        direct = r.get("direct")
        if direct is not None and r["source"] != "tax_rating":
            raise ListRulesError(_("{where}: direct applies to tax_rating rules only, not to {source}").format(
                                     where=where, source=r['source']))
        rules.append(Rule(
            id=r["id"], title=r.get("title", r["id"]), source=r["source"], effect=r["effect"],
            grades=frozenset(r["grades"]) if r.get("grades") else None,
            severities=frozenset(r["severities"]) if r.get("severities") else None,
            start=r.get("start", "started_on"), length=length, until_removed=until_removed,
            min=mn, max=mx, repair=r.get("repair"), direct=direct,
            unknown_basis_matches=direct is not None and direct == (unknown_basis == "direct")))
    ids = [r.id for r in rules]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup:
        raise ListRulesError(_("rules: two rules share the id {dup!r}").format(dup=dup))
    wl, tax = data["whitelist"], data["tax"]
    if not wl["tax_years"] and not wl["designation_kinds"]:
        raise ListRulesError(_("whitelist: needs tax_years of at least 1 or at least one designation kind "
                               "(else every firm without a negative record would be whitelisted)"))
    by_source: dict[str, list[Rule]] = {}
    for rule in rules:
        by_source.setdefault(rule.source, []).append(rule)
    return ListRules(
        rules=tuple(rules), publication_month=tax["publication_month"], publication_day=tax.get("publication_day", 1),
        require_valid_code=wl.get("require_valid_code", True), tax_grades=frozenset(wl["tax_grades"]),
        tax_years=wl["tax_years"], designation_kinds=tuple(wl["designation_kinds"]),
        negative_lookback=Duration.parse(wl["negative_lookback"]),
        negative_sources=frozenset(wl.get("negative_sources", ())),
        negative_tax_grades=frozenset(wl.get("negative_tax_grades", ())),
        ignore_severities=frozenset(wl.get("ignore_severities", ())), repair=repair,
        unknown_basis=unknown_basis, negative_until_removed=frozenset(wl.get("negative_until_removed", ())),
        by_source={k: tuple(v) for k, v in by_source.items()})


# ---------------------------------------------------------------- windows
class WindowProblem(KqtoolsError, ValueError):
    """A record a rule applies to but whose window cannot be computed (missing date or term)."""


def record_start(rule: Rule, rec: Record, lr: ListRules) -> dt.date | None:
    if rule.start == "publication" or (rec[1] == "tax_rating" and not rec[6]):
        return lr.publication(int(rec[5])) if rec[5] is not None else None
    return to_date(rec[6])


def _term(rec: Record) -> Duration | None:
    """The ban term stored on the record: None for life; raises when there is none (never inferred)."""
    term = rec.term_years
    if term is None or term == "":
        raise WindowProblem("no ban term (term_years) on the record")   # data: kept in the version, in English
    if isinstance(term, str):
        if term.strip().lower() == "life":
            return None
        try:
            term = float(term)
        except ValueError:
            raise WindowProblem(f"ban term {term!r} is neither a number of years nor 'life'") from None
    if term == 0:
        return None  # 0 = for life (0001_core.sql)
    months = round(float(term) * 12)
    return Duration(months // 12, "y") if months % 12 == 0 else Duration(months, "m")


def window(rule: Rule, rec: Record, lr: ListRules) -> tuple[dt.date, dt.date | None]:
    """The effective window ``[start, end)`` of a record under a rule (``end`` None = open-ended).

    length -> start + length; until_removed -> ended_on ends it (earlier of the two);
    min -> never before start + min; max -> never after start + max; then a repair
    (``repaired_on``) ends it on its date whatever the rest says. A repair on or before the start
    leaves an empty window (``end <= start``), which covers no date.
    """
    start = record_start(rule, rec, lr)
    if start is None:
        raise WindowProblem("no start date" if rule.start != "publication" else "no rating year")
    end: dt.date | None = None
    if rule.length == "term_years":
        term = _term(rec)
        end = term.add(start) if term else None
    elif rule.length is not None:
        end = rule.length.add(start)
    if rule.until_removed:
        removed = to_date(rec.ended_on)
        if removed is not None:
            end = removed if end is None else min(end, removed)
    if rule.min is not None and end is not None:
        end = max(end, rule.min.add(start))
    if rule.max is not None:
        cap = rule.max.add(start)
        end = cap if end is None else min(end, cap)
    repaired = rec[13]
    if repaired:
        repaired = to_date(repaired)
        if repaired is not None:
            end = repaired if end is None else min(end, repaired)
    return start, end


def covers(win: tuple[dt.date, dt.date | None], as_of: dt.date) -> bool:
    start, end = win
    return start <= as_of and (end is None or as_of < end)


@dataclass(frozen=True)
class Scope:
    """Which records can possibly be effective on ``as_of`` under a rule: for the storage layer's query.

    Conditions (all must hold): source; grade in ``grades``; severity in ``severities``;
    for ``by_year``: year between ``year_min`` and ``year_max``; else ``started_on`` <= ``as_of``
    and > ``start_after`` (when set); when ``open_or_after`` is set: ``ended_on`` empty or
    > ``open_or_after``, unless ``started_on`` > ``recent_after``; ``repaired_on`` empty or
    > ``as_of``. A superset: :func:`window` decides exactly.
    """
    source: str
    grades: tuple | None
    severities: tuple | None
    by_year: bool
    year_min: int | None
    year_max: int | None
    start_after: str | None
    as_of: str
    open_or_after: str | None
    recent_after: str | None


def scope(rule: Rule, as_of: dt.date, lr: ListRules) -> Scope:
    bound = rule.max or (rule.length if isinstance(rule.length, Duration) else None)
    if isinstance(rule.length, Duration) and rule.max is not None:
        bound = rule.length if rule.length.add(as_of) <= rule.max.add(as_of) else rule.max
    if isinstance(rule.length, Duration) and rule.min is not None and bound is not None:
        if rule.min.add(as_of) > bound.add(as_of):
            bound = rule.min
    by_year = rule.start == "publication" or rule.source == "tax_rating"
    year_min = year_max = None
    start_after = None
    if by_year:
        year_max = lr.latest_rating_year(as_of)
        if bound is not None:
            year_min = year_max
            while bound.add(lr.publication(year_min - 1)) > as_of:
                year_min -= 1
    elif bound is not None:
        start_after = bound.add(as_of, -1).isoformat()
    open_or_after = recent_after = None
    if rule.until_removed:  # removed on or before as_of: off, unless the minimum still holds it
        open_or_after = as_of.isoformat()
        recent_after = rule.min.add(as_of, -1).isoformat() if rule.min else None
    return Scope(rule.source, tuple(sorted(rule.grades)) if rule.grades else None,
                 tuple(sorted(rule.severities)) if rule.severities else None, by_year, year_min, year_max,
                 start_after, as_of.isoformat(), open_or_after, recent_after)


def merge_scopes(scopes) -> list[Scope]:
    """The same records in fewer conditions: duplicates dropped, and scopes by rating year that
    differ only in their earliest year merged (tax_d and tax_d_score read one year range)."""
    merged: dict[Scope, Scope] = {}
    for s in scopes:
        key = replace(s, year_min=None) if s.by_year else s
        found = merged.get(key)
        if found is None:
            merged[key] = s
        elif s.by_year and found.year_min is not None:
            merged[key] = replace(found, year_min=None if s.year_min is None else min(found.year_min, s.year_min))
    return list(merged.values())


def basis_of(rec: Record) -> str:
    """``direct``, ``score`` or ``unknown``: how a tax rating was reached, as the record says."""
    direct = rec.direct
    return "unknown" if direct is None or direct == "" else BASES[0] if direct else BASES[1]


def negative_window(rec: Record, lr: ListRules) -> tuple[dt.date, dt.date] | None:
    """The window ``[start, end)`` in which a negative record keeps a firm off the whitelist:
    ``negative_lookback`` from its start (publication for a tax rating), ended early by a repair
    (``repaired_on``) and, for ``negative_until_removed`` sources, by the removal (``ended_on``).
    ``None`` when the record has no start date."""
    start = lr.publication(int(rec.year)) if rec.source == "tax_rating" and rec.year is not None \
        else to_date(rec.started_on)
    if start is None:
        return None
    end = lr.negative_lookback.add(start)
    ends = [to_date(rec.repaired_on)]
    if rec.source in lr.negative_until_removed:
        ends.append(to_date(rec.ended_on))
    for e in ends:
        if e is not None and e < end:
            end = e
    return start, end
