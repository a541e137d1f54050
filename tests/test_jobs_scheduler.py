"""`kq scheduler` as a real process: runs jobs on time, picks up edited spec files, shares the claims
with cron-style `kq jobs run-due`, delivers each mail once, and stops cleanly on SIGTERM / SIGINT."""
from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from test_delivery import Mailbox, smtp_url
from test_jobs import SHIPPED, off, write_spec


def wait_for(predicate, timeout=60.0, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def query(db_path, sql, args=()):
    try:
        conn = sqlite3.connect(db_path, timeout=30)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:      # not created yet
        return []


TICK = ('id = "tick"\naction = "meeting-reminder"\ntrigger = {{ every = "2s" }}\nmisfire_grace = "1m"\n'
        'recipients = ["office@kq.test"]\nparams = {{ subject = "{subject}" }}\n')


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_scheduler_runs_on_time_reloads_edits_and_stops_cleanly(tmp_path, db_path, stop_signal):
    jobs = tmp_path / "jobs"
    off(jobs, *SHIPPED)
    write_spec(jobs, "tick.toml", TICK.format(subject="第一版"))
    with Mailbox() as box:
        env = {**os.environ, "KQ_DB": str(db_path), "PYTHONIOENCODING": "utf-8", "KQ_SMTP_URL": smtp_url(box.port)}
        proc = subprocess.Popen([sys.executable, "-m", "kqtools", "scheduler", "--jobs-dir", str(jobs), "--poll", "0.5",
                                 "--retry-every", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: query(db_path, "SELECT 1 FROM outbox WHERE subject = '第一版' AND status = 'sent'"))
            # cron-style runs at the same time as the daemon: same claims, nothing twice
            for _ in range(3):
                subprocess.run([sys.executable, "-m", "kqtools", "jobs", "run-due", "--jobs-dir", str(jobs)], env=env,
                               capture_output=True, timeout=120)
            # an edited spec file is picked up without a restart
            time.sleep(0.05)
            write_spec(jobs, "tick.toml", TICK.format(subject="第二版"))
            wait_for(lambda: query(db_path, "SELECT 1 FROM outbox WHERE subject = '第二版' AND status = 'sent'"))
        finally:
            proc.send_signal(stop_signal)
            rc = proc.wait(timeout=60)
            err = proc.stderr.read().decode("utf-8", "replace")
            proc.stdout.close()
            proc.stderr.close()
        assert rc == 0, err
        assert "scheduler stopped" in err and "Traceback" not in err
        runs = query(db_path, "SELECT fire_time, status FROM job_runs WHERE job_id = 'tick'")
        sent = query(db_path, "SELECT fire_time FROM outbox WHERE status = 'sent'")
        pending = query(db_path, "SELECT count(*) FROM outbox WHERE status != 'sent'")[0][0]
        received = len(box.envelopes)
    done = [t for t, s in runs if s == "done"]
    assert len(done) >= 2
    assert len(sent) + pending == len(done)                  # one message per run
    assert received == len(sent)                             # and each sent message arrived once
    assert set(collections.Counter(t for (t,) in sent).values()) == {1}
    assert not [s for _, s in runs if s == "running"]        # the stop waited for the run in progress
