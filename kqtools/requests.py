"""Firm requests (企业诉求): the closed loop as a table, the rules, due dates and escalation.

Standard library only: plain functions over plain data; the working-day calendar is passed in
(:class:`kqtools.workdays.WorkCalendar`). Statistics, top lists and reminder messages are in
:mod:`kqtools.request_reports`.

The loop (seed 000 四.3: 问题收集-转办-办理-反馈-回访-销号; seed 001 五.3: 台账, 问题归零)::

    received --route--> routed --progress--> in_progress --answer--> answered --revisit--> revisited --close--> closed
                 ^ route again (another department) from routed or in_progress; answer also straight from routed
    answered --revisit 不满意--> routed (a new due date; counts a reopening), unless the answer was `unsolvable`
    answered / revisited / closed --reopen--> routed (a new due date; counts a reopening)
    any status but closed --escalate--> the same status, one level up (提级)

A request is *closed* only from ``revisited``, i.e. after a return visit with 满意 or 基本满意, or after
the return visit of an answer that explains why it cannot be solved (``unsolvable``).

Due dates: ``due_on`` = the day received (or reopened) plus the time limit of the priority, in working
days (``calendar.add``). Days overdue are the working days after ``due_on`` up to the day looked at.

Escalation (提级) by rule, for a request still with its department (``routed``/``in_progress``):
each threshold of ``overdue_working_days`` reached raises the level by one, once per threshold and
due date; a request with co-departments overdue by ``coordination_after_working_days`` goes to the
coordinating department at ``coordination_level``. A request's level is its start level (by priority)
until it is escalated. Levels never go down.
"""
from __future__ import annotations

import datetime as dt
import unicodedata

from .errors import KqtoolsError
from .i18n import _
from .workdays import WorkCalendar, expand_days

STATUSES = ("received", "routed", "in_progress", "answered", "revisited", "closed")
#: statuses in which the department owes an answer: the due date runs, overdue requests escalate
WITH_DEPARTMENT = ("routed", "in_progress")
PRIORITIES = ("normal", "urgent", "major")
SATISFIED = ("satisfied", "basically_satisfied")

#: step -> (statuses it may be taken from, status it leads to; None = unchanged)
STEPS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "route": (("received", "routed", "in_progress"), "routed"),
    "progress": (("routed", "in_progress"), "in_progress"),
    "answer": (("routed", "in_progress"), "answered"),
    "revisit": (("answered",), "revisited"),          # 不满意 on a solvable answer: back to routed
    "close": (("revisited",), "closed"),
    "reopen": (("answered", "revisited", "closed"), "routed"),
    "escalate": (("received", "routed", "in_progress", "answered", "revisited"), None),
}
#: step command -> the timeline entry it writes
EVENT = {"route": "routed", "progress": "progress", "answer": "answered", "revisit": "revisited",
         "close": "closed", "reopen": "reopened", "escalate": "escalated"}

# Enumerations fixed by the issue (#16), canonical English name -> what clerks write. The import
# schema (schemas/requests.schema.json, x-values) says the same; a test holds the two together.
CHANNELS = {
    "visit": ("走访", "上门走访", "企业走访"),
    "hotline": ("12345", "12345热线", "热线", "市民热线", "12345市民服务热线"),
    "platform": ("平台", "一企来", "线上平台", "服务平台", "网上平台"),
    "letter": ("来信", "信件", "来函", "来信来访"),
    "meeting": ("座谈", "座谈会", "政企座谈"),
    "other": ("其他", "其它"),
}
PRIORITY_NAMES = {
    "normal": ("一般", "普通", "常规"),
    "urgent": ("紧急", "急", "加急"),
    "major": ("重大", "重大疑难", "疑难", "重大疑难诉求"),
}
SATISFACTION = {
    "satisfied": ("满意",),
    "basically_satisfied": ("基本满意",),
    "unsatisfied": ("不满意",),
}
STATUS_NAMES = {
    "received": ("已受理", "收集", "受理"), "routed": ("已转办", "转办"), "in_progress": ("办理中", "办理"),
    "answered": ("已反馈", "反馈"), "revisited": ("已回访", "回访"), "closed": ("已销号", "销号", "办结"),
}


class RequestError(KqtoolsError):
    """A value a request cannot take (unknown category, channel, priority...), or no such request."""


class StepRefused(KqtoolsError):
    """A step out of order, or dated before the step it follows: nothing is written."""


class RequestRulesError(KqtoolsError):
    """A requests rule file that cannot be used: its name, the place and the reason."""


def lookup_key(text) -> str:
    """Width, case and spaces do not matter when a name is looked up."""
    return "".join(unicodedata.normalize("NFKC", str(text)).split()).casefold()


def _enum(table: dict, what: str):
    index: dict = {}

    def parse(text) -> str:
        if not index:
            for canon, names in table.items():
                for name in (canon, *names):
                    index[lookup_key(name)] = canon
        if text is None or not str(text).strip():
            raise RequestError(_("{what}: a value is needed").format(what=what))
        try:
            return index[lookup_key(text)]
        except KeyError:
            shown = ", ".join(f"{c} ({n[0]})" for c, n in table.items())
            raise RequestError(_("{what}: unknown value {value!r}; expected one of {shown}").format(
                                   what=what, value=str(text).strip(), shown=shown)) from None
    return parse


parse_channel = _enum(CHANNELS, "channel")
parse_priority = _enum(PRIORITY_NAMES, "priority")
parse_satisfaction = _enum(SATISFACTION, "satisfaction")
parse_status = _enum(STATUS_NAMES, "status")


# ---------------------------------------------------------------- steps
def allowed_steps(status: str) -> list[str]:
    """The steps a request in ``status`` may take next, in loop order."""
    return [step for step, (sources, _) in STEPS.items() if status in sources]


def check_step(step: str, status: str, request_id) -> None:
    """Refuse a step out of order with one line naming the current status and the allowed next steps."""
    if status not in STEPS[step][0]:
        nxt = ", ".join(allowed_steps(status)) or "none"
        raise StepRefused(_("request {request_id} is {status}: {step} is not allowed now; allowed next steps: "
                            "{nxt}").format(request_id=request_id, status=status, step=step, nxt=nxt))


def check_day(day: dt.date, *, today: dt.date, received_on: dt.date, previous: dt.date | None,
              request_id, step: str) -> None:
    """A step's date: not in the future, not before the request was received or before the step it follows."""
    if day > today:
        raise StepRefused(_("request {request_id}: {step} on {day} is in the future").format(
                              request_id=request_id, step=step, day=day.isoformat()))
    if day < received_on:
        raise StepRefused(_("request {request_id}: {step} on {day} is before the request was received "
                            "({received_on})").format(
                              request_id=request_id, step=step, day=day.isoformat(),
                              received_on=received_on.isoformat()))
    if previous is not None and day < previous:
        raise StepRefused(_("request {request_id}: {step} on {day} is before its previous step ({previous}); "
                            "steps are recorded in the order they happened").format(
                              request_id=request_id, step=step, day=day.isoformat(), previous=previous.isoformat()))


# ---------------------------------------------------------------- rules
class Level:
    """An escalation level: its number, title and the (name, e-mail) pairs who hear of its requests."""
    __slots__ = ("number", "title", "recipients")

    def __init__(self, number: int, title: str, recipients: tuple = ()):
        self.number, self.title, self.recipients = number, title, recipients


class RequestRules:
    """Compiled requests rules (:func:`compile_rules`). Plain class, not a dataclass: the modules a
    request step imports are kept cheap to load (a dataclass costs a few ms of code generation)."""

    def __init__(self, *, name: str, sha256: str, coordinating_department: str, time_limits: dict,
                 start_levels: dict, priority_labels: dict, leads: dict, lookup: dict, thresholds: tuple,
                 coordination_after: int | None, coordination_level: int, levels: dict, departments: dict,
                 due_within: int = 2, revisit_after_days: int = 3, calendar_years: dict | None = None):
        self.name, self.sha256 = name, sha256
        self.coordinating_department = coordinating_department
        self.time_limits = time_limits            # priority -> working days
        self.start_levels = start_levels          # priority -> level
        self.priority_labels = priority_labels    # priority -> label (一般, 紧急, 重大疑难)
        self.leads = leads                        # category -> lead department
        self.lookup = lookup                      # lookup_key(name or alias) -> category
        self.thresholds = thresholds              # overdue working days, ascending
        self.coordination_after = coordination_after   # working days overdue; None = no coordination rule
        self.coordination_level = coordination_level
        self.levels = levels                      # number -> Level
        self.departments = departments            # name -> tuple of e-mail addresses
        self.due_within = due_within
        self.revisit_after_days = revisit_after_days
        self.calendar_years = calendar_years or {}   # year -> (holidays, workdays) as sets of dates

    @property
    def categories(self) -> list[str]:
        return list(self.leads)

    @property
    def max_level(self) -> int:
        return max(self.levels)

    def category(self, text) -> str | None:
        """The category a name or alias stands for, or None."""
        if text is None:
            return None
        return self.lookup.get(lookup_key(text))

    def require_category(self, text) -> str:
        found = self.category(text)
        if found is None:
            raise RequestError(_("category: unknown value {value!r}; the rules ({name}) have {items}").format(
                                   value=str(text).strip(), name=self.name, items=', '.join(self.leads)))
        return found

    def level_title(self, level: int) -> str:
        lv = self.levels.get(level)
        return lv.title if lv else f"level {level}"


def compile_rules(data: dict, name: str | None = None, sha256: str = "") -> RequestRules:
    """Rules from a parsed, schema-valid rule file, with the checks a schema cannot make:
    leads and the coordinating department listed under departments, levels 1..N without a gap,
    start and coordination levels among them, no alias naming two categories, calendar days in
    their year and not both off and worked."""
    def fail(where: str, reason: str):   # without a name: kqtools.rules.compile_rules puts the file's in front
        raise RequestRulesError(f"{name + ': ' if name else ''}{where}: {reason}")

    departments = {d: tuple(v.get("email", ())) for d, v in data["departments"].items()}
    levels = {}
    for key, v in data["levels"].items():
        levels[int(key)] = Level(int(key), v["title"], tuple((r["name"], r["email"]) for r in v.get("recipients", ())))
    if sorted(levels) != list(range(1, len(levels) + 1)):
        fail("levels", f"must be numbered 1..N without a gap (got {', '.join(map(str, sorted(levels)))})")
    top = max(levels)
    coordinating = data["coordinating_department"]
    if coordinating not in departments:
        fail("coordinating_department", f"{coordinating} is not listed under [departments]")
    priorities = data["priorities"]
    for p, v in priorities.items():
        if v["start_level"] > top:
            fail(f"priorities.{p}.start_level", f"{v['start_level']} is above the highest level ({top})")
    leads, lookup = {}, {}
    for cat, v in data["categories"].items():
        if v["lead"] not in departments:
            fail(f"categories.{cat}.lead", f"{v['lead']} is not listed under [departments]")
        leads[cat] = v["lead"]
        for alias in (cat, *v.get("aliases", ())):
            key = lookup_key(alias)
            if lookup.get(key, cat) != cat:
                fail(f"categories.{cat}.aliases", f"{alias!r} already names category {lookup[key]}")
            lookup[key] = cat
    esc = data["escalation"]
    coordination_level = esc.get("coordination_level", top)
    if coordination_level > top:
        fail("escalation.coordination_level", f"{coordination_level} is above the highest level ({top})")
    calendar_years = {}
    for year_text, v in (data.get("calendar") or {}).items():
        year = int(year_text)
        days = {}
        for kind in ("holidays", "workdays"):
            try:
                days[kind] = expand_days(v.get(kind, ()), f"calendar.{year}.{kind}: ")
            except ValueError as exc:
                fail(f"calendar.{year}", str(exc).split(": ", 1)[-1])
            stray = sorted(d for d in days[kind] if d.year != year)
            if stray:
                fail(f"calendar.{year}.{kind}", f"{stray[0].isoformat()} is not in {year}")
        both = sorted(days["holidays"] & days["workdays"])
        if both:
            fail(f"calendar.{year}", f"{both[0].isoformat()} is both a holiday and a working day")
        calendar_years[year] = (frozenset(days["holidays"]), frozenset(days["workdays"]))
    reminders = data.get("reminders") or {}
    return RequestRules(
        name=name or "requests", sha256=sha256, coordinating_department=coordinating,
        time_limits={p: v["working_days"] for p, v in priorities.items()},
        start_levels={p: v["start_level"] for p, v in priorities.items()},
        priority_labels={p: v.get("label", p) for p, v in priorities.items()},
        leads=leads, lookup=lookup, thresholds=tuple(sorted(esc["overdue_working_days"])),
        coordination_after=esc.get("coordination_after_working_days"), coordination_level=coordination_level,
        levels=levels, departments=departments, due_within=reminders.get("due_within_working_days", 2),
        revisit_after_days=reminders.get("revisit_after_days", 3), calendar_years=calendar_years)


# ---------------------------------------------------------------- due dates and levels
def due_date(calendar: WorkCalendar, start: dt.date, priority: str, rules: RequestRules) -> dt.date:
    """``start`` plus the priority's time limit in working days (raises UnknownYear past the calendar)."""
    return calendar.add(start, rules.time_limits[priority])


def level_of(level: int | None, priority: str, rules: RequestRules) -> int:
    """A request's level: the one it was escalated to, else the start level of its priority."""
    return level if level is not None else rules.start_levels.get(priority, 1)


class Change:
    """One escalation applied by rule: 'threshold' (overdue by N working days) or 'coordination'."""
    __slots__ = ("kind", "level_from", "level_to", "threshold", "days_overdue", "department_from", "department_to")

    def __init__(self, kind: str, level_from: int, level_to: int, threshold: int, days_overdue: int,
                 department_from: str | None = None, department_to: str | None = None):
        self.kind, self.level_from, self.level_to = kind, level_from, level_to
        self.threshold = threshold            # the rule's working days overdue that triggered it
        self.days_overdue = days_overdue      # working days overdue when it was applied
        self.department_from, self.department_to = department_from, department_to

    def note(self, rules: RequestRules) -> str:
        late = f"overdue {self.days_overdue} working day{'s' if self.days_overdue != 1 else ''}"
        if self.kind == "coordination":
            return (f"{late} with co-departments (rule: {self.threshold}): to the coordinating department "
                    f"{self.department_to} (from {self.department_from}), level {self.level_to} "
                    f"({rules.level_title(self.level_to)})")
        return (f"{late} (rule: {self.threshold}): level {self.level_from} -> {self.level_to} "
                f"({rules.level_title(self.level_to)})")


class Escalation:
    """What the rules do to one request: the changes in order, and its level, thresholds applied,
    department and co-departments afterwards."""
    __slots__ = ("changes", "level", "overdue_steps", "department", "co_departments")

    def __init__(self, changes: tuple, level: int, overdue_steps: int, department, co_departments: tuple):
        self.changes, self.level, self.overdue_steps = changes, level, overdue_steps
        self.department, self.co_departments = department, co_departments

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def plan_escalation(*, level: int | None, priority: str, overdue_steps: int, department: str | None,
                    co_departments, days_overdue: int, rules: RequestRules) -> Escalation:
    """What the escalation rules do to one request overdue by ``days_overdue`` working days.

    Idempotent: applied to its own result with the same ``days_overdue`` it changes nothing.
    A threshold reached while the level is already the highest is counted as applied, without a change.
    """
    current = level_of(level, priority, rules)
    changes = []
    reached = sum(1 for t in rules.thresholds if days_overdue >= t)
    for i in range(overdue_steps, reached):
        new = min(current + 1, rules.max_level)
        if new > current:
            changes.append(Change("threshold", current, new, rules.thresholds[i], days_overdue))
            current = new
    steps = max(overdue_steps, reached)
    co = tuple(co_departments or ())
    coord = rules.coordinating_department
    if (co and rules.coordination_after is not None and days_overdue >= rules.coordination_after
            and department != coord):
        new = max(current, rules.coordination_level)
        changes.append(Change("coordination", current, new, rules.coordination_after, days_overdue, department, coord))
        current = new
        co = tuple(d for d in (*co, department) if d and d != coord)
        department = coord
    return Escalation(tuple(changes), current, steps, department, co)
