"""Targets for the number of firms per tier (倍增行动 2023-2027) and the pace towards them.

A target says: by the end of ``target_year`` the district (empty = all districts) should count
``target`` firms of ``tier`` (one tier, or several counted together: 独角兽、潜在独角兽企业 =
``unicorn+potential_unicorn``), starting from ``baseline`` firms at the end of ``baseline_year``
(given, or counted from the database). ``counting`` says which firms: ``in_force`` (holding the tier
in force on the day: 高新技术企业数, 科技型中小企业入库数) or ``cumulative`` (ever recognized up to
the day: 瞪羚企业累计).

Progress on day D (:func:`progress`):

* time gone = years from the end of the baseline year to D, each month counted as 1/12 and split by
  its days (30 June = half a year; 31 December = a whole one), between 0 and the span;
* ``expected`` = baseline + (target - baseline) × time gone / span, where span = target_year -
  baseline_year: the straight line from the baseline to the target;
* ``gap`` = target - current; ``needed_per_year`` = gap / years left to the end of the target year
  (0 once the gap is closed; ``None`` when no time is left and the gap is open);
* ``pace``: ``on_pace`` when current is within one firm of ``expected``, else ``ahead`` or ``behind``.

Example (the issue's): baseline 5,000 at the end of 2023, target 8,000 by the end of 2027, on
2025-06-30 1.5 of 4 years are gone and ``expected`` is 5,000 + 3,000 × 1.5 / 4 = 6,125.

Standard library only (plus :mod:`kqtools.errors`); dates and counts are passed in.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping

from .errors import KqtoolsError
from .i18n import _

IN_FORCE, CUMULATIVE = "in_force", "cumulative"
AHEAD, ON_PACE, BEHIND = "ahead", "on_pace", "behind"
PROGRESS_FIELDS = ("tier", "district", "counting", "baseline_year", "baseline", "current", "target", "target_year",
                   "gap", "needed_per_year", "expected", "pace", "as_of", "years_gone", "years_left", "note")
REQUIRED = ("tier", "target_year", "target", "baseline_year")

#: how a clerk writes "all districts" and the counting modes
ALL_DISTRICTS = {"", "全市", "全区", "全县", "合计", "总计", "全部", "all", "total"}
COUNT_VALUES = {"in_force": IN_FORCE, "在库": IN_FORCE, "有效": IN_FORCE, "存量": IN_FORCE, "在册": IN_FORCE,
                "入库": IN_FORCE, "有效期内": IN_FORCE, "cumulative": CUMULATIVE, "累计": CUMULATIVE}
_TIER_SPLIT = re.compile(r"[、,，/+＋;；]|和|及")


class TargetError(KqtoolsError):
    """A targets file or rule file that cannot be used: file, line, column and reason."""


class FieldError(ValueError):
    """One unusable value of a target: the canonical ``field`` and the ``reason`` (in the language of
    the run), so the caller can say where it is (a table's line and column, a rule file's entry)."""

    def __init__(self, reason: str, field: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class Target:
    tiers: tuple[str, ...]
    district: str                 #: '' = all districts
    target_year: int
    target: int
    baseline_year: int
    baseline: int | None = None   #: None = count it from the database at the end of baseline_year
    counting: str = IN_FORCE
    note: str = ""

    @property
    def tier(self) -> str:
        return "+".join(self.tiers)

    @property
    def key(self) -> tuple:
        return (self.tier, self.district, self.target_year)

    def as_row(self) -> dict:
        return {"tier": self.tier, "district": self.district, "target_year": self.target_year, "target": self.target,
                "baseline_year": self.baseline_year, "baseline": self.baseline, "counting": self.counting,
                "note": self.note}


# ---------------------------------------------------------------- pace
def years_gone(baseline_year: int, day: dt.date) -> Fraction:
    """Years from the end of ``baseline_year`` to ``day``: whole years, plus months as twelfths, the
    month of ``day`` split by its days (may be negative before the baseline ends)."""
    month_days = calendar.monthrange(day.year, day.month)[1]
    return (day.year - baseline_year - 1) + Fraction(day.month - 1, 12) + Fraction(day.day, 12 * month_days)


def progress(t: Target, baseline: int, current: int, as_of: dt.date) -> dict:
    """One progress row (see the module docstring); numbers rounded to 2 places for display."""
    span = t.target_year - t.baseline_year
    gone = min(max(years_gone(t.baseline_year, as_of), Fraction(0)), Fraction(span))
    left = span - gone
    expected = baseline + (t.target - baseline) * gone / span
    gap = t.target - current
    if gap <= 0:
        needed = 0
    elif left > 0:
        needed = _round(Fraction(gap) / left)
    else:
        needed = None
    diff = current - expected
    pace = ON_PACE if abs(diff) <= 1 else AHEAD if diff > 0 else BEHIND
    return {"tier": t.tier, "district": t.district, "counting": t.counting, "baseline_year": t.baseline_year,
            "baseline": baseline, "current": current, "target": t.target, "target_year": t.target_year, "gap": gap,
            "needed_per_year": needed, "expected": _round(expected), "pace": pace, "as_of": as_of.isoformat(),
            "years_gone": _round(gone), "years_left": _round(left), "note": t.note}


def _round(x: Fraction):
    r = round(float(x), 2)
    return int(r) if r == int(r) else r


# ---------------------------------------------------------------- reading targets
def target_from(values: Mapping, tier_names: Mapping[str, str], key_of=lambda s: s) -> Target:
    """A :class:`Target` from one row or rule entry (canonical field names -> raw values). Raises
    :class:`FieldError` (a ``ValueError``) for the first unusable value. ``tier_names`` maps
    ``key_of(name)`` of every tier id, label and alias to the tier id."""
    missing = [f for f in REQUIRED if _blank(values.get(f))]
    if missing:
        raise FieldError(_("required, and empty"), field=missing[0])
    tiers = _tiers(values["tier"], tier_names, key_of)
    district = "" if _blank(values.get("district")) else str(values["district"]).strip()
    if key_of(district) in {key_of(x) for x in ALL_DISTRICTS}:
        district = ""
    target_year = _year(values["target_year"], "target_year")
    baseline_year = _year(values["baseline_year"], "baseline_year")
    if baseline_year >= target_year:
        raise FieldError(_("{baseline_year} is not before target_year {target_year}")
                         .format(baseline_year=baseline_year, target_year=target_year), field="baseline_year")
    target = _count(values["target"], "target")
    baseline = None if _blank(values.get("baseline")) else _count(values["baseline"], "baseline")
    counting = IN_FORCE
    if not _blank(values.get("counting")):
        counting = COUNT_VALUES.get(str(values["counting"]).strip().lower())
        if counting is None:
            raise FieldError(_("{value!r} is not in_force (在库) or cumulative (累计)").format(value=values["counting"]),
                             field="counting")
    note = "" if _blank(values.get("note")) else str(values["note"]).strip()
    return Target(tiers, district, target_year, target, baseline_year, baseline, counting, note)


def check_unique(targets: Iterable[tuple[object, Target]]) -> None:
    """Two targets for the same tier, district and year: ``ValueError`` naming both places."""
    seen: dict[tuple, object] = {}
    for where, t in targets:
        if t.key in seen:
            raise ValueError(_("{where}: a second target for {tier}, {district}, {year} (the first is at {first})")
                             .format(where=where, tier=t.tier, district=t.district or _("all districts"),
                                     year=t.target_year, first=seen[t.key]))
        seen[t.key] = where


def _blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _tiers(raw, tier_names: Mapping[str, str], key_of) -> tuple[str, ...]:
    parts = list(raw) if isinstance(raw, (list, tuple)) else [p for p in _TIER_SPLIT.split(str(raw)) if p.strip()]
    out = []
    for p in parts:
        tier = tier_names.get(key_of(str(p)))
        if tier is None and not isinstance(raw, (list, tuple)):
            tier = tier_names.get(key_of(str(p).strip() + "企业"))   # 独角兽、潜在独角兽企业: the suffix is shared
        if tier is None:
            raise FieldError(_("unknown tier {tier!r}; expected one of {tiers} or their Chinese names")
                             .format(tier=str(p).strip(), tiers=", ".join(sorted(set(tier_names.values())))),
                             field="tier")
        if tier not in out:
            out.append(tier)
    if not out:
        raise FieldError(_("required, and empty"), field="tier")
    return tuple(out)


def _number(raw, name: str) -> Fraction:
    if isinstance(raw, bool):
        raise FieldError(_("{value!r} is not a number").format(value=raw), field=name)
    if isinstance(raw, (int, float)):
        return Fraction(repr(raw)) if isinstance(raw, float) else Fraction(raw)
    text = str(raw).strip().replace(",", "").replace("，", "")
    for suffix in ("家", "年"):
        text = text.removesuffix(suffix)
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise FieldError(_("{value!r} is not a number").format(value=str(raw).strip()), field=name) from None


def _count(raw, name: str) -> int:
    n = _number(raw, name)
    if n.denominator != 1 or n < 0:
        raise FieldError(_("{value!r} is not a whole number of firms").format(value=str(raw).strip()), field=name)
    return int(n)


def _year(raw, name: str) -> int:
    n = _number(raw, name)
    if n.denominator != 1 or not 1990 <= n <= 2100:
        raise FieldError(_("{value!r} is not a year between 1990 and 2100").format(value=str(raw).strip()), field=name)
    return int(n)
