"""Reminder jobs in the database: occurrence claims, runs, the outbox and its delivery.

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

Delivery is separate from producing: :func:`deliver_pending` claims one pending message at a time
(``pending -> sending`` in its own transaction), hands it to its channel, and marks it ``sent``; a
failed hand-over puts it back to ``pending`` with ``last_error``. A process that dies between
claiming and marking leaves the message in ``sending``: it is **not** resent automatically
(at-most-once, since a mail server may have accepted it already); :func:`stuck_messages` lists
those, and a person decides with ``kq outbox retry ID`` or ``kq outbox ack ID``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
from dataclasses import dataclass, field

from .. import reminders as R
from . import write_transaction
from ..errors import KqtoolsError

LEASE_SECONDS = int(os.environ.get("KQ_JOB_LEASE_SECONDS", "21600"))      # a run older than this is stale
SENDING_STALE_SECONDS = int(os.environ.get("KQ_SENDING_STALE_SECONDS", "600"))


class ActionError(KqtoolsError, RuntimeError):
    """A job action could not run; the message is recorded with the run."""


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def wall_iso() -> str:
    return R.utc_iso(dt.datetime.now(dt.timezone.utc))


def _conn(db):
    return getattr(db, "conn", db)


def _process_gone(claimed_by: str | None) -> bool:
    """True when ``host:pid`` names a process on this host that no longer exists."""
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


def _stale(claimed_by: str | None, started_at: str | None, wall: dt.datetime) -> bool:
    if _process_gone(claimed_by):
        return True
    if started_at:
        return (wall - R.from_utc_iso(started_at)).total_seconds() > LEASE_SECONDS
    return False


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

def run_due(db, specs: dict, now: dt.datetime, only: list[str] | None = None, digest: str | None = None) -> DueReport:
    """Run every occurrence that has fallen due at ``now`` and is not claimed yet; record the rest.

    For each enabled job: the occurrences since its last recorded occurrence (or, for a job never
    run, within its grace) are planned with :func:`reminders.plan_occurrences`: the latest one within
    grace runs (covering the others, recorded ``coalesced``), older ones are recorded ``missed``. A
    ``failed`` or stale ``running`` occurrence within grace is retried when nothing newer is due.

    ``digest``: :func:`reminders.files_digest` of the spec files ``specs`` were loaded from (computed
    before loading, and only passed when every file was valid); remembered so the next ``run-due``
    can tell that nothing changed without reading the specs.
    """
    report = DueReport()
    now = R.floor_second(now.astimezone(dt.timezone.utc))
    triggers = {}
    for job_id in sorted(specs):
        spec = specs[job_id]
        if not spec.enabled or (only and job_id not in only):
            continue
        try:
            triggers[job_id] = R.make_trigger(spec)
        except R.SpecError as exc:
            report.problems.append(str(exc))
            continue
        report.outcomes += _run_job(db, spec, triggers[job_id], now)
    update_state(db, specs, triggers, now, digest=None if only or report.problems else digest)
    return report


def _run_job(db, spec, trigger, now: dt.datetime) -> list[Outcome]:
    conn = _conn(db)
    now_iso = R.utc_iso(now)
    last = conn.execute("SELECT max(fire_time) FROM job_runs WHERE job_id = ? AND trigger_kind = 'scheduled' "
                        "AND fire_time <= ?", (spec.id, now_iso)).fetchone()[0]
    grace = spec.misfire_grace
    if last is None:  # never run: only the latest occurrence within grace, no history invented
        found = R.occurrences(trigger, now - dt.timedelta(seconds=grace) - dt.timedelta(seconds=1), now)
        plan = R.Plan(found[-1] if found and R.within_grace(found[-1], now, grace) else None)
    else:
        plan = R.plan_occurrences(R.occurrences(trigger, R.from_utc_iso(last), now), now, grace)
    candidate = plan.run
    if candidate is None and last is not None and R.within_grace(R.from_utc_iso(last), now, grace):
        candidate = R.from_utc_iso(last)          # maybe a failed or abandoned run to retry
    outcomes: list[Outcome] = []
    wall = wall_iso()
    with write_transaction(db):
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
        claim = _claim(conn, spec, R.utc_iso(candidate), "scheduled") if candidate is not None else None
    if claim is not None:
        outcomes.append(execute(db, spec, claim[0], candidate, attempts=claim[1]))
    return outcomes


def _claim(conn, spec, fire_iso: str, kind: str) -> tuple[int, int] | None:
    """(run id, attempt) if this process now owns the occurrence; call inside write_transaction."""
    me, wall = owner(), wall_iso()
    cur = conn.execute(
        "INSERT INTO job_runs(job_id, fire_time, trigger_kind, status, attempts, claimed_by, started_at, spec_sha256) "
        "VALUES (?, ?, ?, 'running', 1, ?, ?, ?) ON CONFLICT(job_id, fire_time) DO NOTHING",
        (spec.id, fire_iso, kind, me, wall, spec.sha256))
    if cur.rowcount == 1:
        return cur.lastrowid, 1
    run_id, status, claimed_by, started_at, attempts, error = conn.execute(
        "SELECT id, status, claimed_by, started_at, attempts, error FROM job_runs WHERE job_id = ? AND fire_time = ?",
        (spec.id, fire_iso)).fetchone()
    if status == "failed" or (status == "running" and _stale(claimed_by, started_at, R.from_utc_iso(wall))):
        note = error if status == "failed" else f"attempt {attempts} by {claimed_by} did not finish"
        cur = conn.execute(
            "UPDATE job_runs SET status = 'running', attempts = attempts + 1, claimed_by = ?, started_at = ?, "
            "finished_at = NULL, spec_sha256 = ?, error = ? WHERE id = ? AND status = ? AND claimed_by IS ?",
            (me, wall, spec.sha256, f"retrying after: {note}", run_id, status, claimed_by))
        if cur.rowcount == 1:
            return run_id, attempts + 1
    return None


def run_now(db, spec, now: dt.datetime) -> Outcome:
    """``kq jobs run ID``: run the job once, now, outside its schedule; recorded as a manual run."""
    now = R.floor_second(now.astimezone(dt.timezone.utc))
    with write_transaction(db):
        claim = _claim(_conn(db), spec, R.utc_iso(now), "manual")
    if claim is None:
        return Outcome(spec.id, R.utc_iso(now), "busy", error="a run of this job at this second exists already")
    return execute(db, spec, claim[0], now, attempts=claim[1])


def execute(db, spec, run_id: int, fire: dt.datetime, attempts: int = 1) -> Outcome:
    """Run the action of a claimed occurrence; record done (with its messages) or failed."""
    conn = _conn(db)
    fire_iso = R.utc_iso(fire)
    me = owner()
    try:
        result, messages, notices = ACTIONS[spec.action](db, spec, fire.astimezone(R.zone(spec.timezone)))
        rows = R.outbox_rows(messages, spec.channels)
    except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised if it was not an ordinary error
        error = str(exc) if isinstance(exc, ActionError) else f"{type(exc).__name__}: {exc}"
        with write_transaction(db):
            conn.execute("UPDATE job_runs SET status = 'failed', finished_at = ?, error = ? "
                         "WHERE id = ? AND claimed_by = ? AND status = 'running'",
                         (wall_iso(), error[:2000], run_id, me))
        if not isinstance(exc, Exception):
            raise
        return Outcome(spec.id, fire_iso, "failed", error=error, run_id=run_id, attempts=attempts)
    wall = wall_iso()
    with write_transaction(db):
        inserted = 0
        for r in rows:
            cur = conn.execute(
                "INSERT INTO outbox(job_id, fire_time, run_id, channel, recipient, recipient_name, subject, body, "
                "dedupe_key, status, last_error, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(job_id, fire_time, channel, recipient, dedupe_key) DO NOTHING",
                (spec.id, fire_iso, run_id, r["channel"], r["recipient"], r["recipient_name"], r["subject"],
                 r["body"], r["dedupe_key"], r["status"], r["last_error"], wall))
            inserted += cur.rowcount
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


def update_state(db, specs: dict, triggers: dict, now: dt.datetime, digest: str | None = None) -> None:
    """Refresh the ``job_state`` cache that lets ``run-due`` skip jobs with nothing due.

    Read and written in one ``BEGIN IMMEDIATE`` so a failure recorded by another process cannot be
    hidden behind a later ``next_check``.
    """
    conn = _conn(db)
    now_iso = R.utc_iso(now)
    with write_transaction(db):
        cached = {job_id: (sha, nxt) for job_id, sha, nxt in
                  conn.execute("SELECT job_id, spec_sha256, next_check FROM job_state")}
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
            if cached.get(job_id) != (spec.sha256, next_check):
                conn.execute(
                    "INSERT INTO job_state(job_id, spec_sha256, next_check, updated_at) VALUES (?,?,?,?) "
                    "ON CONFLICT(job_id) DO UPDATE SET spec_sha256 = excluded.spec_sha256, "
                    "next_check = excluded.next_check, updated_at = excluded.updated_at",
                    (job_id, spec.sha256, next_check, wall_iso()))
        if digest:
            conn.execute("INSERT INTO job_files(digest, jobs, checked_at) VALUES (?, ?, ?) ON CONFLICT(digest) "
                         "DO UPDATE SET jobs = excluded.jobs, checked_at = excluded.checked_at",
                         (digest, json.dumps(R.enabled_hashes(specs), sort_keys=True), wall_iso()))
            conn.execute("DELETE FROM job_files WHERE checked_at < ?",
                         (R.utc_iso(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=90)),))


# --------------------------------------------------------------------------- actions

def _specialists(db) -> list[dict]:
    conn = _conn(db)
    return [{"id": i, "name": n, "email": e} for i, n, e in
            conn.execute("SELECT id, name, email FROM specialists WHERE active = 1 ORDER BY id")]


def _fixed(db, spec) -> list[R.Recipient]:
    return R.fixed_recipients(spec.recipients, _specialists(db) if "specialists" in spec.recipients else ())


def _table_exists(db, name: str) -> bool:
    return _conn(db).execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() \
        is not None


def _compact(result) -> dict:
    """An action's summary as stored with the run and mailed: long lists become their length."""
    result = result if isinstance(result, dict) else {"result": result}
    return {k: (len(v) if isinstance(v, (list, tuple, dict)) and len(v) > 10 else v) for k, v in result.items()}


def _missing(what: str, exc: Exception) -> ActionError:
    return ActionError(f"{what} is not available in this installation ({type(exc).__name__}: {exc})")


def action_visit_reminders(db, spec, fire_local: dt.datetime):
    """走访提醒: one message per specialist listing their firms not visited this quarter."""
    try:
        from .assignment import due_visits
    except ImportError as exc:
        raise _missing("visit-reminders needs kqtools.storage.assignment.due_visits", exc) from None
    as_of = fire_local.date()
    rows = due_visits(db, as_of)
    messages = R.visit_messages(rows, as_of, spec.recipients, _fixed(db, spec))
    due = R.not_visited_this_quarter(rows, as_of)
    return ({"as_of": as_of.isoformat(), "firms_not_visited": len(due), "specialists": len(messages)},
            messages, [])


def action_expiry_reminders(db, spec, fire_local: dt.datetime):
    """资质到期提醒: designations expiring within the thresholds, to each firm's specialist."""
    if not _table_exists(db, "assignments"):
        raise ActionError("expiry-reminders needs the assignments table (migration 0004, kq assign), "
                          "which this database does not have")
    as_of = fire_local.date()
    thresholds = sorted(spec.params.get("days", [90, 30]))
    horizon = (as_of + dt.timedelta(days=max(thresholds))).isoformat()
    kinds = spec.params.get("kinds")
    sql = """
        SELECT d.uscc, COALESCE(e.name, d.name) AS name, d.kind, d.level, d.recognized_on, d.expires_on,
               d.certificate_no, a.specialist_id, s.name AS specialist_name, s.email AS specialist_email
        FROM designations d
        LEFT JOIN enterprises e ON e.uscc = d.uscc
        LEFT JOIN assignments a ON a.uscc = d.uscc
        LEFT JOIN specialists s ON s.id = a.specialist_id
        WHERE d.expires_on >= ? AND d.expires_on <= ?
          AND NOT EXISTS (SELECT 1 FROM designations n WHERE n.uscc = d.uscc AND n.kind = d.kind
                          AND n.level = d.level AND n.recognized_on > d.recognized_on)"""
    args: list = [as_of.isoformat(), horizon]
    if kinds:
        sql += f" AND d.kind IN ({','.join('?' * len(kinds))})"
        args += list(kinds)
    conn = _conn(db)
    cols = ["uscc", "name", "kind", "level", "recognized_on", "expires_on", "certificate_no", "specialist_id",
            "specialist_name", "specialist_email"]
    rows = [dict(zip(cols, r)) for r in conn.execute(sql + " ORDER BY d.expires_on, d.uscc", args)]
    noticed = {tuple(r) for r in conn.execute(
        "SELECT uscc, kind, level, recognized_on, threshold_days FROM expiry_notices WHERE expires_on >= ?",
        (as_of.isoformat(),))}
    due = R.expiry_due(rows, as_of, thresholds, noticed)
    messages = R.expiry_messages(due, as_of, spec.recipients, _fixed(db, spec))
    sent_keys = {m.key for m in messages}
    notices = [{**d, "level": d.get("level") or "", "threshold": t} for d in due
               if f"expiry:{d.get('specialist_id') or '-'}" in sent_keys for t in d["covers"]]
    return ({"as_of": as_of.isoformat(), "thresholds": thresholds, "designations": len(due),
             "messages": len(messages)}, messages, notices)


def action_lists_rebuild(db, spec, fire_local: dt.datetime):
    """Rebuild the credit white/blacklists as of the fire date."""
    try:
        from .lists import build_lists
    except ImportError as exc:
        raise _missing("lists-rebuild needs kqtools.storage.lists.build_lists", exc) from None
    result = _compact(build_lists(db, as_of=fire_local.date(), rules_name=spec.params.get("rules")))
    to = _fixed(db, spec)
    messages = [R.summary_message(spec.id, f"信用名单已重建({fire_local.date().isoformat()})", result, to)] \
        if (to or "webhook" in spec.channels) else []
    return result, messages, []


def action_score_run(db, spec, fire_local: dt.datetime):
    """Run the resource-utilization scoring for a year (default: the year before the fire time)."""
    try:
        from .scoring import run_scoring
    except ImportError as exc:
        raise _missing("score-run needs kqtools.storage.scoring.run_scoring", exc) from None
    year = int(spec.params.get("year") or fire_local.year - 1)
    result = {"year": year, **_compact(run_scoring(db, year, rules_name=spec.params.get("rules")))}
    to = _fixed(db, spec)
    messages = [R.summary_message(spec.id, f"{year} 年度亩均评价已计算", result, to)] \
        if (to or "webhook" in spec.channels) else []
    return result, messages, []


def action_meeting_reminder(db, spec, fire_local: dt.datetime):
    """会议/宣讲提醒: the spec's fixed text to its recipients."""
    to = _fixed(db, spec)
    message = R.fixed_message(spec.params, fire_local, to)
    return {"recipients": len(to)}, [message], []


ACTIONS = {
    "visit-reminders": action_visit_reminders,
    "expiry-reminders": action_expiry_reminders,
    "lists-rebuild": action_lists_rebuild,
    "score-run": action_score_run,
    "meeting-reminder": action_meeting_reminder,
}


# --------------------------------------------------------------------------- reading back

RUN_COLUMNS = ["id", "job_id", "fire_time", "trigger_kind", "status", "attempts", "messages", "claimed_by",
               "started_at", "finished_at", "error", "result"]
OUTBOX_COLUMNS = ["id", "job_id", "fire_time", "channel", "recipient", "recipient_name", "subject", "body",
                  "status", "attempts", "last_error", "created_at", "sent_at"]


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


def outbox(db, pending: bool = False, job_id: str | None = None) -> list[dict]:
    sql = f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM outbox"
    where, args = [], []
    if pending:
        where.append("status IN ('pending', 'sending')")
    if job_id:
        where.append("job_id = ?")
        args.append(job_id)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [dict(zip(OUTBOX_COLUMNS, r)) for r in _conn(db).execute(sql + " ORDER BY id", args)]


def ack(db, message_id: int) -> str:
    """Mark a message handled by a person: no (further) delivery. Returns its previous status."""
    with write_transaction(db):
        row = _conn(db).execute("SELECT status FROM outbox WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise KeyError(message_id)
        if row[0] in ("pending", "sending", "undeliverable"):
            _conn(db).execute("UPDATE outbox SET status = 'acked', acked_at = ?, claimed_by = NULL WHERE id = ?",
                              (wall_iso(), message_id))
    return row[0]


def retry(db, message_id: int) -> str:
    """Put a message stuck in ``sending`` (or acked by mistake) back to ``pending``."""
    with write_transaction(db):
        row = _conn(db).execute("SELECT status FROM outbox WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise KeyError(message_id)
        if row[0] in ("sending", "acked"):
            _conn(db).execute("UPDATE outbox SET status = 'pending', claimed_by = NULL, acked_at = NULL WHERE id = ?",
                              (message_id,))
    return row[0]


def stuck_messages(db) -> list[dict]:
    """Messages left in ``sending`` by a process that is gone (or for too long): delivered or not,
    nobody knows; they are not resent automatically."""
    wall = dt.datetime.now(dt.timezone.utc)
    out = []
    for row_id, job_id, recipient, claimed_by, sending_at in _conn(db).execute(
            "SELECT id, job_id, recipient, claimed_by, sending_at FROM outbox WHERE status = 'sending'"):
        if _process_gone(claimed_by) or (sending_at and (wall - R.from_utc_iso(sending_at)).total_seconds()
                                         > SENDING_STALE_SECONDS):
            out.append({"id": row_id, "job_id": job_id, "recipient": recipient, "claimed_by": claimed_by,
                        "sending_at": sending_at})
    return out


# --------------------------------------------------------------------------- delivery

@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    skipped: int = 0          # left pending because an earlier message of the channel just failed
    errors: list = field(default_factory=list)


def deliver_pending(db, senders: dict, limit: int | None = None) -> DeliveryReport:
    """Send pending messages of the configured channels one by one (claim, send, mark).

    After a failure on a channel the rest of that channel waits for the next run (a server that is
    down would otherwise cost a timeout per message).
    """
    conn = _conn(db)
    report = DeliveryReport()
    if not senders:
        return report
    channels = sorted(senders)
    ids = [(i, c) for i, c in conn.execute(
        f"SELECT id, channel FROM outbox WHERE status = 'pending' AND channel IN ({','.join('?' * len(channels))}) "
        "ORDER BY id", channels)]
    broken: set[str] = set()
    me = owner()
    for message_id, channel in ids[:limit] if limit else ids:
        if channel in broken:
            report.skipped += 1
            continue
        with write_transaction(db):
            cur = conn.execute("UPDATE outbox SET status = 'sending', attempts = attempts + 1, claimed_by = ?, "
                               "sending_at = ? WHERE id = ? AND status = 'pending'", (me, wall_iso(), message_id))
            if cur.rowcount != 1:
                continue          # another sender has it
            recipient, subject, body = conn.execute(
                "SELECT recipient, subject, body FROM outbox WHERE id = ?", (message_id,)).fetchone()
        try:
            senders[channel](recipient, subject, body)
        except Exception as exc:  # noqa: BLE001 - DeliveryError, or a bug before the hand-over
            error = str(exc) if type(exc).__name__ == "DeliveryError" else f"{type(exc).__name__}: {exc}"
            with write_transaction(db):
                conn.execute("UPDATE outbox SET status = 'pending', last_error = ?, claimed_by = NULL "
                             "WHERE id = ? AND claimed_by = ?", (error[:1000], message_id, me))
            report.failed += 1
            report.errors.append(f"message {message_id} ({channel} to {recipient}): {error}")
            broken.add(channel)
            continue
        with write_transaction(db):
            conn.execute("UPDATE outbox SET status = 'sent', sent_at = ?, last_error = NULL WHERE id = ? "
                         "AND claimed_by = ?", (wall_iso(), message_id, me))
        report.sent += 1
    return report


# --------------------------------------------------------------------------- the daemon

def serve(db_path: str, jobs_dir: str | None, stop, log, poll: float = 10.0, retry_every: float = 300.0,
          senders=None) -> None:
    """``kq scheduler``: APScheduler in the background, this thread waits for ``stop`` (an Event).

    One APScheduler job per enabled spec fires at the spec's trigger and goes through the same claim
    path as ``run-due``; a watcher job polls the spec files (a digest of names and contents) every ``poll``
    seconds and reschedules what changed; every ``retry_every`` seconds everything due is run (failed
    runs retried within grace) and pending messages are delivered. One worker thread: runs never
    overlap inside the daemon, and other processes are kept out by the claims. On ``stop`` the
    scheduler finishes the run in progress and returns.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    from . import open_db

    state = {"specs": {}, "sig": None, "last_sweep": 0.0}

    def with_db(fn):
        db = open_db(db_path)
        try:
            return fn(db)
        finally:
            db.conn.close()

    def report(rep: DueReport):
        for o in rep.outcomes:
            log(f"{o.job_id} {o.fire_time}: {o.status}" + (f", {o.messages} messages" if o.status == "done" else "")
                + (f" ({o.error})" if o.error else ""))
        for p in rep.problems:
            log(f"problem: {p}")

    def deliver(db):
        if senders:
            d = deliver_pending(db, senders)
            if d.sent or d.failed:
                log(f"delivered {d.sent}, failed {d.failed}" + (f": {d.errors[0]}" if d.errors else ""))

    def fire(job_id):
        if stop.is_set():
            return
        spec = state["specs"].get(job_id)
        if spec is None:
            return

        def work(db):
            report(run_due(db, {job_id: spec}, dt.datetime.now(dt.timezone.utc)))
            deliver(db)
        with_db(work)

    def sweep():
        def work(db):
            report(run_due(db, state["specs"], dt.datetime.now(dt.timezone.utc)))
            deliver(db)
        with_db(work)

    def reload(sched):
        sig = R.files_digest(jobs_dir)      # content, not mtimes: an edit within the same second counts too
        if sig == state["sig"]:
            return False
        specs, problems = R.load_specs(jobs_dir)
        for p in problems:
            log(f"problem: {p}")
        old = state["specs"]
        for job_id, spec in old.items():
            if job_id not in specs or specs[job_id].sha256 != spec.sha256 or not specs[job_id].enabled:
                if sched.get_job(job_id):
                    sched.remove_job(job_id)
        added = []
        for job_id, spec in specs.items():
            if not spec.enabled or (job_id in old and old[job_id].sha256 == spec.sha256 and sched.get_job(job_id)):
                continue
            try:
                trigger = R.make_trigger(spec)
            except R.SpecError as exc:
                log(f"problem: {exc}")
                continue
            sched.add_job(fire, trigger, args=[job_id], id=job_id, name=job_id, replace_existing=True)
            added.append(job_id)
        state["specs"], state["sig"] = specs, sig
        if old or added:
            log(f"job files loaded: {len([s for s in specs.values() if s.enabled])} enabled"
                + (f", (re)scheduled {', '.join(sorted(added))}" if added else ""))
        return True

    import time

    sched = BackgroundScheduler(
        timezone=dt.timezone.utc, executors={"default": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})

    def watch():
        if stop.is_set():
            return
        changed = reload(sched)
        if changed or time.monotonic() - state["last_sweep"] >= retry_every:
            state["last_sweep"] = time.monotonic()
            sweep()

    reload(sched)
    sched.add_job(watch, IntervalTrigger(seconds=poll), id="_watch", name="watch job files",
                  next_run_time=dt.datetime.now(dt.timezone.utc))
    state["last_sweep"] = float("-inf")   # the first watch() sweeps everything due: catch-up after a pause
    sched.start()
    log(f"scheduler started: {len([s for s in state['specs'].values() if s.enabled])} enabled jobs, "
        f"polling job files every {poll:g}s; stop with SIGTERM or Ctrl-C")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sched.shutdown(wait=True)
