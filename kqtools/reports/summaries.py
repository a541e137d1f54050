"""The arithmetic of the reports' summary tables: counts by district and grade, shares, score bins.

Plain functions over plain data (standard library only): what the charts show is computed here,
once, and both the workbook and the HTML page draw the same numbers.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Iterable, Mapping, Sequence

NOT_GRADED = "T"


def grade_order(grades: Iterable[str]) -> list[str]:
    """Grades in the order given (the rule file's bands), each once, with class T last."""
    seen = list(dict.fromkeys(g for g in grades if g is not None))
    return [g for g in seen if g != NOT_GRADED] + ([NOT_GRADED] if NOT_GRADED in seen else [])


def count_by(pairs: Iterable[tuple[str, str]], columns: Sequence[str], *, label_of=lambda k: k,
             key_name: str = "key") -> list[dict]:
    """Rows ``{key_name: category, <column>: count…, "total": n}`` from (category, column) pairs,
    categories by total (largest first) then name; columns not in ``columns`` still count in ``total``."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for category, column in pairs:
        counts[category][column] += 1
    rows = []
    for category in sorted(counts, key=lambda c: (-sum(counts[c].values()), str(c))):
        c = counts[category]
        row = {key_name: label_of(category)}
        row.update({col: c.get(col, 0) for col in columns})
        row["total"] = sum(c.values())
        rows.append(row)
    return rows


def shares(counts: Mapping[str, int], order: Sequence[str]) -> list[dict]:
    """``{"key", "firms", "share"}`` per key in ``order`` (shares of the total, 0..1, 4 decimals)."""
    total = sum(counts.get(k, 0) for k in order)
    return [{"key": k, "firms": counts.get(k, 0), "share": round(counts.get(k, 0) / total, 4) if total else 0.0}
            for k in order]


def nice_step(span: float, target_bins: int = 10) -> float:
    """A round bin width (1, 2, 2.5 or 5 times a power of ten) giving about ``target_bins`` bins.
    A span below a millionth (scores are shown to two decimals) is no span: one bin of width 1."""
    if not span >= 1e-6 or not math.isfinite(span):
        return 1.0
    raw = span / max(target_bins, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def bin_edges(values: Sequence[float], target_bins: int = 10) -> list[float]:
    """Edges ``e0 < e1 < … < ek`` on round numbers covering every value (at least one bin)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return [0.0, 1.0]
    lo, hi = min(finite), max(finite)
    step = nice_step(hi - lo, target_bins)
    start = math.floor(lo / step) * step
    if start > lo:                       # lo / step underflowed to -0.0 (a denormal below zero)
        start -= step
    n = max(1, math.ceil((hi - start) / step))
    if start + n * step < hi:            # float rounding at the top edge
        n += 1
    return [_round(start + i * step) for i in range(n + 1)]


def _round(x: float) -> float:
    return float(f"{x:.10g}")


def bin_index(value: float, edges: Sequence[float]) -> int:
    """The bin of ``value``: ``[e_i, e_{i+1})``, the last bin closed at the top."""
    import bisect

    i = bisect.bisect_right(edges, value) - 1
    return min(max(i, 0), len(edges) - 2)


def histogram(values_by_series: Mapping[str, Sequence[float]], target_bins: int = 10) -> tuple[list[dict], list[str]]:
    """Counts per bin and series over common bins: rows ``{"bin", "lo", "hi", <series>: n…, "total"}``.

    Returns (rows, series keys in the order given). Bins are labelled ``60–70``; every finite value
    falls in exactly one bin.
    """
    series = list(values_by_series)
    everything = [v for vs in values_by_series.values() for v in vs if v is not None and math.isfinite(v)]
    edges = bin_edges(everything, target_bins)
    rows = [{"bin": f"{_fmt(edges[i])}–{_fmt(edges[i + 1])}", "lo": edges[i], "hi": edges[i + 1],
             **{s: 0 for s in series}, "total": 0} for i in range(len(edges) - 1)]
    for s, values in values_by_series.items():
        for v in values:
            if v is None or not math.isfinite(v):
                continue
            row = rows[bin_index(v, edges)]
            row[s] += 1
            row["total"] += 1
    return rows, series


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
