"""Reminder jobs in the database: occurrence claims and runs, and the cache behind a fast ``run-due``.

Exactly once, whoever runs it
-----------------------------
Every occurrence of a job (job id + fire time in UTC) has at most one row in ``job_runs``
(``UNIQUE (job_id, fire_time)``). A process runs an occurrence only after it INSERTed that row
inside ``BEGIN IMMEDIATE``; another ``kq jobs run-due`` or ``kq scheduler`` finds the row and
leaves it alone. The messages a run produces go into ``outbox`` in the same transaction that marks
the run ``done`` (and only if the run still belongs to this process), so a crash leaves either no
messages or all of them, never a half or a double set. A run that raised is recorded ``failed``; a
run whose process died stays ``running`` until it is found stale (the process is gone on this host,
or the lease expired); both are retried by the next run within the misfire grace.

The clock and a given moment
----------------------------
A run by the clock (cron, the scheduler) plans from the last occurrence a run by the clock recorded:
the latest due occurrence within grace runs, older ones are recorded ``coalesced`` or ``missed``.
A run at a moment given with ``--now`` (``clock = 'given'``) claims only the occurrence due at that
moment and records nothing else: no missed or coalesced rows, no cache that a real run would trust
for an earlier moment. So ``--now 2027-12-07`` typed for 2026 cannot turn the reminders off.

The delivery of the messages is :mod:`kqtools.storage.outbox`; what an action does,
:mod:`kqtools.storage.job_actions`; the daemon, :mod:`kqtools.storage.scheduler`.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from dataclasses import dataclass, field

from .. import reminders as R
from ..errors import KqtoolsError
from ..i18n import _

DEFAULT_LEASE_SECONDS = 21600          # a run older than this (6 h) is stale
FUTURE_LIMIT = dt.timedelta(days=1)    # --now further ahead than this needs --allow-future


class DatabaseBusy(KqtoolsError):
    """The database stayed locked by another process for the whole busy timeout."""


def owner() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def wall_iso() -> str:
    return R.utc_iso(dt.datetime.now(dt.timezone.utc))


def _conn(db):
    return getattr(db, "conn", db)


def db_file(db) -> str:
    row = _conn(db).execute("PRAGMA database_list").fetchone()
    return (row[2] if row else "") or ":memory:"


@contextlib.contextmanager
def transaction(db):
    """``write_transaction``, with a lock held elsewhere past the busy timeout said in one line."""
    from . import write_transaction

    try:
        with write_transaction(db) as conn:
            yield conn
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        raise DatabaseBusy(_("{value}: the database stayed locked by another process (a long import or scoring "
                             "run?): nothing was changed; try again").format(value=db_file(db))) from None


def _process_gone(claimed_by: str | None) -> bool:
    """True when ``host:pid`` names a process on this host that no longer exists."""
    import socket

    if not claimed_by or ":" not in claimed_by:
        return False
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def _stale(claimed_by: str | None, started_at: str | None, wall: dt.datetime, lease_seconds: int) -> bool:
    if _process_gone(claimed_by):
        return True
    if started_at:
        return (wall - R.from_utc_iso(started_at)).total_seconds() > lease_seconds
    return False


def check_given_now(moment: dt.datetime, allow_future: bool = False) -> None:
    """Refuse a ``--now`` more than a day ahead of the clock (a typed year) unless ``allow_future``."""
    from ..clock import utc_now

    if not allow_future and moment - utc_now() > FUTURE_LIMIT:
        raise KqtoolsError(_("--now {moment} is more than a day ahead of the clock: a typo for another year? "
                             "(give --allow-future to run the occurrences due then)").format(
                               moment=moment.isoformat()))


# --------------------------------------------------------------------------- outcomes

@dataclass
class Outcome:
    job_id: str
    fire_time: str
    status: str                  # done, failed, missed, coalesced, busy (claimed elsewhere)
    messages: int = 0
    error: str | None = None
    run_id: int | None = None
    attempts: int = 0

    def row(self) -> dict:
        return {"job_id": self.job_id, "fire_time": self.fire_time, "status": self.status,
                "messages": self.messages, "attempts": self.attempts, "error": self.error}


@dataclass
class DueReport:
    outcomes: list = field(default_factory=list)
    problems: list = field(default_factory=list)     # spec problems found while running

    @property
    def needs_attention(self) -> bool:
        return bool(self.problems) or any(o.status in ("failed", "missed") for o in self.outcomes)


# --------------------------------------------------------------------------- running due jobs

def run_due(db, specs: dict, now: dt.datetime, only: list[str] | None = None, digest: str | None = None, *,
            given: bool = False, lease_seconds: int = DEFAULT_LEASE_SECONDS, masker=None) -> DueReport:
    """Run every occurrence that has fallen due at ``now`` and is not claimed yet; record the rest.

    ``given``: ``now`` was given (``--now``), not read from the clock: only the occurrence due at
    ``now`` is claimed; nothing is recorded as missed or coalesced (see the module docstring).
    By the clock, for each enabled job the occurrences since the last one recorded by the clock (for a
    job never run: only the latest within grace) are planned with :func:`reminders.plan_occurrences`.
    A ``failed`` or stale ``running`` occurrence within grace is retried when nothing newer is due.

    ``digest``: :func:`jobspecs.files_digest` of the spec files ``specs`` were loaded from (computed
    before loading, and only passed when every file was valid); remembered so the next ``run-due``
    can tell that nothing changed without reading the specs.
    """
    from ..jobspecs import make_trigger

    report = DueReport()
    now = R.floor_second(now.astimezone(dt.timezone.utc))
    triggers = {}
    for job_id in sorted(specs):
        spec = specs[job_id]
        if not spec.enabled or (only and job_id not in only):
            continue
        try:
            triggers[job_id] = make_trigger(spec)
        except R.SpecError as exc:
            report.problems.append(str(exc))
            continue
        report.outcomes += _run_job(db, spec, triggers[job_id], now, given, lease_seconds, masker)
    update_state(db, specs, triggers, now, digest=None if only or report.problems else digest)
    return report


def _run_job(db, spec, trigger, now: dt.datetime, given: bool, lease_seconds: int, masker) -> list[Outcome]:
    conn = _conn(db)
    now_iso = R.utc_iso(now)
    grace = spec.misfire_grace
    last = None if given else conn.execute(
        "SELECT max(fire_time) FROM job_runs WHERE job_id = ? AND trigger_kind = 'scheduled' AND clock = 'clock' "
        "AND fire_time <= ?", (spec.id, now_iso)).fetchone()[0]
    if last is None:  # given moment, or never run: only the latest occurrence within grace, no history invented
        latest = R.latest_fire(trigger, now - dt.timedelta(seconds=grace + 1), now)
        plan = R.Plan(latest if latest and R.within_grace(latest, now, grace) else None)
    else:
        plan = R.plan_occurrences(R.occurrences(trigger, R.from_utc_iso(last), now), now, grace)
    candidate = plan.run
    if candidate is None and last is not None and R.within_grace(R.from_utc_iso(last), now, grace):
        candidate = R.from_utc_iso(last)          # maybe a failed or abandoned run to retry
    outcomes: list[Outcome] = []
    wall = wall_iso()
    with transaction(db):
        for t in plan.missed:
            cur = conn.execute(
                "INSERT INTO job_runs(job_id, fire_time, status, spec_sha256, finished_at, error) "
                "VALUES (?, ?, 'missed', ?, ?, ?) ON CONFLICT(job_id, fire_time) DO NOTHING",
                (spec.id, R.utc_iso(t), spec.sha256, wall,
                 f"not run within its misfire grace of {_human(grace)} (checked at {now_iso})"))
            if cur.rowcount:
                outcomes.append(Outcome(spec.id, R.utc_iso(t), "missed", error="beyond misfire grace"))
        for t in plan.coalesced:
            cur = conn.execute(
                "INSERT INTO job_runs(job_id, fire_time, status, spec_sha256, finished_at, error) "
                "VALUES (?, ?, 'coalesced', ?, ?, ?) ON CONFLICT(job_id, fire_time) DO NOTHING",
                (spec.id, R.utc_iso(t), spec.sha256, wall, f"covered by the run of {R.utc_iso(candidate)}"))
            if cur.rowcount:
                outcomes.append(Outcome(spec.id, R.utc_iso(t), "coalesced"))
        claim = _claim(conn, spec, R.utc_iso(candidate), "scheduled", given, lease_seconds) \
            if candidate is not None else None
    if claim is not None:
        outcomes.append(execute(db, spec, claim[0], candidate, attempts=claim[1], masker=masker))
    return outcomes


def _claim(conn, spec, fire_iso: str, kind: str, given: bool = False,
           lease_seconds: int = DEFAULT_LEASE_SECONDS) -> tuple[int, int] | None:
    """(run id, attempt) if this process now owns the occurrence; call inside a write transaction."""
    me, wall = owner(), wall_iso()
    cur = conn.execute(
        "INSERT INTO job_runs(job_id, fire_time, trigger_kind, status, attempts, claimed_by, started_at, spec_sha256, "
        "clock) VALUES (?, ?, ?, 'running', 1, ?, ?, ?, ?) ON CONFLICT(job_id, fire_time) DO NOTHING",
        (spec.id, fire_iso, kind, me, wall, spec.sha256, "given" if given else "clock"))
    if cur.rowcount == 1:
        return cur.lastrowid, 1
    run_id, status, claimed_by, started_at, attempts, error = conn.execute(
        "SELECT id, status, claimed_by, started_at, attempts, error FROM job_runs WHERE job_id = ? AND fire_time = ?",
        (spec.id, fire_iso)).fetchone()
    if status == "failed" or (status == "running" and _stale(claimed_by, started_at, R.from_utc_iso(wall),
                                                             lease_seconds)):
        note = error if status == "failed" else f"attempt {attempts} by {claimed_by} did not finish"
        cur = conn.execute(
            "UPDATE job_runs SET status = 'running', attempts = attempts + 1, claimed_by = ?, started_at = ?, "
            "finished_at = NULL, spec_sha256 = ?, error = ? WHERE id = ? AND status = ? AND claimed_by IS ?",
            (me, wall, spec.sha256, f"retrying after: {note}", run_id, status, claimed_by))
        if cur.rowcount == 1:
            return run_id, attempts + 1
    return None


def run_now(db, spec, now: dt.datetime, *, given: bool = False, masker=None) -> Outcome:
    """``kq jobs run ID``: run the job once, now, outside its schedule; recorded as a manual run."""
    now = R.floor_second(now.astimezone(dt.timezone.utc))
    with transaction(db):
        claim = _claim(_conn(db), spec, R.utc_iso(now), "manual", given)
    if claim is None:
        return Outcome(spec.id, R.utc_iso(now), "busy", error="a run of this job at this second exists already")
    return execute(db, spec, claim[0], now, attempts=claim[1], masker=masker)


def execute(db, spec, run_id: int, fire: dt.datetime, attempts: int = 1, masker=None) -> Outcome:
    """Run the action of a claimed occurrence; record done (with its messages) or failed (the error
    masked by ``masker``, a :class:`kqtools.masking.Masker`)."""
    from ..masking import Masker, one_line
    from .job_actions import ActionError, action

    conn = _conn(db)
    fire_iso = R.utc_iso(fire)
    me = owner()
    masker = masker or Masker()
    try:
        result, messages, notices = action(spec.action)(db, spec, fire.astimezone(R.zone(spec.timezone)))
        rows = R.outbox_rows(messages, spec.channels)
    except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised if it was not an ordinary error
        error = one_line(masker(str(exc)), 2000) if isinstance(exc, ActionError) else masker.exception(exc, 2000)
        with transaction(db):
            conn.execute("UPDATE job_runs SET status = 'failed', finished_at = ?, error = ? "
                         "WHERE id = ? AND claimed_by = ? AND status = 'running'",
                         (wall_iso(), error, run_id, me))
        if not isinstance(exc, Exception):
            raise
        return Outcome(spec.id, fire_iso, "failed", error=error, run_id=run_id, attempts=attempts)
    wall = wall_iso()
    with transaction(db):
        inserted = 0
        for r in rows:
            cur = conn.execute(
                "INSERT INTO outbox(job_id, fire_time, run_id, channel, recipient, recipient_name, subject, body, "
                "dedupe_key, status, last_error, created_at, body_html) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(job_id, fire_time, channel, recipient, dedupe_key) DO NOTHING",
                (spec.id, fire_iso, run_id, r["channel"], r["recipient"], r["recipient_name"], r["subject"],
                 r["body"], r["dedupe_key"], r["status"], r["last_error"], wall, r.get("html")))
            inserted += cur.rowcount
            if cur.rowcount == 1 and r.get("attachments"):
                from .outbox import add_attachments

                add_attachments(conn, cur.lastrowid, r["attachments"], wall)
        for n in notices:
            conn.execute(
                "INSERT INTO expiry_notices(uscc, kind, level, recognized_on, threshold_days, expires_on, job_id, "
                "fire_time) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (n["uscc"], n["kind"], n["level"], n["recognized_on"], n["threshold"], n["expires_on"], spec.id,
                 fire_iso))
        cur = conn.execute(
            "UPDATE job_runs SET status = 'done', finished_at = ?, messages = ?, result = ?, error = NULL "
            "WHERE id = ? AND claimed_by = ? AND status = 'running'",
            (wall, inserted, json.dumps(result, ensure_ascii=False, default=str), run_id, me))
        if cur.rowcount != 1:   # another process took the run over as stale: its result counts, not ours
            raise _LostClaim()
    return Outcome(spec.id, fire_iso, "done", messages=inserted, run_id=run_id, attempts=attempts)


class _LostClaim(Exception):
    pass


def _human(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# --------------------------------------------------------------------------- the cache for a fast run-due

def update_state(db, specs: dict, triggers: dict, now: dt.datetime, digest: str | None = None) -> None:
    """Refresh the ``job_state`` cache that lets ``run-due`` skip jobs with nothing due.

    Each row says "nothing of this job is due in [checked_for, next_check)". Read and written in one
    ``BEGIN IMMEDIATE`` so a failure recorded by another process cannot be hidden behind a later
    ``next_check``.
    """
    conn = _conn(db)
    now_iso = R.utc_iso(now)
    with transaction(db):
        cached = {job_id: (sha, nxt, checked) for job_id, sha, nxt, checked in
                  conn.execute("SELECT job_id, spec_sha256, next_check, checked_for FROM job_state")}
        for job_id, trigger in triggers.items():
            spec = specs[job_id]
            since = R.utc_iso(now - dt.timedelta(seconds=spec.misfire_grace))
            open_run = conn.execute(
                "SELECT 1 FROM job_runs WHERE job_id = ? AND trigger_kind = 'scheduled' "
                "AND status IN ('failed', 'running') AND fire_time >= ? AND fire_time <= ? LIMIT 1",
                (job_id, since, now_iso)).fetchone()
            if open_run:
                next_check = now_iso
            else:
                nxt = R.next_fire(trigger, now)
                next_check = R.utc_iso(nxt) if nxt else R.NEVER
            if cached.get(job_id) != (spec.sha256, next_check, now_iso):
                conn.execute(
                    "INSERT INTO job_state(job_id, spec_sha256, next_check, checked_for, updated_at) "
                    "VALUES (?,?,?,?,?) ON CONFLICT(job_id) DO UPDATE SET spec_sha256 = excluded.spec_sha256, "
                    "next_check = excluded.next_check, checked_for = excluded.checked_for, "
                    "updated_at = excluded.updated_at",
                    (job_id, spec.sha256, next_check, now_iso, wall_iso()))
        if digest:
            conn.execute("INSERT INTO job_files(digest, jobs, checked_at) VALUES (?, ?, ?) ON CONFLICT(digest) "
                         "DO UPDATE SET jobs = excluded.jobs, checked_at = excluded.checked_at",
                         (digest, json.dumps(R.enabled_hashes(specs), sort_keys=True), wall_iso()))
            conn.execute("DELETE FROM job_files WHERE checked_at < ?",
                         (R.utc_iso(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=90)),))


def nothing_due_fast(path: str, digest: str, now_iso: str, channels: list[str]) -> bool:
    """True when the database says nothing is due at ``now_iso`` and nothing can be delivered.

    Cron calls ``run-due`` every few minutes, so this avoids what costs start-up time: it does not
    parse or validate the spec files (their digest equals the one the last full run stored in
    ``job_files``), and it reads the ``job_state`` cache with the standard library's sqlite3
    (read-only), without sqlite-utils or a write lock. Anything unusual (no database yet, an older
    schema, an edited spec, a failed run to retry, messages to deliver or stuck) answers False and the
    full path runs.
    """
    from urllib.parse import quote

    if path == ":memory:" or not os.path.isfile(path):
        return False
    try:
        conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return False
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] != _latest_version():
            return False
        row = conn.execute("SELECT jobs FROM job_files WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            return False
        state = {j: (sha, nxt) for j, sha, nxt, checked in
                 conn.execute("SELECT job_id, spec_sha256, next_check, checked_for FROM job_state")
                 if checked is not None and checked <= now_iso}
        if not R.nothing_due(json.loads(row[0]), state, now_iso):
            return False
        if conn.execute("SELECT 1 FROM outbox WHERE status = 'sending' LIMIT 1").fetchone():
            return False          # being sent now, or stuck: the full path reports stuck ones
        if channels:
            marks = ",".join("?" * len(channels))
            if conn.execute(f"SELECT 1 FROM outbox WHERE status = 'pending' AND channel IN ({marks}) LIMIT 1",
                            channels).fetchone():
                return False
        return True
    except (sqlite3.Error, ValueError):
        return False
    finally:
        conn.close()


def _latest_version() -> int:
    """The newest migration's number, from the file names alone (the SQL is not read; this package's own
    folder, without importlib.resources, which costs the shortcut ~20 ms)."""
    names = os.listdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations"))
    return max((int(n[:4]) for n in names if n[:4].isdigit() and n.endswith(".sql")), default=0)


# --------------------------------------------------------------------------- reading back

RUN_COLUMNS = ["id", "job_id", "fire_time", "trigger_kind", "clock", "status", "attempts", "messages", "claimed_by",
               "started_at", "finished_at", "error", "result"]


def history(db, job_id: str | None = None, limit: int | None = None) -> list[dict]:
    sql = f"SELECT {', '.join(RUN_COLUMNS)} FROM job_runs"
    args: list = []
    if job_id:
        sql += " WHERE job_id = ?"
        args.append(job_id)
    sql += " ORDER BY fire_time DESC, id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [dict(zip(RUN_COLUMNS, r)) for r in _conn(db).execute(sql, args)]


def last_runs(db) -> dict[str, dict]:
    """job id -> its latest run (any kind)."""
    out = {}
    for row in history(db):
        out.setdefault(row["job_id"], row)
    return out
