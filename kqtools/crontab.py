"""Standard (Vixie) crontab schedules: parse a 5-field expression, find its fire times, say it in words.

Plain functions over plain data, standard library only.

What an expression means is what ``crontab(5)`` says, including the rule that surprises people:

* Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or ``jan``…``dec``), day of
  week (0-7, 0 and 7 both Sunday, or ``sun``…``sat``). Each field is ``*``, a number or name, a range
  ``a-b``, any of these with a step (``*/15``, ``1-31/2``; ``a/n`` means ``a-last/n``), or a list of
  them separated by commas.
* **Day of month and day of week**: when both are restricted (neither field starts with ``*``) the
  job fires on days matching **either** field (``0 9 1 * mon`` = the 1st of every month *and* every
  Monday). When one of them starts with ``*`` only the other one restricts the day, so ``*/2`` in one
  field with a weekday in the other fires when both match (Vixie cron's ``DOM_STAR``/``DOW_STAR``).
* Aliases: ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily`` (``@midnight``),
  ``@hourly``. ``@reboot`` has no fire times and is refused; so are the non-standard ``L``, ``W``,
  ``#`` and ``?``.
* Times are wall-clock times in the schedule's time zone. A time that does not exist on a day the
  clocks go forward fires at the moment they jump (once); a time that occurs twice when they go
  back fires the first time only.

APScheduler 3's ``CronTrigger`` differs (it fires only when both day fields match, and reads day of
week 0 as Monday), which is why kqtools computes cron fire times here.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from .i18n import _

MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_MONTH_WORDS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December"]
_DAY_WORDS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
ALIASES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
           "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
# (name, lowest, highest, names) of the five fields
_FIELDS = [("minute", 0, 59, None), ("hour", 0, 23, None), ("day of month", 1, 31, None),
           ("month", 1, 12, MONTH_NAMES), ("day of week", 0, 7, DAY_NAMES)]
_DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]   # at most (February: leap years)
_SEARCH_YEARS = 28          # every (weekday, leap year) combination recurs within 28 years


class CronError(ValueError):
    """An expression that is not standard crontab; the text says which field and why."""


@dataclass(frozen=True)
class Cron:
    """A parsed crontab expression: the set of values each field allows."""

    text: str
    minutes: tuple
    hours: tuple
    days: frozenset          # day of month
    months: frozenset
    weekdays: frozenset      # 0 = Sunday … 6 = Saturday
    day_or: bool             # both day fields restricted: a day matches when either does

    def day_matches(self, day: dt.date) -> bool:
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        return (dom or dow) if self.day_or else (dom and dow)

    def next_after(self, after: dt.datetime, tz) -> dt.datetime | None:
        """The first fire time strictly after ``after`` (aware), in ``tz``; None if there is none
        within 28 years (an expression such as ``0 0 30 2 *`` that never fires is refused by
        :func:`parse`, so this means the end of the calendar)."""
        local = after.astimezone(tz)
        start = local.replace(second=0, microsecond=0, tzinfo=None)
        try:
            limit = dt.date(min(start.year + _SEARCH_YEARS, dt.MAXYEAR), 12, 31)
        except ValueError:
            return None
        day = start.date()
        while day <= limit:
            if day.month not in self.months:
                day = _first_of_next_month(day)
                if day is None:
                    return None
                continue
            if self.day_matches(day):
                today = day == start.date()
                for hour in self.hours:
                    if today and hour < start.hour:
                        continue
                    for minute in self.minutes:
                        if today and hour == start.hour and minute < start.minute:
                            continue
                        fire = _aware(dt.datetime.combine(day, dt.time(hour, minute)), tz)
                        if fire > after:
                            return fire
            if day == dt.date.max:
                return None
            day += dt.timedelta(days=1)
        return None

    def describe(self) -> str:
        """The schedule in words: ``09:00 on day 1 of the month and on every Monday``."""
        return describe(self)


@dataclass(frozen=True)
class CronTrigger:
    """A crontab expression in a time zone: the trigger of a ``cron = "…"`` job spec."""

    cron: Cron
    tz: object                       # a tzinfo (zoneinfo.ZoneInfo)

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        return self.cron.next_after(moment, self.tz)

    def describe(self) -> str:
        return self.cron.describe()


def parse(text: str) -> Cron:
    """A crontab expression (5 fields or an ``@`` alias) -> :class:`Cron`; :class:`CronError` names the
    field and the reason."""
    source = " ".join(str(text).split())
    expr = source
    if expr.startswith("@"):
        if expr.lower() == "@reboot":
            raise CronError(_("@reboot has no fire times (it means 'when cron starts'); give a schedule"))
        if expr.lower() not in ALIASES:
            raise CronError(_("unknown alias {expr!r} (use @yearly, @monthly, @weekly, @daily or @hourly)").format(
                                expr=expr))
        expr = ALIASES[expr.lower()]
    fields = expr.split(" ")
    if len(fields) != 5:
        raise CronError(_("expected 5 fields (minute hour day-of-month month day-of-week), got {n}").format(
                            n=len(fields)))
    values = [_field(f, *spec) for f, spec in zip(fields, _FIELDS)]
    weekdays = frozenset(d % 7 for d in values[4])
    day_or = not fields[2].startswith("*") and not fields[4].startswith("*")
    cron = Cron(text=source, minutes=tuple(sorted(values[0])), hours=tuple(sorted(values[1])),
                days=frozenset(values[2]), months=frozenset(values[3]), weekdays=weekdays, day_or=day_or)
    if not cron.day_or or fields[4].startswith("*"):
        # only the day of month restricts the day: some month of the expression must have that day
        if not any(d <= _DAYS_IN_MONTH[m - 1] for m in cron.months for d in cron.days):
            raise CronError(_("never fires: no month in {value!r} has day {value2!r}").format(
                                value=fields[3], value2=fields[2]))
    return cron


def _field(text: str, name: str, low: int, high: int, names) -> set[int]:
    if not text:
        raise CronError(_("{name}: empty field").format(name=name))
    if "#" in text or "?" in text or any(re.fullmatch(r"\d*L|\d+W|LW", p.upper()) for p in text.split(",")):
        raise CronError(_("{name}: {text!r}: L, W, # and ? are not standard crontab").format(
                            name=name, text=text))
    found: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(_("{name}: {text!r}: empty list item").format(name=name, text=text))
        rng, slash, step_text = part.partition("/")
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(_("{name}: {part!r}: the step after '/' must be a whole number of at least 1").format(
                                    name=name, part=part))
            step = int(step_text)
        else:
            step = 1
        if rng == "*":
            lo, hi = low, (6 if name == "day of week" else high)
        elif "-" in rng:
            a, _dash, b = rng.partition("-")
            lo, hi = _value(a, name, low, high, names), _value(b, name, low, high, names)
            if lo > hi:
                raise CronError(_("{name}: range {rng!r} runs backwards (write it as two ranges joined by ',')").format(
                                    name=name, rng=rng))
        else:
            lo = _value(rng, name, low, high, names)
            hi = ((6 if name == "day of week" else high) if slash else lo)
            if name == "day of week" and slash and lo == 7:
                hi = 7
        found.update(range(lo, hi + 1, step))
    return found


def _value(text: str, name: str, low: int, high: int, names) -> int:
    t = text.strip().lower()
    if t.isdigit():
        n = int(t)
        if not low <= n <= high:
            raise CronError(_("{name}: {n} is out of range {low}-{high}").format(
                                name=name, n=n, low=low, high=high))
        return n
    if names and t[:3] in names and (len(t) == 3 or t in [w.lower() for w in _MONTH_WORDS + _DAY_WORDS]):
        return names.index(t[:3]) + (1 if names is MONTH_NAMES else 0)
    want = f"{low}-{high}" + (f" or {names[0]}…{names[-1]}" if names else "")
    raise CronError(_("{name}: {text!r} is not a value ({want})").format(name=name, text=text, want=want))


def _first_of_next_month(day: dt.date) -> dt.date | None:
    if day.year == dt.MAXYEAR and day.month == 12:
        return None
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _aware(local: dt.datetime, tz) -> dt.datetime:
    """A wall-clock time in ``tz``: a time skipped by a clock change becomes the moment of the change
    (so it fires once, when the clocks jump); a repeated time is its first occurrence (``fold=0``)."""
    aware = local.replace(tzinfo=tz, fold=0)
    if aware.astimezone(dt.timezone.utc).astimezone(tz).replace(tzinfo=None) == local:
        return aware
    probe = local
    for _ in range(24 * 60):        # the first wall-clock minute after the gap is the moment of the jump
        probe += dt.timedelta(minutes=1)
        candidate = probe.replace(tzinfo=tz, fold=0)
        if candidate.astimezone(dt.timezone.utc).astimezone(tz).replace(tzinfo=None) == probe:
            return candidate
    return aware


# --------------------------------------------------------------------------- in words

def _runs(values: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for v in sorted(values):
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _list(values, word=str, through=" to ") -> str:
    parts = []
    for a, b in _runs(list(values)):
        if a == b:
            parts.append(word(a))
        elif b == a + 1:
            parts += [word(a), word(b)]
        else:
            parts.append(f"{word(a)}{through}{word(b)}")
    return _join(parts)


def _step_of(values: tuple, low: int, high: int) -> int | None:
    """n when ``values`` are low, low+n, … (every n-th), n >= 2."""
    if len(values) < 2 or values[0] != low:
        return None
    n = values[1] - values[0]
    return n if n >= 2 and list(values) == list(range(low, high + 1, n)) else None


def _time_words(c: Cron) -> str:
    m, h = c.minutes, c.hours
    all_m, all_h = len(m) == 60, len(h) == 24
    if len(m) * len(h) <= 4 and not all_h:
        return _join([f"{hh:02d}:{mm:02d}" for hh in h for mm in m])
    runs = _runs(list(h))
    if len(m) == 1 and not all_h and len(runs) == 1:
        return f"every hour from {h[0]:02d}:{m[0]:02d} to {h[-1]:02d}:{m[0]:02d}"
    if all_m:
        minutes = "every minute"
    elif (n := _step_of(m, 0, 59)) is not None:
        minutes = f"every {n} minutes"
    else:
        minutes = f"at minute {_list(m)}" if len(m) == 1 else f"at minutes {_list(m)}"
    if all_h:
        hours = "" if all_m or minutes.startswith("every") else " of every hour"
        return minutes + hours
    if (n := _step_of(h, 0, 23)) is not None:
        return f"{minutes} of every {_ordinal(n)} hour"
    if len(runs) == 1 and minutes.startswith("every"):
        return f"{minutes} from {h[0]:02d}:00 to {h[-1]:02d}:59"
    return f"{minutes} past hours {_list(h, lambda x: f'{x:02d}')}"


def describe(c: Cron) -> str:
    """Crontab in words, e.g. ``09:00 on day 1 of the month and on every Monday``."""
    time = _time_words(c)
    all_days, all_weekdays, all_months = len(c.days) == 31, len(c.weekdays) == 7, len(c.months) == 12
    months = _list(c.months, lambda x: _MONTH_WORDS[x - 1])
    weekdays = _list(sorted(c.weekdays, key=lambda d: (d + 6) % 7), lambda x: _DAY_WORDS[x])
    if len(c.weekdays) == 1:
        weekdays = "every " + weekdays
    step = _step_of(tuple(sorted(c.days)), 1, 31)
    days_of_month = (f"every {_ordinal(step)} day" if step else
                     ("day " if len(c.days) == 1 else "days ") + _list(c.days))
    if c.day_or:
        days = f"on {days_of_month} of the month and on {weekdays}"
    elif all_days and all_weekdays:
        days = "" if time.startswith("every") or " of every " in time else "every day"
    elif all_weekdays:
        if not all_months and len(c.days) == 1 and len(c.months) <= 3:
            return f"{time} on {_list(c.days)} {months}"          # 09:00 on 1 December
        days = f"on {days_of_month} of the month"
    elif all_days:
        days = f"on {weekdays}"
    else:
        days = f"on {days_of_month} of the month when it is {weekdays.replace('every ', 'a ')}"
    return f"{time} {days}".rstrip() + ("" if all_months else f", in {months}")


def _ordinal(n: int) -> str:
    return {2: "second", 3: "third"}.get(n, f"{n}th")
