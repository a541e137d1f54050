"""Resource-utilization evaluation (资源集约利用综合评价, "亩均论英雄"): score, rank and grade firms.

Plain functions over plain data: no click, no SQL, no printing. The numbers come from a
rule file (``kqtools/rules/scoring*.toml``, schema ``schemas/scoring-rules.schema.json``)
compiled once by :func:`compile_rules`; :func:`score_firms` does the year's work:

1. **Scope.** Every firm with metrics for the year. Not graded (class ``T``, with the reason):
   industry codes on the rule file's list (D44–D46 utilities, matched as a prefix with or
   without the section letter), firms founded less than ``min_years_since_founding`` years
   before the end of the year, firms listed by code in the rule file, and firms that fall in
   no group (``unmatched = "not_graded"``; ``"skip"`` leaves them out of the run).
2. **Groups.** The first group whose ``size_class`` and ``min_land_mu`` fit the firm.
3. **Indicators.** ``value = numerator / denominator`` (or the numerator alone);
   ``ratio = min(value / benchmark, cap)``; ``points = weight × ratio``. The benchmark is the
   group mean of the usable values of the year (``group_average``), the group's pooled ratio
   Σnumerator ÷ Σdenominator (``group_pooled``) or a fixed number. A value is unusable when an
   input is missing, the denominator is zero or negative or the numerator negative; the rule
   file then gives 0 points (``missing = "zero"``) or the group mean (``"group_average"``), and
   the flag says so. A benchmark of 0 gives 0 points, flagged. No division can fail.
4. **Bonus** (专精特新, Suzhou Industrial Park policy): designations of ``bonus.kind`` recognized
   in the window — calendar years ``Y - window_years + 1`` … ``Y`` — give points (added before
   ranking) and/or grade uplifts (applied after grading). Highest tier only unless ``stack``.
5. **Rank** within the group: score desc, base score desc, the ``tie_break`` indicators' values
   desc (missing last), then uscc asc. Every rank is distinct, so results never depend on the
   order of the input rows.
6. **Grades** by rank: a firm is in the first band whose ``upto`` percentage is larger than the
   share of its group ranked above it, so band A holds ceil(20% × n) firms. National uplift
   moves the grade up (A stays A); vetoes (incident, blacklist) then set the veto grade.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import compress, count, islice
from operator import eq, itemgetter
from typing import Iterable, Mapping, NamedTuple, Sequence

from .errors import KqtoolsError

METRIC_FIELDS = ("land_mu", "revenue", "tax", "value_added", "energy_tce", "electricity_kwh",
                 "emissions_t", "rd_expense", "employees")
#: Order of the fields in a firm row given to :func:`score_firms` (extra trailing items are kept, unread).
FIRM_FIELDS = ("uscc", "name", "district", "industry_code", "size_class", "founded_on", "incident") + METRIC_FIELDS
_IDX = {f: i for i, f in enumerate(FIRM_FIELDS)}
NOT_GRADED = "T"
_INF = math.inf


class ScoringRulesError(KqtoolsError, ValueError):
    """A rule file that passes the schema but cannot work (duplicate ids, bands out of order...)."""


# --------------------------------------------------------------------------- compiled rules
@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    numerator: str
    denominator: str | None
    weight: float
    cap: float
    benchmark: str | float          # "group_average", "group_pooled" or a fixed positive number
    missing: str                    # "zero" or "group_average"


@dataclass(frozen=True)
class Group:
    id: str
    label: str
    size_class: tuple[str, ...]
    min_land_mu: float | None
    indicators: tuple[Indicator, ...]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Metric fields the group's indicators read, in first-use order."""
        seen: list[str] = []
        for ind in self.indicators:
            for f in (ind.numerator, ind.denominator):
                if f and f not in seen:
                    seen.append(f)
        return tuple(seen)


@dataclass(frozen=True)
class BonusLevel:
    level: str
    points: float
    uplift: int


@dataclass(frozen=True)
class Method:
    """A compiled scoring rule file."""
    title: str
    groups: tuple[Group, ...]
    bands: tuple[tuple[str, Fraction], ...]       # (grade, upto percent), best first
    decimals: int
    unmatched: str                                 # "not_graded" or "skip"
    tie_break: tuple[str, ...]
    industry_codes: tuple[str, ...]                # digits only: "44", "45", "46"
    industry_names: tuple[str, ...]                # as written in the rule file: "D44", "D45", "D46"
    min_years_since_founding: int
    excluded: dict = field(default_factory=dict)   # uscc -> reason
    bonus_kind: str = "zjtx"
    bonus_window_years: int = 3
    bonus_stack: bool = False
    bonus_levels: tuple[BonusLevel, ...] = ()
    veto_incident: bool = True
    veto_blacklist: bool = True
    veto_grade: str = "D"

    @property
    def grades(self) -> tuple[str, ...]:
        return tuple(g for g, _ in self.bands)


def compile_rules(data: Mapping) -> Method:
    """Turn validated rule-file data into a :class:`Method`; checks what a schema cannot."""
    default_missing = data.get("missing", "zero")
    groups, group_ids = [], set()
    for g in data["groups"]:
        if g["id"] in group_ids:
            raise ScoringRulesError(f"groups: duplicate group id {g['id']!r}")
        group_ids.add(g["id"])
        inds, ind_ids = [], set()
        for ind in g["indicators"]:
            if ind["id"] in ind_ids:
                raise ScoringRulesError(f"groups.{g['id']}: duplicate indicator id {ind['id']!r}")
            ind_ids.add(ind["id"])
            inds.append(Indicator(ind["id"], ind.get("label", ind["id"]), ind["numerator"], ind.get("denominator"),
                                  float(ind["weight"]), float(ind.get("cap", data.get("cap", 2))),
                                  ind.get("benchmark", "group_average"), ind.get("missing", default_missing)))
        groups.append(Group(g["id"], g.get("label", g["id"]), tuple(g.get("size_class", ())),
                            g.get("min_land_mu"), tuple(inds)))
    bands, last = [], Fraction(0)
    for b in data["grades"]["bands"]:
        upto = Fraction(repr(float(b["upto"])))
        if upto <= last:
            raise ScoringRulesError(f"grades.bands: {b['grade']} upto {b['upto']} must be larger than the band before")
        bands.append((b["grade"], upto))
        last = upto
    if last != 100:
        raise ScoringRulesError("grades.bands: the last band must have upto = 100")
    grades = [g for g, _ in bands]
    if len(set(grades)) != len(grades) or NOT_GRADED in grades:
        raise ScoringRulesError(f"grades.bands: grades must be distinct and not {NOT_GRADED!r}")
    ng = data.get("not_graded", {})
    bonus = data.get("bonus", {})
    vetoes = data.get("vetoes", {})
    veto_grade = vetoes.get("grade", grades[-1])
    if veto_grade not in grades:
        raise ScoringRulesError(f"vetoes.grade: {veto_grade!r} is not one of the bands ({', '.join(grades)})")
    levels = tuple(BonusLevel(lv["level"], float(lv.get("points", 0)), int(lv.get("uplift", 0)))
                   for lv in bonus.get("levels", ()))
    return Method(
        title=data.get("title", ""),
        groups=tuple(groups),
        bands=tuple(bands),
        decimals=int(data.get("decimals", 4)),
        unmatched=data.get("unmatched", "not_graded"),
        tie_break=tuple(data.get("tie_break", ())),
        industry_codes=tuple(_code_digits(c) for c in ng.get("industry_codes", ())),
        industry_names=tuple(ng.get("industry_codes", ())),
        min_years_since_founding=int(ng.get("min_years_since_founding", 0)),
        excluded={f["uscc"]: f.get("reason", "excluded by the rule file") for f in ng.get("firms", ())},
        bonus_kind=bonus.get("kind", "zjtx"),
        bonus_window_years=int(bonus.get("window_years", 3)),
        bonus_stack=bool(bonus.get("stack", False)),
        bonus_levels=levels,
        veto_incident=bool(vetoes.get("incident", True)),
        veto_blacklist=bool(vetoes.get("blacklist", False)),
        veto_grade=veto_grade,
    )


def _code_digits(code: str | None) -> str:
    """GB/T 4754 code without its section letter: 'D4411' -> '4411', '4411' -> '4411'."""
    code = (code or "").strip().upper()
    return code[1:] if code[:1].isalpha() else code


# --------------------------------------------------------------------------- window and bonus
def bonus_window(year: int, window_years: int) -> tuple[str, str]:
    """(first day, last day) of the bonus window: calendar years Y-window+1 .. Y, both ends included."""
    return f"{year - window_years + 1:04d}-01-01", f"{year:04d}-12-31"


@dataclass(frozen=True)
class Bonus:
    points: float
    uplift: int
    reason: str
    batch_ids: tuple[int, ...] = ()


def designation_bonuses(designations: Iterable[Mapping], method: Method, year: int) -> dict[str, Bonus]:
    """uscc -> :class:`Bonus` from the designations of the bonus kind recognized inside the window.

    A level held several times counts once (its latest recognition is cited). Highest tier
    only (the first of ``bonus.levels`` the firm holds) unless ``bonus.stack``: then the
    points of every level held add up and the largest uplift applies.
    """
    first, last = bonus_window(year, method.bonus_window_years)
    order = {lv.level: i for i, lv in enumerate(method.bonus_levels)}
    held: dict[str, dict[str, Mapping]] = {}
    for d in designations:
        if d.get("kind") != method.bonus_kind or d.get("level") not in order:
            continue
        on = str(d.get("recognized_on") or "")
        if not first <= on <= last:
            continue
        mine = held.setdefault(d["uscc"], {})
        prev = mine.get(d["level"])
        if prev is None or str(prev.get("recognized_on")) < on:
            mine[d["level"]] = d
    out = {}
    for uscc, levels in held.items():
        ranked = sorted(levels, key=order.__getitem__)
        used = ranked if method.bonus_stack else ranked[:1]
        points, uplift, parts = 0.0, 0, []
        for name in used:
            lv = method.bonus_levels[order[name]]
            d = levels[name]
            points += lv.points
            uplift = max(uplift, lv.uplift)
            what = " and ".join(x for x in (f"+{_num(lv.points)} points" if lv.points else "",
                                            f"grade +{lv.uplift} level" if lv.uplift else "") if x) or "no bonus"
            cert = f", certificate {d['certificate_no']}" if d.get("certificate_no") else ""
            parts.append(f"{method.bonus_kind} {name} recognized {d['recognized_on']}{cert}: {what}")
        for name in ranked[len(used):]:
            parts.append(f"{method.bonus_kind} {name} recognized {levels[name]['recognized_on']}: "
                         "not added (highest tier only)")
        batches = tuple(sorted({levels[n].get("batch_id") for n in used if levels[n].get("batch_id") is not None}))
        out[uscc] = Bonus(points, uplift, "; ".join(parts), batches)
    return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


# --------------------------------------------------------------------------- not graded
def not_graded_reason(row: Sequence, method: Method, year: int) -> str | None:
    """Why a firm is class T (excluded by code, utility industry, too young), or None."""
    if row[0] in method.excluded:
        return method.excluded[row[0]]
    if row[3]:
        reason = _industry_reason(row[3], method)
        if reason:
            return reason
    if method.min_years_since_founding:
        cutoff = f"{year - method.min_years_since_founding:04d}-12-31"
        if row[5] and str(row[5]) > cutoff:
            return _young_reason(row[5], cutoff, method, year)
    return None


def find_group(row: Sequence, method: Method) -> Group | None:
    size, land = row[4], row[7]
    for g in method.groups:
        if g.size_class and size not in g.size_class:
            continue
        if g.min_land_mu is not None and (land is None or land < g.min_land_mu):
            continue
        return g
    return None


def _unmatched_reason(row: Sequence, method: Method) -> str:
    size, land = row[4], row[7]
    return (f"in no group (size class {size or 'unknown'}, land {_num(land) if land is not None else 'unknown'} mu): "
            + "; ".join(f"{g.id} needs size class {'/'.join(g.size_class) or 'any'}"
                        + (f" and land >= {_num(g.min_land_mu)} mu" if g.min_land_mu is not None else "")
                        for g in method.groups))


# --------------------------------------------------------------------------- results
class FirmResult(NamedTuple):
    """One firm's result. ``values``/``ratios``/``points``/``flags`` follow the group's indicators."""
    uscc: str
    group: str | None               # group id (for class T: the group the firm would be in, if any)
    rank: int | None                # within the group; None for class T
    base_score: float | None
    bonus_points: float | None
    score: float | None
    grade_by_rank: str | None       # the grade the rank gives, after point bonuses
    grade: str                      # final: after the uplift and the vetoes; T = not graded
    bonus_reason: str | None
    veto_reason: str | None
    not_graded_reason: str | None
    values: tuple | None
    ratios: tuple | None
    points: tuple | None
    flags: tuple | None             # None, or one note (or None) per indicator
    bonus_batches: tuple            # import batches of the designations that gave the bonus
    row: tuple                      # the input row


#: Columns of :attr:`Scoring.table`, one list each, all in display order.
TABLE_COLUMNS = FirmResult._fields


@dataclass
class GroupBenchmark:
    indicator: str
    kind: str                    # group_average, group_pooled, fixed
    benchmark: float | None      # None: no usable value in the group
    mean: float | None           # group mean of usable values (used by missing = "group_average")
    usable: int                  # firms with a usable value

    def as_dict(self) -> dict:
        return {"indicator": self.indicator, "kind": self.kind, "benchmark": self.benchmark, "mean": self.mean,
                "usable": self.usable}


@dataclass
class Scoring:
    """A year's results, column-oriented (fast for a million firms); :attr:`results` gives records."""
    year: int
    table: dict[str, list]                    # TABLE_COLUMNS -> list; groups in rule order by rank, then class T
    benchmarks: dict[str, list[GroupBenchmark]]
    counts: dict[str, int]                    # grade -> firms (T included)
    group_counts: dict[str, dict[str, int]]
    skipped: int                              # firms in no group with unmatched = "skip"

    def __len__(self):
        return len(self.table["uscc"])

    @property
    def results(self) -> list[FirmResult]:
        return [FirmResult(*r) for r in zip(*(self.table[c] for c in TABLE_COLUMNS))]

    def by_uscc(self) -> dict[str, FirmResult]:
        return {r.uscc: r for r in self.results}


_UNSET = object()


def score_firms(rows: Iterable[Sequence], designations: Iterable[Mapping], method: Method, year: int, *,
                blacklist: set[str] | frozenset[str] | None = None, detail: bool = True) -> Scoring:
    """Score, rank and grade one year. ``rows`` are sequences in :data:`FIRM_FIELDS` order.

    ``blacklist``: codes vetoed when the rules enable the blacklist veto. ``detail=False`` leaves
    the per-firm ``values``/``ratios``/``points``/``flags`` columns and the graded firms' ``row``
    empty (None): faster, and :func:`explain_indicators` recomputes them for one firm from its
    inputs and the benchmarks.
    """
    bonuses = designation_bonuses(designations, method, year)
    members, t_firms, skipped = classify(rows, method, year)
    table = {c: [] for c in TABLE_COLUMNS}
    benchmarks: dict[str, list[GroupBenchmark]] = {}
    group_counts: dict[str, dict[str, int]] = {}
    for g in method.groups:
        part, marks, counts = _score_group(g, members[g.id], bonuses, method, year, blacklist or frozenset(), detail)
        benchmarks[g.id] = marks
        group_counts[g.id] = counts
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
    for gc in group_counts.values():
        for k, v in gc.items():
            counts[k] += v
    counts[NOT_GRADED] = n_t
    return Scoring(year, table, benchmarks, counts, group_counts, skipped)


def classify(rows: Iterable[Sequence], method: Method, year: int):
    """({group id: rows}, [(uscc, group id, reason, row) of class T], skipped): scope, T rules, groups."""
    excluded = method.excluded
    industry_reason: dict = {}
    cutoff = f"{year - method.min_years_since_founding:04d}-12-31" if method.min_years_since_founding else None
    members: dict[str, list] = {g.id: [] for g in method.groups}
    specs = [(g.id, frozenset(g.size_class), g.min_land_mu, members[g.id]) for g in method.groups]
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
        size, land = row[4], row[7]
        for spec in specs:
            if spec[1] and size not in spec[1]:
                continue
            if spec[2] is not None and (land is None or land < spec[2]):
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


def indicator_values(ind: Indicator, rows: Sequence[Sequence]) -> list:
    """The indicator's value for each row (one pass); None when unusable: an input missing, the
    denominator zero or negative, the numerator negative, or the value not finite (a tiny
    denominator overflows the quotient to infinity, which would make the group mean infinite
    and the ratios NaN)."""
    ni = _IDX[ind.numerator]
    if ind.denominator is None:
        return [n if (n := r[ni]) is not None and 0 <= n < _INF else None for r in rows]
    di = _IDX[ind.denominator]
    return [v if (n := r[ni]) is not None and (d := r[di]) is not None and d > 0 and n >= 0 and (v := n / d) < _INF
            else None for r in rows]


def indicator_inputs(ind: Indicator, row: Sequence) -> tuple:
    """(numerator, denominator) of one row; the denominator is 1 for an indicator without one."""
    return row[_IDX[ind.numerator]], (row[_IDX[ind.denominator]] if ind.denominator else 1)


def group_benchmark(ind: Indicator, values: Sequence, rows: Sequence[Sequence]) -> GroupBenchmark:
    """The benchmark of one indicator in one group; sums are exact (math.fsum), so row order never matters."""
    usable = [v for v in values if v is not None]
    n = len(usable)
    mean = _exact_mean(usable) if n else None
    if isinstance(ind.benchmark, (int, float)):
        return GroupBenchmark(ind.id, "fixed", float(ind.benchmark), mean, n)
    if ind.benchmark == "group_pooled":
        pairs = [indicator_inputs(ind, r) for r, v in zip(rows, values) if v is not None]
        pooled = None
        if n:
            nums, dens = [x for x, _ in pairs], [d for _, d in pairs]
            snum, sden = _exact_sum(nums), _exact_sum(dens)
            if snum is None or sden is None:       # beyond the float range: Σnum ÷ Σden = mean(num) ÷ mean(den)
                snum, sden = math.fsum([x / n for x in nums]), math.fsum([d / n for d in dens])
            if sden > 0 and (q := snum / sden) < _INF:
                pooled = q
        return GroupBenchmark(ind.id, "group_pooled", pooled, mean, n)
    return GroupBenchmark(ind.id, "group_average", mean, mean, n)


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


def indicator_ratios(ind: Indicator, values: Sequence, mark: GroupBenchmark) -> tuple[list, float | None, str | None]:
    """(ratios, ratio given to an unusable value, note for an unusable benchmark).

    ratio = min(value / benchmark, cap); an unusable value gets 0 or, with ``missing =
    "group_average"``, the ratio of the group mean. A missing or zero benchmark gives 0 to all.
    Points are ``weight * ratio``.
    """
    bench, cap = mark.benchmark, ind.cap
    if bench is None or bench <= 0:
        return [0.0] * len(values), 0.0, "benchmark is 0 (no firm in the group has a positive value): 0 points"
    fill = 0.0
    if ind.missing == "group_average" and mark.mean is not None:
        fill = mark.mean / bench
        if fill > cap:
            fill = cap
    ratios = [(x if (x := v / bench) < cap else cap) if v is not None else fill for v in values]
    return ratios, fill, None


def add_points(totals: list, ind: Indicator, values: Sequence, mark: GroupBenchmark) -> list:
    """``totals[i] + weight * ratio[i]`` in one pass: the same arithmetic as :func:`indicator_ratios`."""
    bench, cap, w = mark.benchmark, ind.cap, ind.weight
    if bench is None or bench <= 0:
        return [t + 0.0 for t in totals]
    fill = w * (indicator_ratios(ind, (), mark)[1])
    return [t + w * (x if (x := v / bench) < cap else cap) if v is not None else t + fill
            for t, v in zip(totals, values)]


def missing_note(ind: Indicator, num, den, mark: GroupBenchmark) -> str:
    """The explain flag of an unusable value: what is wrong, and what was done about it."""
    what = _input_problem(ind, num, den)
    if ind.missing == "group_average" and mark.mean is not None:
        return f"{what}: group average {mark.mean:.6g} used"
    return f"{what}: 0 points"


def _score_group(g: Group, rows: list, bonuses: dict, method: Method, year: int, blacklist, detail: bool) -> tuple:
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
        mark = group_benchmark(ind, values, rows)
        totals = add_points(totals, ind, values, mark)   # the same additions, in the same order, as sum(points)
        marks.append(mark)
        if k in tie:
            tie_values[k] = values
        if not detail:
            continue
        ratios, _, bench_note = indicator_ratios(ind, values, mark)
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
    got = [bonuses.get(u) for u in usccs]
    bonus_pts = [b.points if b is not None else 0.0 for b in got]
    scores = [round(s + p, ndigits) if p else s for s, p in zip(base, bonus_pts)]
    order, scores = _rank(scores, base, [tie_values[k] for k in tie], usccs)

    grades = method.grades
    gbr: list = []
    before = 0
    for grade, upto in method.bands:
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
    # base = score where no points were added (the same float), so only bonus firms read base again
    base = [s if not b else base[i] for s, b, i in zip(scores, bonus_pts, order)]
    rows = pick(rows) if detail else [None] * n
    final = list(gbr)
    vetoes: list = [None] * n
    veto_grade = method.veto_grade
    for p in incident:
        vetoes[p] = f"major safety or environmental incident in {year}: grade {veto_grade}"
    if method.veto_blacklist and blacklist:
        for p in [p for p, u in enumerate(usccs) if u in blacklist]:
            listed = f"on the credit blacklist: grade {veto_grade}"
            vetoes[p] = f"{vetoes[p]}; {listed}" if vetoes[p] else listed
    for p in [p for p, b in enumerate(got) if b is not None and b.uplift]:
        final[p] = grades[max(0, grades.index(gbr[p]) - got[p].uplift)]
    for p in [p for p, why in enumerate(vetoes) if why]:
        final[p] = veto_grade
    counts = dict.fromkeys(grades, 0)
    for grade in grades:
        counts[grade] = final.count(grade)

    part = {
        "uscc": usccs, "group": [g.id] * n, "rank": range(1, n + 1), "base_score": base,
        "bonus_points": bonus_pts, "score": scores, "grade_by_rank": gbr, "grade": final,
        "bonus_reason": [b.reason if b is not None else None for b in got],
        "veto_reason": vetoes, "not_graded_reason": [None] * n,
        "values": pick(list(zip(*value_cols))) if detail else [None] * n,
        "ratios": pick(list(zip(*ratio_cols))) if detail else [None] * n,
        "points": pick(list(zip(*point_cols))) if detail else [None] * n,
        "flags": [tuple(flagged[i]) if i in flagged else None for i in order] if detail else [None] * n,
        "bonus_batches": [b.batch_ids if b is not None else () for b in got],
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
    digits = _code_digits(code)
    for prefix in method.industry_codes:
        if digits.startswith(prefix):
            return f"industry {code} is not graded ({', '.join(method.industry_names)})"
    return None


def _young_reason(founded: str, cutoff: str, method: Method, year: int) -> str:
    return (f"founded {founded}, less than {method.min_years_since_founding} years before the end of {year} "
            f"(graded if founded on or before {cutoff})")


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


# --------------------------------------------------------------------------- plain-data helpers
def firm_row(firm: Mapping) -> tuple:
    """A :data:`FIRM_FIELDS` tuple from a dict (missing keys are None)."""
    return tuple(firm.get(f) for f in FIRM_FIELDS)


def score_dicts(firms: Iterable[Mapping], designations: Iterable[Mapping], rules: Mapping | Method, year: int,
                *, blacklist=None) -> Scoring:
    """:func:`score_firms` over dicts and rule-file data: the convenient form for tests and scripts."""
    method = rules if isinstance(rules, Method) else compile_rules(rules)
    return score_firms([firm_row(f) for f in firms], designations, method, year, blacklist=blacklist)


def explain_indicators(group: Group, row: Sequence, marks: Sequence[GroupBenchmark]) -> list[dict]:
    """Per-indicator detail for one firm, recomputed from its stored inputs and the run's benchmarks
    with the same functions :func:`score_firms` uses (so the points add up to the stored base score)."""
    out = []
    for ind, mark in zip(group.indicators, marks):
        values = indicator_values(ind, [row])
        num, den = indicator_inputs(ind, row)
        ratios, _, bench_note = indicator_ratios(ind, values, mark)
        note = missing_note(ind, num, den, mark) if values[0] is None else ""
        if bench_note:
            note = f"{note}; {bench_note}" if note else bench_note
        inputs = {ind.numerator: num}
        if ind.denominator:
            inputs[ind.denominator] = den
        out.append({"item": ind.id, "label": ind.label,
                    "formula": f"{ind.numerator} / {ind.denominator}" if ind.denominator else ind.numerator,
                    "inputs": inputs, "value": values[0], "benchmark": mark.benchmark, "benchmark_kind": mark.kind,
                    "ratio": ratios[0], "cap": ind.cap, "weight": ind.weight, "points": ind.weight * ratios[0],
                    "note": note})
    return out
