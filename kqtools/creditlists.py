"""Credit whitelist and blacklist (信用白名单/黑名单): rules over records -> entries with reasons.

Pure domain: no SQL, no click, no printing. The storage layer fetches records and
designations and hands them over as plain data; everything here can be called directly.
The records, the rules and their windows are in :mod:`kqtools.creditterms` (re-exported here,
so ``creditlists.Record``, ``creditlists.parse_rules`` and ``creditlists.window`` keep working).

- :func:`blacklist`: every rule with effect ``blacklist`` whose window covers the as-of date;
- :func:`whitelist_check`: one firm's whitelist conditions (tax ratings, a current designation,
  no negative record in the look-back, no blocking rule in force, not blacklisted);
- :func:`apply_overrides`: manual decisions, in id order;
- :func:`left_why` and :func:`reasons_text`: why a firm left a list; reasons as one line.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .creditterms import (  # noqa: F401 - re-exported: the public names of the credit lists
    BASES, DESIGNATION_COLUMNS, RECORD_COLUMNS, Designation, Duration, ListRules, ListRulesError, Record, Rule,
    Scope, WindowProblem, add_months, basis_of, covers, iso, merge_scopes, negative_window, parse_rules,
    record_start, scope, to_date, window)

BLACKLIST, WHITELIST = "blacklist", "whitelist"
LISTS = (WHITELIST, BLACKLIST)


# ---------------------------------------------------------------- plain data
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


# ---------------------------------------------------------------- evaluation
@dataclass(slots=True)
class Hit:
    rule: Rule
    record: Record
    start: dt.date
    end: dt.date | None


# (key, position in Record) of the record fields a reason carries, in this order
_REASON_FIELDS = tuple((k, RECORD_COLUMNS.index(k)) for k in (
    "reference", "year", "grade", "severity", "started_on", "ended_on", "repaired_on", "term_years", "issuer"))


def record_reason(rule: Rule, rec: Record, start: dt.date, end: dt.date | None) -> dict:
    """The rule that fired and the record behind it (source, dates, reference; the basis of a tax D)."""
    out = {"rule": rule.id, "source": rec[1]}
    for key, i in _REASON_FIELDS:
        value = rec[i]
        if value is not None and value != "":
            out[key] = value
    if rule.direct is not None:
        out["basis"] = basis_of(rec)
        if out["basis"] == "unknown":
            out["basis_note"] = f"basis unknown: treated as {BASES[0] if rule.direct else BASES[1]}"
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
            if rule.direct is not None and not rule.basis_matches(rec):
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


def _repaired(rec: Record, as_of: dt.date) -> bool:
    repaired = to_date(rec.repaired_on)
    return repaired is not None and repaired <= as_of


def _negative(rec: Record, lr: ListRules) -> bool:
    if rec.source == "tax_rating":
        return rec.grade in lr.negative_tax_grades
    return rec.source in lr.negative_sources and rec.severity not in lr.ignore_severities


def _designation_end(d: Designation) -> dt.date | None:
    """First day a designation is no longer current: the day after it expires, or its revocation."""
    expires, revoked = to_date(d.expires_on), to_date(d.revoked_on)
    ends = [e for e in (expires + dt.timedelta(days=1) if expires else None, revoked) if e is not None]
    return min(ends) if ends else None


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

    # tax rating in each of the latest rating years (a repaired rating no longer counts)
    ratings: dict[int, list[Record]] = {}
    for rec in facts.records:
        if rec.source == "tax_rating" and rec.year is not None and not _repaired(rec, as_of):
            ratings.setdefault(int(rec.year), []).append(rec)
    for recs in ratings.values():  # the same reasons whatever order the records came in
        recs.sort(key=lambda r: r.record_key)
    grades_of = {y: {r.grade for r in recs} for y, recs in ratings.items()}
    years = lr.rating_years(as_of)
    tax_records = []
    for y in years:
        grades = grades_of.get(y)
        if not grades:
            fails.append(f"no tax rating for {y}")
        elif len(grades) > 1:
            fails.append(f"two tax ratings for {y}: {', '.join(sorted(map(str, grades)))} (correct the records)")
        elif not grades <= lr.tax_grades:
            fails.append(f"tax rating {y} is {next(iter(grades))}, needs {'/'.join(sorted(lr.tax_grades))}")
        else:
            tax_records.append(ratings[y][0])
    if years and len(tax_records) == len(years):
        first = years[-1]
        while grades_of.get(first - 1) and grades_of[first - 1] <= lr.tax_grades:
            first -= 1
        sinces.append(lr.publication(first + len(years) - 1))
        reasons.append({"rule": "tax_rating", "years": years,
                        "records": [{"source": "tax_rating", "year": r.year, "grade": r.grade,
                                     **({"reference": r.reference} if r.reference else {})} for r in tax_records]})
    until = lr.publication(years[0] + 1) if years else None

    # at least one current designation
    current = [d for d in facts.designations if d.kind in lr.designation_kinds and d.current(as_of)]
    if lr.designation_kinds:
        if not current:
            fails.append(f"no current designation ({', '.join(lr.designation_kinds)})")
        else:
            current.sort(key=lambda d: (d.recognized_on, d.kind, d.level or "", d.certificate_no or ""))
            sinces.append(to_date(current[0].recognized_on))
            ends = [_designation_end(d) for d in current]
            if all(e is not None for e in ends):
                last = max(ends)  # type: ignore[type-var]
                until = last if until is None else min(until, last)
            reasons.append({"rule": "designation", "records": [
                {"source": "designation", "kind": d.kind, "level": d.level, "recognized_on": d.recognized_on,
                 "expires_on": d.expires_on, **({"certificate_no": d.certificate_no} if d.certificate_no else {})}
                for d in current]})

    # no negative record in the look-back
    for rec in facts.records:
        if not _negative(rec, lr):
            continue
        win = negative_window(rec, lr)
        if win is None or win[0] > as_of:
            continue
        if covers(win, as_of):
            fails.append(f"negative record within {lr.negative_lookback}: {_describe(rec)}")
        elif win[1] > win[0]:  # type: ignore[operator]
            sinces.append(win[1])  # type: ignore[arg-type]

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
                    support.append((win[0], rule.id, rec.record_key, record_reason(rule, rec, *win)))
            elif win[1] is not None and win[0] < win[1] <= as_of and rule.effect in ("blocks_whitelist", BLACKLIST):
                sinces.append(win[1])
    if fails:
        return None, fails
    reasons.extend(r for *_, r in sorted(support, key=lambda x: x[:3]))  # the same order whatever the input's
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


_BASIS_TEXT = {"direct": "assigned directly", "score": "by score"}


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
            if r.get("basis"):
                when += f" ({r.get('basis_note') or _BASIS_TEXT.get(r['basis'], r['basis'])})"
            if r.get("repaired_on"):
                when += f" repaired {r['repaired_on']}"
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
