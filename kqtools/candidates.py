"""Candidates for the next tier of a ladder: each threshold of the rules met, failed or missing.

A threshold (``[[candidates.TIER.thresholds]]`` in the ladder rules) measures one thing from a
firm's yearly metrics (money in 万元) and compares it with a minimum (``>=``), a maximum (``<=``)
or a minimum chosen by band:

* ``ratio``: the sum of ``field`` over the sum of ``per`` over the last ``years`` years ending in
  the candidate year Y; a firm founded later counts from its founding year (国科发火〔2016〕32号:
  实际经营期不满三年的按实际经营时间计算);
* ``value``: ``field`` in year Y;
* ``growth``: the compound yearly growth of ``field`` from Y-years to Y.

``bands`` pick the minimum from ``band_by`` in year Y: the first band whose ``up_to`` (inclusive:
"5,000万元（含）") is at least that value; a band without ``up_to`` takes the rest.

Every comparison is exact: the numbers are compared as the decimals they were written as
(``fractions.Fraction`` of their shortest representation), so 250 of 5,000 is 5% and meets a 5%
minimum. A value that is not there (no metrics row for a year of the window, an empty field, a
zero denominator) makes the threshold **missing**, never failed. A firm's verdict: ``fails`` when
any threshold failed, else ``missing_data`` when any is missing, else ``meets``.

Standard library only (plus :mod:`kqtools.errors`); plain data in, plain data out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping

from .errors import KqtoolsError
from .i18n import _

MEETS, MISSING_DATA, FAILS = "meets", "missing_data", "fails"


class CandidateRulesError(KqtoolsError, ValueError):
    """Candidate thresholds that pass the schema but cannot be used (bands out of order, no bound)."""


@dataclass(frozen=True)
class Threshold:
    id: str
    measure: str                           #: ratio, value, growth
    field: str
    label: str = ""
    per: str | None = None                 #: the denominator of a ratio
    years: int = 1
    min: Fraction | None = None
    max: Fraction | None = None
    band_by: str | None = None
    bands: tuple[tuple[Fraction | None, Fraction], ...] = ()   #: (up_to or None, min)

    def fields(self) -> set[str]:
        return {f for f in (self.field, self.per, self.band_by) if f}


@dataclass(frozen=True)
class CandidateRule:
    tier: str
    source: str
    thresholds: tuple[Threshold, ...]
    from_tiers: tuple[str, ...] = ()       #: empty = the tier just below

    def fields(self) -> set[str]:
        return set().union(*(t.fields() for t in self.thresholds))

    def years(self) -> int:
        return max(t.years + (1 if t.measure == "growth" else 0) for t in self.thresholds)


def exact(x) -> Fraction:
    """A number as the decimal it was written as (0.1 is 1/10, not the binary float)."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, float):
        if not math.isfinite(x):
            raise ValueError(_("not a finite number: {x}").format(x=x))
        return Fraction(repr(x))
    return Fraction(x)


def compile_candidates(data: Mapping, tier_ids: set[str]) -> dict[str, CandidateRule]:
    """``[candidates]`` of the ladder rules, by tier id."""
    out = {}
    for tier, spec in (data or {}).items():
        where = f"candidates.{tier}"
        if tier not in tier_ids:
            raise CandidateRulesError(_("{where}: no tier {tier!r} in the ladders").format(where=where, tier=tier))
        for t in spec.get("from", ()):
            if t not in tier_ids:
                raise CandidateRulesError(_("{where}.from: no tier {tier!r} in the ladders").format(where=where, tier=t))
        thresholds, ids = [], set()
        for i, t in enumerate(spec["thresholds"]):
            at = f"{where}.thresholds.{i}"
            if t["id"] in ids:
                raise CandidateRulesError(_("{at}: threshold id {id!r} given twice").format(at=at, id=t["id"]))
            ids.add(t["id"])
            thresholds.append(_threshold(t, at))
        out[tier] = CandidateRule(tier, spec["source"], tuple(thresholds), tuple(spec.get("from", ())))
    return out


def _threshold(t: Mapping, at: str) -> Threshold:
    for key in ("min", "max"):
        if key in t and not math.isfinite(t[key]):
            raise CandidateRulesError(_("{at}.{key}: must be a finite number").format(at=at, key=key))
    if t["measure"] == "ratio" and not t.get("per"):
        raise CandidateRulesError(_("{at}: a ratio needs `per` (its denominator)").format(at=at))
    if t["measure"] != "ratio" and t.get("per"):
        raise CandidateRulesError(_("{at}: `per` is for measure = \"ratio\" only").format(at=at))
    bands = []
    if "bands" in t:
        if "min" in t or not t.get("band_by"):
            raise CandidateRulesError(_("{at}: bands need `band_by` and replace `min`").format(at=at))
        last = None
        for j, b in enumerate(t["bands"]):
            up = b.get("up_to")
            if not math.isfinite(b["min"]) or (up is not None and not math.isfinite(up)):
                raise CandidateRulesError(_("{at}.bands.{j}: numbers must be finite").format(at=at, j=j))
            if j < len(t["bands"]) - 1 and up is None:
                raise CandidateRulesError(_("{at}.bands.{j}: only the last band may leave out up_to").format(at=at, j=j))
            if up is not None and last is not None and up <= last:
                raise CandidateRulesError(_("{at}.bands.{j}: up_to {up} is not above the band before ({last})")
                                          .format(at=at, j=j, up=up, last=last))
            last = up if up is not None else last
            bands.append((None if up is None else exact(up), exact(b["min"])))
    elif t.get("band_by"):
        raise CandidateRulesError(_("{at}: band_by without bands").format(at=at))
    if not bands and "min" not in t and "max" not in t:
        raise CandidateRulesError(_("{at}: give min, max or bands").format(at=at))
    return Threshold(t["id"], t["measure"], t["field"], t.get("label", ""), t.get("per"), int(t.get("years", 1)),
                     exact(t["min"]) if "min" in t else None, exact(t["max"]) if "max" in t else None,
                     t.get("band_by"), tuple(bands))


# ---------------------------------------------------------------- evaluation
def evaluate(rule: CandidateRule, metrics: Mapping[int, Mapping], year: int, founded_year: int | None = None) -> dict:
    """One firm against a tier's thresholds. ``metrics``: year -> that year's figures (a missing year
    is not in the mapping). Returns ``{"verdict", "met", "missing", "failed", "detail"}``: the three
    lists hold threshold ids; ``detail`` says each one's value, bound and years, or what is missing."""
    met, missing, failed, detail = [], [], [], []
    for t in rule.thresholds:
        outcome, text = check(t, metrics, year, founded_year)
        {"met": met, "missing": missing, "failed": failed}[outcome].append(t.id)
        detail.append(f"{t.id}: {text}")
    verdict = FAILS if failed else MISSING_DATA if missing else MEETS
    return {"verdict": verdict, "met": met, "missing": missing, "failed": failed, "detail": "; ".join(detail)}


def check(t: Threshold, metrics: Mapping[int, Mapping], year: int, founded_year: int | None = None) -> tuple[str, str]:
    """(``met`` | ``failed`` | ``missing``, a one-line explanation) for one threshold."""
    first = year - t.years + 1
    if t.measure == "ratio" and founded_year is not None and first < founded_year <= year:
        first = founded_year
    if t.measure == "growth":
        first = year - t.years
    years = range(first, year + 1)
    label = f"{first}-{year}" if first < year else str(year)

    def value(y, f):
        v = (metrics.get(y) or {}).get(f)
        return None if v is None else exact(v)

    gaps = [f"{f} {y}" for y in years for f in _needed(t, y, first, year) if value(y, f) is None]
    if gaps:
        return "missing", "no " + ", ".join(gaps)
    if t.measure == "ratio":
        num, den = sum(value(y, t.field) for y in years), sum(value(y, t.per) for y in years)
        if den <= 0:
            return "missing", f"{t.per} {label} is {_num(den)}: no ratio"
        measured = num / den
        shown = f"{t.field}/{t.per} {label} = {_num(num)}/{_num(den)} = {_pct(measured)}"
        scale = lambda bound: bound  # noqa: E731
    elif t.measure == "value":
        measured = value(year, t.field)
        shown = f"{t.field} {year} = {_num(measured)}"
        scale = lambda bound: bound  # noqa: E731
    else:  # growth: compare end/start with (1 + rate) ** years, exactly
        start, end = value(first, t.field), value(year, t.field)
        if start <= 0 or end < 0:
            return "missing", f"{t.field} {first} is {_num(start)}: no growth rate"
        measured = end / start
        shown = (f"{t.field} {first}->{year} {_num(start)}->{_num(end)}: "
                 f"{_pct((float(measured) ** (1 / t.years)) - 1)} a year")
        scale = lambda bound: (1 + bound) ** t.years  # noqa: E731
    low, high, why = _bounds(t, metrics, year)
    ok = (low is None or measured >= scale(low)) and (high is None or measured <= scale(high))
    bound = " and ".join(x for x in (f">= {_fmt(t, low)}" if low is not None else "",
                                     f"<= {_fmt(t, high)}" if high is not None else "") if x)
    return ("met" if ok else "failed"), f"{shown} {'meets' if ok else 'fails'} {bound}{why}"


def _needed(t: Threshold, y: int, first: int, year: int) -> tuple[str, ...]:
    if t.measure == "ratio":
        return (t.field, t.per) + ((t.band_by,) if t.band_by and y == year else ())
    if t.measure == "value":
        return (t.field,) + ((t.band_by,) if t.band_by else ()) if y == year else ()
    return ((t.field,) if y in (first, year) else ()) + ((t.band_by,) if t.band_by and y == year else ())


def _bounds(t: Threshold, metrics: Mapping[int, Mapping], year: int):
    if not t.bands:
        return t.min, t.max, ""
    by = exact(metrics[year][t.band_by])
    for i, (up, low) in enumerate(t.bands):
        if up is None or by <= up:
            lower = t.bands[i - 1][0] if i else None
            span = (f"{_num(lower)} < " if lower is not None else "") + f"{t.band_by} {year} {_num(by)}" + \
                (f" <= {_num(up)}" if up is not None else "")
            return low, t.max, f" (band {span})"
    return None, t.max, f" ({t.band_by} {year} {_num(by)} above every band: no minimum)"


def _num(x) -> str:
    if x is None:
        return "-"
    f = float(x)
    return f"{f:,.0f}" if f == int(f) else f"{f:,.2f}".rstrip("0").rstrip(".")


def _pct(x) -> str:
    return f"{float(x) * 100:.2f}".rstrip("0").rstrip(".") + "%"


def _fmt(t: Threshold, x) -> str:
    return _pct(x) if t.measure in ("ratio", "growth") else _num(x)
