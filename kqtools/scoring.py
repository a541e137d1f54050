"""Resource-utilization evaluation (资源集约利用综合评价, "亩均论英雄"): score, rank and grade firms.

Plain functions over plain data: no click, no SQL, no printing. The numbers come from a rule
file compiled once by :func:`kqtools.scoring_rules.compile_rules` (re-exported here);
:func:`score_firms` does the year's work:

1. **Scope.** Every firm with metrics for the year. Not graded (class ``T``, with the reason):
   firms listed by code in the rule file, industry codes on its list (D44–D46 utilities, a prefix
   with or without the section letter), firms founded less than ``min_years_since_founding``
   years before the end of the year, firms on rented premises when ``not_graded.renters``, and
   firms that fall in no group (``unmatched = "not_graded"``; ``"skip"`` leaves them out).
2. **Groups.** The first group whose criteria all fit: size class, land, industry prefixes, key
   polluter, rented premises, years in production. An indicator with ``missing = "not_graded"``
   puts a firm without a usable value in class T. With ``scope = "district"`` every district is
   its own evaluation: benchmarks, ranks and grade bands per district and group.
3. **Indicators.** ``value = numerator / denominator × scale``; ``ratio = min(value / benchmark,
   cap)`` (no cap: ``cap = "none"``); ``points = weight × ratio``. Benchmarks: the group mean of the
   year's usable values (``group_average``), Σnumerator ÷ Σdenominator (``group_pooled``), factor ×
   the group's mean of the year before (``previous_year_average``, rows of Y−1 given), or a
   published value, optionally per industry prefix (``fixed``). An unusable value (input missing,
   denominator zero or negative, numerator negative, quotient too large) gets 0, the group mean as
   its value (``group_average``), the group's average ratio (``group_average_points``), or class T.
4. **Adjustments** (:mod:`kqtools.scoring_adjust`): 加分项 / 减分项 added before ranking; grade
   uplifts applied after grading.
5. **Rank** within the group: score desc, base score desc, the ``tie_break`` indicators' values
   desc (missing last), then uscc asc. Every rank is distinct, so results never depend on the
   order of the input rows.
6. **Grades** by rank: a firm is in the first band whose ``upto`` percentage is larger than the
   share of its group ranked above it, so band A holds ceil(20% × n) firms. Uplifts move the grade
   up (A stays A); vetoes (incident, blacklist) then set the veto grade.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import compress, count, islice
from operator import eq, itemgetter
from typing import Iterable, Mapping, NamedTuple, Sequence

from .errors import KqtoolsError
from .i18n import _
from .scoring_adjust import Adjusted, adjust_rows, designations_by_firm, window
from .scoring_indicators import (GroupBenchmark, _exact_mean, _input_problem, add_points, benchmark_key,
                                 benchmark_source, explain_indicators, group_benchmark, indicator_inputs,
                                 indicator_ratios, indicator_values, missing_note)
from .scoring_rules import (EXTRA_FIELDS, FIRM_FIELDS, IDX, METRIC_FIELDS, NOT_GRADED, Adjustment, Benchmark,
                            Category, Group, Indicator, Method, ScoringRulesError, _num, code_digits, compile_rules)

#: The public names, those of the other scoring modules included: ``from kqtools.scoring import …``
#: is the one import callers need.
__all__ = [
    "Adjusted", "Adjustment", "Benchmark", "Category", "EXTRA_FIELDS", "FIRM_FIELDS", "FirmResult", "Group",
    "GroupBenchmark", "IDX", "Indicator", "METRIC_FIELDS", "Method", "MissingPreviousYear", "NOT_GRADED",
    "Scoring", "ScoringRulesError", "TABLE_COLUMNS", "add_points", "benchmark_key", "benchmark_source",
    "classify", "compile_rules", "designations_by_firm", "drop_missing", "explain_indicators", "firm_row",
    "group_benchmark", "indicator_inputs", "indicator_ratios", "indicator_values", "missing_note",
    "previous_year_means", "rank_order", "score_dicts", "score_firms", "window",
]


class MissingPreviousYear(KqtoolsError):
    """A ``previous_year_average`` benchmark and no metrics stored for the year before."""


# --------------------------------------------------------------------------- results
class FirmResult(NamedTuple):
    """One firm's result. ``values``/``ratios``/``points``/``flags`` follow the group's indicators."""
    uscc: str
    group: str | None               # group id (for class T: the group the firm would be in, if any)
    scope: str | None               # the district ranked in (scope = "district"), else None
    rank: int | None                # within the group (and scope); None for class T
    base_score: float | None
    bonus_points: float | None      # the adjustments' total (negative for deductions)
    score: float | None
    grade_by_rank: str | None       # the grade the rank gives, after the adjustments' points
    grade: str                      # final: after the uplift and the vetoes; T = not graded
    bonus_reason: str | None        # adjustments applied, not added, left out, capped
    veto_reason: str | None
    not_graded_reason: str | None
    values: tuple | None
    ratios: tuple | None
    points: tuple | None
    flags: tuple | None             # None, or one note (or None) per indicator
    bonus_batches: tuple            # import batches of the designations that gave the bonus
    adjustments: tuple | None       # the Outcome of every item applied / not added / left out / capped
    row: tuple                      # the input row


#: Columns of :attr:`Scoring.table`, one list each, all in display order.
TABLE_COLUMNS = FirmResult._fields


@dataclass
class Scoring:
    """A year's results, column-oriented (fast for a million firms); :attr:`results` gives records."""
    year: int
    table: dict[str, list]                    # TABLE_COLUMNS -> list; display order, class T last
    benchmarks: dict[str, list[GroupBenchmark]]   # benchmark_key(group, scope) -> marks
    counts: dict[str, int]                    # grade -> firms (T included)
    group_counts: dict[str, dict[str, int]]
    skipped: int                              # firms in no group with unmatched = "skip"
    scope_counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # district -> group -> grade
    notes: list[str] = field(default_factory=list)

    def __len__(self):
        return len(self.table["uscc"])

    @property
    def results(self) -> list[FirmResult]:
        return [FirmResult(*r) for r in zip(*(self.table[c] for c in TABLE_COLUMNS))]

    def by_uscc(self) -> dict[str, FirmResult]:
        return {r.uscc: r for r in self.results}


_UNSET = object()


def score_firms(rows: Iterable[Sequence], designations: Iterable[Mapping], method: Method, year: int, *,
                blacklist: set[str] | frozenset[str] | None = None, blacklist_note: str | None = None,
                previous: Sequence[Sequence] | None = None, detail: bool = True) -> Scoring:
    """Score, rank and grade one year. ``rows`` are sequences in :data:`FIRM_FIELDS` order.

    ``blacklist``: codes vetoed when the rules enable the blacklist veto (``blacklist_note`` names
    the list in the reason). ``previous``: the rows of Y−1, needed by ``previous_year_average``
    benchmarks (:class:`MissingPreviousYear` when there are none). ``detail=False`` leaves the
    per-firm ``values``/``ratios``/``points``/``flags`` columns and the graded firms' ``row`` empty
    (None): faster, and :func:`explain_indicators` recomputes them for one firm.
    """
    held = designations_by_firm(designations, method)
    members, t_firms, skipped = classify(rows, method, year)
    prev = previous_year_means(previous, method, year) if method.needs_previous_year else {}
    for g in method.groups:
        members[g.id], dropped = drop_missing(g, members[g.id])
        t_firms.extend(dropped)
    if method.scope == "district":
        by: dict[str, dict[str, list]] = {}
        for g in method.groups:
            for r in members[g.id]:
                if r[2]:
                    by.setdefault(r[2], {}).setdefault(g.id, []).append(r)
                else:
                    t_firms.append((r[0], g.id, "no district: the rules grade each district on its own "
                                                "(scope = district)", r))
        parts = [(d, g, by[d][g.id]) for d in sorted(by) for g in method.groups if g.id in by[d]]
    else:
        parts = [(None, g, members[g.id]) for g in method.groups]
    table = {c: [] for c in TABLE_COLUMNS}
    scoring = Scoring(year, table, {}, {}, {}, skipped)
    for g in method.groups:
        scoring.group_counts[g.id] = dict.fromkeys(method.grades, 0)
    for scope, g, part_rows in parts:
        key = benchmark_key(g.id, scope)
        part, marks, counts = _score_group(g, part_rows, scope, held, method, year, blacklist or frozenset(),
                                           blacklist_note, prev.get(key, {}), detail)
        for m in marks:
            if m.kind == "previous_year_average" and m.base is None and part_rows:
                scoring.notes.append(f"{g.id}{' in ' + scope if scope else ''}: no usable {m.indicator} in "
                                     f"{year - 1} for its previous-year benchmark: 0 points for that indicator")
        scoring.benchmarks[key] = marks
        for k, v in counts.items():
            scoring.group_counts[g.id][k] += v
        if scope is not None:
            scoring.scope_counts.setdefault(scope, {})[g.id] = counts
        for c in TABLE_COLUMNS:
            table[c].extend(part[c])
    t_firms.sort(key=_first)
    n_t = len(t_firms)
    for c in TABLE_COLUMNS:
        table[c].extend([None] * n_t)
    start = len(table["uscc"]) - n_t
    for i, (uscc, gid, reason, row) in enumerate(t_firms, start):
        table["uscc"][i], table["group"][i], table["not_graded_reason"][i], table["row"][i] = uscc, gid, reason, row
        table["grade"][i], table["bonus_batches"][i] = NOT_GRADED, ()
    counts = dict.fromkeys(method.grades, 0)
    for gc in scoring.group_counts.values():
        for k, v in gc.items():
            counts[k] += v
    counts[NOT_GRADED] = n_t
    scoring.counts = counts
    return scoring


def classify(rows: Iterable[Sequence], method: Method, year: int):
    """({group id: rows}, [(uscc, group id, reason, row) of class T], skipped): scope, T rules, groups."""
    excluded = method.excluded
    industry_reason: dict = {}
    cutoff = f"{year - method.min_years_since_founding:04d}-12-31" if method.min_years_since_founding else None
    members: dict[str, list] = {g.id: [] for g in method.groups}
    simple = all(g.simple for g in method.groups)
    specs = [(g.id, frozenset(g.size_class), g.min_land_mu, members[g.id], g,
              f"{year - g.min_years_since_founding:04d}-12-31" if g.min_years_since_founding is not None else None)
             for g in method.groups]
    renters = method.not_graded_renters
    t_firms, skipped = [], 0
    for row in rows:
        reason = None
        uscc = row[0]
        if uscc in excluded:
            reason = excluded[uscc]
        else:
            code = row[3]
            if code:
                reason = industry_reason.get(code, _UNSET)
                if reason is _UNSET:
                    reason = industry_reason[code] = _industry_reason(code, method)
            if reason is None and cutoff is not None:
                founded = row[5]
                if founded and founded > cutoff:
                    reason = _young_reason(founded, cutoff, method, year)
            if reason is None and renters and _extra(row, "renter"):
                reason = "on rented premises (renter): not graded by the rules (not_graded.renters)"
        size, land = row[4], row[7]
        for spec in specs:
            if spec[1] and size not in spec[1]:
                continue
            if spec[2] is not None and (land is None or land < spec[2]):
                continue
            if not simple and not _fits(spec[4], row, spec[5]):
                continue
            break
        else:
            spec = None
        if reason is None:
            if spec is not None:
                spec[3].append(row)
                continue
            if method.unmatched == "skip":
                skipped += 1
                continue
            reason = _unmatched_reason(row, method)
        t_firms.append((uscc, spec[0] if spec else None, reason, row))
    return members, t_firms, skipped


def _extra(row: Sequence, name: str):
    i = IDX[name]
    return row[i] if len(row) > i else None


def _fits(g: Group, row: Sequence, cutoff: str | None) -> bool:
    """The group criteria beyond size class and land."""
    if g.industry_prefixes and not code_digits(row[3]).startswith(g.industry_prefixes):
        return False
    if g.key_polluter is not None and bool(_extra(row, "key_polluter")) != g.key_polluter:
        return False
    if g.renter is not None and bool(_extra(row, "renter")) != g.renter:
        return False
    if cutoff is not None and row[5] and str(row[5]) > cutoff:
        return False
    for size, mu in g.min_land_by_size:
        if row[4] == size and (row[7] is None or row[7] < mu):
            return False
    return True


def drop_missing(g: Group, rows: list) -> tuple[list, list]:
    """(rows kept, class T entries) for the group's ``missing = "not_graded"`` indicators."""
    strict = [ind for ind in g.indicators if ind.missing == "not_graded"]
    if not strict or not rows:
        return rows, []
    bad: dict[int, str] = {}
    for ind in strict:
        for i, v in enumerate(indicator_values(ind, rows)):
            if v is None and i not in bad:
                num, den = indicator_inputs(ind, rows[i])
                bad[i] = f"{_input_problem(ind, num, den)} ({ind.id}): not graded (missing = not_graded)"
    if not bad:
        return rows, []
    return ([r for i, r in enumerate(rows) if i not in bad],
            [(rows[i][0], g.id, why, rows[i]) for i, why in bad.items()])


def previous_year_means(previous: Sequence[Sequence] | None, method: Method, year: int) -> dict:
    """{benchmark_key: {indicator id: (mean, usable)}} of the previous-year indicators, from the
    rows of Y−1 classified by the same rules (class T and firms in no group left out)."""
    if not previous:
        names = sorted({i.id for g in method.groups for i in g.indicators
                        if i.benchmark.kind == "previous_year_average"})
        raise MissingPreviousYear(_("the previous_year_average benchmark ({items}) needs the metrics of "
                                    "{value}: none are stored (kq import metrics FILE with year {value})").format(
                                      items=', '.join(names), value=year - 1))
    members, _class_t, _unmatched = classify(previous, method, year - 1)
    out: dict[str, dict] = {}
    for g in method.groups:
        rows, _dropped = drop_missing(g, members[g.id])
        inds = [i for i in g.indicators if i.benchmark.kind == "previous_year_average"]
        if not inds:
            continue
        if method.scope == "district":
            by: dict[str, list] = {}
            for r in rows:
                if r[2]:
                    by.setdefault(r[2], []).append(r)
            scoped = [(d, rs) for d, rs in by.items()]
        else:
            scoped = [(None, rows)]
        for scope, rs in scoped:
            means = {}
            for ind in inds:
                usable = [v for v in indicator_values(ind, rs) if v is not None]
                means[ind.id] = (_exact_mean(usable) if usable else None, len(usable))
            out[benchmark_key(g.id, scope)] = means
    return out


def _score_group(g: Group, rows: list, scope, held, method: Method, year: int, blacklist, blacklist_note,
                 prev: dict, detail: bool) -> tuple:
    n = len(rows)
    ndigits = method.decimals
    tie = sorted((k for k, ind in enumerate(g.indicators) if ind.id in method.tie_break),
                 key=lambda k: method.tie_break.index(g.indicators[k].id))
    value_cols, ratio_cols, point_cols, marks = [], [], [], []
    tie_values: dict[int, list] = {}
    flagged: dict[int, list] = {}
    totals = [0] * n
    for k, ind in enumerate(g.indicators):
        values = indicator_values(ind, rows)
        mark = group_benchmark(ind, values, rows, prev.get(ind.id), year)
        totals = add_points(totals, ind, values, mark, rows)   # the same additions, in the same order, as sum(points)
        marks.append(mark)
        if k in tie:
            tie_values[k] = values
        if not detail:
            continue
        ratios, _, bench_note = indicator_ratios(ind, values, mark, rows)
        value_cols.append(values)
        ratio_cols.append(ratios)
        point_cols.append([ind.weight * x for x in ratios])
        if mark.usable < n:
            for i, v in enumerate(values):
                if v is None:
                    num, den = indicator_inputs(ind, rows[i])
                    flagged.setdefault(i, [None] * len(g.indicators))[k] = missing_note(ind, num, den, mark)
        if bench_note:
            for i in range(n):
                notes = flagged.setdefault(i, [None] * len(g.indicators))
                notes[k] = f"{notes[k]}; {bench_note}" if notes[k] else bench_note
    base = [round(t, ndigits) for t in totals]
    del totals
    usccs = [r[0] for r in rows]
    got = adjust_rows(g, rows, held, method, year)
    bonus_pts = [b.points if b is not None else 0.0 for b in got]
    scores = [round(s + p, ndigits) if p else s for s, p in zip(base, bonus_pts)]
    order, scores = _rank(scores, base, [tie_values[k] for k in tie], usccs)

    grades = method.grades
    gbr: list = []
    before = 0
    for grade, upto in g.bands or method.bands:
        limit = math.ceil(upto * n / 100)
        gbr.extend([grade] * (limit - before))
        before = limit
    if n > 1:
        pick = itemgetter(*order)                     # reorder a column in C
    else:
        def pick(c):
            return tuple(c[i] for i in order)
    # incidents found in input order (the row tuples lie in memory in that order): no pass over a
    # million row tuples in rank order; then their places
    incident = {i for i, r in enumerate(rows) if r[6]} if method.veto_incident else ()
    incident = [p for p, i in enumerate(order) if i in incident] if incident else ()
    usccs, bonus_pts, got = (pick(c) for c in (usccs, bonus_pts, got))
    # base = score where no points were added (the same float), so only adjusted firms read base again
    base = [s if not b else base[i] for s, b, i in zip(scores, bonus_pts, order)]
    rows = pick(rows) if detail else [None] * n
    final = list(gbr)
    vetoes: list = [None] * n
    veto_grade = method.veto_grade
    for p in incident:
        vetoes[p] = f"major safety or environmental incident in {year}: grade {veto_grade}"
    if method.veto_blacklist and blacklist:
        listed = f"on the credit blacklist{f' ({blacklist_note})' if blacklist_note else ''}: grade {veto_grade}"
        for p in [p for p, u in enumerate(usccs) if u in blacklist]:
            vetoes[p] = f"{vetoes[p]}; {listed}" if vetoes[p] else listed
    for p in [p for p, b in enumerate(got) if b is not None and b.uplift]:
        final[p] = grades[max(0, grades.index(gbr[p]) - got[p].uplift)]
    for p in [p for p, why in enumerate(vetoes) if why]:
        final[p] = veto_grade
    counts = dict.fromkeys(grades, 0)
    for grade in grades:
        counts[grade] = final.count(grade)

    part = {
        "uscc": usccs, "group": [g.id] * n, "scope": [scope] * n, "rank": range(1, n + 1), "base_score": base,
        "bonus_points": bonus_pts, "score": scores, "grade_by_rank": gbr, "grade": final,
        "bonus_reason": [b.reason if b is not None else None for b in got],
        "veto_reason": vetoes, "not_graded_reason": [None] * n,
        "values": pick(list(zip(*value_cols))) if detail else [None] * n,
        "ratios": pick(list(zip(*ratio_cols))) if detail else [None] * n,
        "points": pick(list(zip(*point_cols))) if detail else [None] * n,
        "flags": [tuple(flagged[i]) if i in flagged else None for i in order] if detail else [None] * n,
        "bonus_batches": [b.batch_ids if b is not None else () for b in got],
        "adjustments": [b.outcomes if b is not None else None for b in got],
        "row": rows,
    }
    return part, marks, counts


def rank_order(scores: Sequence[float], base: Sequence[float], tie_cols: Sequence[Sequence], usccs: Sequence[str]) -> list:
    """Row indexes in rank order: score desc, base score desc, tie-break values desc (missing last),
    uscc asc. One sort on the float scores (fast); only runs of equal scores are then sorted on the
    rest: by uscc, then a stable descending sort on (base, tie values) — the same order as one sort
    on the whole key, since Python keeps the order of equal keys, also with reverse=True."""
    return _rank(scores, base, tie_cols, usccs)[0]


def _rank(scores, base, tie_cols, usccs) -> tuple[list, list]:
    """(:func:`rank_order`, the scores in that order: a run of tied places holds equal scores, so
    the scores read for finding the runs are already the scores in rank order)."""
    n = len(scores)
    order = sorted(range(n), key=scores.__getitem__, reverse=True)
    ranked = [scores[i] for i in order]
    same = list(compress(count(1), map(eq, ranked, islice(ranked, 1, None))))   # ranked[i] == ranked[i-1]
    if not same:
        return order, ranked
    ties = [[v if v is not None else -math.inf for v in col] for col in tie_cols]
    k = 0
    while k < len(same):
        lo = same[k] - 1
        while k + 1 < len(same) and same[k + 1] == same[k] + 1:
            k += 1
        hi = same[k] + 1
        k += 1
        run = sorted(order[lo:hi], key=usccs.__getitem__)
        run.sort(key=lambda i: (base[i], *(col[i] for col in ties)), reverse=True)
        order[lo:hi] = run
    return order, ranked


def _first(item):
    return item[0]


def _industry_reason(code: str, method: Method) -> str | None:
    digits = code_digits(code)
    for prefix in method.industry_codes:
        if digits.startswith(prefix):
            return f"industry {code} is not graded ({', '.join(method.industry_names)})"
    return None


def _young_reason(founded: str, cutoff: str, method: Method, year: int) -> str:
    return (f"founded {founded}, less than {method.min_years_since_founding} years before the end of {year} "
            f"(graded if founded on or before {cutoff})")


def _unmatched_reason(row: Sequence, method: Method) -> str:
    size, land = row[4], row[7]
    return (f"in no group (size class {size or 'unknown'}, land {_num(land) if land is not None else 'unknown'} mu): "
            + "; ".join(f"{g.id} needs {g.criteria()}" for g in method.groups))


# --------------------------------------------------------------------------- plain-data helpers
def firm_row(firm: Mapping) -> tuple:
    """A :data:`FIRM_FIELDS` tuple from a dict (missing keys are None)."""
    return tuple(firm.get(f) for f in FIRM_FIELDS)


def score_dicts(firms: Iterable[Mapping], designations: Iterable[Mapping], rules: Mapping | Method, year: int,
                *, blacklist=None, previous: Iterable[Mapping] | None = None) -> Scoring:
    """:func:`score_firms` over dicts and rule-file data: the convenient form for tests and scripts."""
    method = rules if isinstance(rules, Method) else compile_rules(rules)
    prev = [firm_row(f) for f in previous] if previous is not None else None
    return score_firms([firm_row(f) for f in firms], designations, method, year, blacklist=blacklist, previous=prev)
