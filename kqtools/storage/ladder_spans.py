"""The stored per-firm periods of the growth ladder (migration 0017): built, kept fresh, counted.

``kq ladder status`` and ``kq targets progress`` count a million firms; reading every designation
with its dates takes longer than the 3 s the issue asks. So the periods over which a firm's tier is
constant (:func:`kqtools.ladder.firm_spans`) are stored: ``ladder_spans`` (per ladder, the highest
tier in force) and ``tier_spans`` (per tier, the days a designation of it is in force). "Highest tier
in force on D, per firm" is then the one row whose period contains D, and the counts are one pass
over about one row per firm and ladder.

Never stale: triggers put the credit code of every designation or district that changes into
``ladder_dirty``; :func:`fresh` (called by every count) recomputes those firms first, in one
transaction, and rebuilds everything when the ladder rules (tiers, validity) are not the ones the
spans were built with. When it cannot write (a read-only database) or is asked about other rules
than the stored ones, it says so and the caller counts from the designations as before: slower,
never wrong.
"""
from __future__ import annotations

import datetime as dt
import sqlite3

from .. import ladder as L
from .ladder import lit as L_lit
from . import DatabaseLocked, DatabaseReadOnly, database_error, write_transaction

#: more dirty firms than this: rebuild everything (one pass in code order beats a lookup per firm)
REBUILD_ABOVE = 50_000
_CHUNK = 500


def _state(db):
    try:
        return db.conn.execute("SELECT rules_sha256 FROM ladder_spans_state WHERE id = 1").fetchone()
    except sqlite3.OperationalError:          # an older database opened without migrating
        return None


def fresh(db, setup, rules_name: str | None = None) -> bool:
    """Bring the stored spans up to date for ``setup`` (the ladder rules in use); True when they can
    be counted, False when the caller must count from the designations: other rules than the
    stored spans follow (a ``--rules`` file; only the shipped rules rebuild), or the database cannot
    be written while something is out of date."""
    try:
        state = _state(db)
        if state is None or state[0] != setup.sha256:
            if state is not None and rules_name is not None:
                return False
            if _has_table(db):
                rebuild(db, setup)
                return True
            return False
        dirty = db.conn.execute("SELECT count(*) FROM ladder_dirty").fetchone()[0]
        if dirty == 0:
            return True
        if dirty > REBUILD_ABOVE:
            rebuild(db, setup)
        else:
            refresh(db, setup)
        return True
    except (DatabaseReadOnly, DatabaseLocked):   # cannot write now: count from the designations
        return False
    except sqlite3.OperationalError as exc:
        if isinstance(database_error(exc, ""), (DatabaseReadOnly, DatabaseLocked)):
            return False
        raise


def _has_table(db) -> bool:
    return db.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'ladder_spans_state'").fetchone() is not None


def _designations(db, usccs: list[str] | None):
    """(uscc, rows) per firm in credit-code order: every designation as a tuple (kind, level,
    recognized_on, expires_on, revoked_on), as :func:`kqtools.ladder.firm_spans` takes them."""
    from .ladder import revoked_column

    revoked = revoked_column(db)
    sql = (f"SELECT d.uscc, d.kind, d.level, d.recognized_on, d.expires_on, {revoked} FROM designations d "
           f"INDEXED BY designations_ladder")
    chunks = [None] if usccs is None else [usccs[i:i + _CHUNK] for i in range(0, len(usccs), _CHUNK)]
    for chunk in chunks:
        q, args = sql, []
        if chunk is not None:
            q += f" WHERE d.uscc IN ({', '.join('?' * len(chunk))})"
            args = chunk
        current, rows = None, []
        for row in db.conn.execute(q + " ORDER BY d.uscc", args):
            if row[0] != current:
                if current is not None:
                    yield current, rows
                current, rows = row[0], []
            rows.append(row[1:])
        if current is not None:
            yield current, rows


def _write(conn, rules, firms, districts) -> None:
    top_rows, tier_rows, irregular = [], [], []
    lookup = L.span_lookup(rules)
    for uscc, recs in firms:
        top, tiers, regular = L.firm_spans(rules, recs, lookup)
        district = districts(uscc) or ""         # part of the key: '' for none
        top_rows += [(lad, uscc, a, b, rank, renewed, district) for lad, rank, a, b, renewed in top]
        tier_rows += [(code, uscc, a, b, district) for code, a, b in tiers]
        if not regular:
            irregular.append((uscc,))
        if len(top_rows) + len(tier_rows) > 400_000:
            _flush(conn, top_rows, tier_rows, irregular)
    _flush(conn, top_rows, tier_rows, irregular)


def _flush(conn, top_rows, tier_rows, irregular) -> None:
    top_rows.sort(key=lambda r: (r[0], r[1], r[2]))                 # key order: fewer pages touched
    tier_rows.sort(key=lambda r: (r[0], r[4], r[1], r[2]))
    conn.executemany("INSERT INTO ladder_spans (ladder, uscc, first_day, last_day, rank, renewed, district) "
                     "VALUES (?,?,?,?,?,?,?)", top_rows)
    conn.executemany("INSERT INTO tier_spans (code, uscc, first_day, last_day, district) VALUES (?,?,?,?,?)",
                     tier_rows)
    conn.executemany("INSERT OR IGNORE INTO ladder_irregular (uscc) VALUES (?)", irregular)
    top_rows.clear()
    tier_rows.clear()
    irregular.clear()


def rebuild(db, setup) -> None:
    """Every firm's spans afresh, for ``setup``'s rules (one transaction)."""
    from ..clock import now_iso

    with write_transaction(db) as conn:
        for table in ("ladder_spans", "tier_spans", "ladder_irregular", "ladder_dirty"):
            conn.execute(f"DELETE FROM {table}")
        indexes = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name IN "
                               "('ladder_spans_district', 'tier_spans_uscc')").fetchall()
        conn.execute("DROP INDEX IF EXISTS ladder_spans_district")     # made again after: faster than kept up
        conn.execute("DROP INDEX IF EXISTS tier_spans_uscc")
        districts = dict(conn.execute("SELECT uscc, district FROM enterprises WHERE district IS NOT NULL"))
        _write(conn, setup.rules, _designations(db, None), districts.get)
        for (sql,) in indexes:
            conn.execute(sql)
        now = now_iso()
        conn.execute("INSERT OR REPLACE INTO ladder_spans_state (id, rules_sha256, built_at, refreshed_at) "
                     "VALUES (1, ?, ?, ?)", (setup.sha256, now, now))


def refresh(db, setup) -> int:
    """Recompute the firms in ``ladder_dirty`` (one transaction); how many."""
    from ..clock import now_iso

    with write_transaction(db) as conn:
        usccs = [u for (u,) in conn.execute("SELECT uscc FROM ladder_dirty ORDER BY uscc")]
        ladders = ", ".join(L_lit(lad.id) for lad in setup.rules.ladders) or "''"    # the rules the spans follow
        districts: dict = {}
        for i in range(0, len(usccs), _CHUNK):
            chunk = usccs[i:i + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            conn.execute(f"DELETE FROM ladder_spans WHERE ladder IN ({ladders}) AND uscc IN ({marks})", chunk)
            conn.execute(f"DELETE FROM tier_spans INDEXED BY tier_spans_uscc WHERE uscc IN ({marks})", chunk)
            conn.execute(f"DELETE FROM ladder_irregular WHERE uscc IN ({marks})", chunk)
            districts.update(conn.execute(f"SELECT uscc, district FROM enterprises WHERE uscc IN ({marks})", chunk))
        _write(conn, setup.rules, _designations(db, usccs), districts.get)
        conn.execute("DELETE FROM ladder_dirty")
        conn.execute("UPDATE ladder_spans_state SET refreshed_at = ? WHERE id = 1", (now_iso(),))
    return len(usccs)


# ---------------------------------------------------------------- counting
def status_transitions(db, setup, as_of: dt.date, by_district: bool) -> dict[str, list[tuple]]:
    """Per ladder id, the counts :func:`kqtools.ladder.movement` takes, from the stored spans: per
    firm the span holding the date a year earlier and the one holding the date (one pass over the
    ladder's spans in code order), the at-risk test from the latter's end and ``renewed``."""
    rules = setup.rules
    now, then = as_of.isoformat(), L.year_ago(as_of).isoformat()
    horizon = (as_of + dt.timedelta(days=rules.at_risk_days)).isoformat()
    district = "f.district" if by_district else "NULL"
    params = {"now": now, "then": then, "horizon": horizon}
    irregular = [u for (u,) in db.conn.execute("SELECT uscc FROM ladder_irregular")]
    regular = " AND NOT EXISTS (SELECT 1 FROM ladder_irregular i WHERE i.uscc = s.uscc)" if irregular else ""
    out: dict[str, list[tuple]] = {}
    for lad in rules.ladders:
        params["ladder"] = lad.id
        # a firm holding one period over the whole year: the same tier then and now; in key order
        stable = (f"SELECT s.district, s.rank, count(*), sum(s.last_day <= :horizon AND s.renewed <= :now) "
                  f"FROM ladder_spans s INDEXED BY ladder_spans_district WHERE s.ladder = :ladder AND s.first_day <= :then AND s.last_day >= :now"
                  f"{regular} GROUP BY s.district, s.rank")
        rows = []
        for d, rank, n, risky in db.conn.execute(stable, params):
            d = (d or None) if by_district else None
            if risky:
                rows.append((d, rank, rank, True, risky))
            if n - risky:
                rows.append((d, rank, rank, False, n - risky))
        # the others: their period a year ago and their period now, paired per firm
        changed = (f"SELECT {district}, f.a, f.b, f.risky, count(*) FROM ("
                   f"SELECT s.uscc, max(s.district) AS district, max(CASE WHEN s.first_day <= :then THEN s.rank END) AS a, "
                   f"max(CASE WHEN s.last_day >= :now THEN s.rank END) AS b, "
                   f"max(CASE WHEN s.last_day >= :now THEN s.last_day <= :horizon AND s.renewed <= :now END) AS risky "
                   f"FROM ladder_spans s WHERE s.ladder = :ladder AND s.first_day <= :now AND s.last_day >= :then "
                   f"AND (s.first_day > :then OR s.last_day < :now){regular} GROUP BY s.uscc) f "
                   f"GROUP BY 1, 2, 3, 4")
        rows += [(d or None, a, b, bool(r), n) for d, a, b, r, n in db.conn.execute(changed, params)]
        out[lad.id] = rows
    if irregular:          # firms with a revoked designation: row by row, as the rules define it
        from .ladder import designations_of, firm_names

        kinds = sorted({t.kind for lad in rules.ladders for t in lad.tiers})
        firms = designations_of(db, kinds, irregular)
        names = firm_names(db, list(firms)) if by_district else {}
        districts = {u: names.get(u, (None, None))[1] for u in firms}
        for lad in rules.ladders:
            out[lad.id] += L.firm_transitions(lad, firms, districts, as_of, rules.at_risk_days, rules.validity)
    return out


def count_in_force(db, setup, wanted: list[tuple], by_district: bool, out: dict) -> None:
    """For each (tier ids, counting, day) of ``wanted``: district -> firms holding one of the tiers
    that day, from ``tier_spans``; one pass per tier set for all its days."""
    codes = L.tier_codes(setup.rules)
    by_set: dict[tuple, list] = {}
    for w in wanted:
        by_set.setdefault(w[0], []).append(w)
    for ids, ws in by_set.items():
        days = sorted({w[2] for w in ws})
        params = {f"d{i}": d.isoformat() for i, d in enumerate(days)}
        marks = ", ".join(str(codes[t]) for t in ids)
        district = "max(s.district)" if by_district else "NULL"
        sums = ", ".join(f"sum(h{i})" for i in range(len(days)))
        inner = ", ".join(f"max(s.first_day <= :d{i} AND s.last_day >= :d{i}) AS h{i}" for i in range(len(days)))
        if len(ids) == 1:       # spans of one tier do not overlap within a firm: no grouping per firm
            sql = ("SELECT s.district, "
                   + ", ".join(f"sum(s.first_day <= :d{i} AND s.last_day >= :d{i})" for i in range(len(days)))
                   + f" FROM tier_spans s WHERE s.code = {marks} AND s.last_day >= :d0 GROUP BY s.district")
        else:
            sql = (f"SELECT d, {sums} FROM (SELECT {district} AS d, {inner} FROM tier_spans s "
                   f"WHERE s.code IN ({marks}) AND s.last_day >= :d0 GROUP BY s.uscc) GROUP BY 1")
        for row in db.conn.execute(sql, params):
            d = (row[0] or None) if by_district else None
            for i, day in enumerate(days):
                n = row[1 + i] or 0
                if n:
                    for w in ws:
                        if w[2] == day:
                            out[w][d] = out[w].get(d, 0) + n
