"""Credit whitelist and blacklist (信用白名单/黑名单): rules over records -> entries with reasons.

Pure domain: no SQL, no click, no printing. The storage layer fetches records and
designations and hands them over as plain data; everything here can be called directly.

A rule (``kqtools/rules/lists.toml``) names the records it looks at (source, grades,
severities), their effective *window* and its effect:

- ``blacklist``: the firm is on the blacklist while a record's window covers the date;
- ``blocks_whitelist``: the firm cannot be whitelisted while the window covers the date;
- ``supports_whitelist``: shown among a whitelisted firm's reasons.

A window is ``[start, end)``: the firm is on from ``start`` and off from ``end``; ``end`` is
``None`` when the window is open-ended. Dates are ``datetime.date`` here and ISO text in
entries (what the storage layer writes and the CLI prints).
"""
from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple, Sequence

from .errors import KqtoolsError

BLACKLIST, WHITELIST = "blacklist", "whitelist"
LISTS = (WHITELIST, BLACKLIST)
RECORD_COLUMNS = ("uscc", "source", "record_key", "name", "grade", "year", "started_on", "ended_on",
                  "severity", "term_years", "reference", "issuer", "note")
DESIGNATION_COLUMNS = ("uscc", "name", "kind", "level", "recognized_on", "expires_on", "certificate_no")
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
            raise ValueError(f"not a duration: {text!r} (use e.g. 3m, 1y, 90d)")
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


class Designation(NamedTuple):
    uscc: str
    name: str | None
    kind: str
    level: str
    recognized_on: str
    expires_on: str | None = None
    certificate_no: str | None = None


@dataclass
class Facts:
    """What is known about one firm: its credit records and designations."""
    records: list[Record] = field(default_factory=list)
    designations: list[Designation] = field(default_factory=list)


@dataclass
class Entry:
    uscc: str
    name: str | None
    since: dt.date | None
    until: dt.date | None           # first day off the list if nothing changes; None = open-ended
    reasons: list[dict]
    override_id: int | None = None

    def row(self, list_name: str) -> dict:
        return {"list": list_name, "uscc": self.uscc, "name": self.name, "since": iso(self.since),
                "until": iso(self.until), "reasons": self.reasons, "override_id": self.override_id}


@dataclass
class Override:
    id: int
    list: str
    action: str                     # add | remove
    uscc: str
    reason: str
    operator: str
    created_at: str
    until: str | None = None        # the override no longer applies from this date
    name: str | None = None
    revoked_at: str | None = None

    def active(self, as_of: dt.date) -> bool:
        if self.revoked_at:
            return False
        end = to_date(self.until)
        return end is None or as_of < end

    def reason_dict(self) -> dict:
        return {"rule": f"override_{self.action}", "override": self.id, "reason": self.reason,
                "operator": self.operator, "created_at": self.created_at, "until": self.until}


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

    def applies(self, rec: Record) -> bool:
        if rec.source != self.source:
            return False
        if self.grades is not None and rec.grade not in self.grades:
            return False
        if self.severities is not None and rec.severity not in self.severities:
            return False
        return True


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


def parse_rules(data: dict) -> ListRules:
    """A validated ``lists`` rule file (``Rules.data``) -> :class:`ListRules`."""
    repair = data["repair"]
    rules = []
    for r in data["rules"]:
        length = r.get("length")
        if length is not None and length != "term_years":
            length = Duration.parse(length)
        mn = Duration.parse(r["min"]) if r.get("min") else None
        mx = Duration.parse(r["max"]) if r.get("max") else None
        until_removed = bool(r.get("until_removed", False))
        if r.get("repair"):
            tier = repair[r["repair"]]
            mn, mx, until_removed = Duration.parse(tier["min"]), Duration.parse(tier["max"]), True
        rules.append(Rule(
            id=r["id"], title=r.get("title", r["id"]), source=r["source"], effect=r["effect"],
            grades=frozenset(r["grades"]) if r.get("grades") else None,
            severities=frozenset(r["severities"]) if r.get("severities") else None,
            start=r.get("start", "started_on"), length=length, until_removed=until_removed,
            min=mn, max=mx, repair=r.get("repair")))
    ids = [r.id for r in rules]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup:
        raise ValueError(f"rules: two rules share the id {dup!r}")
    wl, tax = data["whitelist"], data["tax"]
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
        raise WindowProblem("no ban term (term_years) on the record")
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
    min -> never before start + min; max -> never after start + max.
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
    return start, end


def covers(win: tuple[dt.date, dt.date | None], as_of: dt.date) -> bool:
    start, end = win
    return start <= as_of and (end is None or as_of < end)


@dataclass(frozen=True)
class Scope:
    """Which records can possibly be effective on ``as_of`` under a rule: for the storage layer's query.

    Conditions (all must hold): source; grade in ``grades``; severity in ``severities``;
    for ``by_year``: year between ``year_min`` and ``year_max``; else ``started_on`` <= ``as_of``
    and > ``start_after`` (when set); and when ``open_or_after`` is set:
    ``ended_on`` empty or > ``open_or_after``, unless ``started_on`` > ``recent_after``.
    A superset: :func:`window` decides exactly.
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
    if rule.until_removed and rule.length is None and rule.max is None:
        open_or_after = as_of.isoformat()
        recent_after = rule.min.add(as_of, -1).isoformat() if rule.min else None
    return Scope(rule.source, tuple(sorted(rule.grades)) if rule.grades else None,
                 tuple(sorted(rule.severities)) if rule.severities else None, by_year, year_min, year_max,
                 start_after, as_of.isoformat(), open_or_after, recent_after)


# ---------------------------------------------------------------- evaluation
@dataclass(slots=True)
class Hit:
    rule: Rule
    record: Record
    start: dt.date
    end: dt.date | None


# (key, position in Record) of the record fields a reason carries, in this order
_REASON_FIELDS = tuple((k, RECORD_COLUMNS.index(k)) for k in (
    "reference", "year", "grade", "severity", "started_on", "ended_on", "term_years", "issuer"))


def record_reason(rule: Rule, rec: Record, start: dt.date, end: dt.date | None) -> dict:
    """The rule that fired and the record behind it (source, dates, reference)."""
    out = {"rule": rule.id, "source": rec[1]}
    for key, i in _REASON_FIELDS:
        value = rec[i]
        if value is not None and value != "":
            out[key] = value
    out["from"] = start.isoformat()
    out["to"] = end.isoformat() if end else None
    return out


def fire(records: Iterable[Record], lr: ListRules, as_of: dt.date, effects: Sequence[str] | None = None,
         problems: list | None = None) -> dict[str, list[Hit]]:
    """Hits (rule, record, window) effective on ``as_of``, grouped by firm."""
    hits: dict[str, list[Hit]] = {}
    # per source, the rules with these effects, with what they filter on (looked up once, not per record)
    wanted = {src: tuple((rule, rule.grades, rule.severities) for rule in rules
                         if effects is None or rule.effect in effects)
              for src, rules in lr.by_source.items()}
    get = wanted.get
    for rec in records:
        rules = get(rec[1])
        if not rules:
            continue
        for rule, grades, severities in rules:
            if grades is not None and rec[4] not in grades:
                continue
            if severities is not None and rec[8] not in severities:
                continue
            try:
                start, end = window(rule, rec, lr)
            except WindowProblem as exc:
                if problems is not None:
                    problems.append({"uscc": rec.uscc, "source": rec.source, "record_key": rec.record_key,
                                     "rule": rule.id, "problem": str(exc)})
                continue
            if start <= as_of and (end is None or as_of < end):
                found = hits.get(rec[0])
                if found is None:
                    hits[rec[0]] = [Hit(rule, rec, start, end)]
                else:
                    found.append(Hit(rule, rec, start, end))
    return hits


def _entry_from_hits(uscc: str, hits: list[Hit], name: str | None = None) -> Entry:
    if len(hits) == 1:
        h = hits[0]
        return Entry(uscc, name or h.record.name, h.start, h.end, [record_reason(h.rule, h.record, h.start, h.end)])
    since = min(h.start for h in hits)
    until = None if any(h.end is None for h in hits) else max(h.end for h in hits)  # type: ignore[type-var]
    hits = sorted(hits, key=lambda h: (h.start, h.rule.id, h.record.record_key))
    reasons = [record_reason(h.rule, h.record, h.start, h.end) for h in hits]
    return Entry(uscc, name or next((h.record.name for h in hits if h.record.name), None), since, until, reasons)


def blacklist(records: Iterable[Record], lr: ListRules, as_of: dt.date,
              problems: list | None = None) -> dict[str, Entry]:
    """Blacklist entries from the rules with effect ``blacklist`` (before overrides)."""
    hits = fire(records, lr, as_of, (BLACKLIST,), problems)
    return {u: _entry_from_hits(u, h) for u, h in hits.items()}


def _negative(rec: Record, lr: ListRules) -> bool:
    if rec.source == "tax_rating":
        return rec.grade in lr.negative_tax_grades
    return rec.source in lr.negative_sources and rec.severity not in lr.ignore_severities


def _describe(rec: Record) -> str:
    bits = [rec.source]
    if rec.source == "tax_rating":
        bits.append(f"{rec.year} {rec.grade}")
    else:
        if rec.severity:
            bits.append(rec.severity)
        if rec.started_on:
            bits.append(rec.started_on)
    if rec.reference:
        bits.append(rec.reference)
    return " ".join(str(b) for b in bits)


def whitelist_check(uscc: str, facts: Facts, lr: ListRules, as_of: dt.date, *, blacklisted: bool,
                    valid_code: bool = True, name: str | None = None) -> tuple[Entry | None, list[str]]:
    """Whitelist one firm: ``(entry, [])`` when every condition holds, else ``(None, reasons it fails)``."""
    fails: list[str] = []
    sinces: list[dt.date] = []
    reasons: list[dict] = []
    if lr.require_valid_code and not valid_code:
        fails.append("credit code does not pass the check")
    if blacklisted:
        fails.append("on the blacklist")

    # tax rating in each of the latest rating years
    ratings: dict[int, Record] = {}
    for rec in facts.records:
        if rec.source == "tax_rating" and rec.year is not None:
            ratings[int(rec.year)] = rec
    years = lr.rating_years(as_of)
    tax_records = []
    for y in years:
        rec = ratings.get(y)
        if rec is None:
            fails.append(f"no tax rating for {y}")
        elif rec.grade not in lr.tax_grades:
            fails.append(f"tax rating {y} is {rec.grade}, needs {'/'.join(sorted(lr.tax_grades))}")
        else:
            tax_records.append(rec)
    if years and len(tax_records) == len(years):
        first = years[-1]
        while first - 1 in ratings and ratings[first - 1].grade in lr.tax_grades:
            first -= 1
        sinces.append(lr.publication(first + len(years) - 1))
        reasons.append({"rule": "tax_rating", "years": years,
                        "records": [{"source": "tax_rating", "year": r.year, "grade": r.grade,
                                     **({"reference": r.reference} if r.reference else {})} for r in tax_records]})
    until = lr.publication(years[0] + 1) if years else None

    # at least one current designation
    current = [d for d in facts.designations
               if d.kind in lr.designation_kinds and to_date(d.recognized_on) and to_date(d.recognized_on) <= as_of
               and (d.expires_on is None or to_date(d.expires_on) >= as_of)]
    if lr.designation_kinds:
        if not current:
            fails.append(f"no current designation ({', '.join(lr.designation_kinds)})")
        else:
            current.sort(key=lambda d: (d.recognized_on, d.kind))
            sinces.append(to_date(current[0].recognized_on))
            ends = [to_date(d.expires_on) for d in current]
            if all(e is not None for e in ends):
                last = max(ends) + dt.timedelta(days=1)  # type: ignore[operator]
                until = last if until is None else min(until, last)
            reasons.append({"rule": "designation", "records": [
                {"source": "designation", "kind": d.kind, "level": d.level, "recognized_on": d.recognized_on,
                 "expires_on": d.expires_on, **({"certificate_no": d.certificate_no} if d.certificate_no else {})}
                for d in current]})

    # no negative record in the lookback
    horizon = lr.negative_lookback.add(as_of, -1)
    for rec in facts.records:
        if not _negative(rec, lr):
            continue
        start = lr.publication(int(rec.year)) if rec.source == "tax_rating" and rec.year is not None \
            else to_date(rec.started_on)
        if start is None or start > as_of:
            continue
        if start > horizon:
            fails.append(f"negative record within {lr.negative_lookback}: {_describe(rec)}")
        else:
            sinces.append(lr.negative_lookback.add(start) + dt.timedelta(days=1))

    # rules that block the whitelist (or blacklist) while their window covers the date
    support = []
    for rec in facts.records:
        for rule in lr.by_source.get(rec.source, ()):
            if not rule.applies(rec):
                continue
            try:
                win = window(rule, rec, lr)
            except WindowProblem:
                continue
            if covers(win, as_of):
                if rule.effect == "blocks_whitelist":
                    fails.append(f"{rule.id}: {_describe(rec)} until {iso(win[1]) or 'removed'}")
                elif rule.effect == "supports_whitelist":
                    support.append(record_reason(rule, rec, *win))
            elif win[1] is not None and win[1] <= as_of and rule.effect in ("blocks_whitelist", BLACKLIST):
                sinces.append(win[1])
    if fails:
        return None, fails
    reasons.extend(support)
    since = max(sinces) if sinces else None
    return Entry(uscc, name, since, until, reasons), []


# ---------------------------------------------------------------- overrides and changes
def apply_overrides(entries: dict[str, Entry], overrides: Iterable[Override], list_name: str,
                    as_of: dt.date) -> tuple[list[Override], dict[str, tuple[Entry, Override]]]:
    """Apply the active overrides of one list in id order; returns (applied, removed uscc -> (entry, override))."""
    applied, removed = [], {}
    for ov in sorted(overrides, key=lambda o: o.id):
        if ov.list != list_name or not ov.active(as_of):
            continue
        applied.append(ov)
        if ov.action == "add":
            until = to_date(ov.until)
            entry = entries.get(ov.uscc)
            if entry is None:
                removed.pop(ov.uscc, None)
                entries[ov.uscc] = Entry(ov.uscc, ov.name, to_date(ov.created_at), until, [ov.reason_dict()], ov.id)
            else:
                entry.reasons.append(ov.reason_dict())
                entry.override_id = ov.id
                entry.until = None if entry.until is None or until is None else max(entry.until, until)
        else:
            entry = entries.pop(ov.uscc, None)
            if entry is not None:
                removed[ov.uscc] = (entry, ov)
    return applied, removed


def left_why(list_name: str, old: dict, as_of: dt.date, override: Override | None = None,
             fails: Sequence[str] = ()) -> list[dict]:
    """Why a firm that was on a list (``old``: its entry row) is not on it any more."""
    if override is not None:
        return [override.reason_dict()]
    until = to_date(old.get("until"))
    out = []
    if old.get("override_id"):  # an add-override kept it; that override expired or was revoked
        out.append({"rule": "override_ended", "override": old["override_id"]})
    if until is not None and until <= as_of:
        out.append({"rule": "window_ended", "until": iso(until)})
    for f in fails:
        out.append({"rule": "no_longer_qualifies", "reason": f})
    if not out:
        out.append({"rule": "records_changed",
                    "reason": "the records behind the entry were removed, repaired or corrected"})
    return out


def reasons_text(reasons: Sequence[dict]) -> str:
    """One readable line for a list of reasons (tables, CSV); JSON keeps the full structure."""
    parts = []
    for r in reasons:
        rule = r.get("rule", "")
        if rule in ("tax_rating", "designation"):
            recs = r.get("records", [])
            if rule == "tax_rating":
                parts.append("tax " + ", ".join(f"{x['year']} {x['grade']}" for x in recs))
            else:
                parts.append("designation " + ", ".join(
                    f"{x['kind']}{'/' + x['level'] if x.get('level') else ''} to {x.get('expires_on') or 'open'}"
                    for x in recs))
        elif rule == "override_ended":
            parts.append(f"override #{r.get('override')} expired or was revoked")
        elif rule.startswith("override"):
            parts.append(f"{rule} #{r.get('override')}: {r.get('reason', '')} ({r.get('operator', '')}"
                         f"{', until ' + r['until'] if r.get('until') else ''})")
        elif "source" in r:
            when = r.get("started_on") or (f"{r.get('year')} {r.get('grade')}" if r.get("year") else "")
            ref = f" {r['reference']}" if r.get("reference") else ""
            to = f" to {r['to']}" if r.get("to") else " (open)"
            label = r["source"] if rule == r["source"] else f"{rule}: {r['source']}"
            parts.append(f"{label} {when}{ref}{to}".rstrip())
        elif "reason" in r:
            parts.append(f"{rule}: {r['reason']}")
        elif "until" in r:
            parts.append(f"{rule}: {r['until']}")
        else:
            parts.append(rule)
    return "; ".join(parts)
