"""The credit lists' services: fetch records, build a version, read versions, diff, overrides.

The rules live in :mod:`kqtools.creditlists` (pure); this module moves data in and out of
SQLite and owns the use cases the ``kq lists`` commands call (one call each). Contracts others
rely on: :func:`build_lists` (also as of a past date: the scoring veto), :func:`latest_blacklist`,
:func:`blacklist_codes`, :func:`version_as_of` and :func:`version_info`.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Iterable

from .. import creditlists as C
from ..clock import now_iso as _now
from ..clock import today as _today
from ..errors import KqtoolsError
from . import write_transaction
from ..i18n import _

# the firm's name from the enterprise register when it is there, else as the credit record gives it
_REC_SELECT = ("SELECT " + ", ".join("coalesce(e.name, c.name)" if col == "name" else f"c.{col}"
                                     for col in C.RECORD_COLUMNS)
               + " FROM credit_records c LEFT JOIN enterprises e ON e.uscc = c.uscc")
_REC_BY_CODES = _REC_SELECT.replace(" FROM credit_records c",
                                    " FROM json_each(?) j CROSS JOIN credit_records c ON c.uscc = j.value")


class ListsError(KqtoolsError):
    """A list command that cannot be done as asked (no version yet, unknown version or override...)."""


_DES_SELECT = "SELECT " + ", ".join(C.DESIGNATION_COLUMNS) + " FROM designations"


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":"))


def _dumps(value) -> str:
    return _ENCODER.encode(value)


# ---------------------------------------------------------------- reading
def scope_sql(s: C.Scope) -> tuple[str, list]:
    """SQL WHERE clause for a :class:`kqtools.creditlists.Scope` (columns of ``credit_records c``)."""
    rest, params = _scope_conditions(s)
    return " AND ".join(["c.source = ?", *rest]), [s.source, *params]


def _scope_conditions(s: C.Scope) -> tuple[list[str], list]:
    """The conditions of a scope besides its source."""
    where: list[str] = []
    params: list = []
    if s.grades:
        where.append(f"c.grade IN ({', '.join('?' * len(s.grades))})")
        params += s.grades
    if s.severities:
        where.append(f"c.severity IN ({', '.join('?' * len(s.severities))})")
        params += s.severities
    if s.by_year:
        where.append("c.year <= ?")
        params.append(s.year_max)
        if s.year_min is not None:
            where.append("c.year >= ?")
            params.append(s.year_min)
    else:
        where.append("c.started_on <= ?")
        params.append(s.as_of)
        if s.start_after is not None:
            where.append("c.started_on > ?")
            params.append(s.start_after)
    if s.open_or_after is not None:
        cond = "(c.ended_on IS NULL OR c.ended_on = '' OR c.ended_on > ?"
        params.append(s.open_or_after)
        if s.recent_after is not None:
            cond += " OR c.started_on > ?"
            params.append(s.recent_after)
        where.append(cond + ")")
    where.append("(c.repaired_on IS NULL OR c.repaired_on = '' OR c.repaired_on > ?)")
    params.append(s.as_of)
    return where, params


def _records(rows) -> Iterable[C.Record]:
    return map(C.Record._make, rows)  # the loop runs in C; one named tuple per row, nothing else


def records_in_scope(db, lr: C.ListRules, as_of: dt.date, effects: Iterable[str]) -> Iterable[C.Record]:
    """Records that rules with these effects might make effective on ``as_of`` (a superset).

    One pass over the table whatever the number of rules: one condition per source (each row
    compares its source once), the rules' scopes of that source OR-ed inside it."""
    effects = set(effects)
    by_source: dict[str, list] = {}
    for s in C.merge_scopes(C.scope(rule, as_of, lr) for rule in lr.rules if rule.effect in effects):
        by_source.setdefault(s.source, []).append(_scope_conditions(s))
    clauses, params = [], []
    for source, scopes in by_source.items():
        clauses.append("(c.source = ? AND (" + " OR ".join(" AND ".join(w) for w, _ in scopes) + "))")
        params.append(source)
        for _, p in scopes:
            params += p
    if clauses:
        yield from _records(db.conn.execute(f"{_REC_SELECT} WHERE {' OR '.join(clauses)}", params))


def facts_for(db, usccs: Iterable[str]) -> dict[str, C.Facts]:
    """All credit records and designations of these firms."""
    codes = sorted(set(usccs))
    facts = {u: C.Facts() for u in codes}
    if not codes:
        return facts
    arg = json.dumps(codes)
    # the sorted codes drive the look-ups (CROSS JOIN keeps that order): primary-key probes in key order
    for rec in _records(db.conn.execute(_REC_BY_CODES, [arg])):
        facts[rec[0]].records.append(rec)
    for row in db.conn.execute(f"{_DES_SELECT} WHERE uscc IN (SELECT value FROM json_each(?))", [arg]):
        facts[row[0]].designations.append(C.Designation(*row))
    return facts


def whitelist_candidates(db, lr: C.ListRules, as_of: dt.date) -> list[str]:
    """Firms with a current designation and the required tax grades: the only ones worth checking."""
    iso = as_of.isoformat()
    params: list = []
    # current (C.Designation.current): recognized on or before the date, expires_on the last valid
    # day, revoked_on (撤销认定, migration 0009) the first day it no longer counts
    sql = ("SELECT DISTINCT d.uscc FROM designations d WHERE d.recognized_on <= ?"
           " AND (d.expires_on IS NULL OR d.expires_on = '' OR d.expires_on >= ?)"
           " AND (d.revoked_on IS NULL OR d.revoked_on = '' OR d.revoked_on > ?)")
    params += [iso, iso, iso]
    if lr.designation_kinds:
        sql += f" AND d.kind IN ({', '.join('?' * len(lr.designation_kinds))})"
        params += list(lr.designation_kinds)
    years = lr.rating_years(as_of)
    if years:
        grades = sorted(lr.tax_grades)
        sql += (f" AND (SELECT count(DISTINCT c.year) FROM credit_records c WHERE c.uscc = d.uscc"
                f" AND c.source = 'tax_rating' AND c.year IN ({', '.join('?' * len(years))})"
                f" AND c.grade IN ({', '.join('?' * len(grades))})) = ?")
        params += [*years, *grades, len(years)]
    if not lr.designation_kinds:
        # no designation needed: every firm with the tax grades is a candidate
        sql = (f"SELECT uscc FROM credit_records WHERE source = 'tax_rating' AND year IN ({', '.join('?' * len(years))})"
               f" AND grade IN ({', '.join('?' * len(lr.tax_grades))}) GROUP BY uscc HAVING count(DISTINCT year) = ?")
        params = [*years, *sorted(lr.tax_grades), len(years)]
    return [r[0] for r in db.conn.execute(sql, params)]


def names_for(db, usccs: Iterable[str]) -> dict[str, str]:
    codes = sorted(set(usccs))
    if not codes:
        return {}
    return dict(db.conn.execute("SELECT uscc, name FROM enterprises WHERE uscc IN (SELECT value FROM json_each(?))",
                                [json.dumps(codes)]))


def allowed_codes(db) -> frozenset[str]:
    return frozenset(r[0] for r in db.conn.execute("SELECT uscc FROM uscc_allowlist"))


def overrides(db, include_revoked: bool = True) -> list[C.Override]:
    sql = ("SELECT id, list, action, uscc, reason, operator, created_at, until, name, revoked_at "
           "FROM list_overrides")
    if not include_revoked:
        sql += " WHERE revoked_at IS NULL"
    return [C.Override(*row) for row in db.conn.execute(sql + " ORDER BY id")]


def latest_version(db) -> int | None:
    row = db.conn.execute("SELECT max(version) FROM list_versions").fetchone()
    return row[0] if row else None


def version_info(db, version: int | None = None) -> dict | None:
    if version is None:
        version = latest_version(db)
        if version is None:
            return None
    rows = list(db.query("SELECT * FROM list_versions WHERE version = ?", [version]))
    return rows[0] if rows else None


def versions(db) -> list[dict]:
    return list(db.query(
        "SELECT version, as_of, built_at, rules_name, substr(rules_sha256, 1, 12) AS rules_sha256, whitelist_count,"
        " blacklist_count, entered_count, left_count, overrides_applied FROM list_versions ORDER BY version"))


def entries(db, list_name: str, version: int) -> list[dict]:
    out = []
    for row in db.query("SELECT uscc, name, since, until, reasons, override_id FROM list_entries "
                        "WHERE version = ? AND list = ? ORDER BY uscc", [version, list_name]):
        row["reasons"] = json.loads(row["reasons"])
        out.append(row)
    return out


def latest_blacklist(db) -> set[str]:
    """Credit codes on the latest version's blacklist; an empty set when no list was ever built."""
    try:
        version = latest_version(db)
    except Exception:  # noqa: BLE001 - the lists migration may not exist in an old database
        return set()
    if version is None:
        return set()
    return blacklist_codes(db, version)


def blacklist_codes(db, version: int) -> set[str]:
    """Credit codes on the blacklist of one version (empty for an unknown version)."""
    return {r[0] for r in db.conn.execute(
        "SELECT uscc FROM list_entries WHERE version = ? AND list = 'blacklist'", [version])}


def version_as_of(db, as_of: dt.date, rules_sha256: str | None = None) -> int | None:
    """The latest version built as of exactly ``as_of`` (and with these rules, when given), or None."""
    sql, params = "SELECT max(version) FROM list_versions WHERE as_of = ?", [as_of.isoformat()]
    if rules_sha256 is not None:
        sql += " AND rules_sha256 = ?"
        params.append(rules_sha256)
    return db.conn.execute(sql, params).fetchone()[0]


def existing_version(db, version: int | None = None) -> int:
    """``version`` (default the latest) when it exists; else :class:`ListsError` saying what to do."""
    if version is None:
        version = latest_version(db)
        if version is None:
            raise ListsError(_("no lists built yet: run kq lists build"))
    if version_info(db, version) is None:
        raise ListsError(_("no list version {version} (see kq lists versions)").format(version=version))
    return version


def show_list(db, list_name: str, version: int | None = None, uscc: str | None = None) -> tuple[int, list[dict]]:
    """(version, entries) of one list: the latest version unless given; one firm's entry with ``uscc``."""
    version = existing_version(db, version)
    rows = entries(db, list_name, version)
    if uscc is not None:
        rows = [r for r in rows if r["uscc"] == uscc]
    return version, rows


# ---------------------------------------------------------------- building
def load_list_rules(rules_name: str | None = None):
    """(Rules, ListRules) of a rule file or preset: the schema, then what only the rules can check
    (a minimum over its maximum...), as ``kq rules check lists`` does. Raises
    :class:`kqtools.rules.RulesError` naming the file."""
    from ..rules import load_compiled

    return load_compiled("lists", rules_name)


def build_lists(db, as_of: dt.date | None = None, rules_name: str | None = None) -> dict:
    """Build both lists as of ``as_of`` (default today) as one new version; returns its summary.

    ``{"version", "as_of", "whitelist", "blacklist", "entered", "left", "whitelist_entered",
    "whitelist_left", "blacklist_entered", "blacklist_left", "overrides_applied", "problems",
    "rules", "rules_sha256", "changes": [...]}``. Raises :class:`kqtools.rules.RulesError`
    for an unusable rule file.
    """
    from ..uscc import check_uscc

    rules, lr = load_list_rules(rules_name)
    as_of = as_of or _today()
    problems: list[dict] = []

    # blacklist from the rules, then its overrides
    black = C.blacklist(records_in_scope(db, lr, as_of, (C.BLACKLIST,)), lr, as_of, problems)
    all_overrides = overrides(db)
    applied_b, removed_b = C.apply_overrides(black, all_overrides, C.BLACKLIST, as_of)

    # whitelist: candidates by SQL, every condition checked on the candidate's facts
    allowed = allowed_codes(db)
    candidates = whitelist_candidates(db, lr, as_of)
    facts = facts_for(db, candidates)
    white: dict[str, C.Entry] = {}
    for uscc in candidates:
        valid = check_uscc(uscc, allowed)[1] is None
        entry, _ = C.whitelist_check(uscc, facts[uscc], lr, as_of, blacklisted=uscc in black, valid_code=valid)
        if entry is not None:
            white[uscc] = entry
    applied_w, removed_w = C.apply_overrides(white, all_overrides, C.WHITELIST, as_of)

    # changes against the previous version
    previous = latest_version(db)
    old: dict[str, dict[str, dict]] = {C.WHITELIST: {}, C.BLACKLIST: {}}
    if previous is not None:
        for lst, uscc, name, until, override_id in db.conn.execute(
                "SELECT list, uscc, name, until, override_id FROM list_entries WHERE version = ?", [previous]):
            old[lst][uscc] = {"name": name, "until": until, "override_id": override_id}
    new = {C.WHITELIST: white, C.BLACKLIST: black}
    removed = {C.WHITELIST: removed_w, C.BLACKLIST: removed_b}
    left_white = [u for u in old[C.WHITELIST] if u not in white and u not in removed_w]
    left_facts = facts_for(db, left_white) if left_white else {}
    changes = []
    counts = {}
    for lst in C.LISTS:
        entered = [u for u in new[lst] if u not in old[lst]] if previous is not None else list(new[lst])
        left = [u for u in old[lst] if u not in new[lst]]
        counts[lst] = (len(entered), len(left))
        for u in entered:
            changes.append((lst, u, "entered", new[lst][u].reasons))
        for u in left:
            ov = removed[lst].get(u, (None, None))[1]
            fails: list[str] = []
            if lst == C.WHITELIST and ov is None:
                valid = check_uscc(u, allowed)[1] is None
                _, fails = C.whitelist_check(u, left_facts.get(u, C.Facts()), lr, as_of,
                                             blacklisted=u in black, valid_code=valid)
            changes.append((lst, u, "left", C.left_why(lst, old[lst][u], as_of, ov, fails)))

    # names: the enterprise register first, then what the records say
    # (records already carry the register's name; look up only what is still missing)
    for u, entry in white.items():
        if entry.name is None and u in facts:
            entry.name = next((r.name for r in facts[u].records if r.name), None) or next(
                (d.name for d in facts[u].designations if d.name), None)
    missing = {u for lst in C.LISTS for u, e in new[lst].items() if not e.name}
    names = names_for(db, missing | {u for lst, u, change, _ in changes if change == "left"})
    for lst in C.LISTS:
        for u in missing & set(new[lst]):
            new[lst][u].name = names.get(u) or new[lst][u].name

    def name_of(lst, u):
        if u in new[lst]:
            return new[lst][u].name
        return names.get(u) or old[lst].get(u, {}).get("name")

    built_at = _now()
    with write_transaction(db) as conn:
        cur = conn.execute(
            "INSERT INTO list_versions (as_of, built_at, rules_name, rules_sha256, rules_text, whitelist_count,"
            " blacklist_count, entered_count, left_count, overrides_applied, problems)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (as_of.isoformat(), built_at, rules.name, rules.sha256, rules.text, len(white), len(black),
             sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values()),
             len(applied_b) + len(applied_w), _dumps(problems) if problems else None))
        version = cur.lastrowid
        for lst in C.LISTS:  # in key order: appends to the primary-key b-tree instead of random inserts
            conn.executemany(
                "INSERT INTO list_entries (version, list, uscc, name, since, until, reasons, override_id)"
                " VALUES (?,?,?,?,?,?,?,?)",
                ((version, lst, e.uscc, e.name, C.iso(e.since), C.iso(e.until), _dumps(e.reasons), e.override_id)
                 for _, e in sorted(new[lst].items())))
        conn.executemany(
            "INSERT INTO list_changes (version, list, uscc, name, change, why) VALUES (?,?,?,?,?,?)",
            ((version, lst, u, name_of(lst, u), change, _dumps(why) if change == "left" else None)
             for lst, u, change, why in sorted(changes, key=lambda c: (c[0], c[1]))))
    return {
        "version": version, "as_of": as_of.isoformat(), "whitelist": len(white), "blacklist": len(black),
        "entered": sum(c[0] for c in counts.values()), "left": sum(c[1] for c in counts.values()),
        "whitelist_entered": counts[C.WHITELIST][0], "whitelist_left": counts[C.WHITELIST][1],
        "blacklist_entered": counts[C.BLACKLIST][0], "blacklist_left": counts[C.BLACKLIST][1],
        "overrides_applied": len(applied_b) + len(applied_w), "problems": len(problems),
        "previous": previous, "rules": rules.name, "rules_sha256": rules.sha256,
        "changes": [{"list": lst, "uscc": u, "name": name_of(lst, u), "change": change, "why": why}
                    for lst, u, change, why in changes],
    }


# ---------------------------------------------------------------- diff and overrides
def diff(db, list_name: str, from_version: int, to_version: int) -> list[dict]:
    """Who entered and who left between two versions, and why.

    Entered: the reasons of the entry in ``to_version``. Left: the reason recorded when the
    firm left, taken from the last version in ``(from, to]`` where it left.
    """
    old = {r["uscc"]: r for r in entries(db, list_name, from_version)}
    new = {r["uscc"]: r for r in entries(db, list_name, to_version)}
    why_left: dict[str, list] = {}
    lo, hi = sorted((from_version, to_version))
    if from_version < to_version:
        for uscc, why in db.conn.execute(
                "SELECT uscc, why FROM list_changes WHERE list = ? AND change = 'left' AND version > ? AND version <= ?"
                " ORDER BY version", [list_name, lo, hi]):
            why_left[uscc] = json.loads(why)
    rows = []
    for u in sorted(set(new) - set(old)):
        e = new[u]
        rows.append({"uscc": u, "name": e["name"], "change": "entered", "since": e["since"], "until": e["until"],
                     "why": e["reasons"]})
    for u in sorted(set(old) - set(new)):
        e = old[u]
        rows.append({"uscc": u, "name": e["name"], "change": "left", "since": e["since"], "until": e["until"],
                     "why": why_left.get(u) or [{"rule": "not_on_list", "reason": f"not on version {to_version}"}]})
    return rows


def diff_lists(db, list_name: str, from_version: int | None = None,
               to_version: int | None = None) -> tuple[int, int, list[dict]]:
    """(from, to, rows) for ``kq lists diff``: ``to`` defaults to the latest version, ``from`` to the one before."""
    to_version = existing_version(db, to_version)
    if from_version is None:
        from_version = to_version - 1
        if from_version < 1:
            raise ListsError(_("version {to_version} is the first: nothing to compare (use --from/--to)").format(
                                 to_version=to_version))
    existing_version(db, from_version)
    return from_version, to_version, diff(db, list_name, from_version, to_version)


def add_override(db, list_name: str, action: str, code: str, reason: str, operator: str,
                 until: dt.date | None = None, today: dt.date | None = None) -> dict:
    """Record a manual decision (add to / remove from a list) for every later build.

    Refuses (:class:`ListsError`) an empty reason, an invalid credit code (the allow-list counts)
    and an ``until`` that is not after ``today``: such an override would never apply.
    """
    from ..uscc import check_uscc

    if not reason.strip():
        raise ListsError(_("--reason must say why"))
    today = today or _today()
    if until is not None and until <= today:
        raise ListsError(_("--until {until} is not in the future: the override would never apply (give a later "
                           "date, or leave --until out for no expiry)").format(until=until.isoformat()))
    uscc, problem = check_uscc(code, allowed_codes(db))
    if problem:
        raise ListsError(f"{code}: {problem}")
    reason = reason.strip()
    name = names_for(db, [uscc]).get(uscc)
    created = _now()
    with write_transaction(db) as conn:
        cur = conn.execute(
            "INSERT INTO list_overrides (list, action, uscc, name, reason, operator, created_at, until)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (list_name, action, uscc, name, reason, operator, created, C.iso(until)))
    return {"id": cur.lastrowid, "list": list_name, "action": action, "uscc": uscc, "name": name,
            "reason": reason, "operator": operator, "created_at": created, "until": C.iso(until)}


def revoke_override(db, override_id: int, operator: str) -> None:
    """Revoke an active override (later builds no longer apply it); :class:`ListsError` when there is none."""
    with write_transaction(db) as conn:
        cur = conn.execute("UPDATE list_overrides SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
                           (_now(), operator, override_id))
    if cur.rowcount != 1:
        raise ListsError(_("no active override #{override_id} (see kq lists override list --all)").format(
                             override_id=override_id))


def override_rows(db, show_all: bool = False, today: dt.date | None = None) -> list[dict]:
    """Overrides newest first with their status today (active, expired, revoked); only active ones
    unless ``show_all``."""
    today = today or _today()
    rows = []
    for ov in reversed(overrides(db)):
        status = "revoked" if ov.revoked_at else ("active" if ov.active(today) else "expired")
        if status == "active" or show_all:
            rows.append({**ov.__dict__, "status": status})
    return rows
