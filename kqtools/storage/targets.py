"""Database glue for targets: import them (a table or a rule file), count the firms, show the pace.

The arithmetic is :mod:`kqtools.targets`. An import reads the whole file first and writes only
when every row is usable (a plan with one wrong row is not half a plan): one bad row is one error
naming the file, line, column and reason, and the database is left as it was. Progress counts, in
one aggregate pass over the designations index, every (tier set, counting, day) the targets need
(today and each baseline year's end without a given baseline), per district.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from .. import targets as T
from ..i18n import _
from . import write_transaction
from .. import ladder as L
from .ladder import (LadderSetup, end_sql, in_force_sql, lit, load_setup, match_sql, probe_sql, revoked_column,
                     signature_counts, tier_code_sql)

RULE_SUFFIXES = (".toml", ".json")


@dataclass
class TargetImport:
    """What ``kq targets import`` did."""
    source: str
    sha256: str
    targets: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    rows: list = field(default_factory=list)

    def summary(self) -> dict:
        return {"source": self.source, "sha256": self.sha256, "targets": self.targets, "inserted": self.inserted,
                "updated": self.updated, "unchanged": self.unchanged, "removed": self.removed}


def is_rule_source(source: str) -> bool:
    """A shipped preset (``changzhou-2027``) or a ``.toml``/``.json`` rule file, not a table."""
    from ..rules import shipped

    presets = shipped()
    return (source in presets and source.startswith("targets-")) or f"targets-{source}" in presets \
        or Path(source).suffix.lower() in RULE_SUFFIXES


def import_targets(db, source: str, stream=None, *, replace: bool = False, sheet: str | None = None,
                   ladder_rules: str | None = None) -> TargetImport:
    """Import targets from ``source``: a preset name, a targets rule file (TOML/JSON), or a CSV/XLSX
    table (read from ``stream`` when given, e.g. stdin for ``-``). Rows are keyed by tier, district
    and target year: a second import replaces them; ``replace`` first removes every stored target."""
    setup = load_setup(ladder_rules)
    if stream is None and is_rule_source(source):
        name, sha, targets = _from_rules(source, setup)
    else:
        name, sha, targets = _from_table(source, stream, setup, sheet)
    from ..clock import now_iso

    result = TargetImport(name, sha, len(targets))
    now = now_iso()
    conn = db.conn
    with write_transaction(db):
        if replace:
            result.removed = conn.execute("DELETE FROM targets").rowcount
        for line, t in targets:
            row = (t.target, t.baseline_year, t.baseline, t.counting, t.note or None)
            old = conn.execute("SELECT target, baseline_year, baseline, counting, note FROM targets "
                               "WHERE tier = ? AND district = ? AND target_year = ?", t.key).fetchone()
            if old is not None and tuple(old) == row:
                result.unchanged += 1
                continue
            conn.execute("INSERT INTO targets (tier, district, target_year, target, baseline_year, baseline, counting, "
                         "note, source, sha256, line, imported_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                         "ON CONFLICT (tier, district, target_year) DO UPDATE SET target = excluded.target, "
                         "baseline_year = excluded.baseline_year, baseline = excluded.baseline, "
                         "counting = excluded.counting, note = excluded.note, source = excluded.source, "
                         "sha256 = excluded.sha256, line = excluded.line, imported_at = excluded.imported_at",
                         (*t.key, *row, name, sha, line, now))
            if old is None:
                result.inserted += 1
            else:
                result.updated += 1
    result.rows = [t.as_row() for _, t in targets]
    return result


def _key_of(text: str) -> str:
    from ..kinds import header_key

    return header_key(text)


def _tier_names(setup: LadderSetup) -> dict[str, str]:
    return {_key_of(name): tier for name, tier in _all_names(setup).items()}


def _all_names(setup: LadderSetup) -> dict[str, str]:
    out = {}
    for t in setup.rules.tiers().values():
        for name in (t.id, t.label, *t.aliases):
            if name:
                out.setdefault(name, t.id)
    return out


def compile_targets(data: dict, setup: LadderSetup | None = None) -> list[tuple[int, T.Target]]:
    """(entry number, target) of validated targets rule data, tiers checked against the ladder rules
    (the shipped ones unless ``setup``): the compile step of the ``targets`` rule kind."""
    setup = setup or load_setup()
    names = _tier_names(setup)
    out = []
    for i, entry in enumerate(data["targets"]):
        try:
            out.append((i + 1, T.target_from(entry, names, _key_of)))
        except T.FieldError as exc:
            raise T.TargetError(_("targets.{i}.{field}: {reason}").format(i=i, field=exc.field, reason=exc.reason)) \
                from None
    try:
        T.check_unique((_("targets entry {n}").format(n=n), t) for n, t in out)
    except ValueError as exc:
        raise T.TargetError(str(exc)) from None
    return out


def _from_rules(source: str, setup: LadderSetup):
    from ..rules import RulesError, load_rules

    r = load_rules("targets", source)
    try:
        out = compile_targets(r.data, setup)
    except T.TargetError as exc:
        raise RulesError(f"{r.name}: {exc}") from None
    return r.name, r.sha256, out


def _unique(name: str, targets) -> None:
    try:
        T.check_unique((_("line {line}").format(line=line), t) for line, t in targets)
    except ValueError as exc:
        raise T.TargetError(_("{path}: {reason}").format(path=name, reason=exc)) from None


def _column_letter(idx: int) -> str:
    s, n = "", idx + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _from_table(source: str, stream, setup: LadderSetup, sheet: str | None):
    from ..kinds import load_schema
    from ..readers import SourceError, open_table

    if stream is None:
        try:
            stream = open(source, "rb")
        except FileNotFoundError:
            raise T.TargetError(_("{path}: no such file (or a preset: kq rules list shows targets-…)")
                                .format(path=source)) from None
        except OSError as exc:
            raise T.TargetError(_("{path}: {reason}").format(path=source, reason=exc.strerror)) from None
    props = load_schema("targets-rules")["properties"]["targets"]["items"]["properties"]
    headers = {}
    for fname, prop in props.items():
        for alias in (fname, *prop.get("x-aliases", ())):
            headers.setdefault(_key_of(alias), fname)
    with stream:
        try:
            src = open_table(stream, source, sheet=sheet)
            rows = list(src.rows)
        except SourceError as exc:
            raise T.TargetError(str(exc)) from None
        sha = src.sha256
    header_at, columns = None, {}
    for pos, (line, cells) in enumerate(rows[:10]):
        if isinstance(cells, dict):
            cells = list(cells)
        if not isinstance(cells, list):
            continue
        found = {}
        for idx, cell in enumerate(cells):
            f = headers.get(_key_of(str(cell))) if cell is not None and str(cell).strip() else None
            if f is not None:
                if f in found:
                    raise T.TargetError(_("{path}: line {line}: columns {a} and {b} both map to {field}")
                                        .format(path=source, line=line, a=_column_letter(found[f]),
                                                b=_column_letter(idx), field=f))
                found[f] = idx
        if set(T.REQUIRED) <= set(found):
            header_at, columns = pos, found
            break
    if header_at is None:
        want = ", ".join(f"{f} ({props[f]['x-aliases'][0]})" for f in T.REQUIRED)
        raise T.TargetError(_("{path}: no header row with the columns {want} in its first lines")
                            .format(path=source, want=want))
    names = _tier_names(setup)
    out = []
    for line, cells in rows[header_at + 1:]:
        if isinstance(cells, dict):
            cells = list(cells.values())
        if isinstance(cells, str) or not any(c is not None and str(c).strip() for c in cells):
            continue
        values = {f: (cells[i] if i < len(cells) else None) for f, i in columns.items()}
        try:
            out.append((line, T.target_from(values, names, _key_of)))
        except T.FieldError as exc:
            col = columns.get(exc.field)
            if col is None:
                message = _("{path}: line {line} ({field}): {reason}")
            else:
                message = _("{path}: line {line}, column {column} ({field}): {reason}")
            raise T.TargetError(message.format(path=source, line=line, column=_column_letter(col or 0),
                                               field=exc.field, reason=exc.reason)) from None
    if not out:
        raise T.TargetError(_("{path}: a header and no targets below it").format(path=source))
    _unique(source, out)
    return source, sha, out


# ---------------------------------------------------------------- progress
PROGRESS_FIELDS = T.PROGRESS_FIELDS
_ALL = object()   # every district together (None is the district of firms whose district is unknown)


@dataclass
class Progress:
    as_of: dt.date
    by_district: bool
    rows: list = field(default_factory=list)

    def counts(self) -> dict:
        """Targets per pace (ahead, on_pace, behind): what a report needs besides the rows."""
        out = {T.AHEAD: 0, T.ON_PACE: 0, T.BEHIND: 0}
        for r in self.rows:
            if r.get("pace") in out:
                out[r["pace"]] += 1
        return out


def stored_targets(db) -> list[T.Target]:
    cols = "tier, district, target_year, target, baseline_year, baseline, counting, note"
    return [T.Target(tuple(tier.split("+")), district, ty, target, by, base, counting, note or "")
            for tier, district, ty, target, by, base, counting, note in
            db.conn.execute(f"SELECT {cols} FROM targets ORDER BY target_year, tier, district")]


def count_firms(db, setup: LadderSetup, wanted: list[tuple[tuple[str, ...], str, dt.date]],
                by_district: bool, rules_name: str | None = None) -> dict[tuple, dict]:
    """For each (tier ids, counting, day) of ``wanted``: district (None when not by district) -> firms.
    A firm counts once per tier set, whatever it holds.

    In force: one pass over the designations index, a signature (:mod:`kqtools.ladder`) per firm
    with a character for each day a row is in force on, rows expired before the first day skipped.
    Cumulative (ever recognized): per tier set, each firm's first recognition of one of its tiers."""
    out: dict[tuple, dict] = {w: {} for w in wanted}
    in_force = [w for w in wanted if w[1] == T.IN_FORCE]
    if in_force:
        from . import ladder_spans

        if ladder_spans.fresh(db, setup, rules_name):      # the stored spans (migration 0017)
            ladder_spans.count_in_force(db, setup, in_force, by_district, out)
        else:
            _count_in_force(db, setup, in_force, by_district, out)
    cumulative = [w for w in wanted if w[1] == T.CUMULATIVE]
    if cumulative:
        _count_cumulative(db, setup, cumulative, by_district, out)
    return out


def _count_in_force(db, setup: LadderSetup, wanted: list[tuple], by_district: bool, out: dict) -> None:
    rules = setup.rules
    revoked = revoked_column(db)
    days = sorted({w[2] for w in wanted})
    code = tier_code_sql(rules)
    params = {f"d{i}": day.isoformat() for i, day in enumerate(days)}
    select = " || ".join(f"CASE WHEN {in_force_sql(f'd{i}', rules.validity, revoked)} THEN {probe_sql(i, code)} "
                         f"ELSE '' END" for i in range(len(days)))
    codes = L.tier_codes(rules)
    decoded: dict[str, frozenset] = {}
    for district, signature, firms in signature_counts(db, select, params, by_district,
                                                       f"{end_sql(rules.validity)} >= :d0"):
        hits = decoded.get(signature)
        if hits is None:
            hits = decoded[signature] = L.read_signature(signature)
        for w in wanted:
            ids, _, day = w
            probe = days.index(day)
            if any((probe, codes[t]) in hits for t in ids):
                out[w][district] = out[w].get(district, 0) + firms


def _count_cumulative(db, setup: LadderSetup, wanted: list[tuple], by_district: bool, out: dict) -> None:
    """Each firm's first recognition of each tier set, in one query; SQLite reads it through the kind
    index (``designations_kind``): the lists counted cumulatively (gazelles, unicorns) are short."""
    tiers = setup.rules.tiers()
    sets = sorted({w[0] for w in wanted})
    days = sorted({w[2] for w in wanted})
    kinds = sorted({tiers[t].kind for ids in sets for t in ids})
    firsts = ", ".join(f"min(CASE WHEN {' OR '.join(match_sql(tiers[t].kind, tiers[t].levels) for t in ids)} "
                       f"THEN d.recognized_on END) AS m{k}" for k, ids in enumerate(sets))
    params = {f"c{j}": day.isoformat() for j, day in enumerate(days)}
    sums = ", ".join(f"sum(f.m{k} <= :c{j})" for k in range(len(sets)) for j in range(len(days)))
    district = "e.district" if by_district else "NULL"
    join = " LEFT JOIN enterprises e ON e.uscc = f.uscc" if by_district else ""
    sql = (f"SELECT {district}, {sums} FROM (SELECT d.uscc AS uscc, {firsts} FROM designations d "
           f"WHERE d.kind IN ({', '.join(lit(k) for k in kinds)}) GROUP BY d.uscc) f{join} "
           f"GROUP BY 1")
    for row in db.conn.execute(sql, params):
        for k, ids in enumerate(sets):
            for j, day in enumerate(days):
                w = (ids, T.CUMULATIVE, day)
                if w in out:
                    out[w][row[0]] = out[w].get(row[0], 0) + (row[1 + k * len(days) + j] or 0)


def target_progress(db, as_of: dt.date, by_district: bool = False, ladder_rules: str | None = None) -> Progress:
    """Every stored target against the firms counted on ``as_of``: without ``by_district`` one row per
    target (a district's target counts its district); with it, for each tier and target year one row
    per district: the district's own target where one is stored, else the counts alone."""
    setup = load_setup(ladder_rules)
    known = setup.rules.tiers()
    targets = stored_targets(db)
    if not targets:
        raise T.TargetError(_("no targets yet: import them first (kq targets import changzhou-2027, or a table)"))
    for t in targets:
        unknown = [x for x in t.tiers if x not in known]
        if unknown:
            raise T.TargetError(_("target {tier} {year}: no tier {unknown!r} in {rules} (re-import the targets, "
                                  "or use the ladder rules they were written for)")
                                .format(tier=t.tier, year=t.target_year, unknown=unknown[0], rules=setup.name))
    wanted = set()
    for t in targets:
        wanted.add((t.tiers, t.counting, as_of))
        if t.baseline is None or by_district:
            wanted.add((t.tiers, t.counting, dt.date(t.baseline_year, 12, 31)))
    need_districts = by_district or any(t.district for t in targets)
    counts = count_firms(db, setup, sorted(wanted), need_districts, ladder_rules)

    def firms(t, day, district=_ALL):
        per = counts.get((t.tiers, t.counting, day), {})
        return sum(per.values()) if district is _ALL else per.get(district, 0)

    rows = []
    if not by_district:
        for t in targets:
            district = t.district or _ALL
            base = t.baseline if t.baseline is not None else firms(t, dt.date(t.baseline_year, 12, 31), district)
            rows.append(T.progress(t, base, firms(t, as_of, district), as_of))
        return Progress(as_of, False, rows)
    groups: dict[tuple, dict] = {}
    for t in targets:
        g = groups.setdefault((t.tier, t.target_year), {"any": t, "districts": {}})
        if t.district:
            g["districts"][t.district] = t
    for (tier, year), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        proto = g["any"]
        seen = set(counts.get((proto.tiers, proto.counting, as_of), {})) | set(g["districts"])
        for district in sorted(seen, key=lambda d: (d is None, d or "")):
            t = g["districts"].get(district)
            if t is not None:
                base = t.baseline if t.baseline is not None else firms(t, dt.date(t.baseline_year, 12, 31), district)
                rows.append(T.progress(t, base, firms(t, as_of, district), as_of))
            else:
                rows.append({"tier": tier, "district": district, "counting": proto.counting,
                             "baseline_year": proto.baseline_year,
                             "baseline": firms(proto, dt.date(proto.baseline_year, 12, 31), district),
                             "current": firms(proto, as_of, district), "target": None, "target_year": year,
                             "gap": None, "needed_per_year": None, "expected": None, "pace": None,
                             "as_of": as_of.isoformat(), "years_gone": None, "years_left": None,
                             "note": "no target of its own: counts only"})
    return Progress(as_of, True, rows)
