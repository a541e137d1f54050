"""Visit periods, visits due and yearly coverage: plain functions over plain data.

Seed 001 (Xiamen): each department visits its firms at least once a quarter.
Seed 000 (Wujin): at least 30% of served firms visited every year.
The period length (months) and the goal come from the assignment rule file (``[visits]``).
No SQL, no click, no printing here.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Iterable, Mapping

QUARTER_MONTHS = 3


def period_bounds(day: dt.date, months: int = QUARTER_MONTHS) -> tuple[dt.date, dt.date]:
    """First and last day of the period of ``months`` (a divisor of 12) that contains ``day``.

    >>> period_bounds(dt.date(2026, 1, 5))
    (datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))
    """
    if months <= 0 or 12 % months:
        raise ValueError(f"period of {months} months does not divide the year")
    first_month = (day.month - 1) // months * months + 1
    start = dt.date(day.year, first_month, 1)
    last_month = first_month + months - 1
    nxt = dt.date(day.year + 1, 1, 1) if last_month == 12 else dt.date(day.year, last_month + 1, 1)
    return start, nxt - dt.timedelta(days=1)


def quarter_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    return period_bounds(day, QUARTER_MONTHS)


def period_label(day: dt.date, months: int = QUARTER_MONTHS) -> str:
    """``2026Q1`` for quarters, ``2026H2`` for halves, ``2026M07`` for months, ``2026`` for a year."""
    index = (day.month - 1) // months + 1
    if months == 3:
        return f"{day.year}Q{index}"
    if months == 6:
        return f"{day.year}H{index}"
    if months == 12:
        return str(day.year)
    return f"{day.year}P{index:02d}" if months != 1 else f"{day.year}M{day.month:02d}"


def _iso(d) -> str | None:
    if d is None or d == "":
        return None
    return d if isinstance(d, str) else d.isoformat()


def due(firms: Iterable[Mapping], last_visits: Mapping[str, str], as_of: dt.date,
        months: int = QUARTER_MONTHS) -> list[dict]:
    """Firms not visited in the period containing ``as_of`` (visits after ``as_of`` do not count).

    ``firms``: dicts with at least ``uscc``; they are copied and completed with
    ``last_visited_on`` (ISO, or None), ``days_since_last_visit`` (None if never),
    ``period`` and ``period_ends_on``. ``last_visits``: uscc -> the latest visit date
    on or before ``as_of`` (ISO text). Order is kept.
    """
    start, end = period_bounds(as_of, months)
    start_iso, label, end_iso = start.isoformat(), period_label(as_of, months), end.isoformat()
    out = []
    for firm in firms:
        last = _iso(last_visits.get(firm["uscc"]))
        if last is not None and last >= start_iso:
            continue
        row = dict(firm)
        row["last_visited_on"] = last
        row["days_since_last_visit"] = (as_of - dt.date.fromisoformat(last)).days if last else None
        row["period"] = label
        row["period_ends_on"] = end_iso
        out.append(row)
    return out


def coverage(served: Mapping[str, tuple[str, str | None]], visited: set[str], goal: float,
             names: Mapping[str, str] | None = None) -> list[dict]:
    """Share of served firms visited, against ``goal`` (0.30 = 30%).

    ``served``: uscc -> (specialist_id, district) at the reference date; ``visited``: the
    usccs visited (by anyone) in the year. Returns rows ``group`` (total / specialist /
    district), ``key``, ``name``, ``firms``, ``visited``, ``share`` (0..1, 4 decimals),
    ``goal``, ``met`` and ``short_by`` (visits still needed to reach the goal).
    """
    counted: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for uscc, (spec, district) in served.items():
        acc = counted[(spec, district or "")]
        acc[0] += 1
        acc[1] += 1 if uscc in visited else 0
    return coverage_counts(((s, d, n, v) for (s, d), (n, v) in counted.items()), goal, names)


def coverage_counts(counts: Iterable[tuple[str, str | None, int, int]], goal: float,
                    names: Mapping[str, str] | None = None) -> list[dict]:
    """:func:`coverage` from counts: (specialist_id, district, served firms, of which visited) rows,
    as a database groups them. Same rows out."""
    names = names or {}
    by_spec: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_district: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    total = [0, 0]
    for spec, district, firms, seen in counts:
        for acc in (by_spec[spec], by_district[district or ""], total):
            acc[0] += firms
            acc[1] += seen

    def row(group, key, name, acc):
        firms, seen = acc
        share = seen / firms if firms else 0.0
        needed = max(0, _ceil_goal(firms, goal) - seen)
        return {"group": group, "key": key, "name": name, "firms": firms, "visited": seen,
                "share": round(share, 4), "goal": goal, "met": firms > 0 and needed == 0, "short_by": needed}

    rows = [row("total", "", "", total)]
    rows += [row("specialist", k, names.get(k, ""), by_spec[k]) for k in sorted(by_spec)]
    rows += [row("district", k, "", by_district[k]) for k in sorted(by_district)]
    return rows


def _ceil_goal(firms: int, goal: float) -> int:
    """Fewest visits that reach ``goal`` of ``firms`` (exact for goals given with up to 6 decimals)."""
    scaled = round(goal * 1_000_000)
    return -(-firms * scaled // 1_000_000)
