"""Indicators and benchmarks of the resource-utilization evaluation: values, benchmarks, ratios, points.

``value = numerator / denominator × scale`` (None when unusable: an input missing, the
denominator zero or negative, the numerator negative, the quotient too large to be a number);
``ratio = min(value / benchmark, cap)``; ``points = weight × ratio``. The benchmark of a group
(:func:`group_benchmark`) is its mean of the year's usable values, Σnumerator ÷ Σdenominator,
factor × its mean of the year before, or a published value (per industry prefix). An unusable
value gets the mark's ``fill`` ratio (0, the mean's ratio, or the group's average ratio). Sums are
exact (``math.fsum``), so results never depend on the order of the rows. :func:`explain_indicators`
recomputes one firm's detail with these same functions. Standard library only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .scoring_rules import IDX, Group, Indicator, _num

_IDX = IDX
_INF = math.inf


@dataclass
class GroupBenchmark:
    indicator: str
    kind: str                    # group_average, group_pooled, previous_year_average, fixed
    benchmark: float | None      # None: no usable value to take it from
    mean: float | None           # group mean of usable values this year
    usable: int                  # firms with a usable value
    fill: float | None = None    # the ratio an unusable value gets (None: a run stored before it was kept)
    factor: float | None = None  # previous_year_average: benchmark = factor × base
    base: float | None = None    # previous_year_average: the group's mean in base_year
    base_year: int | None = None
    base_usable: int | None = None
    industries: dict | None = None   # fixed per industry: {prefix as written: value}

    def as_dict(self) -> dict:
        d = {"indicator": self.indicator, "kind": self.kind, "benchmark": self.benchmark, "mean": self.mean,
             "usable": self.usable, "fill": self.fill}
        for k in ("factor", "base", "base_year", "base_usable", "industries"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d


def benchmark_key(group_id: str, scope: str | None) -> str:
    """Key of a group's benchmarks in :attr:`Scoring.benchmarks` (and a stored run's JSON)."""
    return group_id if scope is None else f"{group_id} @ {scope}"


def indicator_values(ind: Indicator, rows: Sequence[Sequence]) -> list:
    """The indicator's value for each row (one pass); None when unusable: an input missing, the
    denominator zero or negative, the numerator negative, or the value not finite (a tiny
    denominator overflows the quotient to infinity, which would make the group mean infinite
    and the ratios NaN)."""
    ni = _IDX[ind.numerator]
    s = ind.scale
    if ind.denominator is None:
        out = [n if (n := r[ni]) is not None and 0 <= n < _INF else None for r in rows]
    else:
        di = _IDX[ind.denominator]
        out = [v if (n := r[ni]) is not None and (d := r[di]) is not None and d > 0 and n >= 0 and (v := n / d) < _INF
               else None for r in rows]
    if s != 1:
        out = [None if v is None or (w := v * s) == _INF else w for v in out]
    return out


def indicator_inputs(ind: Indicator, row: Sequence) -> tuple:
    """(numerator, denominator) of one row; the denominator is 1 for an indicator without one."""
    return row[_IDX[ind.numerator]], (row[_IDX[ind.denominator]] if ind.denominator else 1)


def group_benchmark(ind: Indicator, values: Sequence, rows: Sequence[Sequence], prev: tuple | None = None,
                    year: int | None = None) -> GroupBenchmark:
    """The benchmark of one indicator in one group (``prev``: (mean, usable) of Y−1 for
    ``previous_year_average``); sums are exact (math.fsum), so row order never matters."""
    usable = [v for v in values if v is not None]
    n = len(usable)
    mean = _exact_mean(usable) if n else None
    b = ind.benchmark
    if b.kind == "fixed":
        mark = GroupBenchmark(ind.id, "fixed", b.value, mean, n,
                              industries={w: v for _, w, v in b.industries} or None)
    elif b.kind == "group_pooled":
        pairs = [indicator_inputs(ind, r) for r, v in zip(rows, values) if v is not None]
        pooled = None
        if n:
            nums, dens = [x for x, _ in pairs], [d for _, d in pairs]
            snum, sden = _exact_sum(nums), _exact_sum(dens)
            if snum is None or sden is None:       # beyond the float range: Σnum ÷ Σden = mean(num) ÷ mean(den)
                snum, sden = math.fsum([x / n for x in nums]), math.fsum([d / n for d in dens])
            if sden > 0 and (q := snum / sden * ind.scale) < _INF:
                pooled = q
        mark = GroupBenchmark(ind.id, "group_pooled", pooled, mean, n)
    elif b.kind == "previous_year_average":
        base, base_n = prev if prev else (None, 0)
        mark = GroupBenchmark(ind.id, "previous_year_average", b.factor * base if base is not None else None, mean,
                              n, factor=b.factor, base=base, base_year=year - 1 if year else None, base_usable=base_n)
    else:
        mark = GroupBenchmark(ind.id, "group_average", mean, mean, n)
    mark.fill = _fill(ind, mark, values, rows)
    return mark


def _fill(ind: Indicator, mark: GroupBenchmark, values: Sequence, rows: Sequence) -> float:
    """The ratio an unusable value gets (see :func:`indicator_ratios`)."""
    bench, cap = mark.benchmark, (ind.cap if ind.cap is not None else _INF)
    if not mark.industries and (bench is None or bench <= 0):
        return 0.0
    if ind.missing == "group_average" and mark.mean is not None:
        return min(mark.mean / bench, cap)
    if ind.missing == "group_average_points" and mark.usable:
        ratios, _, _ = _ratios(ind, values, mark, rows, 0.0)
        return _exact_mean([r for r, v in zip(ratios, values) if v is not None])
    return 0.0


def _exact_mean(xs: Sequence[float]) -> float:
    """The mean of finite non-negative floats, from an exact sum (math.fsum): the same whatever their
    order. Sums beyond the float range are taken over x / n instead (also exact, so also order-free)."""
    n = len(xs)
    total = _exact_sum(xs)
    if total is not None:
        return total / n
    return math.fsum([x / n for x in xs])


def _exact_sum(xs: Sequence[float]) -> float | None:
    """math.fsum (exact, so independent of the order), or None when the sum is beyond the float range."""
    try:
        total = math.fsum(xs)
    except OverflowError:
        return None
    return total if total < _INF else None


def _benches(mark: GroupBenchmark, rows: Sequence[Sequence], ind: Indicator) -> list:
    """Per-row benchmarks of a fixed benchmark per industry."""
    return [ind.benchmark.fixed_for(r[3])[0] for r in rows]


def _ratios(ind: Indicator, values: Sequence, mark: GroupBenchmark, rows, fill: float):
    cap = ind.cap if ind.cap is not None else _INF
    if mark.industries:
        return [(x if (x := v / b) < cap else cap) if v is not None else fill
                for v, b in zip(values, _benches(mark, rows, ind))], fill, None
    bench = mark.benchmark
    if bench is None or bench <= 0:
        note = ("benchmark is 0 (no firm in the group has a positive value): 0 points" if mark.kind != "previous_year_average"
                else f"no usable value of the group in {mark.base_year} for the previous-year benchmark: 0 points")
        return [0.0] * len(values), 0.0, note
    return [(x if (x := v / bench) < cap else cap) if v is not None else fill for v in values], fill, None


def indicator_ratios(ind: Indicator, values: Sequence, mark: GroupBenchmark, rows: Sequence | None = None
                     ) -> tuple[list, float | None, str | None]:
    """(ratios, ratio given to an unusable value, note for an unusable benchmark).

    ratio = min(value / benchmark, cap); an unusable value gets the mark's ``fill``: 0, the group
    mean's ratio (``group_average``) or the group's average ratio (``group_average_points``). A
    missing or zero benchmark gives 0 to all. Points are ``weight * ratio``. ``rows`` are needed
    for a benchmark per industry.
    """
    fill = mark.fill if mark.fill is not None else _legacy_fill(ind, mark)
    return _ratios(ind, values, mark, rows, fill)


def _legacy_fill(ind: Indicator, mark: GroupBenchmark) -> float:
    """The fill of a run stored before marks kept it (missing was zero or group_average then)."""
    bench = mark.benchmark
    if bench is None or bench <= 0 or ind.missing != "group_average" or mark.mean is None:
        return 0.0
    cap = ind.cap if ind.cap is not None else _INF
    return min(mark.mean / bench, cap)


def add_points(totals: list, ind: Indicator, values: Sequence, mark: GroupBenchmark, rows=None) -> list:
    """``totals[i] + weight * ratio[i]`` in one pass: the same arithmetic as :func:`indicator_ratios`."""
    bench, w = mark.benchmark, ind.weight
    cap = ind.cap if ind.cap is not None else _INF
    if mark.industries:
        ratios = indicator_ratios(ind, values, mark, rows)[0]
        return [t + w * x for t, x in zip(totals, ratios)]
    if bench is None or bench <= 0:
        return [t + 0.0 for t in totals]
    fill = w * mark.fill
    return [t + w * (x if (x := v / bench) < cap else cap) if v is not None else t + fill
            for t, v in zip(totals, values)]


def missing_note(ind: Indicator, num, den, mark: GroupBenchmark) -> str:
    """The explain flag of an unusable value: what is wrong, and what was done about it."""
    what = _input_problem(ind, num, den)
    if ind.missing == "group_average" and mark.mean is not None:
        return f"{what}: group average {mark.mean:.6g} used"
    if ind.missing == "group_average_points" and mark.usable and mark.fill is not None:
        return (f"{what}: the group's average points {ind.weight * mark.fill:.6g} given "
                f"(missing = group_average_points, over {mark.usable} firms)")
    return f"{what}: 0 points"


def _input_problem(ind: Indicator, num, den) -> str:
    if num is None:
        return f"no {ind.numerator}"
    if ind.denominator is None:
        return f"{ind.numerator} is negative ({_num(num)})" if num < 0 else f"{ind.numerator} is {num!r}"
    if den is None:
        return f"no {ind.denominator}"
    if den <= 0:
        return f"{ind.denominator} is {_num(den)}"
    if num >= 0:
        return f"{ind.numerator} / {ind.denominator} = {_num(num)} / {_num(den)} is too large to be a number"
    return f"{ind.numerator} is negative ({_num(num)})"


def benchmark_source(ind: Indicator, mark: GroupBenchmark, group: str, scope: str | None, year: int | None,
                     industry_code=None) -> str:
    """Where an indicator's benchmark came from, in words (``kq score explain``)."""
    where = f"group {group}{f' in {scope}' if scope else ''}"
    n = f"{mark.usable} usable value{'s' if mark.usable != 1 else ''}"
    if mark.kind == "fixed":
        value, prefix = ind.benchmark.fixed_for(industry_code)
        return (f"fixed: the published value {_num(value)}" if prefix is None
                else f"fixed: the published value {_num(value)} for industry {prefix}")
    if mark.kind == "group_pooled":
        return f"group_pooled: Σ{ind.numerator} ÷ Σ{ind.denominator} of {where} in {year} ({n})"
    if mark.kind == "previous_year_average":
        if mark.base is None:
            return f"previous_year_average: no usable value of {where} in {mark.base_year}"
        return (f"previous_year_average: {_num(mark.factor)} × {mark.base:.6g}, the {mark.base_year} average of "
                f"{where} ({mark.base_usable} firms)")
    return f"group_average: the {year} mean of {where} ({n})"


def explain_indicators(group: Group, row: Sequence, marks: Sequence[GroupBenchmark], *, scope: str | None = None,
                       year: int | None = None) -> list[dict]:
    """Per-indicator detail for one firm, recomputed from its stored inputs and the run's benchmarks
    with the same functions :func:`score_firms` uses (so the points add up to the stored base score)."""
    out = []
    for ind, mark in zip(group.indicators, marks):
        values = indicator_values(ind, [row])
        num, den = indicator_inputs(ind, row)
        ratios, _, bench_note = indicator_ratios(ind, values, mark, [row])
        note = missing_note(ind, num, den, mark) if values[0] is None else ""
        if bench_note:
            note = f"{note}; {bench_note}" if note else bench_note
        inputs = {ind.numerator: num}
        if ind.denominator:
            inputs[ind.denominator] = den
        bench = ind.benchmark.fixed_for(row[3])[0] if mark.industries else mark.benchmark
        out.append({"item": ind.id, "label": ind.label, "formula": ind.formula, "inputs": inputs,
                    "value": values[0], "benchmark": bench, "benchmark_kind": mark.kind,
                    "benchmark_source": benchmark_source(ind, mark, group.id, scope, year, row[3]),
                    "ratio": ratios[0], "cap": ind.cap, "weight": ind.weight, "points": ind.weight * ratios[0],
                    "note": note})
    return out
