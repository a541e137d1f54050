"""Visit cadence: which firms are due a visit, and how far each specialist is on the yearly plan.

Plain functions over plain data; no SQL, no click, no printing. Two rules, from the seeds, with
the numbers in the assignment rule file (``[visits]``):

* **Key firms** (挂钩联系重点企业; seed 001, Xiamen 2019: 每季度……至少走访调研一次挂钩的企业) are due
  once a period (``period_months``, a quarter by default): a key firm not visited since the first
  day of the period that contains the as-of date is due.
* **The yearly plan** (seed 000, Wujin 2024: 确保每年走访服务对象30%以上): each specialist visits at
  least ``yearly_coverage_goal`` of the firms they serve (key firms included) in the year, kept on
  pace: by the as-of date, ``pace = ceil(goal × firms × d / D)`` firms visited this year, where ``d``
  is the day of the year of the as-of date (1 January = 1) and ``D`` the days of that year (365 or
  366). On 31 December the pace is the yearly goal, ``ceil(goal × firms)``.

A visit counts for the firm whoever made it (a colleague, a specialist who has since left).
Firms in scope that nobody serves form one more group (``specialist_id`` None) under the same
rules, for the coordinators of the rule file.

What is due, per group: every key firm not visited this period, then, when the group is behind
its pace, the fewest other firms not visited this year that bring it back on pace once visited,
longest since the last visit first (never visited first of all); the key firms due that were not
visited this year count towards the pace too. The coverage counts come from the same pass, so
``kq visits due``, ``kq visits coverage`` and the visit reminders tell one story.
"""
from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterable, Mapping, NamedTuple
from .i18n import _

QUARTER_MONTHS = 3
KEY, PLAN = "key", "plan"          # the two cadences, as written in the `cadence` column


def period_bounds(day: dt.date, months: int = QUARTER_MONTHS) -> tuple[dt.date, dt.date]:
    """First and last day of the period of ``months`` (a divisor of 12) that contains ``day``.

    >>> period_bounds(dt.date(2026, 1, 5))
    (datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))
    """
    if months <= 0 or 12 % months:
        raise ValueError(_("period of {months} months does not divide the year").format(months=months))
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


def _fraction(goal) -> Fraction:
    """The goal as written (0.30 is 3/10, not the float nearest to it)."""
    return Fraction(str(goal)) if not isinstance(goal, Fraction) else goal


def _ceil(x: Fraction) -> int:
    return -(-x.numerator // x.denominator)


def year_goal(firms: int, goal) -> int:
    """Fewest visited firms that reach ``goal`` of ``firms`` in a year: ``ceil(goal × firms)``."""
    return _ceil(_fraction(goal) * firms)


def pace(firms: int, goal, as_of: dt.date) -> int:
    """Firms to have visited by ``as_of`` to be on pace for ``goal`` of ``firms`` in the year:
    ``ceil(goal × firms × d / D)``, ``d`` the day of the year of ``as_of``, ``D`` its days."""
    days = (dt.date(as_of.year + 1, 1, 1) - dt.date(as_of.year, 1, 1)).days
    return _ceil(_fraction(goal) * firms * as_of.timetuple().tm_yday / days)


class FirmVisits(NamedTuple):
    """A firm as the visit plan needs it. ``last_visit``: the latest visit on or before the as-of
    date (ISO text), by anyone, None if never; ``specialist_id`` None: nobody serves it."""
    uscc: str
    specialist_id: str | None
    key: bool
    last_visit: str | None
    district: str | None = None


class Due(NamedTuple):
    firm: FirmVisits
    cadence: str            # KEY | PLAN
    priority: int           # 1 = first, within the firm's group
    reason: str


@dataclass
class Counts:
    """One group's counts (a specialist, nobody, a district, everyone) on the as-of date."""
    firms: int = 0
    visited: int = 0        # visited this year (1 January to the as-of date)
    key_firms: int = 0
    key_due: int = 0        # key firms not visited this period
    due: int = 0            # firms `kq visits due` lists

    def add(self, other: "Counts") -> None:
        self.firms += other.firms
        self.visited += other.visited
        self.key_firms += other.key_firms
        self.key_due += other.key_due
        self.due += other.due


@dataclass
class VisitPlan:
    as_of: dt.date
    goal: float
    months: int
    due: list[Due] = field(default_factory=list)                 # by group, then priority
    groups: dict = field(default_factory=dict)                    # specialist id or None -> Counts
    districts: dict = field(default_factory=dict)                 # district ('' unknown) -> Counts

    @property
    def period(self) -> str:
        return period_label(self.as_of, self.months)

    @property
    def period_ends_on(self) -> dt.date:
        return period_bounds(self.as_of, self.months)[1]

    def pace(self, firms: int) -> int:
        return pace(firms, self.goal, self.as_of)


def plan(firms: Iterable[FirmVisits], as_of: dt.date, goal, months: int = QUARTER_MONTHS) -> VisitPlan:
    """The firms due and the counts of every group on ``as_of`` (see the module docstring).

    Deterministic: within a group, key firms first, then longest since the last visit (never
    visited first), then by code. Groups come out by specialist id, nobody's last. ``firms`` may
    be plain tuples in :class:`FirmVisits` order (a million of them: one pass, index access)."""
    period_start = period_bounds(as_of, months)[0].isoformat()
    year_start = dt.date(as_of.year, 1, 1).isoformat()
    label = period_label(as_of, months)
    result = VisitPlan(as_of, goal, months)
    groups: dict = {}           # specialist id -> [Counts, key firms due, firms not visited this year (not key)]
    districts = result.districts
    for f in firms:
        sid, key, last = f[1], f[2], f[3]
        group = groups.get(sid)
        if group is None:
            group = groups[sid] = [Counts(), [], []]
        counts = group[0]
        acc = districts.get(f[4] or "")
        if acc is None:
            acc = districts[f[4] or ""] = Counts()
        counts.firms += 1
        acc.firms += 1
        if last is not None and last >= year_start:
            counts.visited += 1
            acc.visited += 1
            if key:
                counts.key_firms += 1
                acc.key_firms += 1
                if last < period_start:
                    group[1].append(f)
                    acc.key_due += 1
        elif key:
            counts.key_firms += 1
            acc.key_firms += 1
            group[1].append(f)
            acc.key_due += 1
        else:
            group[2].append(f)
    for sid in sorted(groups, key=lambda s: (s is None, s or "")):
        counts, key_due, pool = groups[sid]
        counts.key_due = len(key_due)
        # key firms due that were not visited this year count towards the pace once visited
        fresh = sum(1 for f in key_due if not (f[3] is not None and f[3] >= year_start))
        on_pace = pace(counts.firms, goal, as_of)
        extra = max(0, on_pace - counts.visited - fresh)
        key_due.sort(key=_longest_since_last_visit)
        chosen = heapq.nsmallest(extra, pool, key=_longest_since_last_visit) if extra else []
        counts.due = len(key_due) + len(chosen)
        result.groups[sid] = counts
        n = 0
        for f in key_due:
            n += 1
            result.due.append(Due(_firm(f), KEY, n, f"key firm not visited in {label}"))
        for f in chosen:
            n += 1
            result.due.append(Due(_firm(f), PLAN, n, f"yearly plan: {on_pace} of {counts.firms} firms visited by "
                                                     f"{as_of.isoformat()} to be on pace, {counts.visited} so far"))
    for d in result.due:
        districts[d.firm.district or ""].due += 1
    return result


def _firm(f) -> FirmVisits:
    return f if isinstance(f, FirmVisits) else FirmVisits._make(f)


def _longest_since_last_visit(f) -> tuple:
    return (f[3] is not None, f[3] or "", f[0])


def coverage_rows(p: VisitPlan, names: Mapping[str, str] | None = None) -> list[dict]:
    """One ``total`` row, one per specialist (``group`` specialist; firms nobody serves: group
    ``unassigned``), one per district: ``firms``, ``visited`` (this year), ``share``, ``goal``,
    ``met`` and ``short_by`` (against the yearly goal), ``pace`` (to have visited by the as-of date),
    ``behind_pace``, ``key_firms``, ``key_due`` (key firms not visited this period) and ``due`` (the
    firms ``kq visits due`` lists)."""
    names = names or {}
    total = Counts()
    for c in p.groups.values():
        total.add(c)

    def row(group, key, name, c: Counts) -> dict:
        needed = max(0, year_goal(c.firms, p.goal) - c.visited)
        on_pace = p.pace(c.firms)
        return {"group": group, "key": key, "name": name, "firms": c.firms, "visited": c.visited,
                "share": round(c.visited / c.firms, 4) if c.firms else 0.0, "goal": p.goal,
                "met": c.firms > 0 and needed == 0, "short_by": needed, "pace": on_pace,
                "behind_pace": max(0, on_pace - c.visited), "key_firms": c.key_firms, "key_due": c.key_due,
                "due": c.due}

    rows = [row("total", "", "", total)]
    rows += [row("specialist", sid, names.get(sid, ""), p.groups[sid]) for sid in sorted(s for s in p.groups if s)]
    if None in p.groups:
        rows.append(row("unassigned", "", "", p.groups[None]))
    rows += [row("district", d, "", p.districts[d]) for d in sorted(p.districts)]
    return rows
