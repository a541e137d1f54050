"""Scoring rule files compiled into plain data: :func:`compile_rules` (rule-file data -> :class:`Method`).

The schema (``schemas/scoring-rules.schema.json``) checks each field; this module checks what a
schema cannot (distinct ids, bands in increasing order, names that refer to something, finite
numbers) and turns the file into frozen dataclasses the computation (:mod:`kqtools.scoring`)
reads. ``kq rules check scoring FILE`` and ``kq score run`` both run exactly this function, so a
file one accepts the other accepts.

Old rule files keep working: a ``[bonus]`` section (the 专精特新 bonus of seed 004) becomes
designation adjustments in a category ``bonus`` (highest tier only unless ``stack``), with the
same points, uplifts and reasons as before. Standard library only.
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Mapping

from .errors import KqtoolsError
from .i18n import _

METRIC_FIELDS = ("land_mu", "revenue", "tax", "value_added", "energy_tce", "electricity_kwh",
                 "emissions_t", "rd_expense", "employees")
#: Metric fields added for groups and adjustments (migration 0009); loaded only when the rules read them.
EXTRA_FIELDS = ("key_polluter", "renter", "rented_out_mu", "safety_incident", "env_penalty", "emissions_over_quota")
#: Order of the fields in a firm row (a row may stop after the metric fields when the rules read no extra field).
FIRM_FIELDS = ("uscc", "name", "district", "industry_code", "size_class", "founded_on", "incident") \
    + METRIC_FIELDS + EXTRA_FIELDS
IDX = {f: i for i, f in enumerate(FIRM_FIELDS)}
#: Fields an adjustment condition may read (numbers and 0/1 flags of the metrics row).
CONDITION_FIELDS = ("incident",) + METRIC_FIELDS + EXTRA_FIELDS
NOT_GRADED = "T"
BENCHMARK_KINDS = ("group_average", "group_pooled", "previous_year_average", "fixed")
MISSING = ("zero", "group_average", "group_average_points", "not_graded")
SCOPES = ("all", "district")
_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq, "!=": operator.ne}
_AS_OF = re.compile(r"^(Y|Y\+1|\d{4})-(\d{2})-(\d{2})$")


class ScoringRulesError(KqtoolsError, ValueError):
    """A rule file that passes the schema but cannot work (duplicate ids, bands out of order...)."""


# --------------------------------------------------------------------------- compiled rules
@dataclass(frozen=True)
class Benchmark:
    """What an indicator's value is divided by."""
    kind: str                       # one of BENCHMARK_KINDS
    factor: float = 1.0             # previous_year_average: factor × last year's average of the group
    value: float | None = None      # fixed: the published value (for firms of no listed industry)
    industries: tuple[tuple[str, str, float], ...] = ()   # fixed: (code digits, as written, value), longest first

    def fixed_for(self, industry_code) -> tuple[float, str | None]:
        """(value, the industry prefix as written or None) of a fixed benchmark for a firm."""
        if self.industries and industry_code:
            digits = code_digits(industry_code)
            for prefix, written, value in self.industries:
                if digits.startswith(prefix):
                    return value, written
        return self.value, None


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    numerator: str
    denominator: str | None
    weight: float
    cap: float | None               # largest ratio counted; None = no cap
    benchmark: Benchmark
    missing: str                    # one of MISSING
    scale: float = 1.0              # value = numerator / denominator × scale (units: per 万 kWh …)

    @property
    def formula(self) -> str:
        f = f"{self.numerator} / {self.denominator}" if self.denominator else self.numerator
        return f"{f} × {_num(self.scale)}" if self.scale != 1 else f


@dataclass(frozen=True)
class Group:
    id: str
    label: str
    size_class: tuple[str, ...]
    min_land_mu: float | None
    indicators: tuple[Indicator, ...]
    industry_prefixes: tuple[str, ...] = ()      # code digits; empty = any industry
    industry_names: tuple[str, ...] = ()         # as written in the rule file
    key_polluter: bool | None = None             # True: only 重点排污单位; False: only others; None: any
    renter: bool | None = None                   # likewise for firms on rented premises (租赁企业)
    min_years_since_founding: int | None = None  # in production at least N years (founded by 31 Dec Y-N)
    min_land_by_size: tuple[tuple[str, float], ...] = ()   # min_land_mu = {below = 3}: a minimum per size class
    bands: tuple[tuple[str, Fraction], ...] | None = None   # the group's own grade bands (None: the file's)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Metric fields the group's indicators read, in first-use order."""
        seen: list[str] = []
        for ind in self.indicators:
            for f in (ind.numerator, ind.denominator):
                if f and f not in seen:
                    seen.append(f)
        return tuple(seen)

    @property
    def simple(self) -> bool:
        """Only size class and land decide membership (the fast path of the classification)."""
        return not self.industry_prefixes and self.key_polluter is None and self.renter is None \
            and self.min_years_since_founding is None and not self.min_land_by_size

    def criteria(self) -> str:
        """Who belongs, in words (for the reason of a firm in no group)."""
        parts = [f"size class {'/'.join(self.size_class) or 'any'}"]
        if self.min_land_mu is not None:
            parts.append(f"land >= {_num(self.min_land_mu)} mu")
        for size, mu in self.min_land_by_size:
            parts.append(f"land >= {_num(mu)} mu if {size}")
        if self.industry_names:
            parts.append(f"industry {'/'.join(self.industry_names)}")
        if self.key_polluter is not None:
            parts.append("a key polluter" if self.key_polluter else "not a key polluter")
        if self.renter is not None:
            parts.append("on rented premises" if self.renter else "not on rented premises")
        if self.min_years_since_founding is not None:
            parts.append(f"founded at least {self.min_years_since_founding} years before the end of the year")
        return " and ".join(parts)


@dataclass(frozen=True)
class Category:
    """A category of adjustments (加分项 / 减分项): its total is kept within ±cap; ``best_only``:
    only the first applicable item (in rule order) counts, the others are named as not added."""
    id: str
    label: str
    cap: float | None = None
    best_only: bool = False


@dataclass(frozen=True)
class Adjustment:
    """One 加分项 or 减分项: a condition and the points (±) and/or grade uplift it gives."""
    id: str
    label: str | None               # None: reasons without a label (as the [bonus] section of older files wrote them)
    category: str                   # "" = no category
    points: float
    uplift: int
    groups: tuple[str, ...]         # empty = every group
    # a designation held: kind, levels (empty = any), recognized in the window and in force at the end of Y
    kind: str | None = None
    levels: tuple[str, ...] = ()
    window_years: int = 3
    # or a metric condition: metric [÷ per] OP value; no op = the field is set and not 0
    metric: str | None = None
    per: str | None = None
    op: str | None = None
    value: float | None = None

    def applies_to(self, group_id: str) -> bool:
        return not self.groups or group_id in self.groups

    def condition(self) -> str:
        """The condition in words: ``rd_expense / revenue >= 0.03``, ``zjtx provincial``."""
        if self.kind is not None:
            return f"{self.kind} {'/'.join(self.levels) or 'any level'} recognized in the last {self.window_years} years"
        what = f"{self.metric} / {self.per}" if self.per else self.metric
        return f"{what} {self.op} {_num(self.value)}" if self.op else f"{what} set"


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
    adjustments: tuple[Adjustment, ...] = ()
    categories: dict = field(default_factory=dict)  # id -> Category
    veto_incident: bool = True
    veto_blacklist: bool = True
    veto_grade: str = "D"
    credit_as_of: str = "Y-12-31"                  # the blacklist's date: Y-MM-DD, Y+1-MM-DD or a fixed date
    scope: str = "all"                             # rank, grade and benchmark within: all | district
    not_graded_renters: bool = False
    source: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def grades(self) -> tuple[str, ...]:
        return tuple(g for g, _ in self.bands)

    @property
    def designation_kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.kind for a in self.adjustments if a.kind is not None))

    @property
    def window_years(self) -> int:
        """The longest window of the designation adjustments (0: none)."""
        return max((a.window_years for a in self.adjustments if a.kind is not None), default=0)

    @property
    def needs_previous_year(self) -> bool:
        return any(ind.benchmark.kind == "previous_year_average" for g in self.groups for ind in g.indicators)

    def fields(self) -> set[str]:
        """The firm fields a run must load (the others may be NULL)."""
        used = {"land_mu"}
        for g in self.groups:
            used.update(g.inputs)
            if g.industry_prefixes:
                used.add("industry_code")
            if g.key_polluter is not None:
                used.add("key_polluter")
            if g.renter is not None:
                used.add("renter")
            if g.min_years_since_founding is not None:
                used.add("founded_on")
            if any(ind.benchmark.industries for ind in g.indicators):
                used.add("industry_code")
        for a in self.adjustments:
            used.update(f for f in (a.metric, a.per) if f)
        if self.industry_codes:
            used.add("industry_code")
        if self.min_years_since_founding:
            used.add("founded_on")
        if self.not_graded_renters:
            used.add("renter")
        if self.scope == "district":
            used.add("district")
        return used

    def credit_date(self, year: int) -> str:
        """The date the blacklist veto is taken as of, for evaluation year ``year`` (ISO)."""
        m = _AS_OF.match(self.credit_as_of)
        y = year if m.group(1) == "Y" else year + 1 if m.group(1) == "Y+1" else int(m.group(1))
        return f"{y:04d}-{m.group(2)}-{m.group(3)}"


def code_digits(code: str | None) -> str:
    """GB/T 4754 code without its section letter: 'D4411' -> '4411', '4411' -> '4411'."""
    code = (code or "").strip().upper()
    return code[1:] if code[:1].isalpha() else code


def _num(x) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


# --------------------------------------------------------------------------- compile
def compile_rules(data: Mapping) -> Method:
    """Turn schema-validated rule-file data into a :class:`Method`; checks what a schema cannot."""
    _finite(data, "")
    default_missing = data.get("missing", "zero")
    default_cap = _cap(data.get("cap", 2))
    groups, group_ids, warnings = [], set(), []
    for g in data["groups"]:
        if g["id"] in group_ids:
            raise ScoringRulesError(_("groups: duplicate group id {id!r}").format(id=g['id']))
        group_ids.add(g["id"])
        inds, ind_ids = [], set()
        for ind in g["indicators"]:
            if ind["id"] in ind_ids:
                raise ScoringRulesError(_("groups.{id}: duplicate indicator id {id2!r}").format(
                                            id=g['id'], id2=ind['id']))
            ind_ids.add(ind["id"])
            where = f"groups.{g['id']}.{ind['id']}"
            inds.append(Indicator(
                ind["id"], ind.get("label", ind["id"]), ind["numerator"], ind.get("denominator"),
                float(ind["weight"]), _cap(ind["cap"]) if "cap" in ind else default_cap,
                _benchmark(ind.get("benchmark", "group_average"), where), ind.get("missing", default_missing),
                float(ind.get("scale", 1))))
            if inds[-1].missing == "group_average" and inds[-1].benchmark.industries:
                raise ScoringRulesError(_("{where}: missing = \"group_average\" needs one benchmark for the "
                                          "group, not one per industry; use \"group_average_points\"").format(
                                            where=where))
        total = math.fsum(i.weight for i in inds)
        if abs(total - 100) > 1e-9:
            warnings.append(_("group {id}: the weights add up to {value}, not 100").format(
                                id=g['id'], value=_num(round(total, 6))))
        prefixes = tuple(g.get("industry_prefixes", ()))
        land = g.get("min_land_mu")
        groups.append(Group(
            g["id"], g.get("label", g["id"]), tuple(g.get("size_class", ())),
            None if isinstance(land, Mapping) else land, tuple(inds),
            industry_prefixes=tuple(code_digits(p) for p in prefixes), industry_names=prefixes,
            key_polluter=g.get("key_polluter"), renter=g.get("renter"),
            min_years_since_founding=g.get("min_years_since_founding"),
            min_land_by_size=tuple(sorted((k, float(v)) for k, v in land.items())) if isinstance(land, Mapping)
            else ()))
    tie_break = tuple(data.get("tie_break", ()))
    known = {i.id for g in groups for i in g.indicators}
    for t in tie_break:
        if t not in known:
            raise ScoringRulesError(_("tie_break: {t!r} is not an indicator of any group ({items})").format(
                                        t=t, items=', '.join(sorted(known))))
    bands = _bands(data["grades"]["bands"], "grades.bands")
    grades = [g for g, _ in bands]
    if len(set(grades)) != len(grades) or NOT_GRADED in grades:
        raise ScoringRulesError(_("grades.bands: grades must be distinct and not {not_graded!r}").format(
                                    not_graded=NOT_GRADED))
    for g, spec in zip(groups, data["groups"]):
        if "bands" in spec:
            own = _bands(spec["bands"], f"groups.{g.id}.bands")
            if [x for x, _ in own] != grades:
                raise ScoringRulesError(_("groups.{id}.bands: the grades must be those of [grades] ({items}), "
                                          "in that order; only upto may differ").format(
                                            id=g.id, items=', '.join(grades)))
            groups[groups.index(g)] = replace(g, bands=tuple(own))
    ng = data.get("not_graded", {})
    vetoes = data.get("vetoes", {})
    veto_grade = vetoes.get("grade", grades[-1])
    if veto_grade not in grades:
        raise ScoringRulesError(_("vetoes.grade: {veto_grade!r} is not one of the bands ({items})").format(
                                    veto_grade=veto_grade, items=', '.join(grades)))
    credit_as_of = vetoes.get("credit_as_of", "Y-12-31")
    _check_as_of(credit_as_of)
    categories, adjustments = _adjustments(data, group_ids)
    return Method(
        title=data.get("title", ""),
        groups=tuple(groups),
        bands=tuple(bands),
        decimals=int(data.get("decimals", 4)),
        unmatched=data.get("unmatched", "not_graded"),
        tie_break=tie_break,
        industry_codes=tuple(code_digits(c) for c in ng.get("industry_codes", ())),
        industry_names=tuple(ng.get("industry_codes", ())),
        min_years_since_founding=int(ng.get("min_years_since_founding", 0)),
        excluded={f["uscc"]: f.get("reason", "excluded by the rule file") for f in ng.get("firms", ())},
        adjustments=adjustments,
        categories=categories,
        # an omitted key means the documented default: both vetoes on (docs/scoring.md)
        veto_incident=bool(vetoes.get("incident", True)),
        veto_blacklist=bool(vetoes.get("blacklist", True)),
        veto_grade=veto_grade,
        credit_as_of=credit_as_of,
        scope=data.get("scope", "all"),
        not_graded_renters=bool(ng.get("renters", False)),
        source=data.get("source", ""),
        warnings=tuple(warnings),
    )


def _bands(spec, where: str) -> list[tuple[str, Fraction]]:
    bands, last = [], Fraction(0)
    for b in spec:
        upto = Fraction(repr(float(b["upto"])))
        if upto <= last:
            raise ScoringRulesError(_("{where}: {grade} upto {upto} must be larger than the band before").format(
                                        where=where, grade=b['grade'], upto=b['upto']))
        bands.append((b["grade"], upto))
        last = upto
    if last != 100:
        raise ScoringRulesError(_("{where}: the last band must have upto = 100").format(where=where))
    return bands


def _finite(value, path: str) -> None:
    """Every number of the rule file is finite (TOML allows nan and inf; a schema lets them through)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ScoringRulesError(_("{value}: {value2} is not a finite number").format(
                                    value=path or '(top level)', value2=value))
    if isinstance(value, Mapping):
        for k, v in value.items():
            _finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite(v, f"{path}.{i}")


def _cap(value) -> float | None:
    return None if value == "none" else float(value)


def _benchmark(spec, where: str) -> Benchmark:
    if isinstance(spec, (int, float)):
        return Benchmark("fixed", value=float(spec))
    if isinstance(spec, str):
        return Benchmark(spec)
    kind = spec["kind"]
    if "factor" in spec and kind != "previous_year_average":
        raise ScoringRulesError(_("{where}.benchmark: factor belongs to kind previous_year_average, not {kind}").format(
                                    where=where, kind=kind))
    if ("value" in spec or "industries" in spec) and kind != "fixed":
        raise ScoringRulesError(_("{where}.benchmark: value and industries belong to kind fixed, not {kind}").format(
                                    where=where, kind=kind))
    if kind == "fixed" and "value" not in spec:
        raise ScoringRulesError(_("{where}.benchmark: a fixed benchmark needs its published value").format(
                                    where=where))
    industries = sorted(((code_digits(k), k, float(v)) for k, v in spec.get("industries", {}).items()),
                        key=lambda t: -len(t[0]))
    digits = [d for d, _, _ in industries]
    if len(set(digits)) != len(digits):
        raise ScoringRulesError(_("{where}.benchmark.industries: the same industry prefix twice").format(
                                    where=where))
    return Benchmark(kind, factor=float(spec.get("factor", 1)),
                     value=float(spec["value"]) if "value" in spec else None, industries=tuple(industries))


def _check_as_of(text: str) -> None:
    import datetime as dt

    m = _AS_OF.match(text)
    try:
        dt.date(2024 if m.group(1).startswith("Y") else int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except (AttributeError, ValueError):
        raise ScoringRulesError(_("vetoes.credit_as_of: {text!r} is not a date such as Y-12-31, Y+1-03-31 or "
                                  "2026-03-31").format(text=text)) from None


def _adjustments(data: Mapping, group_ids: set) -> tuple[dict, tuple]:
    categories = {cid: Category(cid, c.get("label", cid), _cap(c["cap"]) if "cap" in c else None,
                                bool(c.get("best_only", False)))
                  for cid, c in data.get("categories", {}).items()}
    items: list[Adjustment] = []
    bonus = data.get("bonus")
    if bonus is not None:   # an old rule file: the 专精特新 bonus as adjustments of a category "bonus"
        if "bonus" in categories:
            raise ScoringRulesError(_("categories.bonus: the name is taken by the [bonus] section"))
        categories["bonus"] = Category("bonus", "专精特新", None, not bonus.get("stack", False))
        kind = bonus.get("kind", "zjtx")
        for lv in bonus.get("levels", ()):
            items.append(Adjustment(f"{kind}_{lv['level']}", None, "bonus", float(lv.get("points", 0)),
                                    int(lv.get("uplift", 0)), (), kind=kind, levels=(lv["level"],),
                                    window_years=int(bonus.get("window_years", 3))))
    for a in data.get("adjustments", ()):
        where = f"adjustments.{a['id']}"
        cat = a.get("category", "")
        if cat and cat not in categories:
            raise ScoringRulesError(_("{where}: category {cat!r} is not declared in [categories] ({value})").format(
                                        where=where, cat=cat, value=', '.join(sorted(categories)) or 'none declared'))
        for g in a.get("groups", ()):
            if g not in group_ids:
                raise ScoringRulesError(_("{where}: group {g!r} is not a group of the rules").format(
                                            where=where, g=g))
        has_designation, has_metric = "designation" in a, "metric" in a
        if has_designation == has_metric:
            raise ScoringRulesError(_("{where}: give either designation (a kind held) or metric (a condition)").format(
                                        where=where))
        if ("op" in a) != ("value" in a):
            raise ScoringRulesError(_("{where}: op and value go together (e.g. op = \">=\", value = 0.03)").format(
                                        where=where))
        if has_designation and any(k in a for k in ("per", "op", "value")):
            raise ScoringRulesError(_("{where}: per, op and value belong to a metric condition").format(
                                        where=where))
        if has_metric and any(k in a for k in ("levels", "window_years")):
            raise ScoringRulesError(_("{where}: levels and window_years belong to a designation condition").format(
                                        where=where))
        if not a.get("points") and not a.get("uplift"):
            raise ScoringRulesError(_("{where}: gives neither points nor an uplift").format(where=where))
        if a.get("uplift") and not has_designation:
            raise ScoringRulesError(_("{where}: a grade uplift is given for a designation held, not a metric").format(
                                        where=where))
        items.append(Adjustment(
            a["id"], a.get("label"), cat, float(a.get("points", 0)), int(a.get("uplift", 0)),
            tuple(a.get("groups", ())), kind=a.get("designation"), levels=tuple(a.get("levels", ())),
            window_years=int(a.get("window_years", 3)), metric=a.get("metric"), per=a.get("per"),
            op=a.get("op"), value=float(a["value"]) if "value" in a else None))
    ids = [a.id for a in items]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup:
        raise ScoringRulesError(_("adjustments: two items share the id {dup!r}").format(dup=dup))
    return categories, tuple(items)


def compare(op: str, x: float, value: float) -> bool:
    """``x OP value`` for the operators a rule file may name."""
    return _OPS[op](x, value)
