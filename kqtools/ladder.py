"""Growth ladders (梯次培育) and cultivation classes (培育对象分类): plain functions over plain data.

The rules (``kqtools/rules/ladder.toml``, validated by ``schemas/ladder-rules.schema.json``) name
the ladders, their tiers bottom to top, the validity of each designation kind where a list gives no
expiry date, and the cultivation classes. This module compiles them and answers, for plain
designation records (dicts with ``kind``, ``level``, ``recognized_on``, ``expires_on`` and, where
known, ``revoked_on``; dates as ISO text):

* **in force** on day D: ``recognized_on <= D <= expires_on`` (the kind's validity when no expiry
  is stored) and not revoked on or before D (``revoked_on`` empty or ``D < revoked_on``);
* a firm's **tier** on a ladder on day D: the highest tier it holds in force;
* the **movement** of a ladder between the same day one year apart, from the counts of
  (tier a year ago, tier now) pairs: ``count = previous + new + promoted + demoted - lost - moved_up``
  per tier row, where ``new`` entered the ladder at the tier, ``promoted`` came from a lower tier,
  ``demoted`` from a higher one (that lapsed), ``lost`` had the tier and now has a lower one or none
  (expired or revoked without renewal), ``moved_up`` had it and now has a higher one; ``at_risk``
  are in force but expire within ``at_risk_days`` with no renewal recorded;
* a firm's **cultivation class** (苏州工业园区: 1 national/provincial 专精特新, 2 city/district,
  3 the cultivation pool): the lowest class whose condition a designation in force meets.

Standard library only (plus :mod:`kqtools.errors`); dates are passed in, never read from a clock.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .errors import KqtoolsError
from .i18n import _

OPEN_END = "9999-12-31"           #: the expiry of a designation valid until revoked
DEFAULT_AT_RISK_DAYS = 180


class LadderRulesError(KqtoolsError, ValueError):
    """Ladder rules that pass the schema but cannot be used (a tier id twice, a kind in two tiers)."""


@dataclass(frozen=True)
class Tier:
    id: str
    ladder: str
    rank: int                       #: 1 = the bottom tier of its ladder
    kind: str
    levels: tuple[str, ...] = ()    #: empty = any level
    label: str = ""
    aliases: tuple[str, ...] = ()

    def matches(self, kind: str, level: str | None) -> bool:
        return kind == self.kind and (not self.levels or (level or "") in self.levels)


@dataclass(frozen=True)
class Ladder:
    id: str
    label: str
    tiers: tuple[Tier, ...]          #: bottom to top
    source: str = ""

    def tier_of(self, kind: str, level: str | None) -> Tier | None:
        for t in self.tiers:
            if t.matches(kind, level):
                return t
        return None

    def tier(self, rank: int | None) -> Tier | None:
        return self.tiers[rank - 1] if rank else None


@dataclass(frozen=True)
class ClassRule:
    number: int
    kind: str
    levels: tuple[str, ...] = ()
    label: str = ""

    def matches(self, kind: str, level: str | None) -> bool:
        return kind == self.kind and (not self.levels or (level or "") in self.levels)


@dataclass(frozen=True)
class LadderRules:
    ladders: tuple[Ladder, ...]
    validity: Mapping[str, int | str] = field(default_factory=dict)
    classes: tuple[ClassRule, ...] = ()
    at_risk_days: int = DEFAULT_AT_RISK_DAYS

    def tiers(self) -> dict[str, Tier]:
        """Every tier by id, in ladder order."""
        return {t.id: t for lad in self.ladders for t in lad.tiers}

    def ladder(self, ladder_id: str) -> Ladder:
        return next(lad for lad in self.ladders if lad.id == ladder_id)

    def tier_names(self) -> dict[str, str]:
        """A lookup from every way a clerk may write a tier (id, label, aliases) to the tier id."""
        out = {}
        for t in self.tiers().values():
            for name in (t.id, t.label, *t.aliases):
                if name:
                    out.setdefault(name_key(name), t.id)
        return out


def name_key(text: str) -> str:
    """Tier names match ignoring width, case, spaces and quotes (“小巨人” = "小巨人" = 小巨人)."""
    import unicodedata

    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return "".join(ch for ch in text if not ch.isspace() and ch not in "\"'“”‘’「」《》")


def compile_rules(data: dict) -> LadderRules:
    """Ladder rules from a parsed, schema-valid rule file; :class:`LadderRulesError` for what the
    schema cannot say (duplicate ids, one kind and level in two tiers of a ladder, class numbers)."""
    ladders, seen_tiers = [], {}
    for lad in data["ladders"]:
        if any(x.id == lad["id"] for x in ladders):
            raise LadderRulesError(_("ladders: ladder id {id!r} given twice").format(id=lad["id"]))
        tiers = []
        for rank, t in enumerate(lad["tiers"], start=1):
            if t["id"] in seen_tiers:
                raise LadderRulesError(_("ladders.{ladder}: tier id {tier!r} is already a tier of ladder {other!r} "
                                         "(tier ids are unique across ladders)")
                                       .format(ladder=lad["id"], tier=t["id"], other=seen_tiers[t["id"]]))
            seen_tiers[t["id"]] = lad["id"]
            tier = Tier(t["id"], lad["id"], rank, t["kind"], tuple(t.get("levels", ())), t.get("label", ""),
                        tuple(t.get("aliases", ())))
            for other in tiers:
                overlap = other.kind == tier.kind and (not other.levels or not tier.levels
                                                       or set(other.levels) & set(tier.levels))
                if overlap:
                    raise LadderRulesError(_("ladders.{ladder}: tiers {a!r} and {b!r} both take kind {kind!r} at the "
                                             "same level: give each its levels")
                                           .format(ladder=lad["id"], a=other.id, b=tier.id, kind=tier.kind))
            tiers.append(tier)
        ladders.append(Ladder(lad["id"], lad.get("label", lad["id"]), tuple(tiers), lad.get("source", "")))
    if len(seen_tiers) >= PROBE_BASE:
        raise LadderRulesError(_("ladders: {n} tiers; at most {most}").format(n=len(seen_tiers), most=PROBE_BASE - 1))
    classes = []
    for c in data.get("classes", ()):   # overlapping conditions are harmless: the lowest class wins
        classes.append(ClassRule(c["class"], c["kind"], tuple(c.get("levels", ())), c.get("label", "")))
    classes.sort(key=lambda c: c.number)
    return LadderRules(tuple(ladders), dict(data.get("validity", {})), tuple(classes),
                       int(data.get("at_risk_days", DEFAULT_AT_RISK_DAYS)))


# ---------------------------------------------------------------- in force
def add_years(day: str, years: int) -> str:
    """The day before the same date ``years`` later, as the import fills in expiry dates (a 3-year
    certificate of 2023-11-06 runs to 2026-11-05); 29 February counts from 28 February."""
    d = dt.date.fromisoformat(day[:10])
    try:
        end = d.replace(year=d.year + years)
    except ValueError:
        end = d.replace(year=d.year + years, day=28)
    return (end - dt.timedelta(days=1)).isoformat()


def expiry(rec: Mapping, validity: Mapping[str, int | str]) -> str:
    """The last day a designation is valid: its ``expires_on``, else from the kind's validity
    (years, ``year-end``), else :data:`OPEN_END` (valid until revoked)."""
    if rec.get("expires_on"):
        return str(rec["expires_on"])[:10]
    rule = validity.get(rec["kind"])
    if isinstance(rule, int):
        return add_years(str(rec["recognized_on"]), rule)
    if rule == "year-end":
        return str(rec["recognized_on"])[:4] + "-12-31"
    return OPEN_END


def in_force(rec: Mapping, day: str, validity: Mapping[str, int | str]) -> bool:
    """Whether a designation is in force on ``day`` (ISO text)."""
    revoked = rec.get("revoked_on")
    return (str(rec["recognized_on"])[:10] <= day <= expiry(rec, validity)
            and (not revoked or day < str(revoked)[:10]))


def year_ago(day: dt.date) -> dt.date:
    """The same date one year earlier (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def tier_on(ladder: Ladder, designations: Iterable[Mapping], day: str,
            validity: Mapping[str, int | str]) -> int | None:
    """The rank of the highest tier of ``ladder`` among a firm's designations in force on ``day``."""
    best = None
    for rec in designations:
        t = ladder.tier_of(rec["kind"], rec.get("level"))
        if t is not None and (best is None or t.rank > best) and in_force(rec, day, validity):
            best = t.rank
    return best


def at_risk(ladder: Ladder, designations: list[Mapping], rank: int, day: str, horizon: str,
            validity: Mapping[str, int | str]) -> bool:
    """Whether a firm at ``rank`` on ``day`` loses it by ``horizon``: every designation of that tier in
    force expires on or before ``horizon``, and none of that tier or higher is recorded after ``day``."""
    last = ""
    for rec in designations:
        t = ladder.tier_of(rec["kind"], rec.get("level"))
        if t is None or t.rank < rank:
            continue
        if str(rec["recognized_on"])[:10] > day and not rec.get("revoked_on"):
            return False                                    # a renewal (or promotion) is recorded
        if t.rank == rank and in_force(rec, day, validity):
            last = max(last, expiry(rec, validity))
    return bool(last) and last <= horizon


# ---------------------------------------------------------------- movement
STATUS_FIELDS = ("ladder", "tier", "label", "district", "count", "previous", "new", "promoted", "demoted", "lost",
                 "moved_up", "at_risk")


def movement(ladder: Ladder, transitions: Iterable[tuple], by_district: bool = False) -> list[dict]:
    """Status rows of one ladder from the counts of firms per (district, rank a year ago, rank now,
    at risk): ``transitions`` are tuples ``(district, then_rank, now_rank, at_risk, firms)`` with
    ranks ``None`` off the ladder. One row per tier (per district when ``by_district``, else the
    district is ``None``), bottom tier first; every tier appears, with zeros where nothing moved."""
    rows: dict[tuple, dict] = {}

    def row(district, rank):
        key = (district, rank)
        if key not in rows:
            t = ladder.tiers[rank - 1]
            rows[key] = {"ladder": ladder.id, "tier": t.id, "label": t.label, "district": district, "count": 0,
                         "previous": 0, "new": 0, "promoted": 0, "demoted": 0, "lost": 0, "moved_up": 0, "at_risk": 0}
        return rows[key]

    districts = set()
    for district, then, now, risky, firms in transitions:
        district = district if by_district else None
        districts.add(district)
        if now:
            r = row(district, now)
            r["count"] += firms
            if risky:
                r["at_risk"] += firms
            if not then:
                r["new"] += firms
            elif then < now:
                r["promoted"] += firms
            elif then > now:
                r["demoted"] += firms
        if then:
            r = row(district, then)
            r["previous"] += firms
            if not now or now < then:
                r["lost"] += firms
            elif now > then:
                r["moved_up"] += firms
    if not districts:
        districts.add(None)
    for d in districts:
        for t in ladder.tiers:
            row(d, t.rank)
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0] is None, k[0] or "", k[1]))]


def firm_transitions(ladder: Ladder, firms: Mapping[str, list[Mapping]], districts: Mapping[str, str | None],
                     as_of: dt.date, at_risk_days: int, validity: Mapping[str, int | str]) -> list[tuple]:
    """The ``movement`` input computed firm by firm from their designations (the reference the
    database query is checked against, and the way for small sets)."""
    now, then = as_of.isoformat(), year_ago(as_of).isoformat()
    horizon = (as_of + dt.timedelta(days=at_risk_days)).isoformat()
    counts: dict[tuple, int] = {}
    for uscc, recs in firms.items():
        n, p = tier_on(ladder, recs, now, validity), tier_on(ladder, recs, then, validity)
        if n is None and p is None:
            continue
        risky = bool(n) and at_risk(ladder, recs, n, now, horizon, validity)
        key = (districts.get(uscc), p, n, risky)
        counts[key] = counts.get(key, 0) + 1
    return [(*k, v) for k, v in counts.items()]


# ---------------------------------------------------------------- signatures
# A database scan describes each firm by a *signature*: one character per designation row and
# probe the row passes, ``chr(256 × (probe + 1) + tier code)`` (tier codes: 1.. in ladder order,
# 0 = on no ladder). Firms with the same designations-by-date pattern share a signature, so the
# query returns a few thousand (signature, firms) counts for a million firms, and these functions
# read each distinct signature once.
THEN, NOW_EXPIRING, NOW_SAFE, LATER = range(4)   #: the probes of ladder status
PROBE_BASE = 256


def tier_codes(rules: LadderRules) -> dict[str, int]:
    """tier id -> its code in signatures (1, 2, … in ladder order)."""
    return {t: i for i, t in enumerate(rules.tiers(), start=1)}


def read_signature(signature: str | None) -> frozenset[tuple[int, int]]:
    """The (probe, tier code) pairs of a signature."""
    return frozenset((ord(ch) // PROBE_BASE - 1, ord(ch) % PROBE_BASE) for ch in signature or "")


def transitions_of(rules: LadderRules, hits: frozenset[tuple[int, int]]) -> list[tuple[int | None, int | None, bool]]:
    """Per ladder (in rule order): (rank a year ago, rank now, at risk) of a firm whose signature has
    ``hits`` for the probes :data:`THEN`, :data:`NOW_EXPIRING` (in force now, expiring within the
    at-risk days), :data:`NOW_SAFE` (in force now and after) and :data:`LATER` (recognized after now,
    not revoked): the same answer as :func:`tier_on` and :func:`at_risk` row by row."""
    codes = tier_codes(rules)
    out = []
    for lad in rules.ladders:
        rank = {codes[t.id]: t.rank for t in lad.tiers}
        then = [rank[c] for p, c in hits if p == THEN and c in rank]
        now = [rank[c] for p, c in hits if p in (NOW_EXPIRING, NOW_SAFE) and c in rank]
        n = max(now) if now else None
        risky = False
        if n is not None:
            safe = any(p == NOW_SAFE and rank.get(c) == n for p, c in hits)
            renewed = any(p == LATER and rank.get(c, 0) >= n for p, c in hits)
            risky = not safe and not renewed
        out.append((max(then) if then else None, n, risky))
    return out


# ---------------------------------------------------------------- classes
CLASS_FIELDS = ("uscc", "name", "district", "class", "label", "reason", "kind", "level", "recognized_on",
                "expires_on")

_LEVEL_CN = {"national": "国家级", "provincial": "省级", "city": "市级", "district": "区级"}
_KIND_CN = {"zjtx": "专精特新", "pool": "入库培育企业", "hte": "高新技术企业", "tsme": "科技型中小企业",
            "innovative_sme": "创新型中小企业", "gazelle": "瞪羚企业", "unicorn": "独角兽企业",
            "potential_unicorn": "潜在独角兽企业", "tass": "技术先进型服务企业"}


def classify(designations: Iterable[Mapping], day: str, rules: LadderRules) -> dict | None:
    """A firm's cultivation class on ``day`` with the designation behind it, or ``None`` (out of
    scope). The lowest class number whose condition a designation in force meets; among that
    class's designations the one valid longest is named."""
    best = None
    for rec in designations:
        rule = next((c for c in rules.classes if c.matches(rec["kind"], rec.get("level"))), None)
        if rule is None or not in_force(rec, day, rules.validity):
            continue
        end = expiry(rec, rules.validity)
        key = (rule.number, _neg(end))
        if best is None or key < best[0]:
            best = (key, rule, rec, end)
    if best is None:
        return None
    _, rule, rec, end = best
    level = rec.get("level") or ""
    what = _LEVEL_CN.get(level, level) + _KIND_CN.get(rec["kind"], rec["kind"])
    until = "valid until revoked" if end == OPEN_END else f"in force to {end}"
    return {"class": rule.number, "label": rule.label, "kind": rec["kind"], "level": level,
            "recognized_on": str(rec["recognized_on"])[:10], "expires_on": None if end == OPEN_END else end,
            "reason": f"{what} recognized {str(rec['recognized_on'])[:10]}, {until}"}


def _neg(day: str) -> str:
    """A key that sorts later dates first."""
    return "".join(chr(0x7F - ord(ch)) for ch in day)


# ---------------------------------------------------------------- spans (the stored per-firm periods)
# ``kq ladder status`` and ``kq targets progress`` read, per firm, the periods over which its tier is
# constant instead of its designations (``kqtools.storage.ladder_spans`` keeps them up to date):
# *top spans* (per ladder, the highest tier in force) and *tier spans* (per tier, the days a
# designation of it is in force, overlapping and adjoining designations merged).
_OPEN_ORD = dt.date.fromisoformat(OPEN_END).toordinal()


def _ord(day: str) -> int:
    return dt.date.fromisoformat(str(day)[:10]).toordinal()


def _iso(n: int) -> str:
    return OPEN_END if n >= _OPEN_ORD else dt.date.fromordinal(n).isoformat()


def in_force_period(rec: Mapping, validity: Mapping[str, int | str]) -> tuple[int, int] | None:
    """(first, last) day ordinals on which a designation is in force, or None (revoked before it began)."""
    first, last = _ord(rec["recognized_on"]), _ord(expiry(rec, validity))
    if rec.get("revoked_on"):
        last = min(last, _ord(rec["revoked_on"]) - 1)
    return (first, last) if first <= last else None


def merged(periods: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Periods (first, last) merged where they overlap or adjoin, in order."""
    out: list[list[int]] = []
    for first, last in sorted(periods):
        if out and first <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], last)
        else:
            out.append([first, last])
    return [(a, b) for a, b in out]


def top_periods(ranked: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """(rank, first, last) of the periods over which the highest rank of ``ranked`` (rank, first,
    last) in force is constant, in order; days without any are in no period."""
    events: dict[int, list[int]] = {}
    for rank, first, last in ranked:
        events.setdefault(first, []).append(rank)
        events.setdefault(last + 1, []).append(-rank)
    held: dict[int, int] = {}
    out: list[list[int]] = []
    current = None
    for day in sorted(events):
        for r in events[day]:
            held[abs(r)] = held.get(abs(r), 0) + (1 if r > 0 else -1)
        top = max((r for r, n in held.items() if n > 0), default=None)
        if top == current:
            continue
        if current is not None:
            out[-1][2] = day - 1
        if top is not None:
            out.append([top, day, day])
        current = top
    return [(r, a, b) for r, a, b in out]


def span_lookup(rules: LadderRules) -> dict[str, list[tuple]]:
    """kind -> [(levels or empty = any, ladder id, rank, tier id, tier code)]: the tiers a designation
    of that kind can be, for :func:`firm_spans` (made once per build)."""
    codes = tier_codes(rules)
    out: dict[str, list[tuple]] = {}
    for lad in rules.ladders:
        for t in lad.tiers:
            out.setdefault(t.kind, []).append((frozenset(t.levels), lad.id, t.rank, t.id, codes[t.id]))
    return out


@functools.lru_cache(maxsize=65536)
def _day_ord(day: str) -> int:
    return dt.date.fromisoformat(day[:10]).toordinal()


@functools.lru_cache(maxsize=65536)
def _day_iso(n: int) -> str:
    return _iso(n)


def firm_spans(rules: LadderRules, recs: Iterable, lookup: Mapping | None = None) -> tuple[list, list, bool]:
    """A firm's stored periods from its designations (mappings, or tuples ``(kind, level,
    recognized_on, expires_on, revoked_on)``): ``(top, tiers, regular)``.

    * ``top``: ``(ladder id, rank, first, last, renewed)`` per ladder, the periods of constant highest
      tier (:func:`tier_on` on any day inside), ``renewed`` the latest ``recognized_on`` of the firm's
      designations of that tier or higher (the renewal test of :func:`at_risk`);
    * ``tiers``: ``(tier code, first, last)``, the merged periods a designation of the tier is in force;
    * ``regular``: False when a designation of a ladder tier carries ``revoked_on``: :func:`at_risk`
      is then not a function of the periods, and ``ladder status`` takes the firm row by row.

    Days are ISO text (:data:`OPEN_END` for valid until revoked)."""
    lookup = lookup if lookup is not None else span_lookup(rules)
    per_tier: dict[int, list] = {}
    on_ladder: dict[str, list] = {}
    regular = True
    for rec in recs:
        if type(rec) is not tuple:
            rec = (rec["kind"], rec.get("level"), rec["recognized_on"], rec.get("expires_on"), rec.get("revoked_on"))
        kind, level, recognized, expires, revoked = rec
        tiers = lookup.get(kind)
        if not tiers:
            continue
        recognized = str(recognized)[:10]
        first = _day_ord(recognized)
        if expires:
            last = _day_ord(str(expires))
        else:
            rule = rules.validity.get(kind)
            last = (_day_ord(add_years(recognized, rule)) if isinstance(rule, int)
                    else _day_ord(recognized[:4] + "-12-31") if rule == "year-end" else _OPEN_ORD)
        if revoked:
            regular = False
            last = min(last, _day_ord(str(revoked)) - 1)
        period = (first, last) if first <= last else None
        matched = None
        for levels, lad_id, rank, _, code in tiers:      # the first tier that matches, per ladder
            if lad_id == matched or (levels and (level or "") not in levels):
                continue
            matched = lad_id
            on_ladder.setdefault(lad_id, []).append((rank, recognized, period))
            if period:
                per_tier.setdefault(code, []).append(period)
    tier_rows = [(code, _day_iso(a), _day_iso(b)) for code, ps in per_tier.items() for a, b in merged(ps)]
    top = []
    for lad_id, rows in on_ladder.items():
        ranks = {r for r, _, p in rows if p}
        if len(ranks) == 1:             # one tier: its merged periods (most firms)
            (rank,) = ranks
            renewed = max(rec for r, rec, _ in rows if r >= rank)
            periods = [(rank, a, b) for a, b in merged(p for _, _, p in rows if p)]
        else:
            periods = top_periods((r, *p) for r, _, p in rows if p)
            renewed = None
        for rank, first, last in periods:
            top.append((lad_id, rank, _day_iso(first), _day_iso(last),
                        renewed or max(rec for r, rec, _ in rows if r >= rank)))
    return top, tier_rows, regular
