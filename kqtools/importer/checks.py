"""Cross-field checks of imported records, as a list of small named functions per kind (the style of
beancount's ``ops/validation.py``). Pure: plain dicts in, ``(field, reason)`` out.

Per-field rules (types, enumerations, lengths, bounds such as ``minimum: 0``, dates not in the
future) live in the schemas and are compiled into the row code; what needs two fields of one record
is here, where a reader can see every rule of a kind at a glance. Each check takes the record (field
-> canonical value) and today's date (ISO) and returns ``None`` or ``(field to blame, reason)``.
"""
from __future__ import annotations

from typing import Callable, Iterable

Check = Callable[[dict, str], "tuple[str, str] | None"]


def expires_after_recognized(rec: dict, today: str):
    """A designation cannot expire before it is recognized."""
    start, end = rec.get("recognized_on"), rec.get("expires_on")
    if start and end and end < start:
        return "expires_on", f"expires ({end}) before it is recognized ({start})"
    return None


def ends_after_start(rec: dict, today: str):
    """A credit record cannot end (be removed, repaired) before it starts."""
    start, end = rec.get("started_on"), rec.get("ended_on")
    if start and end and end < start:
        return "ended_on", f"ends ({end}) before it starts ({start})"
    return None


CHECKS: dict[str, tuple[Check, ...]] = {
    "designations": (expires_after_recognized,),
    "credit": (ends_after_start,),
}


def checks_for(kind_name: str) -> tuple[Check, ...]:
    return CHECKS.get(kind_name, ())


def run_checks(checks: Iterable[Check], rec: dict, today: str) -> list[tuple[str, str]]:
    """Every problem the checks find in one record (empty: the record is fine)."""
    return [p for p in (check(rec, today) for check in checks) if p is not None]


def visit_guard(specialist_ids, today: str, columns: Iterable[str]):
    """Checks of visit rows against the database's state, as ``kq visits log`` makes them: the
    specialist must exist and the visit may not be dated after ``today`` (ISO). Returns a function
    of a staged tuple (``(line, *columns)``) giving rejects as ``(field, value, reason)`` or None."""
    ids = frozenset(specialist_ids)
    cols = list(columns)
    sp, on = cols.index("specialist_id") + 1, cols.index("visited_on") + 1

    def check(out):
        problems = None
        if out[sp] not in ids:
            problems = [("specialist_id", out[sp], f"no specialist with id {out[sp]}; import specialists first")]
        if out[on] > today:
            problem = ("visited_on", out[on], f"visit date {out[on]} is in the future")
            problems = [problem] if problems is None else problems + [problem]
        return problems
    return check
