"""Adjustments (加分项 / 减分项) and the designations in force behind them: plain functions over plain data.

An adjustment item of the rule file gives points (positive or negative) and/or a grade uplift
when its condition holds for a firm of its groups:

- **a designation held**: a designation of the item's kind (and one of its levels) recognized in
  the window — calendar years ``Y - window_years + 1`` … ``Y`` — and in force at the end of the
  year: ``expires_on`` empty or on/after 31 December Y, and ``revoked_on`` empty or after it.
  A level held several times counts once and the latest recognition in force is cited. A
  designation recognized in the window but expired or revoked by the end of the year is
  named, with the reason, as left out;
- **a metric condition**: ``metric [/ per] OP value`` on the firm's metrics of the year (``OP``
  one of ``>= > <= < == !=``), or without ``op`` the field being set and not 0 (a flag).

Items are taken in rule order. In a category with ``best_only`` only the first applicable item
counts (the 专精特新 "highest tier only"); the others are named as not added. A category's total
is then kept within ±``cap``. The firm's adjustment is the sum of its categories; its uplift the
largest uplift applied. Standard library only.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import compress
from typing import Iterable, Mapping, Sequence

from .scoring_rules import _OPS, IDX, Adjustment, Group, Method, _num, compare

APPLIED, NOT_ADDED, LEFT_OUT, CAPPED, SKIPPED = "applied", "not_added", "left_out", "capped", "skipped"


@dataclass(frozen=True)
class Outcome:
    """What one item (or a category cap, or a designation left out) did for one firm."""
    item: str               # adjustment id; "category:ID" for a cap; "designation" for one left out
    category: str
    status: str             # applied | not_added | left_out | capped | skipped
    points: float
    uplift: int
    reason: str
    batch_id: int | None = None

    def as_dict(self) -> dict:
        return {"item": self.item, "category": self.category, "status": self.status, "points": self.points,
                "uplift": self.uplift, "reason": self.reason}


@dataclass(frozen=True)
class Adjusted:
    """A firm's adjustments: the points added to its base score, the uplift, and why."""
    points: float
    uplift: int
    reason: str | None              # bonus_reason: applied, not added, left out and capped, "; "-joined
    outcomes: tuple[Outcome, ...]
    batch_ids: tuple[int, ...]      # import batches of the designations applied


def window(year: int, window_years: int) -> tuple[str, str]:
    """(first day, last day) of a designation window: calendar years Y-window+1 .. Y, both included."""
    return f"{year - window_years + 1:04d}-01-01", f"{year:04d}-12-31"


def in_force(d: Mapping, on: str) -> str | None:
    """None when the designation is in force on ``on`` (ISO date); else why not."""
    expires, revoked = d.get("expires_on") or None, d.get("revoked_on") or None
    if revoked is not None and str(revoked) <= on:
        return f"revoked {revoked} (not in force on {on})"
    if expires is not None and str(expires) < on:
        return f"expired {expires} (not in force on {on})"
    return None


def designations_by_firm(designations: Iterable[Mapping], method: Method) -> dict[str, list[Mapping]]:
    """uscc -> designations of the kinds the adjustments read (other kinds dropped)."""
    kinds = set(method.designation_kinds)
    out: dict[str, list[Mapping]] = {}
    if not kinds:
        return out
    for d in designations:
        if d.get("kind") in kinds:
            out.setdefault(d["uscc"], []).append(d)
    return out


def metric_value(a: Adjustment, row: Sequence):
    """(value or None, why it is unusable or None) of a metric condition for one firm row."""
    x = row[IDX[a.metric]] if len(row) > IDX[a.metric] else None
    if x is None:
        return None, f"no {a.metric}"
    if a.per is None:
        return x, None
    d = row[IDX[a.per]] if len(row) > IDX[a.per] else None
    if d is None:
        return None, f"no {a.per}"
    if d <= 0:
        return None, f"{a.per} is {_num(d)}"
    return x / d, None


def holds(a: Adjustment, row: Sequence) -> bool:
    """Whether a metric condition holds for the row (False when its value is unusable)."""
    x, problem = metric_value(a, row)
    return problem is None and (compare(a.op, x, a.value) if a.op else bool(x))


def hits(a: Adjustment, rows: Sequence[Sequence]) -> list[int]:
    """Indexes of the rows a metric condition holds for: :func:`holds` over a column, in one pass."""
    i = IDX[a.metric]
    if rows and len(rows[0]) <= i:
        return []
    op, value = (_OPS[a.op], a.value) if a.op else (None, None)
    if a.per is None:
        if op is None:
            return [k for k, r in enumerate(rows) if r[i]]
        return [k for k, r in enumerate(rows) if (x := r[i]) is not None and op(x, value)]
    j = IDX[a.per]
    ratios = ((k, x / d) for k, r in enumerate(rows)
              if (x := r[i]) is not None and (d := r[j]) is not None and d > 0)
    if op is None:
        return [k for k, q in ratios if q]
    return [k for k, q in ratios if op(q, value)]


def _what(points: float, uplift: int) -> str:
    parts = []
    if points:
        parts.append(f"{'+' if points > 0 else ''}{_num(points)} points")
    if uplift:
        parts.append(f"grade +{uplift} level")
    return " and ".join(parts) or "no bonus"


def metric_outcome(a: Adjustment, row: Sequence) -> Outcome:
    """The item applied or skipped for one firm, with the values behind it (explain shows it)."""
    x, problem = metric_value(a, row)
    name = f"{a.metric} / {a.per}" if a.per else a.metric
    label = f"{a.label}: " if a.label else ""
    if problem is not None:
        return Outcome(a.id, a.category, SKIPPED, 0.0, 0, f"{label}{problem}: not applied")
    shown = f"{name} = {_num(x)}"           # a flag shows as 1 or 0
    if compare(a.op, x, a.value) if a.op else bool(x):
        cond = f"{shown} {a.op} {_num(a.value)}" if a.op else shown
        return Outcome(a.id, a.category, APPLIED, a.points, 0, f"{label}{cond}: {_what(a.points, 0)}")
    why = f"{shown}, not {a.op} {_num(a.value)}" if a.op else shown
    return Outcome(a.id, a.category, SKIPPED, 0.0, 0, f"{label}{why}: not applied")


def metric_applied(a: Adjustment) -> Outcome:
    """The outcome of a metric item that holds, as a run stores it: the condition, not the firm's
    value (explain recomputes the value with :func:`metric_outcome`), so that every firm the same
    items hold for shares one :class:`Adjusted`."""
    name = f"{a.metric} / {a.per}" if a.per else a.metric
    cond = f"{name} {a.op} {_num(a.value)}" if a.op else f"{name} != 0"
    return Outcome(a.id, a.category, APPLIED, a.points, 0,
                   f"{a.label + ': ' if a.label else ''}{cond}: {_what(a.points, 0)}")


def _designation_text(a: Adjustment, d: Mapping, tail: str, cert: bool = True) -> str:
    cert = f", certificate {d['certificate_no']}" if cert and d.get("certificate_no") else ""
    label = f"{a.label}: " if a.label else ""
    return f"{label}{d['kind']} {d.get('level') or '-'} recognized {d['recognized_on']}{cert}: {tail}"


def _designation_outcomes(items: Sequence[Adjustment], held: Sequence[Mapping], year: int
                          ) -> tuple[dict[str, tuple[Mapping, Outcome]], list[Outcome]]:
    """({item id: (designation cited, applied outcome)}, designations left out)."""
    applied: dict[str, tuple[Mapping, Outcome]] = {}
    left: dict[tuple, Outcome] = {}
    for a in items:
        first, last = window(year, a.window_years)
        best = None
        for d in held:
            if d.get("kind") != a.kind or (a.levels and d.get("level") not in a.levels):
                continue
            on = str(d.get("recognized_on") or "")
            if not first <= on <= last:
                continue
            why = in_force(d, last)
            if why is not None:
                key = (d.get("kind"), d.get("level"), on)
                left.setdefault(key, Outcome("designation", a.category, LEFT_OUT, 0.0, 0,
                                             _designation_text(a, d, f"left out: {why}")))
                continue
            rank = (-(a.levels.index(d.get("level")) if a.levels else 0), on)   # best level, then latest
            if best is None or rank > best[0]:
                best = (rank, d)
        if best is not None:
            d = best[1]
            applied[a.id] = (d, Outcome(a.id, a.category, APPLIED, a.points, a.uplift,
                                        _designation_text(a, d, _what(a.points, a.uplift)), d.get("batch_id")))
    return applied, list(left.values())


def firm_adjustments(group: Group, held: Sequence[Mapping], method: Method, year: int,
                     hits: Sequence[Adjustment] = (), items: Sequence[Adjustment] | None = None) -> Adjusted | None:
    """One firm's :class:`Adjusted` (None when no item applies and nothing is left out), from the
    designations it holds (``held``) and the metric items that hold for it (``hits``, found
    column-wise by :func:`adjust_rows`). ``items``: the group's items, when the caller has them."""
    if items is None:
        items = [a for a in method.adjustments if a.applies_to(group.id)]
    designation_items = [a for a in items if a.kind is not None]
    des_applied, left_out = _designation_outcomes(designation_items, held, year) if held else ({}, [])
    hit_ids = {a.id for a in hits}
    if not des_applied and not hit_ids and not left_out:
        return None
    applied: list[Outcome] = []
    for a in items:
        if a.id in des_applied:
            applied.append(des_applied[a.id][1])
        elif a.id in hit_ids:
            applied.append(metric_applied(a))
    used, not_added, capped = [], [], []
    totals: dict[str, float] = {}
    taken: set[str] = set()
    for o in applied:
        cat = method.categories.get(o.category)
        if cat is not None and cat.best_only and o.category in taken:
            d = des_applied[o.item][0] if o.item in des_applied else None
            a = next(x for x in items if x.id == o.item)
            text = (_designation_text(a, d, "not added (highest tier only)", cert=False)
                    if d is not None and a.label is None
                    else f"{a.label or a.id}: not added (only the first item of category {o.category} counts)")
            not_added.append(Outcome(o.item, o.category, NOT_ADDED, 0.0, 0, text))
            continue
        taken.add(o.category)
        used.append(o)
        totals[o.category] = totals.get(o.category, 0.0) + o.points
    points = 0.0
    for cid, total in totals.items():
        cat = method.categories.get(cid)
        if cat is not None and cat.cap is not None and abs(total) > cat.cap:
            kept = cat.cap if total > 0 else -cat.cap
            capped.append(Outcome(f"category:{cid}", cid, CAPPED, kept - total, 0,
                                  f"category {cat.label}: items give {_signed(total)}, capped at {_signed(kept)}"))
            total = kept
        points += total
    uplift = max((o.uplift for o in used), default=0)
    outcomes = tuple(used + not_added + left_out + capped)
    batches = tuple(sorted({o.batch_id for o in used if o.batch_id is not None}))
    return Adjusted(points, uplift, "; ".join(o.reason for o in outcomes) or None, outcomes, batches)


def _signed(x: float) -> str:
    return f"{'+' if x > 0 else ''}{_num(x)}"


def adjust_rows(group: Group, rows: Sequence[Sequence], held: Mapping[str, list], method: Method,
                year: int) -> list[Adjusted | None]:
    """:func:`firm_adjustments` for every row of a group, aligned with ``rows``. Metric conditions
    are evaluated column-wise (one pass per item) into a bit mask per row; firms with the same mask
    and no designation share one :class:`Adjusted`; firms holding a designation of a kind the items
    read are looked at one by one."""
    items = [a for a in method.adjustments if a.applies_to(group.id)]
    n = len(rows)
    out: list[Adjusted | None] = [None] * n
    if not items:
        return out
    metric_items = [a for a in items if a.metric is not None]
    masks = [0] * n
    for k, a in enumerate(metric_items):
        bit = 1 << k
        for i in hits(a, rows):
            masks[i] |= bit
    look = [i for i, r in enumerate(rows) if r[0] in held] if held and any(a.kind for a in items) else []
    shared: dict[int, Adjusted | None] = {}
    for i in compress(range(n), masks):
        m = masks[i]
        if m not in shared:
            shared[m] = firm_adjustments(group, (), method, year, _hit_items(metric_items, m), items)
        out[i] = shared[m]
    for i in look:
        out[i] = firm_adjustments(group, held[rows[i][0]], method, year, _hit_items(metric_items, masks[i]), items)
    return out


def _hit_items(metric_items: Sequence[Adjustment], mask: int) -> list[Adjustment]:
    return [a for k, a in enumerate(metric_items) if mask >> k & 1]


def explain_adjustments(group: Group, row: Sequence, method: Method, stored: Sequence[Mapping] | None) -> list[dict]:
    """Every item of the firm's group, applied or skipped, with its reason: what each item did as
    the run stored it (``stored``: the outcomes' dicts), designations left out and caps likewise;
    metric items with the firm's value, recomputed from its inputs by :func:`metric_outcome`
    (the run tested them with the same :func:`metric_value`)."""
    stored = list(stored or ())
    by_item = {o["item"]: o for o in stored if o["status"] in (APPLIED, NOT_ADDED)}
    out = []
    for a in method.adjustments:
        if not a.applies_to(group.id):
            continue
        if a.id in by_item:
            o = by_item[a.id]
            if a.metric is not None and o["status"] == APPLIED:   # the value behind it, as the run read it
                o = {**o, "reason": metric_outcome(a, row).reason}
            out.append(o)
        elif a.metric is not None:
            out.append(metric_outcome(a, row).as_dict())
        else:
            out.append(Outcome(a.id, a.category, SKIPPED, 0.0, 0,
                               f"{a.label + ': ' if a.label else ''}no {a.condition()} in force at the end of "
                               "the year: not applied").as_dict())
    out.extend(o for o in stored if o["status"] in (LEFT_OUT, CAPPED))
    return out
