"""A `--now` is a pretend moment: it never moves the schedule of real runs (issue 11 item 4).

`kq jobs run-due --now 2027-12-07T09:05` (2027 typed for 2026) used to record hundreds of missed
occurrences, queue 2027's reminders, and make every real run say "nothing due" until 2027.
"""
from __future__ import annotations

import datetime as dt

from kqtools import jobspecs as S
from kqtools import reminders as R
from kqtools.clock import utc_now
from test_jobs import SHIPPED, off, runs, write_spec

EVERY_MINUTE = ('id = "tick"\naction = "meeting-reminder"\ntrigger = { cron = "* * * * *" }\n'
                'misfire_grace = "1h"\nrecipients = ["office@kq.test"]\nparams = { subject = "提醒 {date}" }\n')
DAILY = ('id = "daily"\naction = "meeting-reminder"\ntrigger = { cron = "0 9 * * *" }\nmisfire_grace = "2d"\n'
         'recipients = ["office@kq.test"]\nparams = { subject = "日报 {date}" }\n')


def jobs_dir(tmp_path, *specs):
    folder = tmp_path / "jobs"
    off(folder, *SHIPPED)
    for i, text in enumerate(specs):
        write_spec(folder, f"spec{i}.toml", text)
    return folder


def test_a_now_far_ahead_is_refused_unless_allowed(kq, db, db_path, tmp_path):
    folder = jobs_dir(tmp_path, EVERY_MINUTE)
    ahead = (utc_now() + dt.timedelta(days=365)).strftime("%Y-%m-%dT%H:%M+00:00")
    r = kq("jobs", "run-due", "--jobs-dir", folder, "--now", ahead, "--no-deliver")
    assert r.returncode == 2 and "more than a day ahead" in r.stderr and "--allow-future" in r.stderr, r
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert runs(db_path) == []                                     # nothing claimed, nothing recorded
    soon = (utc_now() + dt.timedelta(hours=20)).strftime("%Y-%m-%dT%H:%M+00:00")
    assert kq("jobs", "run-due", "--jobs-dir", folder, "--now", soon, "--no-deliver").returncode == 0


def test_a_future_now_then_a_real_run_still_finds_what_is_due_today(kq, db_path, tmp_path):
    """The issue's case: --now a year ahead (allowed), then the clock's run must run today's occurrence."""
    folder = jobs_dir(tmp_path, EVERY_MINUTE, DAILY)
    ahead = (utc_now() + dt.timedelta(days=365)).replace(hour=1, minute=5)      # 09:05 in Shanghai
    r = kq("jobs", "run-due", "--jobs-dir", folder, "--now", ahead.strftime("%Y-%m-%dT%H:%M+00:00"),
           "--allow-future", "--no-deliver")
    assert r.returncode == 0, r
    assert {x["status"] for x in runs(db_path)} == {"done"}         # only its own occurrences: no missed
    assert {x["clock"] for x in runs(db_path)} == {"given"}
    real = kq("jobs", "run-due", "--jobs-dir", folder, "--no-deliver")   # the clock's run, right after
    assert real.returncode == 0, real
    ran = [x for x in real.jsonl() if x["job_id"] == "tick"]
    assert [x["status"] for x in ran] == ["done"], real              # this minute's occurrence
    assert dt.datetime.fromisoformat(ran[0]["fire_time"]) <= utc_now() + dt.timedelta(seconds=1)
    assert not [x for x in runs(db_path) if x["status"] == "missed"]


def test_runs_by_the_clock_plan_from_their_own_last_run_not_from_a_given_one(db, db_path, tmp_path):
    from kqtools.storage import jobs as J

    specs, _ = S.load_specs(str(jobs_dir(tmp_path, DAILY)))
    monday = R.parse_now("2026-01-05T09:05")
    assert [o.status for o in J.run_due(db, specs, monday).outcomes] == ["done"]          # the clock, Monday
    # someone back-fills Friday with --now: its occurrence only, nothing missed or coalesced recorded
    friday = R.parse_now("2026-01-09T09:05")
    assert [o.status for o in J.run_due(db, specs, friday, given=True).outcomes] == ["done"]
    assert [(x["fire_time"], x["status"], x["clock"]) for x in runs(db_path)] == [
        ("2026-01-05T01:00:00Z", "done", "clock"), ("2026-01-09T01:00:00Z", "done", "given")]
    # the clock's Wednesday run: Tuesday is covered by Wednesday's run as if Friday's had not happened
    rep = J.run_due(db, specs, R.parse_now("2026-01-07T09:05"))
    assert [(o.fire_time, o.status) for o in rep.outcomes] == [
        ("2026-01-06T01:00:00Z", "coalesced"), ("2026-01-07T01:00:00Z", "done")]
    # and on Friday the clock finds Friday claimed already: it runs once, whoever asked first
    rep = J.run_due(db, specs, R.parse_now("2026-01-09T09:06"))
    assert [(o.fire_time, o.status) for o in rep.outcomes] == [("2026-01-08T01:00:00Z", "coalesced")]
    assert len([x for x in runs(db_path) if x["fire_time"] == "2026-01-09T01:00:00Z"]) == 1


def test_the_shortcut_does_not_trust_a_cache_computed_for_a_later_given_moment(db, db_path, tmp_path):
    from kqtools.storage import jobs as J

    folder = str(jobs_dir(tmp_path, DAILY))
    specs, _ = S.load_specs(folder)
    digest = S.files_digest(folder)
    J.run_due(db, specs, R.parse_now("2027-12-07T09:05"), digest=digest, given=True)
    # a real moment before the given one: the cache says nothing about it
    assert not J.nothing_due_fast(str(db_path), digest, "2026-12-07T01:05:00Z", [])
    # a moment after it, before the next fire time: nothing due, as before
    assert J.nothing_due_fast(str(db_path), digest, "2027-12-07T01:10:00Z", [])


def test_a_database_locked_past_the_busy_timeout_is_one_line(kq, db, db_path, tmp_path):
    """Issue 11 item 13: a lock held elsewhere used to end `run-due` with 'internal error: OperationalError'."""
    import sqlite3

    folder = jobs_dir(tmp_path, DAILY)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = kq("jobs", "run-due", "--jobs-dir", folder, "--now", "2026-01-05T09:05", "--full",
               env={"KQ_BUSY_TIMEOUT_MS": "300"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r
    assert str(db_path) in lines[0] and "locked by another process" in lines[0] and "try again" in lines[0]
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
