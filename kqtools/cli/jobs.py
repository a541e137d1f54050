"""``kq jobs``, ``kq outbox``, ``kq scheduler``: reminder jobs run from cron or as a service.

The work happens in :mod:`kqtools.reminders` (specs, occurrences, messages),
:mod:`kqtools.storage.jobs` (claims, runs, outbox) and :mod:`kqtools.delivery` (SMTP, webhook).
"""
from __future__ import annotations

import click

from .common import ATTENTION, OK, KqError, db_option, emit, get_db, info, output_options

DEMO_NOW = "2026-01-05T09:05+08:00"   # a Monday, after the weekly visit reminder and the daily expiry check


def jobs_dir_option(f):
    return click.option("--jobs-dir", metavar="DIR", envvar="KQ_JOBS_DIR", default=None,
                        help="Deployment job specs (default $KQ_JOBS_DIR); a spec there with the same id "
                             "replaces the shipped one.")(f)


def _now_option(f):
    return click.option("--now", metavar="DATETIME", default=None,
                        help="Pretend it is this moment (ISO, e.g. 2026-01-05T09:05+08:00; naive = "
                             "Asia/Shanghai). For back-fills and tests.")(f)


def _moment(now: str | None):
    from .. import reminders as R

    try:
        return R.parse_now(now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None


def _load(jobs_dir, quiet_problems: bool = False):
    from .. import reminders as R

    specs, problems = R.load_specs(jobs_dir)
    if not quiet_problems:
        for p in problems:
            info(f"kq: {p}")
    return specs, problems


def _senders(no_deliver: bool):
    if no_deliver:
        return {}, []
    from ..delivery import senders_from_env

    senders, problems = senders_from_env()
    for p in problems:
        info(f"kq: {p}")
    return senders, problems


def _configured_channels(no_deliver: bool) -> list[str]:
    import os

    if no_deliver:
        return []
    env = {"email": "KQ_SMTP_URL", "webhook": "KQ_WEBHOOK_URL"}
    return sorted(c for c, var in env.items() if os.environ.get(var))


def _db_path() -> str:
    import os

    ctx = click.get_current_context()
    return ctx.meta.get("kq.db") or os.environ.get("KQ_DB") or "kq.db"


def _nothing_due_fast(digest: str, now_iso: str, channels: list[str]) -> bool:
    """True when the database says nothing is due and nothing can be delivered: ``run-due`` stops here.

    Cron calls ``run-due`` every few minutes, so this path avoids what costs start-up time: it does
    not parse or validate the spec files (their digest equals the one the last full run stored in
    ``job_files``), and it reads the ``job_state`` cache with the standard library's sqlite3
    (read-only) instead of importing the storage layer (sqlite-utils) and APScheduler. Anything
    unusual (no database yet, an older schema, an edited spec, a failed run to retry, messages to
    deliver) answers False and the full path runs.
    """
    import json
    import os
    import sqlite3
    from pathlib import Path
    from urllib.parse import quote

    from .. import reminders as R

    path = _db_path()
    if path == ":memory:" or not os.path.isfile(path):
        return False
    migrations = Path(R.__file__).parent / "storage" / "migrations"
    try:
        latest = max(int(p.name[:4]) for p in migrations.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    except (ValueError, OSError):
        return False
    try:
        conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, timeout=5)
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] != latest:
                return False
            row = conn.execute("SELECT jobs FROM job_files WHERE digest = ?", (digest,)).fetchone()
            if row is None:
                return False
            state = {j: (sha, nxt) for j, sha, nxt in
                     conn.execute("SELECT job_id, spec_sha256, next_check FROM job_state")}
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
        finally:
            conn.close()
    except (sqlite3.Error, ValueError):
        return False


def _deliver_and_report(db, senders) -> int:
    """Deliver pending messages; report on stderr; the number of problems needing attention."""
    from ..storage import jobs as J

    problems = 0
    if senders:
        d = J.deliver_pending(db, senders)
        if d.sent or d.failed or d.skipped:
            info(f"delivered {d.sent} message(s)" + (f"; {d.failed} failed, {d.skipped} left for the next run"
                                                     if d.failed or d.skipped else ""))
        for e in d.errors:
            info(f"kq: delivery failed, will retry: {e}")
        problems += d.failed
    waiting = {}
    for row in J.outbox(db, pending=True):
        if row["status"] == "pending" and row["channel"] not in senders:
            waiting[row["channel"]] = waiting.get(row["channel"], 0) + 1
    env = {"email": "KQ_SMTP_URL", "webhook": "KQ_WEBHOOK_URL"}
    for channel, n in sorted(waiting.items()):
        info(f"{n} message(s) wait for channel {channel}: {env.get(channel, channel)} is not set "
             f"(kq outbox list --pending)")
    for s in J.stuck_messages(db):
        info(f"kq: message {s['id']} ({s['job_id']} to {s['recipient']}) was being sent by {s['claimed_by']} at "
             f"{s['sending_at']}, which did not finish: it may or may not have arrived. Check, then "
             f"`kq outbox retry {s['id']}` or `kq outbox ack {s['id']}`.")
        problems += 1
    return problems


RUN_COLUMNS = ["job_id", "fire_time", "status", "messages", "attempts", "count", "error"]


def _collapse(outcomes) -> list[dict]:
    """One row per occurrence handled, except that a job's missed occurrences make one row (``count``,
    first fire time, the range in ``error``): after a long pause the history has them one by one."""
    rows, missed = [], {}
    for o in outcomes:
        if o.status == "missed":
            missed.setdefault(o.job_id, []).append(o.fire_time)
        else:
            rows.append({**o.row(), "count": 1})
    for job_id, times in missed.items():
        span = times[0] if len(times) == 1 else f"{times[0]} … {times[-1]}"
        rows.append({"job_id": job_id, "fire_time": times[0], "status": "missed", "messages": 0, "attempts": 0,
                     "count": len(times),
                     "error": f"missed {len(times)} occurrence(s), not run within the misfire grace: {span}"})
    rows.sort(key=lambda r: (r["job_id"], r["fire_time"]))
    return rows


# --------------------------------------------------------------------------- kq jobs

@click.group()
def jobs():
    """Reminder jobs: spec files in jobs/ and $KQ_JOBS_DIR, run from cron or by `kq scheduler`.

    \b
    kq jobs list                        jobs, next fire time, last run
    kq jobs run-due                     run what has fallen due (crontab: */5 * * * * kq jobs run-due)
    kq jobs run-due --now 2026-01-05T09:05+08:00
    kq jobs run visit-reminders         run one job now, outside its schedule
    kq jobs history --job visit-reminders
    kq jobs check                       validate the spec files

    Each occurrence (job + fire time) runs once, whichever process gets there first.
    Exit codes: 0 done; 1 a run failed, an occurrence was missed, a delivery failed or a spec
    file has a problem; 2 usage error.
    """


@jobs.command("list")
@db_option
@jobs_dir_option
@_now_option
@output_options
def list_(jobs_dir, now):
    """Jobs with their trigger, next fire time, and last run and its status."""
    from .. import reminders as R
    from ..storage import jobs as J

    specs, problems = _load(jobs_dir)
    moment = _moment(now)
    last = J.last_runs(get_db())
    rows = []
    for job_id in sorted(specs):
        spec = specs[job_id]
        nxt = ""
        if spec.enabled:
            try:
                t = R.next_fire(R.make_trigger(spec), moment)
                nxt = t.astimezone(R.zone(spec.timezone)).isoformat(" ", "minutes") if t else "never"
            except R.SpecError as exc:
                problems.append(str(exc))
                nxt = "invalid trigger"
        run = last.get(job_id) or {}
        rows.append({"id": job_id, "enabled": spec.enabled, "action": spec.action, "trigger": spec.trigger_text(),
                     "next_fire": nxt if spec.enabled else "(disabled)", "last_fire": run.get("fire_time"),
                     "last_status": run.get("status"), "channels": ",".join(spec.channels),
                     "source": spec.source, "description": spec.description})
    emit(rows, ["id", "enabled", "action", "trigger", "next_fire", "last_fire", "last_status", "channels",
                "source", "description"])
    return ATTENTION if problems else OK


@jobs.command("run-due")
@db_option
@jobs_dir_option
@_now_option
@click.option("--job", "only", multiple=True, metavar="ID", help="Only this job (repeatable).")
@click.option("--no-deliver", is_flag=True, help="Produce messages into the outbox but do not send them.")
@click.option("--full", is_flag=True, help="Skip the start-up shortcut: read every spec and check every job "
                                           "against the database (slower; the result is the same).")
@output_options
def run_due(jobs_dir, now, only, no_deliver, full):
    """Run every occurrence that has fallen due and is not claimed yet; then deliver pending messages.

    An occurrence runs if its fire time is at or before now and within the job's misfire grace; when
    several fell due while nothing ran, the latest runs once (coalesced) and those beyond grace are
    recorded as missed. Prints one row per occurrence handled; nothing when nothing was due.
    """
    from .. import reminders as R

    moment = _moment(now)
    digest = R.files_digest(jobs_dir)     # before reading the specs: an edit in between shows up next time
    if not only and not full and _nothing_due_fast(digest, R.utc_iso(moment), _configured_channels(no_deliver)):
        info("nothing due")
        return OK
    specs, problems = _load(jobs_dir)
    unknown = [j for j in only if j not in specs]
    if unknown:
        raise KqError(f"no such job: {', '.join(unknown)} (see kq jobs list)")
    senders, config_problems = _senders(no_deliver)
    from ..storage import jobs as J

    db = get_db()
    report = J.run_due(db, specs, moment, only=list(only) or None, digest=None if problems else digest)
    for p in report.problems:
        info(f"kq: {p}")
    rows = _collapse(report.outcomes)
    if rows:
        emit(rows, RUN_COLUMNS)
    else:
        info("nothing due")
    for r in rows:
        if r["status"] == "failed":
            info(f"kq: {r['job_id']} {r['fire_time']} failed (retried by the next run within its grace): {r['error']}")
        elif r["status"] == "missed":
            info(f"kq: {r['job_id']}: {r['error']}")
    undelivered = _deliver_and_report(db, senders)
    attention = problems or config_problems or report.needs_attention or undelivered
    return ATTENTION if attention else OK


@jobs.command("run")
@db_option
@jobs_dir_option
@_now_option
@click.argument("job_id", metavar="ID")
@click.option("--no-deliver", is_flag=True, help="Produce messages into the outbox but do not send them.")
@output_options
def run(jobs_dir, now, job_id, no_deliver):
    """Run one job now, outside its schedule (recorded in the history as a manual run)."""
    specs, problems = _load(jobs_dir, quiet_problems=True)
    if job_id not in specs:
        for p in problems:
            info(f"kq: {p}")
        raise KqError(f"no such job: {job_id} (see kq jobs list)")
    from ..storage import jobs as J

    moment = _moment(now)
    senders, config_problems = _senders(no_deliver)
    db = get_db()
    outcome = J.run_now(db, specs[job_id], moment)
    emit([{**outcome.row(), "count": 1}], RUN_COLUMNS)
    if outcome.status != "done":
        info(f"kq: {job_id}: {outcome.status}: {outcome.error}")
    undelivered = _deliver_and_report(db, senders)
    return ATTENTION if outcome.status != "done" or config_problems or undelivered else OK


@jobs.command("history")
@db_option
@click.option("--job", "job_id", metavar="ID", default=None, help="Only this job.")
@click.option("--limit", type=int, default=None, help="At most N rows, newest first.")
@output_options
def history(job_id, limit):
    """Runs, newest first: done, failed, missed (beyond grace), coalesced (covered by a later run)."""
    from ..storage import jobs as J

    rows = J.history(get_db(), job_id, limit)
    emit(rows, J.RUN_COLUMNS)
    return OK


@jobs.command("check")
@jobs_dir_option
def check(jobs_dir):
    """Validate the job spec files (and the channel settings); one line per problem, exit 1 if any."""
    from .. import reminders as R
    from ..delivery import senders_from_env

    specs, problems = R.load_specs(jobs_dir)
    for spec in specs.values():
        try:
            R.make_trigger(spec)
        except R.SpecError as exc:
            problems.append(str(exc))
    _, config = senders_from_env()
    problems += config
    for p in problems:
        click.echo(p)
    enabled = sum(1 for s in specs.values() if s.enabled)
    info(f"{len(specs)} jobs ({enabled} enabled), {len(problems)} problem(s)")
    return ATTENTION if problems else OK


# --------------------------------------------------------------------------- kq outbox

@click.group()
def outbox():
    """Messages produced by jobs, one per channel and recipient, and their delivery status.

    \b
    status: pending (not delivered yet; retried by every run-due), sending (being handed over, or
    interrupted: check it), sent, acked (handled by a person), undeliverable (no address).
    """


@outbox.command("list")
@db_option
@click.option("--pending", is_flag=True, help="Only messages not delivered yet (pending or sending).")
@click.option("--job", "job_id", metavar="ID", default=None, help="Only this job's messages.")
@output_options
def outbox_list(pending, job_id):
    """Messages: id, job_id, fire_time, channel, recipient, subject, body, status, attempts, last_error."""
    from ..storage import jobs as J

    rows = J.outbox(get_db(), pending=pending, job_id=job_id)
    emit(rows, ["id", "job_id", "fire_time", "channel", "recipient", "subject", "body", "status", "attempts",
                "last_error", "sent_at"])
    return OK


@outbox.command("ack")
@db_option
@click.argument("message_id", type=int, metavar="ID")
def outbox_ack(message_id):
    """Mark a message as handled by a person: it will not be delivered (again)."""
    from ..storage import jobs as J

    try:
        before = J.ack(get_db(), message_id)
    except KeyError:
        raise KqError(f"no message {message_id} in the outbox") from None
    if before in ("sent", "acked"):
        info(f"message {message_id} was already {before}; unchanged")
    else:
        info(f"message {message_id}: {before} -> acked")
    return OK


@outbox.command("retry")
@db_option
@click.argument("message_id", type=int, metavar="ID")
def outbox_retry(message_id):
    """Put a message left in 'sending' (or acked by mistake) back to pending: the next run sends it."""
    from ..storage import jobs as J

    try:
        before = J.retry(get_db(), message_id)
    except KeyError:
        raise KqError(f"no message {message_id} in the outbox") from None
    if before in ("sending", "acked"):
        info(f"message {message_id}: {before} -> pending")
    else:
        info(f"message {message_id} is {before}; unchanged")
    return OK


# --------------------------------------------------------------------------- kq scheduler

@click.command()
@db_option
@jobs_dir_option
@click.option("--poll", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds between checks of the job files (edits are picked up without a restart).")
@click.option("--retry-every", type=click.FloatRange(min=0.1), default=300.0, show_default=True,
              help="Seconds between sweeps that retry failed runs and deliver pending messages.")
@click.option("--no-deliver", is_flag=True, help="Produce messages into the outbox but do not send them.")
def scheduler(jobs_dir, poll, retry_every, no_deliver):
    """Run the reminder scheduler in the foreground until SIGTERM or Ctrl-C.

    Uses the same claims as `kq jobs run-due`: cron and the scheduler together never run an occurrence
    twice. Logs one line per run on stderr.
    """
    import datetime as dt
    import signal
    import threading

    from ..storage import jobs as J
    from ..storage import open_db

    path = _db_path()
    open_db(path).conn.close()          # create / migrate once, before the worker threads start
    senders, _ = _senders(no_deliver)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def log(line):
        info(f"{dt.datetime.now().astimezone().isoformat(' ', 'seconds')} {line}")

    J.serve(path, jobs_dir, stop, log, poll=poll, retry_every=retry_every, senders=senders)
    log("scheduler stopped")
    return OK


# --------------------------------------------------------------------------- kq demo

def demo_step(db, echo):
    """``kq demo``: run the shipped jobs at a fixed Monday morning and show the outbox."""
    from .. import output
    from .. import reminders as R
    from ..storage import jobs as J

    specs, problems = R.load_specs(None)
    report = J.run_due(db, specs, R.parse_now(DEMO_NOW))
    echo(f"Reminder jobs due at {DEMO_NOW} (kq jobs run-due --now {DEMO_NOW}):")
    for o in report.outcomes:
        extra = f", {o.messages} messages" if o.status == "done" else f" ({o.error})" if o.error else ""
        echo(f"  {o.job_id:<18} {o.fire_time}  {o.status}{extra}")
    for p in problems + report.problems:
        echo(f"  problem: {p}")
    rows = J.outbox(db)
    echo(f"Outbox: {len(rows)} message(s) (kq outbox list; delivered by run-due when KQ_SMTP_URL / "
         f"KQ_WEBHOOK_URL are set)")
    if rows:
        echo(output.to_string(rows[:6], ["id", "job_id", "recipient", "subject", "status"], "table").rstrip())
        if len(rows) > 6:
            echo(f"  … and {len(rows) - 6} more")
