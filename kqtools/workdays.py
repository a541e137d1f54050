"""Working days (工作日): counting them, and adding them to a date, on a calendar passed in.

Standard library only. A :class:`WorkCalendar` holds the days off that fall on weekdays
(public holidays) and the weekend days that are worked (调休上班) for the years it knows; every
other day is a working day from Monday to Friday. kq builds it from the chinesecalendar package
and the requests rule file (``kqtools.storage.request_rules.work_calendar``); tests build their own.

A day in a year the calendar does not know raises :class:`UnknownYear`, naming the year: a due
date must never silently fall on a guessed day. A calendar made ``lenient()`` counts such years by
weekday instead and remembers them in ``guessed``, for views that would rather show a figure with
a warning than nothing at all.

Counting convention: ``count(a, b)`` is the number of working days ``d`` with ``a < d <= b``, so a
request due on ``a`` and still open on ``b`` is ``count(a, b)`` working days overdue, and
``add(a, n)`` is the day ``d`` with ``count(a, d) == n`` that is itself a working day.
"""
from __future__ import annotations

import datetime as dt
from .errors import KqtoolsError
from .i18n import _

_ONE = dt.timedelta(days=1)


class UnknownYear(KqtoolsError):
    """A date in a year whose holidays and adjusted working days nobody has told kq."""

    def __init__(self, year: int, known: str):
        super().__init__(f"the working days of {year} are unknown ({known}): add [calendar.\"{year}\"] with "
                         f"that year's holidays and adjusted working days to the requests rules "
                         f"(kq rules show requests shows the format)")
        self.year = year


class WorkCalendar:
    """Days off on weekdays and worked weekend days, for the years it knows."""

    def __init__(self, holidays=frozenset(), workdays=frozenset(), years=frozenset(), source: str = "",
                 strict: bool = True):
        self.holidays = holidays      #: weekdays that are days off (dt.date)
        self.workdays = workdays      #: weekend days that are worked (dt.date)
        self.years = years            #: years whose days off and worked weekends are known
        self.source = source          #: where the data comes from, for messages
        self.strict = strict          #: False: unknown years count by weekday (see ``guessed``)
        self.guessed: set = set()     #: unknown years counted by weekday so far

    def lenient(self) -> "WorkCalendar":
        """The same calendar, counting days of unknown years Monday to Friday (recorded in ``guessed``)."""
        return WorkCalendar(self.holidays, self.workdays, self.years, self.source, strict=False)

    def known(self, year: int) -> bool:
        return year in self.years

    def _check(self, day: dt.date) -> None:
        if day.year not in self.years:
            if self.strict:
                raise UnknownYear(day.year, self.source or "no calendar data")
            self.guessed.add(day.year)

    def is_workday(self, day: dt.date) -> bool:
        self._check(day)
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add(self, start: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``start`` (``n`` >= 1); ``start`` itself when ``n`` is 0."""
        if n < 0:
            raise ValueError(_("n must not be negative"))
        day = start
        while n:
            day += _ONE
            if self.is_workday(day):
                n -= 1
        return day

    def count(self, a: dt.date, b: dt.date) -> int:
        """Working days ``d`` with ``a < d <= b``; negative (``-count(b, a)``) when ``b`` is before ``a``."""
        if b < a:
            return -self.count(b, a)
        return self.index(a, b).count(a, b)

    def index(self, first: dt.date, last: dt.date) -> "WorkdayIndex":
        """A table of running counts over ``[first, last]``: O(1) counts between any two of its days."""
        return WorkdayIndex(self, first, last)


class WorkdayIndex:
    """Running working-day counts for every day of ``[first, last]``, built once per command: the
    views count days overdue or days to close for thousands of rows with two list look-ups each."""

    def __init__(self, calendar: WorkCalendar, first: dt.date, last: dt.date):
        if last < first:
            last = first
        self.calendar, self.first, self.last = calendar, first, last
        self._base = first.toordinal()
        running, n = [], 0
        day = first
        while day <= last:
            if calendar.is_workday(day):
                n += 1
            running.append(n)
            day += _ONE
        self._running = running
        self._memo: dict = {}

    def __contains__(self, day: dt.date) -> bool:
        return self.first <= day <= self.last

    def upto(self, day: dt.date) -> int:
        """Working days in ``[first, day]`` (``day`` within the index)."""
        return self._running[day.toordinal() - self._base]

    def count(self, a: dt.date, b: dt.date) -> int:
        """Working days ``d`` with ``a < d <= b`` (both within the index; negative when ``b < a``)."""
        return self.upto(b) - self.upto(a)

    def count_iso(self, a: str, b: str) -> int:
        """:meth:`count` for ISO dates (the database's text); each distinct text is parsed once."""
        memo = self._memo
        ua = memo.get(a)
        if ua is None:
            ua = memo[a] = self.upto(dt.date.fromisoformat(a[:10]))
        ub = memo.get(b)
        if ub is None:
            ub = memo[b] = self.upto(dt.date.fromisoformat(b[:10]))
        return ub - ua


def expand_days(items, where: str = "") -> set[dt.date]:
    """Dates from ``["2027-01-01", "2027-02-05..2027-02-13"]`` (ranges inclusive).
    Raises ``ValueError`` naming the item for a bad date or a range that runs backwards."""
    out: set[dt.date] = set()
    for item in items:
        first, _dots, last = str(item).partition("..")
        try:
            a = dt.date.fromisoformat(first)
            b = dt.date.fromisoformat(last) if last else a
        except ValueError:
            raise ValueError(_("{where}{item!r} is not a date or a range first..last").format(
                                 where=where, item=item)) from None
        if b < a:
            raise ValueError(_("{where}{item!r} runs backwards").format(where=where, item=item))
        if (b - a).days > 366:
            raise ValueError(_("{where}{item!r} spans more than a year").format(where=where, item=item))
        while a <= b:
            out.add(a)
            a += _ONE
    return out
