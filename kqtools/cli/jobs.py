"""``kq jobs``, ``kq outbox``, ``kq scheduler``: reminder jobs run from cron or as a service.

Each command parses, makes one call to :mod:`kqtools.storage.job_service` (or the outbox and
scheduler services) and renders. The work happens in :mod:`kqtools.reminders` (pure),
:mod:`kqtools.jobspecs` (spec files), :mod:`kqtools.storage.jobs` (claims, runs),
:mod:`kqtools.storage.outbox` (delivery) and :mod:`kqtools.delivery` (SMTP, webhook).
"""
from __future__ import annotations

import click

from ..errors import status_of
from ..i18n import _
from .. import labels
from .common import OK, chosen_db_path, db_option, emit, get_db, info, local_time, output_options

RUN_COLUMNS = ["job_id", "fire_time", "status", "messages", "attempts", "count", "error"]
LIST_COLUMNS = ["id", "enabled", "action", "trigger", "when", "next_fire", "last_fire", "last_status", "channels",
                "source", "description"]
#: the columns of a table (the rest with --wide or --columns; every one in JSON, CSV and files)
LIST_TABLE = ["id", "enabled", "next_fire", "last_fire", "last_status", "when", "description"]
HISTORY_TABLE = ["id", "job_id", "fire_time", "status", "attempts", "messages", "finished_at", "error"]
OUTBOX_TABLE = ["id", "job_id", "fire_time", "channel", "recipient", "subject", "status", "attempts"]
OUTBOX_LIST_COLUMNS = ["id", "job_id", "fire_time", "channel", "recipient", "subject", "body", "status", "attempts",
                       "last_error", "sent_at"]


def jobs_dir_option(f):
    return click.option("--jobs-dir", metavar="DIR", default=None,
                        help="Deployment job specs (default $KQ_JOBS_DIR); a spec there with the same id "
                             "replaces the shipped one.")(f)


def _now_option(f):
    f = click.option("--allow-future", is_flag=True,
                     help="Allow a --now more than a day ahead of the clock (it runs the occurrences due then).")(f)
    return click.option("--now", metavar="DATETIME", default=None,
                        help="Pretend it is this moment (ISO, e.g. 2026-01-05T09:05+08:00; naive = Asia/Shanghai). "
                             "For back-fills and tests: it claims only the occurrences due then and never moves "
                             "the schedule of real runs.")(f)


def _settings():
    from ..settings import Settings

    return Settings.from_env()


def _jobs_dir(jobs_dir: str | None, settings) -> str | None:
    return jobs_dir or settings.jobs_dir


def _moment(now: str | None, allow_future: bool = False):
    """(moment, given): the clock, or ``--now`` (refused more than a day ahead unless --allow-future)."""
    from .. import reminders as R
    from ..clock import utc_now

    if not now:
        return utc_now(), False
    try:
        moment = R.parse_now(now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None
    from ..storage.jobs import check_given_now

    check_given_now(moment, allow_future)
    return moment, True


def _channels(settings, no_deliver: bool):
    if no_deliver:
        return None
    from ..delivery import channels_from

    return channels_from(settings.smtp_url, settings.webhook_url)


def _say_delivery(delivered, masker) -> None:
    """What delivery did, on stderr: counts, failures (masked), what waits and why, what is stuck."""
    from ..masking import one_line

    for w in delivered.warnings:
        info(_("kq: warning: {warning}").format(warning=w))
    d = delivered.report
    if d.failed or d.skipped:
        info(_("delivered {sent} message(s); {failed} failed, {skipped} left for the next run").format(
            sent=d.sent, failed=d.failed, skipped=d.skipped))
    elif d.sent:
        info(_("delivered {sent} message(s)").format(sent=d.sent))
    for e in d.errors:
        info(_("kq: delivery failed: {error}").format(error=e))
    for channel, (n, why) in delivered.waiting.items():
        info(_("{n} message(s) wait for channel {channel}: {why} (kq outbox list --pending)").format(
            n=n, channel=channel, why=why))
    for s in delivered.stuck:
        info(_("kq: message {id} ({job_id} to {recipient}) was being sent by {claimed_by} at {sending_at}, which did "
               "not finish: it may or may not have arrived. Check, then `kq outbox retry {id}` or "
               "`kq outbox ack {id}`.").format(id=s["id"], job_id=s["job_id"],
                                              recipient=one_line(masker(s["recipient"]), 120),
                                              claimed_by=s["claimed_by"], sending_at=s["sending_at"]))


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
        # the error column is data (JSONL is the same in every language): not translated
    rows.sort(key=lambda r: (r["job_id"], r["fire_time"]))
    return rows


def _show_run(result, masker) -> None:
    for p in result.problems:
        info(_("kq: {problem}").format(problem=p))
    rows = _collapse(result.outcomes)
    if rows:
        emit(rows, RUN_COLUMNS)
    else:
        info(_("nothing due"))
    for r in rows:
        if r["status"] == "failed":
            info(_("kq: {job_id} {fire_time} failed (retried by the next run within its grace): {error}").format(
                job_id=r["job_id"], fire_time=local_time(r["fire_time"]), error=r["error"]))
        elif r["status"] in ("missed", "busy"):
            info(_("kq: {job_id}: {error}").format(job_id=r["job_id"], error=r["error"]))
    _say_delivery(result.delivered, masker)


# --------------------------------------------------------------------------- kq jobs

@click.group()
def jobs():
    """Reminder jobs: spec files in jobs/ and $KQ_JOBS_DIR, run from cron or by `kq scheduler`.

    \b
    kq jobs list                        jobs, what each trigger means, next fire time, last run
    kq jobs run-due                     run what has fallen due (crontab: */5 * * * * kq jobs run-due)
    kq jobs run-due --now 2026-01-05T09:05+08:00
    kq jobs run visit-reminders         run one job now, outside its schedule
    kq jobs history --job visit-reminders
    kq jobs check                       validate the spec files and the channel settings

    Each occurrence (job + fire time) runs once, whichever process gets there first.
    Exit codes: 0 done; 1 a run failed, an occurrence was missed, a delivery failed or a spec
    file has a problem; 2 usage error.
    """


@jobs.command("list")
@db_option
@jobs_dir_option
@click.option("--now", metavar="DATETIME", default=None, help="Next fire times after this moment (default now).")
@output_options
def list_(jobs_dir, now):
    """Jobs with their trigger (and what it means in words), next fire time, and last run."""
    from .. import jobspecs as S
    from ..storage import job_service

    moment, _given = _moment(now, allow_future=True)
    specs, problems = S.load_specs(_jobs_dir(jobs_dir, _settings()))
    for p in problems:
        info(_("kq: {problem}").format(problem=p))
    emit(job_service.list_jobs(get_db(), specs, moment), LIST_COLUMNS, default=LIST_TABLE)
    return status_of(bool(problems))


@jobs.command("run-due")
@db_option
@jobs_dir_option
@_now_option
@click.option("--job", "only", multiple=True, metavar="ID", help="Only this job (repeatable).")
@click.option("--no-deliver", is_flag=True, help="Produce messages into the outbox but do not send them.")
@click.option("--full", is_flag=True, help="Skip the start-up shortcut: read every spec and check every job "
                                           "against the database (slower; the result is the same).")
@output_options
def run_due(jobs_dir, now, allow_future, only, no_deliver, full):
    """Run every occurrence that has fallen due and is not claimed yet; then deliver pending messages.

    An occurrence runs if its fire time is at or before now and within the job's misfire grace; when
    several fell due while nothing ran, the latest runs once (coalesced) and those beyond grace are
    recorded as missed. Prints one row per occurrence handled; nothing when nothing was due.
    With --now only the occurrence due at that moment is claimed; nothing is recorded as missed.
    """
    from .. import jobspecs as S
    from .. import reminders as R
    from ..storage.jobs import nothing_due_fast

    settings = _settings()
    moment, given = _moment(now, allow_future)
    folder = _jobs_dir(jobs_dir, settings)
    digest = S.files_digest(folder)     # before reading the specs: an edit in between shows up next time
    configured = [] if no_deliver else [c for c, url in (("email", settings.smtp_url),
                                                          ("webhook", settings.webhook_url)) if url]
    if not only and not full and nothing_due_fast(chosen_db_path(), digest, R.utc_iso(moment), configured):
        if any("insecure" in (url or "") for url in (settings.smtp_url, settings.webhook_url)) and not no_deliver:
            for w in _channels(settings, no_deliver).warnings:       # clear text allowed: said on every run
                info(_("kq: warning: {warning}").format(warning=w))
        info(_("nothing due"))
        return OK
    from ..storage import job_service

    specs, problems = S.load_specs(folder)
    channels = _channels(settings, no_deliver)
    result = job_service.run_due(get_db(), specs, problems, moment, given=given, only=only, digest=digest,
                                 channels=channels, lease_seconds=settings.job_lease_seconds,
                                 stale_seconds=settings.sending_stale_seconds)
    _show_run(result, channels.masker if channels else _no_masker())
    return status_of(result.needs_attention)


def _no_masker():
    from ..masking import Masker

    return Masker()


@jobs.command("run")
@db_option
@jobs_dir_option
@_now_option
@click.argument("job_id", metavar="ID")
@click.option("--no-deliver", is_flag=True, help="Produce messages into the outbox but do not send them.")
@output_options
def run(jobs_dir, now, allow_future, job_id, no_deliver):
    """Run one job now, outside its schedule (recorded in the history as a manual run)."""
    from .. import jobspecs as S
    from ..storage import job_service

    settings = _settings()
    moment, given = _moment(now, allow_future)
    specs, problems = S.load_specs(_jobs_dir(jobs_dir, settings))
    channels = _channels(settings, no_deliver)
    result = job_service.run_one(get_db(), specs, problems, job_id, moment, given=given, channels=channels,
                                 stale_seconds=settings.sending_stale_seconds)
    _show_run(result, channels.masker if channels else _no_masker())
    return status_of(result.needs_attention)


@jobs.command("history")
@db_option
@click.option("--job", "job_id", metavar="ID", default=None, help="Only this job.")
@click.option("--limit", type=int, default=None, help="At most N rows, newest first.")
@output_options
def history(job_id, limit):
    """Runs, newest first: done, failed, missed (beyond grace), coalesced (covered by a later run)."""
    from ..storage import jobs as J

    emit(J.history(get_db(), job_id, limit), J.RUN_COLUMNS, default=HISTORY_TABLE)
    return OK


@jobs.command("check")
@jobs_dir_option
def check(jobs_dir):
    """Validate the job spec files and the channel settings; one line per problem, exit 1 if any."""
    from ..storage import job_service

    settings = _settings()
    channels = _channels(settings, no_deliver=False)
    checked = job_service.check(_jobs_dir(jobs_dir, settings), channels)
    for p in checked.problems:
        click.echo(p)
    for w in channels.warnings:
        info(_("kq: warning: {warning}").format(warning=w))
    info(_("{jobs} jobs ({enabled} enabled), {problems} problem(s)").format(
        jobs=checked.jobs, enabled=checked.enabled, problems=len(checked.problems)))
    return status_of(checked.needs_attention)


# --------------------------------------------------------------------------- kq outbox

@click.group()
def outbox():
    """Messages produced by jobs, one per channel and recipient, and their delivery status.

    \b
    status: pending (not delivered yet; retried by every run-due), sending (being handed over, or
    interrupted: check it), sent, acked (handled by a person), undeliverable (no valid address, or
    refused for good by the server: see last_error).
    """


@outbox.command("list")
@db_option
@click.option("--pending", is_flag=True, help="Only messages not delivered yet (pending or sending).")
@click.option("--job", "job_id", metavar="ID", default=None, help="Only this job's messages.")
@output_options
def outbox_list(pending, job_id):
    """Messages: id, job_id, fire_time, channel, recipient, subject, body, status, attempts, last_error."""
    from ..storage import outbox as O

    emit(O.outbox(get_db(), pending=pending, job_id=job_id), OUTBOX_LIST_COLUMNS, default=OUTBOX_TABLE)
    return OK


@outbox.command("ack")
@db_option
@click.argument("message_id", type=int, metavar="ID")
def outbox_ack(message_id):
    """Mark a message as handled by a person: it will not be delivered (again)."""
    from ..storage import outbox as O

    before = O.ack(get_db(), message_id)
    status = labels.value_mapper("status")
    info((_("message {id} was already {before}; unchanged") if before in ("sent", "acked")
          else _("message {id}: {before} -> {after}")).format(id=message_id, before=status(before),
                                                              after=status("acked")))
    return OK


@outbox.command("retry")
@db_option
@click.argument("message_id", type=int, metavar="ID")
def outbox_retry(message_id):
    """Put a message left in 'sending' (or acked by mistake) back to pending: the next run sends it."""
    from ..storage import outbox as O

    before = O.retry(get_db(), message_id)
    status = labels.value_mapper("status")
    info((_("message {id}: {before} -> {after}") if before in ("sending", "acked")
          else _("message {id} is {before}; unchanged")).format(id=message_id, before=status(before),
                                                                after=status("pending")))
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
    import signal
    import threading

    from ..clock import now_iso
    from ..storage.scheduler import serve

    settings = _settings()
    path = chosen_db_path()
    get_db().conn.close()          # create / migrate once, before the worker threads start
    channels = _channels(settings, no_deliver)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def log(line):
        info(f"{now_iso().replace('T', ' ')} {line}")

    if channels is not None:
        for p in channels.problems.values():
            log(_("problem: {problem}").format(problem=p))
        for w in channels.warnings:
            log(_("warning: {warning}").format(warning=w))
    serve(path, _jobs_dir(jobs_dir, settings), stop, log, poll=poll, retry_every=retry_every,
          senders=channels.senders if channels else None, masker=channels.masker if channels else None,
          lease_seconds=settings.job_lease_seconds)
    log(_("scheduler stopped"))
    return OK
