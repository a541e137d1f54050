"""Database glue for the growth ladder: status and movement, cultivation classes, next-tier candidates.

The rules live in :mod:`kqtools.ladder` and :mod:`kqtools.candidates`; this module loads the
designations and metrics and hands them over. ``ladder status`` and ``targets progress`` must
answer for a million firms in seconds, so their per-firm step is one aggregate query over the
``designations_ladder`` index (migration 0015: designations in uscc order, covering every column
read): per firm and ladder, the highest tier in force on each date (``max`` over the tier's rank),
built from the same rule data the pure functions use; only the counts per (district, tier a year
ago, tier now, at risk) come back, and :func:`kqtools.ladder.movement` turns them into rows. The
pure :func:`kqtools.ladder.firm_transitions` computes the same counts firm by firm; a property
test holds the two to the same answers.

``revoked_on`` (a designation revoked before its expiry) is read when the designations table has
the column (it arrives with the scoring capability's migration) and taken as empty otherwise.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .. import candidates as C
from .. import ladder as L
from ..errors import KqtoolsError
from ..i18n import _


class LadderError(KqtoolsError):
    """A ladder question that cannot be answered (an unknown tier, no thresholds for it)."""


@dataclass(frozen=True)
class LadderSetup:
    """Everything the ladder rules say, compiled: where they came from and their parts."""
    name: str
    sha256: str
    rules: L.LadderRules
    candidates: dict
    flags: tuple
    data: dict = field(repr=False, default_factory=dict)


def compile_setup(data: dict) -> tuple:
    """(ladder rules, candidate rules by tier, watch flags) from validated ladder rule data: the
    compile step of the ``ladder`` rule kind (``kq rules check ladder`` runs it too)."""
    from .. import watch as W

    rules = L.compile_rules(data)
    return rules, C.compile_candidates(data.get("candidates"), set(rules.tiers())), W.compile_flags(data.get("watch"))


def load_setup(rules_name: str | None = None) -> LadderSetup:
    """The ladder rules (``kqtools/rules/ladder.toml`` or a file), validated and compiled;
    :class:`kqtools.rules.RulesError` naming the file for anything unusable."""
    from ..rules import load_compiled

    r, (rules, cands, flags) = load_compiled("ladder", rules_name)
    return LadderSetup(r.name, r.sha256, rules, cands, flags, r.data)


# ---------------------------------------------------------------- SQL built from the rules
def revoked_column(db) -> str:
    """``d.revoked_on`` when the designations table has that column, else ``NULL``."""
    cols = {row[1] for row in db.conn.execute("PRAGMA table_info(designations)")}
    return "d.revoked_on" if "revoked_on" in cols else "NULL"


def lit(text: str) -> str:
    """A SQL string literal (kinds, levels and tier ids come from schema enumerations anyway)."""
    return "'" + str(text).replace("'", "''") + "'"


def match_sql(kind: str, levels: tuple[str, ...] = ()) -> str:
    """The condition that a designation row ``d`` is of ``kind`` (at one of ``levels``)."""
    cond = f"d.kind = {lit(kind)}"
    if levels:
        cond += f" AND d.level IN ({', '.join(lit(v) for v in levels)})"
    return f"({cond})"


def end_sql(validity: dict) -> str:
    """The last day a row ``d`` is valid, as :func:`kqtools.ladder.expiry` computes it."""
    whens = []
    for kind, rule in sorted(validity.items()):
        if isinstance(rule, int):
            plus = f"date(d.recognized_on, '+{rule} years')"
            whens.append(f"WHEN {lit(kind)} THEN CASE WHEN substr(d.recognized_on, 6, 5) = '02-29' AND "
                         f"substr({plus}, 6, 5) = '03-01' THEN date(d.recognized_on, '+{rule} years', '-2 days') "
                         f"ELSE date(d.recognized_on, '+{rule} years', '-1 day') END")
        elif rule == "year-end":
            whens.append(f"WHEN {lit(kind)} THEN substr(d.recognized_on, 1, 4) || '-12-31'")
    fallback = f"CASE d.kind {' '.join(whens)} ELSE {lit(L.OPEN_END)} END" if whens else lit(L.OPEN_END)
    return f"coalesce(d.expires_on, {fallback})"


def in_force_sql(param: str, validity: dict, revoked: str) -> str:
    """The condition that row ``d`` is in force on the date bound to ``:param``."""
    rev = f" AND ({revoked} IS NULL OR {revoked} > :{param})" if revoked != "NULL" else ""
    return f"(d.recognized_on <= :{param} AND {end_sql(validity)} >= :{param}{rev})"


def rank_sql(ladder: L.Ladder) -> str:
    """The rank of row ``d`` on ``ladder`` as one character ('1' bottom), NULL off the ladder."""
    whens = " ".join(f"WHEN {match_sql(t.kind, t.levels)} THEN '{t.rank}'" for t in ladder.tiers)
    return f"CASE {whens} END"


def tier_code_sql(rules: L.LadderRules) -> str:
    """The signature tier code of row ``d`` (:func:`kqtools.ladder.tier_codes`), 0 on no ladder."""
    codes = L.tier_codes(rules)
    by_kind: dict[str, list] = {}
    for t in rules.tiers().values():
        by_kind.setdefault(t.kind, []).append(t)
    whens = []
    for kind, tiers in by_kind.items():
        if len(tiers) == 1 and not tiers[0].levels:
            whens.append(f"WHEN {lit(kind)} THEN {codes[tiers[0].id]}")
        else:
            inner = " ".join(f"WHEN {lit(v)} THEN {codes[t.id]}" for t in tiers for v in t.levels)
            whole = next((t for t in tiers if not t.levels), None)
            whens.append(f"WHEN {lit(kind)} THEN CASE d.level {inner} ELSE {codes[whole.id] if whole else 0} END")
    return f"CASE d.kind {' '.join(whens)} ELSE 0 END"


def probe_sql(probe: int, tier_code: str) -> str:
    return f"char({L.PROBE_BASE * (probe + 1)} + {tier_code})"


def signature_counts(db, select: str, params: dict, by_district: bool, where: str = "") -> list[tuple]:
    """(district or None, signature, firms) from one pass over the designations index: ``select`` is
    the per-row signature expression (see :mod:`kqtools.ladder`), ``where`` prunes rows that can
    pass no probe. Firms are grouped in SQL by (district, signature): a few thousand rows come back."""
    firms = (f"SELECT d.uscc AS uscc, group_concat({select}, '') AS s FROM designations d "
             f"INDEXED BY designations_ladder {('WHERE ' + where) if where else ''} GROUP BY d.uscc")
    if by_district:
        sql = (f"SELECT e.district, f.s, count(*) FROM ({firms}) f LEFT JOIN enterprises e ON e.uscc = f.uscc "
               f"GROUP BY 1, 2")
    else:
        sql = f"SELECT NULL, f.s, count(*) FROM ({firms}) f GROUP BY 2"
    return db.conn.execute(sql, params).fetchall()


def ladder_kinds(ladders) -> list[str]:
    return sorted({t.kind for lad in ladders for t in lad.tiers})


# ---------------------------------------------------------------- status
@dataclass
class LadderStatus:
    """``kq ladder status``: one row per ladder, tier (and district), with the movement in the year."""
    as_of: dt.date
    compared_with: dt.date
    by_district: bool
    rules: str
    rows: list = field(default_factory=list)

    def totals(self) -> dict:
        """Per ladder: firms on it now and a year ago, and how many are at risk."""
        out: dict[str, dict] = {}
        for r in self.rows:
            t = out.setdefault(r["ladder"], {"count": 0, "previous": 0, "at_risk": 0})
            for k in t:
                t[k] += r[k]
        return out


def status_transitions(db, setup: LadderSetup, as_of: dt.date, by_district: bool,
                       rules_name: str | None = None) -> dict[str, list[tuple]]:
    """Per ladder id, the counts :func:`kqtools.ladder.movement` takes: from the stored spans when
    they are (or can be made) fresh for these rules (:mod:`kqtools.storage.ladder_spans`), else
    from :func:`designation_transitions`."""
    from . import ladder_spans

    if ladder_spans.fresh(db, setup, rules_name):
        return ladder_spans.status_transitions(db, setup, as_of, by_district)
    return designation_transitions(db, setup, as_of, by_district)


def designation_transitions(db, setup: LadderSetup, as_of: dt.date, by_district: bool) -> dict[str, list[tuple]]:
    """Per ladder id, the counts :func:`kqtools.ladder.movement` takes, from one pass over the index:
    per row a signature character for in force a year ago, in force now (expiring within the at-risk
    days or not) and recognized later."""
    rules = setup.rules
    revoked = revoked_column(db)
    end, code = end_sql(rules.validity), tier_code_sql(rules)
    rev_now = f" AND ({revoked} IS NULL OR {revoked} > :now)" if revoked != "NULL" else ""
    later = f"WHEN {revoked} IS NULL THEN {probe_sql(L.LATER, code)} ELSE '' END" if revoked != "NULL" \
        else f"ELSE {probe_sql(L.LATER, code)} END"
    then = in_force_sql("then", rules.validity, revoked)
    select = (f"CASE WHEN {then} THEN {probe_sql(L.THEN, code)} ELSE '' END || "
              f"CASE WHEN d.recognized_on <= :now THEN CASE WHEN {end} >= :now{rev_now} THEN "
              f"char(CASE WHEN {end} > :horizon THEN {L.PROBE_BASE * (L.NOW_SAFE + 1)} "
              f"ELSE {L.PROBE_BASE * (L.NOW_EXPIRING + 1)} END + {code}) ELSE '' END {later}")
    params = {"now": as_of.isoformat(), "then": L.year_ago(as_of).isoformat(),
              "horizon": (as_of + dt.timedelta(days=rules.at_risk_days)).isoformat()}
    out: dict[str, list[tuple]] = {lad.id: [] for lad in rules.ladders}
    decoded: dict[str, list] = {}
    for district, signature, firms in signature_counts(db, select, params, by_district, f"{end} >= :then"):
        per_ladder = decoded.get(signature)
        if per_ladder is None:
            per_ladder = decoded[signature] = L.transitions_of(rules, L.read_signature(signature))
        for lad, (then, now, risky) in zip(rules.ladders, per_ladder):
            if now or then:
                out[lad.id].append((district, then, now, risky, firms))
    return out


def ladder_status(db, as_of: dt.date, by_district: bool = False, rules_name: str | None = None,
                  ladder_id: str | None = None) -> LadderStatus:
    """Firms per tier in force on ``as_of`` (highest tier per ladder) and the movement since the same
    date a year earlier (see :mod:`kqtools.ladder`); ``ladder_id`` keeps one ladder."""
    setup = load_setup(rules_name)
    ladders = setup.rules.ladders
    if ladder_id is not None:
        ladders = tuple(lad for lad in ladders if lad.id == ladder_id)
        if not ladders:
            raise LadderError(_("no ladder {ladder!r} in {rules} (ladders: {ladders})")
                              .format(ladder=ladder_id, rules=setup.name,
                                      ladders=", ".join(lad.id for lad in setup.rules.ladders)))
    transitions = status_transitions(db, setup, as_of, by_district, rules_name)
    rows = []
    for lad in ladders:
        rows += L.movement(lad, transitions[lad.id], by_district)
    return LadderStatus(as_of, L.year_ago(as_of), by_district, setup.name, rows)


# ---------------------------------------------------------------- designations of some firms
_DESIGNATION_COLUMNS = ("uscc", "kind", "level", "recognized_on", "expires_on", "revoked_on")


def designations_of(db, kinds: list[str], usccs: list[str] | None = None) -> dict[str, list[dict]]:
    """uscc -> that firm's designation rows of ``kinds`` (plain dicts), for the firm-by-firm rules."""
    revoked = revoked_column(db)
    sql = (f"SELECT d.uscc, d.kind, d.level, d.recognized_on, d.expires_on, {revoked} FROM designations d "
           f"WHERE d.kind IN ({', '.join(lit(k) for k in kinds)})")
    out: dict[str, list[dict]] = {}
    if usccs is None:
        chunks = [None]
    else:
        usccs = list(dict.fromkeys(usccs))
        chunks = [usccs[i:i + 500] for i in range(0, len(usccs), 500)]
    for chunk in chunks:
        q, args = sql, []
        if chunk is not None:
            q += f" AND d.uscc IN ({', '.join('?' * len(chunk))})"
            args = chunk
        for row in db.conn.execute(q + " ORDER BY d.uscc, d.recognized_on", args):
            out.setdefault(row[0], []).append(dict(zip(_DESIGNATION_COLUMNS, row)))
    return out


def firm_names(db, usccs) -> dict[str, tuple[str | None, str | None]]:
    """uscc -> (name, district) from enterprises, else the name a designation list gave."""
    usccs = list(dict.fromkeys(usccs))
    out: dict[str, tuple] = {}
    for i in range(0, len(usccs), 500):
        chunk = usccs[i:i + 500]
        marks = ", ".join("?" * len(chunk))
        for u, name, district in db.conn.execute(
                f"SELECT uscc, name, district FROM enterprises WHERE uscc IN ({marks})", chunk):
            out[u] = (name, district)
        missing = [u for u in chunk if u not in out]
        if missing:
            marks = ", ".join("?" * len(missing))
            for u, name in db.conn.execute(
                    f"SELECT uscc, max(name) FROM designations WHERE uscc IN ({marks}) GROUP BY uscc", missing):
                out[u] = (name, None)
    return out


# ---------------------------------------------------------------- classes
def classes_for(db, usccs, as_of: dt.date, rules_name: str | None = None) -> dict[str, dict]:
    """uscc -> ``{"class", "label", "reason", ...}`` for the firms of ``usccs`` in a cultivation class on
    ``as_of`` (firms in no class are left out; ``usccs`` None: every firm, one pass). For ``kq enterprises show``, ``kq assignments show``
    and the visit rules (e.g. class 1 are key firms)."""
    setup = load_setup(rules_name)
    kinds = sorted({c.kind for c in setup.rules.classes})
    if not kinds:
        return {}
    found = designations_of(db, kinds, None if usccs is None else list(usccs))
    day = as_of.isoformat()
    out = {}
    for uscc, recs in found.items():
        c = L.classify(recs, day, setup.rules)
        if c is not None:
            out[uscc] = c
    return out


def firms_in_classes(db, numbers, as_of: dt.date, rules_name: str | None = None) -> set[str]:
    """The credit codes of every firm whose cultivation class on ``as_of`` is one of ``numbers``
    (the visit rules' ``key_classes``): one pass over the class kinds' designations."""
    numbers = set(numbers)
    if not numbers:
        return set()
    setup = load_setup(rules_name)
    kinds = sorted({c.kind for c in setup.rules.classes})
    if not kinds:
        return set()
    day = as_of.isoformat()
    out = set()
    for uscc, recs in designations_of(db, kinds).items():
        c = L.classify(recs, day, setup.rules)
        if c is not None and c["class"] in numbers:
            out.add(uscc)
    return out


def cultivation_classes(db, as_of: dt.date, rules_name: str | None = None, only: int | None = None) -> list[dict]:
    """Every firm in a cultivation class on ``as_of``: class, then credit code."""
    setup = load_setup(rules_name)
    kinds = sorted({c.kind for c in setup.rules.classes})
    if not kinds:
        return []
    day = as_of.isoformat()
    rows = []
    for uscc, recs in designations_of(db, kinds).items():
        c = L.classify(recs, day, setup.rules)
        if c is not None and (only is None or c["class"] == only):
            rows.append({"uscc": uscc, **c})
    names = firm_names(db, [r["uscc"] for r in rows])
    for r in rows:
        r["name"], r["district"] = names.get(r["uscc"], (None, None))
    rows.sort(key=lambda r: (r["class"], r["uscc"]))
    return [{k: r.get(k) for k in L.CLASS_FIELDS} for r in rows]


def class_counts(rows: list[dict]) -> dict:
    """Firms per class (and per district within each class): what a report needs besides the rows."""
    out: dict = {}
    for r in rows:
        c = out.setdefault(r["class"], {"firms": 0, "districts": {}})
        c["firms"] += 1
        c["districts"][r["district"]] = c["districts"].get(r["district"], 0) + 1
    return out


# ---------------------------------------------------------------- candidates
CANDIDATE_FIELDS = ("uscc", "name", "district", "tier_now", "tier_next", "verdict", "met", "missing", "failed",
                    "detail")


@dataclass
class CandidateList:
    tier: str
    year: int
    source: str            #: the document the thresholds come from
    rows: list = field(default_factory=list)

    def counts(self) -> dict:
        """Firms per verdict: what a report needs besides the rows."""
        out = {C.MEETS: 0, C.MISSING_DATA: 0, C.FAILS: 0}
        for r in self.rows:
            out[r["verdict"]] += 1
        return out


def candidate_list(db, tier: str, year: int | None = None, rules_name: str | None = None) -> CandidateList:
    """The firms one step below ``tier`` on its ladder at the end of ``year`` (default: the latest year
    with metrics, else last year; the rules' ``from`` tiers, else the tier just below), each with its
    verdict on the tier's thresholds: meets first, then missing data, then fails; by credit code."""
    setup = load_setup(rules_name)
    if year is None:
        from ..clock import today

        year = latest_metrics_year(db) or today().year - 1
    tiers = setup.rules.tiers()
    if tier not in tiers:
        raise LadderError(_("no tier {tier!r} in {rules} (tiers: {tiers})")
                          .format(tier=tier, rules=setup.name, tiers=", ".join(tiers)))
    rule = setup.candidates.get(tier)
    if rule is None:
        sourced = ", ".join(setup.candidates) or _("none")
        raise LadderError(_("{rules} has no thresholds for {tier} (tiers with thresholds: {sourced}); "
                            "add [candidates.{tier}] with their source (kq rules show ladder shows how)")
                          .format(rules=setup.name, tier=tier, sourced=sourced))
    target = tiers[tier]
    ladder = setup.rules.ladder(target.ladder)
    below = rule.from_tiers or ((ladder.tiers[target.rank - 2].id,) if target.rank > 1 else ())
    if not below:
        raise LadderError(_("{tier} is the bottom tier of ladder {ladder}: no tier below it")
                          .format(tier=tier, ladder=ladder.id))
    wanted_ranks = {tiers[t].rank for t in below if tiers[t].ladder == ladder.id}
    picked = firms_at(db, setup, ladder, dt.date(year, 12, 31), wanted_ranks)
    metrics = _metrics_of(db, list(picked), sorted(rule.fields()), year - rule.years(), year)
    names = firm_names(db, list(picked))
    founded = _founded_years(db, list(picked))
    rows = []
    for uscc in sorted(picked):
        v = C.evaluate(rule, metrics.get(uscc, {}), year, founded.get(uscc))
        name, district = names.get(uscc, (None, None))
        rows.append({"uscc": uscc, "name": name, "district": district, "tier_now": picked[uscc], "tier_next": tier,
                     **v})
    order = {C.MEETS: 0, C.MISSING_DATA: 1, C.FAILS: 2}
    rows.sort(key=lambda r: (order[r["verdict"]], r["uscc"]))
    return CandidateList(tier, year, rule.source, rows)


def firms_at(db, setup: LadderSetup, ladder: L.Ladder, day: dt.date, ranks: set[int]) -> dict[str, str]:
    """uscc -> tier id of the firms whose tier on ``ladder`` on ``day`` has one of ``ranks``."""
    if not ranks:
        return {}
    in_force = in_force_sql("day", setup.rules.validity, revoked_column(db))
    kinds = ", ".join(lit(k) for k in ladder_kinds([ladder]))
    sql = (f"SELECT uscc, r FROM (SELECT d.uscc AS uscc, max(CASE WHEN {in_force} THEN {rank_sql(ladder)} END) AS r "
           f"FROM designations d WHERE d.kind IN ({kinds}) GROUP BY d.uscc) "
           f"WHERE r IN ({', '.join(lit(str(r)) for r in sorted(ranks))})")
    return {u: ladder.tier(int(r)).id for u, r in db.conn.execute(sql, {"day": day.isoformat()})}


def _metrics_of(db, usccs: list[str], fields: list[str], first: int, last: int) -> dict[str, dict[int, dict]]:
    out: dict[str, dict[int, dict]] = {}
    cols = ", ".join(fields)
    for i in range(0, len(usccs), 500):
        chunk = usccs[i:i + 500]
        for row in db.conn.execute(
                f"SELECT uscc, year, {cols} FROM metrics WHERE year BETWEEN ? AND ? "
                f"AND uscc IN ({', '.join('?' * len(chunk))})", [first, last, *chunk]):
            out.setdefault(row[0], {})[row[1]] = dict(zip(fields, row[2:]))
    return out


def _founded_years(db, usccs: list[str]) -> dict[str, int]:
    out = {}
    for i in range(0, len(usccs), 500):
        chunk = usccs[i:i + 500]
        for u, founded in db.conn.execute(
                f"SELECT uscc, founded_on FROM enterprises WHERE founded_on IS NOT NULL "
                f"AND uscc IN ({', '.join('?' * len(chunk))})", chunk):
            if str(founded)[:4].isdigit():
                out[u] = int(str(founded)[:4])
    return out


def latest_metrics_year(db) -> int | None:
    """The latest year with any metrics (the default year of ``candidates`` and ``watch``)."""
    row = db.conn.execute("SELECT max(year) FROM metrics").fetchone()
    return row[0] if row else None
