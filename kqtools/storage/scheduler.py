"""``kq scheduler``: the reminder daemon, on top of the same claims as ``kq jobs run-due``.

APScheduler 3 is used only to wake up on time (its own job store cannot be shared between
processes, and its ``CronTrigger`` does not mean what crontab means): each enabled spec becomes an
APScheduler job whose trigger asks the spec's own trigger (:mod:`kqtools.crontab`, interval, once)
for the next fire time; what runs is decided by the claims in the database
(:func:`kqtools.storage.jobs.run_due`), so cron and the daemon together run each occurrence once.
"""
from __future__ import annotations

import datetime as dt
import time

from .. import jobspecs as S
from ..masking import Masker
from .jobs import DEFAULT_LEASE_SECONDS, DueReport, run_due
from .outbox import deliver_pending


def _adapter(trigger):
    """An APScheduler 3 trigger that asks ``trigger.next_after``."""
    from apscheduler.triggers.base import BaseTrigger

    class Adapter(BaseTrigger):
        def get_next_fire_time(self, previous_fire_time, now):
            after = previous_fire_time or now - dt.timedelta(microseconds=1)
            return trigger.next_after(after)

        def __str__(self):
            return trigger.describe()

    return Adapter()


def serve(db_path: str, jobs_dir: str | None, stop, log, poll: float = 10.0, retry_every: float = 300.0,
          senders=None, masker: Masker | None = None, lease_seconds: int = DEFAULT_LEASE_SECONDS,
          open_db=None) -> None:
    """APScheduler in the background, this thread waits for ``stop`` (an Event).

    One APScheduler job per enabled spec fires at the spec's trigger and goes through the same claim
    path as ``run-due``; a watcher job polls the spec files (a digest of names and contents) every ``poll``
    seconds and reschedules what changed; every ``retry_every`` seconds everything due is run (failed
    runs retried within grace) and pending messages are delivered. One worker thread: runs never
    overlap inside the daemon, and other processes are kept out by the claims. On ``stop`` the
    scheduler finishes the run in progress and returns. Every line logged is masked.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    if open_db is None:
        from . import open_db
    masker = masker or Masker()
    state = {"specs": {}, "sig": None, "last_sweep": 0.0}

    def say(line):
        log(masker(line))

    def with_db(fn):
        db = open_db(db_path)
        try:
            return fn(db)
        finally:
            db.conn.close()

    def report(rep: DueReport):
        for o in rep.outcomes:
            say(f"{o.job_id} {o.fire_time}: {o.status}" + (f", {o.messages} messages" if o.status == "done" else "")
                + (f" ({o.error})" if o.error else ""))
        for p in rep.problems:
            say(f"problem: {p}")

    def deliver(db):
        if senders:
            d = deliver_pending(db, senders, masker=masker)
            if d.sent or d.failed:
                say(f"delivered {d.sent}, failed {d.failed}" + (f": {d.errors[0]}" if d.errors else ""))

    def run(specs):
        def work(db):
            report(run_due(db, specs, dt.datetime.now(dt.timezone.utc), lease_seconds=lease_seconds, masker=masker))
            deliver(db)
        with_db(work)

    def fire(job_id):
        if stop.is_set():
            return
        spec = state["specs"].get(job_id)
        if spec is not None:
            run({job_id: spec})

    def reload(sched):
        sig = S.files_digest(jobs_dir)      # content, not mtimes: an edit within the same second counts too
        if sig == state["sig"]:
            return False
        specs, problems = S.load_specs(jobs_dir)
        for p in problems:
            say(f"problem: {p}")
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
                trigger = _adapter(S.make_trigger(spec))
            except S.SpecError as exc:
                say(f"problem: {exc}")
                continue
            sched.add_job(fire, trigger, args=[job_id], id=job_id, name=job_id, replace_existing=True)
            added.append(job_id)
        state["specs"], state["sig"] = specs, sig
        if old or added:
            say(f"job files loaded: {len([s for s in specs.values() if s.enabled])} enabled"
                + (f", (re)scheduled {', '.join(sorted(added))}" if added else ""))
        return True

    sched = BackgroundScheduler(
        timezone=dt.timezone.utc, executors={"default": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})

    def watch():
        if stop.is_set():
            return
        changed = reload(sched)
        if changed or time.monotonic() - state["last_sweep"] >= retry_every:
            state["last_sweep"] = time.monotonic()
            run(state["specs"])

    reload(sched)
    sched.add_job(watch, IntervalTrigger(seconds=poll), id="_watch", name="watch job files",
                  next_run_time=dt.datetime.now(dt.timezone.utc))
    state["last_sweep"] = float("-inf")   # the first watch() sweeps everything due: catch-up after a pause
    sched.start()
    say(f"scheduler started: {len([s for s in state['specs'].values() if s.enabled])} enabled jobs, "
        f"polling job files every {poll:g}s; stop with SIGTERM or Ctrl-C")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sched.shutdown(wait=True)
