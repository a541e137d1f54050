"""Database glue for the watch on firms' figures (经营异动监测) and its ``watch-alerts`` job action.

The flags are :mod:`kqtools.watch`; this module reads each firm's metrics of the year and the year
before (one query), the designated firms without figures (one aggregate over the designations
index), and, for the job, who serves each firm and which flags were already sent.

Once per flag, whoever runs the job: the action records every flag it puts in a message in
``watch_alerts`` with the occurrence (job id, fire time) that carries it. A flag counts as sent
when that occurrence's run is ``done`` in ``job_runs``, which the jobs runner marks in the same
transaction that writes the messages into the outbox; a run that failed leaves its flags unsent,
and the next run sends them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .. import watch as W
from ..errors import KqtoolsError
from ..i18n import _
from . import write_transaction
from .ladder import end_sql, latest_metrics_year, lit, load_setup, revoked_column

FLAG_FIELDS = W.FLAG_FIELDS


class WatchError(KqtoolsError):
    """The watch cannot run (no metrics at all)."""


@dataclass
class WatchResult:
    year: int
    rules: str
    rows: list = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        """Flags are for a person to follow up (exit 1, as screening hits)."""
        return bool(self.rows)

    def counts(self) -> dict:
        """Flags per flag id: what a report needs besides the rows."""
        out: dict[str, int] = {}
        for r in self.rows:
            out[r["flag"]] = out.get(r["flag"], 0) + 1
        return out


def watch(db, year: int | None = None, rules_name: str | None = None) -> WatchResult:
    """Every flag of the rules on ``year`` (default: the latest year with metrics) against the year
    before, firm by firm (credit code, then the rules' flag order)."""
    setup = load_setup(rules_name)
    if year is None:
        year = latest_metrics_year(db)
        if year is None:
            raise WatchError(_("no metrics in the database: import them first (kq import metrics FILE)"))
    flags = setup.flags
    order = {f.id: i for i, f in enumerate(flags)}
    rows = []
    change_flags = [f for f in flags if f.test != "no_figures"]
    if change_flags:
        fields = sorted(set().union(*(f.fields() for f in change_flags)))
        cols = ", ".join(f"c.{f}" for f in fields) + ", " + ", ".join(f"p.{f}" for f in fields)
        n = len(fields)
        sql = (f"SELECT c.uscc, coalesce(e.name, c.name), e.district, {cols} FROM metrics c "
               f"JOIN metrics p ON p.uscc = c.uscc AND p.year = ? LEFT JOIN enterprises e ON e.uscc = c.uscc "
               f"WHERE c.year = ? AND ({' OR '.join(prefilter_sql(f) for f in change_flags)})")
        flags_for = W.flags_for
        for row in db.conn.execute(sql, (year - 1, year)):
            cur, prev = dict(zip(fields, row[3:3 + n])), dict(zip(fields, row[3 + n:]))
            for hit in flags_for(change_flags, prev, cur):
                rows.append({"uscc": row[0], "name": row[1], "district": row[2], "year": year, **hit})
    for f in flags:
        if f.test == "no_figures":
            for uscc, name, district in designated_without_figures(db, setup, year, f.kinds):
                rows.append({"uscc": uscc, "name": name, "district": district, "year": year, **W.no_figures_flag(f)})
    rows.sort(key=lambda r: (r["uscc"], order[r["flag"]]))
    return WatchResult(year, setup.name, [{k: r.get(k) for k in FLAG_FIELDS} for r in rows])


_SLACK = 1e-9   # the prefilter lets through everything within this of a limit; the exact test decides


def prefilter_sql(f: W.Flag) -> str:
    """A condition on the joined metrics rows ``c`` (the year) and ``p`` (the year before) that every
    firm raising flag ``f`` meets, and few others: :func:`kqtools.watch.flags_for` then decides
    exactly on the rows it lets through (a million firms: Python sees the few that moved)."""
    c, p = f"c.{f.field}", f"p.{f.field}"
    if f.test == "changed":
        return f"({c} IS NOT NULL AND {p} IS NOT NULL AND {c} <> {p})"
    limit = float(f.limit)
    cond = (f"({c} - {p}) <= {limit + _SLACK!r} * {p}" if f.test == "change_at_most"
            else f"({c} - {p}) >= {limit - _SLACK!r} * {p}")
    out = f"{p} > 0 AND {c} IS NOT NULL AND {cond}"
    if f.also_field:
        ac, ap = f"c.{f.also_field}", f"p.{f.also_field}"
        out += f" AND {ap} > 0 AND {ac} IS NOT NULL AND abs({ac} - {ap}) <= {float(f.also_within) + _SLACK!r} * {ap}"
    return f"({out})"


def designated_without_figures(db, setup, year: int, kinds: tuple[str, ...] = ()) -> list[tuple]:
    """(uscc, name, district) of the firms holding a designation (of ``kinds``; empty = any) in force
    on some day of ``year`` and without a metrics row for ``year``."""
    revoked = revoked_column(db)
    where = f"d.kind IN ({', '.join(lit(k) for k in kinds)}) AND " if kinds else ""
    rev = f" AND ({revoked} IS NULL OR {revoked} > :first)" if revoked != "NULL" else ""
    sql = (f"SELECT f.uscc, coalesce(e.name, (SELECT x.name FROM designations x WHERE x.uscc = f.uscc AND "
           f"x.name IS NOT NULL LIMIT 1)), e.district FROM (SELECT d.uscc AS uscc FROM designations d WHERE "
           f"{where}d.recognized_on <= :last AND {end_sql(setup.rules.validity)} >= :first"
           f"{rev} GROUP BY d.uscc) f LEFT JOIN enterprises e ON e.uscc = f.uscc "
           f"WHERE NOT EXISTS (SELECT 1 FROM metrics m WHERE m.uscc = f.uscc AND m.year = :year)")
    return db.conn.execute(sql, {"first": f"{year}-01-01", "last": f"{year}-12-31", "year": year}).fetchall()


# ---------------------------------------------------------------- the watch-alerts job action
def action_watch_alerts(db, spec, fire_local: dt.datetime):
    """经营异动提醒: each specialist gets the new flags of the firms they serve, once per flag; flags of
    firms nobody serves go to the spec's fixed recipients. Params: ``year`` (default the latest year
    with metrics), ``rules`` (ladder rules)."""
    from .. import reminders as R
    from .job_actions import ActionError

    try:
        result = watch(db, spec.params.get("year"), spec.params.get("rules"))
    except WatchError:
        return {"year": None, "flags": 0, "new": 0, "messages": 0}, [], []
    except KqtoolsError as exc:
        raise ActionError(str(exc)) from None
    conn = db.conn
    fire = R.utc_iso(fire_local)
    sent = {tuple(r) for r in conn.execute(
        "SELECT w.uscc, w.year, w.flag FROM watch_alerts w JOIN job_runs r ON r.job_id = w.job_id "
        "AND r.fire_time = w.fire_time AND r.status = 'done' WHERE w.job_id = ? AND w.year = ?",
        (spec.id, result.year))}
    new = [r for r in result.rows if (r["uscc"], r["year"], r["flag"]) not in sent]
    serving = _specialists_of(db, {r["uscc"] for r in new})
    fixed = R.fixed_recipients(spec.recipients, _active_specialists(db) if "specialists" in spec.recipients else ())
    per_specialist = "specialist" in spec.recipients
    groups: dict[str, list[dict]] = {}
    for r in new:
        sid = serving.get(r["uscc"], (None,))[0] if per_specialist else None
        groups.setdefault(sid or "", []).append(r)
    messages, recorded = [], []
    for sid in sorted(groups):
        items = groups[sid]
        if sid:
            _, name, email = serving[items[0]["uscc"]]
            to = (R.Recipient(sid, name or sid, email or None),) + tuple(x for x in fixed if x.id != sid)
        else:
            name, to = "未分配服务专员的企业" if per_specialist else "经营异动", tuple(fixed)
        if not to:
            continue
        subject, body = W.alert_texts(name, items, result.year)
        messages.append(R.Message(key=f"watch:{sid or '-'}", subject=subject, body=body, to=to))
        recorded += [(r["uscc"], r["year"], r["flag"], spec.id, fire, sid or None) for r in items]
    with write_transaction(db):
        conn.executemany("INSERT INTO watch_alerts (uscc, year, flag, job_id, fire_time, specialist_id) "
                         "VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING", recorded)
    summary = {"year": result.year, "flags": len(result.rows), "new": len(new), "sent": len(recorded),
               "messages": len(messages)}
    return summary, messages, []


def _specialists_of(db, usccs: set[str]) -> dict[str, tuple]:
    """uscc -> (specialist id, name, e-mail) for the firms of ``usccs`` that have one."""
    has = db.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'assignments'").fetchone()
    if not has or not usccs:
        return {}
    out, codes = {}, sorted(usccs)
    for i in range(0, len(codes), 500):
        chunk = codes[i:i + 500]
        for u, sid, name, email in db.conn.execute(
                "SELECT a.uscc, a.specialist_id, s.name, s.email FROM assignments a "
                "LEFT JOIN specialists s ON s.id = a.specialist_id "
                f"WHERE a.uscc IN ({', '.join('?' * len(chunk))})", chunk):
            out[u] = (sid, name, email)
    return out


def _active_specialists(db) -> list[dict]:
    return [{"id": i, "name": n, "email": e} for i, n, e in
            db.conn.execute("SELECT id, name, email FROM specialists WHERE active = 1 ORDER BY id")]
