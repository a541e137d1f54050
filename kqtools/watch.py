"""Watch on firms' yearly figures (经营异动监测, 厦门 2019 三.1): flags from one year to the next.

The flags are rule data (``[[watch.flags]]`` in the ladder rules), each one test on one metrics
field (money in 万元):

* ``change_at_most`` / ``change_at_least``: the relative change ``(current - previous) / previous``
  is at most / at least ``limit`` (``-0.30``: down by 30% or more); only where both years are known
  and the previous value is above zero. ``also`` adds a condition on another field: its relative
  change within ``±within`` ("revenue flat"), both years known, previous above zero.
* ``changed``: both years known and different (land re-measured, sold or added).
* ``no_figures``: a firm holding a designation (of ``kinds``; empty = any) in force on some day of
  the year has no metrics row for the year. The caller finds those firms; this module names them.

Comparisons are exact (the numbers as the decimals they were written as), so a fall from 100 to 70
is a fall of 30% and is flagged by a 30% limit. Standard library only (plus :mod:`kqtools.errors`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping

from .errors import KqtoolsError
from .i18n import _

FLAG_FIELDS = ("uscc", "name", "district", "year", "flag", "label", "field", "previous", "current", "change")
CHANGE_TESTS = ("change_at_most", "change_at_least")


class WatchRulesError(KqtoolsError, ValueError):
    """Watch flags that pass the schema but cannot be used (a change test without its limit)."""


@dataclass(frozen=True)
class Flag:
    id: str
    test: str
    field: str | None = None
    limit: Fraction | None = None
    label: str = ""
    also_field: str | None = None
    also_within: Fraction | None = None
    kinds: tuple[str, ...] = ()

    def fields(self) -> set[str]:
        return {f for f in (self.field, self.also_field) if f}


def compile_flags(data: Mapping | None) -> tuple[Flag, ...]:
    """``[watch]`` of the ladder rules."""
    flags, ids = [], set()
    for i, f in enumerate((data or {}).get("flags", ())):
        at = f"watch.flags.{i}"
        if f["id"] in ids:
            raise WatchRulesError(_("{at}: flag id {id!r} given twice").format(at=at, id=f["id"]))
        ids.add(f["id"])
        test = f["test"]
        if test != "no_figures" and not f.get("field"):
            raise WatchRulesError(_("{at}: test {test!r} needs a field").format(at=at, test=test))
        if test in CHANGE_TESTS and "limit" not in f:
            raise WatchRulesError(_("{at}: test {test!r} needs a limit (e.g. -0.30 for down by 30% or more)")
                                  .format(at=at, test=test))
        if test not in CHANGE_TESTS and ("limit" in f or "also" in f):
            raise WatchRulesError(_("{at}: limit and also are for the change tests only").format(at=at))
        if test != "no_figures" and f.get("kinds"):
            raise WatchRulesError(_("{at}: kinds is for the no_figures test only").format(at=at))
        for number in (f.get("limit"), (f.get("also") or {}).get("within")):
            if number is not None and not math.isfinite(number):
                raise WatchRulesError(_("{at}: numbers must be finite").format(at=at))
        also = f.get("also") or {}
        flags.append(Flag(f["id"], test, f.get("field"), _exact(f.get("limit")), f.get("label", ""),
                          also.get("field"), _exact(also.get("within")), tuple(f.get("kinds", ()))))
    return tuple(flags)


def _exact(x) -> Fraction | None:
    if x is None:
        return None
    return Fraction(repr(x)) if isinstance(x, float) else Fraction(x)


def change(previous, current) -> Fraction | None:
    """``(current - previous) / previous`` exactly, or ``None`` when either is unknown or previous <= 0."""
    if previous is None or current is None:
        return None
    p, c = _exact(previous), _exact(current)
    if p <= 0:
        return None
    return (c - p) / p


_NEAR = 1e-9   # a float change this close to a limit is decided exactly


def _sign(previous, current, limit: Fraction, absolute: bool = False) -> int:
    """The sign of ``change - limit`` (of ``|change| - limit`` when ``absolute``); previous > 0."""
    r = (current - previous) / previous
    if absolute:
        r = abs(r)
    d = r - limit.numerator / limit.denominator
    if abs(d) > _NEAR:
        return 1 if d > 0 else -1
    exact = change(previous, current)
    exact = abs(exact) if absolute else exact
    return (exact > limit) - (exact < limit)


def flags_for(flags: Iterable[Flag], previous: Mapping | None, current: Mapping) -> list[dict]:
    """The change flags (everything but ``no_figures``) one firm raises: ``previous`` and ``current``
    are its figures of Y-1 and Y (``previous`` None when it has none). Each flag as
    ``{"flag", "label", "field", "previous", "current", "change"}``; ``change`` is the relative change
    (a float, rounded to 4 places) or ``None`` where it cannot be computed.

    Floats decide where they are clearly on one side of a limit; within 1e-9 of it the decimals are
    compared exactly (a million firms: the exact path alone would take half a minute)."""
    out = []
    if previous is None:
        return out
    for f in flags:
        if f.test == "no_figures":
            continue
        p, c = previous.get(f.field), current.get(f.field)
        if p is None or c is None:
            continue
        if f.test == "changed":
            hit = p != c
        elif p <= 0:
            hit = False
        elif f.test == "change_at_most":
            hit = _sign(p, c, f.limit) <= 0
        else:
            hit = _sign(p, c, f.limit) >= 0
        if hit and f.also_field:
            ap, ac = previous.get(f.also_field), current.get(f.also_field)
            hit = ap is not None and ac is not None and ap > 0 and _sign(ap, ac, f.also_within, True) <= 0
        if hit:
            out.append({"flag": f.id, "label": f.label, "field": f.field, "previous": p, "current": c,
                        "change": None if p <= 0 else round((c - p) / p, 4)})
    return out


def no_figures_flag(flag: Flag) -> dict:
    """The row of a ``no_figures`` flag (the caller adds the firm)."""
    return {"flag": flag.id, "label": flag.label, "field": None, "previous": None, "current": None, "change": None}


def alert_texts(specialist_name: str, flags: list[dict], year: int) -> tuple[str, str]:
    """(subject, body) of the message telling a specialist about new flags on their firms."""
    firms = {f["uscc"] for f in flags}
    lines = [f"{specialist_name}您好:", "",
             f"以下 {len(firms)} 家您服务的企业 {year} 年经营数据出现异动(与 {year - 1} 年相比),请主动跟进了解情况:"]
    for i, f in enumerate(sorted(flags, key=lambda f: (f["uscc"], f["flag"])), 1):
        what = f["label"] or f["flag"]
        if f["field"]:
            pct = f" ({f['change'] * 100:+.1f}%)" if f["change"] is not None else ""
            what += f": {f['field']} {_num(f['previous'])} -> {_num(f['current'])}{pct}"
        lines.append(f"{i}. {f.get('name') or f['uscc']}({f['uscc']}):{what}")
    lines += ["", "每项异动只提醒一次;kq watch 列出全部异动。"]
    return f"【经营异动】{specialist_name}:{len(firms)} 家企业 {year} 年数据异动", "\n".join(lines)


def _num(x) -> str:
    if x is None:
        return "-"
    f = float(x)
    return f"{f:,.0f}" if f == int(f) else f"{f:,.2f}".rstrip("0").rstrip(".")
