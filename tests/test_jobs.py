"""Reminder jobs: specs, occurrences, exactly-once runs (also racing), coalescing, missed, the reminders.

Real SQLite files, real `kq` subprocesses, real `kq assign`; no mocks.
"""
from __future__ import annotations

import collections
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from conftest import import_rows, run_kq
from kqtools import jobspecs as S
from kqtools import reminders as R
from kqtools.uscc import make_uscc

MONDAY = "2026-01-05T09:05+08:00"      # visit-reminders (Mon 09:00) and expiry-reminders (08:30) are due


def code(i: int) -> str:
    return make_uscc("91", "350206", f"{i:08d}")


HULI_A, HULI_B, SIMING, JIMEI = code(1), code(2), code(3), code(4)


def seed(db, kq, visits=(), designations=None):
    """Four firms in three districts, one specialist per district, assigned by the real `kq assign`."""
    import_rows(db, "enterprises", [
        {"uscc": HULI_A, "name": "厦门湖里甲科技有限公司", "district": "湖里区"},
        {"uscc": HULI_B, "name": "厦门湖里乙电子有限公司", "district": "湖里区"},
        {"uscc": SIMING, "name": "厦门思明丙软件有限公司", "district": "思明区"},
        {"uscc": JIMEI, "name": "厦门集美丁生物有限公司", "district": "集美区"},
    ])
    import_rows(db, "designations", designations or [
        {"uscc": u, "kind": "hte", "level": "national", "recognized_on": "2023-12-01"}
        for u in (HULI_A, HULI_B, SIMING, JIMEI)])
    import_rows(db, "specialists", [
        {"id": "S01", "name": "张三", "districts": "湖里区", "department": "高新技术处", "email": "zhangsan@kq.test"},
        {"id": "S02", "name": "李四", "districts": "思明区", "department": "高新技术处", "email": "lisi@kq.test"},
        {"id": "S03", "name": "王五", "districts": "集美区", "department": "高新技术处", "email": "wangwu@kq.test"},
    ])
    if visits:
        import_rows(db, "visits", [{"uscc": u, "specialist_id": s, "visited_on": d} for u, s, d in visits])
    r = kq("assign", "--as-of", "2026-01-01")
    assert r.returncode == 0, r
    served = dict(db.conn.execute("SELECT uscc, specialist_id FROM assignments"))
    assert served == {HULI_A: "S01", HULI_B: "S01", SIMING: "S02", JIMEI: "S03"}


def outbox(db_path) -> list[dict]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM outbox ORDER BY id")]
    finally:
        conn.close()


def runs(db_path, job_id=None) -> list[dict]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        sql = "SELECT * FROM job_runs" + (" WHERE job_id = ?" if job_id else "") + " ORDER BY fire_time"
        return [dict(r) for r in conn.execute(sql, (job_id,) if job_id else ())]
    finally:
        conn.close()


def write_spec(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def off(folder: Path, *ids):
    """Deployment overrides that switch shipped jobs off."""
    for job_id in ids:
        write_spec(folder, f"{job_id}.toml", f'id = "{job_id}"\naction = "meeting-reminder"\nenabled = false\n'
                                            f'trigger = {{ cron = "0 9 * * *" }}\nparams = {{ subject = "x" }}\n')


SHIPPED = ("visit-reminders", "expiry-reminders", "policy-briefing", "december-meeting", "lists-rebuild", "score-run",
           "requests-due", "requests-revisit", "monthly-briefing", "watch-alerts")


# ------------------------------------------------------------------------ specs and triggers (pure)

def test_shipped_specs_are_valid_and_have_the_promised_schedules():
    specs, problems = S.load_specs(None)
    assert problems == []
    assert set(specs) == set(SHIPPED)
    monday = R.parse_now(MONDAY)
    nxt = {k: R.next_fire(S.make_trigger(s), monday).astimezone(R.zone("Asia/Shanghai")) for k, s in specs.items()}
    assert nxt["visit-reminders"].isoformat() == "2026-01-12T09:00:00+08:00"      # every Monday 09:00
    assert nxt["expiry-reminders"].isoformat() == "2026-01-06T08:30:00+08:00"     # daily 08:30
    assert nxt["policy-briefing"].isoformat() == "2026-02-01T09:00:00+08:00"      # the 1st of each month
    assert nxt["december-meeting"].isoformat() == "2026-12-01T09:00:00+08:00"     # 1 December
    assert nxt["lists-rebuild"].isoformat() == "2026-01-06T02:00:00+08:00"        # nightly
    assert specs["expiry-reminders"].params["days"] == [90, 30]


def test_crontab_weekdays_follow_cron_not_apscheduler_3():
    # APScheduler 3.x reads day_of_week=1 as Tuesday; in crontab 1 is Monday, 0 and 7 are Sunday
    spec = S.resolve_spec({"id": "x", "action": "meeting-reminder", "params": {"subject": "s"},
                           "trigger": {"cron": "0 9 * * 1"}}, "x.toml")
    fire = R.next_fire(S.make_trigger(spec), R.parse_now("2026-01-06T00:00+08:00"))  # a Tuesday
    assert fire.astimezone(R.zone("Asia/Shanghai")).isoformat() == "2026-01-12T09:00:00+08:00"
    for sunday in ("0", "7", "sun"):
        spec = S.resolve_spec({"id": "x", "action": "meeting-reminder", "params": {"subject": "s"},
                               "trigger": {"cron": f"0 9 * * {sunday}"}}, "x.toml")
        fire = R.next_fire(S.make_trigger(spec), R.parse_now("2026-01-06T00:00+08:00"))
        assert fire.astimezone(R.zone("Asia/Shanghai")).isoformat() == "2026-01-11T09:00:00+08:00"


def test_deployment_spec_replaces_the_shipped_one_and_can_switch_it_off(tmp_path):
    write_spec(tmp_path, "visit.toml", 'id = "visit-reminders"\naction = "visit-reminders"\n'
                                       'trigger = { cron = "0 8 * * fri" }\n')
    off(tmp_path, "lists-rebuild")
    write_spec(tmp_path, "extra.json", json.dumps({"id": "party-day", "action": "meeting-reminder",
                                                   "params": {"subject": "主题党日"},
                                                   "trigger": {"at": "2026-07-01T09:00"}}))
    specs, problems = S.load_specs(str(tmp_path))
    assert problems == []
    assert specs["visit-reminders"].trigger["cron"] == "0 8 * * fri"
    assert specs["visit-reminders"].source.endswith("visit.toml")
    assert specs["lists-rebuild"].enabled is False
    assert specs["party-day"].timezone == "Asia/Shanghai"


@pytest.mark.parametrize("text, expected", [
    ('id = "x"\naction = "meeting-reminder"\ntrigger = { cron = "0 9 * *" }\nparams = { subject = "s" }',
     "trigger.cron: expected 5 fields"),
    ('id = "x"\naction = "send-flowers"\ntrigger = { cron = "0 9 * * *" }', "action"),
    ('id = "x"\naction = "meeting-reminder"\ntrigger = { cron = "0 9 * * *", timezone = "Mars/Olympus" }\n'
     'params = { subject = "s" }', "unknown time zone"),
    ('id = "x"\naction = "meeting-reminder"\ntrigger = { cron = "0 9 * * *" }', "needs a subject"),
    ('id = "x"\naction = "meeting-reminder"\ntrigger = { cron = "0 9 * * *" }\nparams = { subject = "s" }\n'
     'misfire_grace = "soon"', "misfire_grace"),
    ('id = "x"\naction = "meeting-reminder"\ntrigger = { cron = "0 9 * * *" }\nparams = { subject = "s" }\n'
     'recipients = ["not an address"]', "recipients"),
    ('id = "x"\naction = [', "not valid TOML"),
])
def test_jobs_check_names_file_and_problem_one_line_each(tmp_path, text, expected):
    write_spec(tmp_path, "bad.toml", text)
    write_spec(tmp_path, "good.toml", 'id = "ok"\naction = "meeting-reminder"\ntrigger = { cron = "0 9 * * *" }\n'
                                      'params = { subject = "s" }\n')
    r = run_kq("jobs", "check", "--jobs-dir", tmp_path)
    assert r.returncode == 1, r
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and "bad.toml" in lines[0] and expected in lines[0], r
    assert "Traceback" not in r.stderr


def test_jobs_check_rejects_a_bad_cron_field_and_passes_the_shipped_specs(tmp_path):
    assert run_kq("jobs", "check").returncode == 0
    write_spec(tmp_path, "bad.toml", 'id = "x"\naction = "meeting-reminder"\ntrigger = { cron = "61 9 * * *" }\n'
                                     'params = { subject = "s" }\n')
    r = run_kq("jobs", "check", "--jobs-dir", tmp_path)
    assert r.returncode == 1 and "bad.toml" in r.stdout and "trigger.cron" in r.stdout, r


def test_occurrences_and_plan_coalesce_within_grace_and_miss_beyond():
    spec = S.resolve_spec({"id": "d", "action": "meeting-reminder", "params": {"subject": "s"},
                           "trigger": {"cron": "0 9 * * *"}, "misfire_grace": "2d"}, "d.toml")
    trig = S.make_trigger(spec)
    start, now = R.parse_now("2026-01-05T09:00+08:00"), R.parse_now("2026-01-08T10:00+08:00")
    times = R.occurrences(trig, start, now)
    assert [R.utc_iso(t) for t in times] == ["2026-01-06T01:00:00Z", "2026-01-07T01:00:00Z", "2026-01-08T01:00:00Z"]
    plan = R.plan_occurrences(times, now, spec.misfire_grace)
    assert R.utc_iso(plan.run) == "2026-01-08T01:00:00Z"
    assert [R.utc_iso(t) for t in plan.coalesced] == ["2026-01-07T01:00:00Z"]
    assert [R.utc_iso(t) for t in plan.missed] == ["2026-01-06T01:00:00Z"]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), grace_h=st.integers(1, 200), late_min=st.integers(0, 5000))
def test_plan_runs_at_most_one_and_accounts_for_every_occurrence(n, grace_h, late_min):
    base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    times = [base + dt.timedelta(hours=6 * i) for i in range(n)]
    now = (times[-1] if times else base) + dt.timedelta(minutes=late_min)
    plan = R.plan_occurrences(times, now, grace_h * 3600)
    ran = [plan.run] if plan.run else []
    assert sorted(ran + plan.coalesced + plan.missed) == times          # nothing lost, nothing doubled
    if plan.run:
        assert plan.run == max(t for t in times if now - t <= dt.timedelta(hours=grace_h))
    assert all(now - t > dt.timedelta(hours=grace_h) for t in plan.missed)


def test_interval_fire_times_do_not_depend_on_when_a_process_starts():
    spec = S.resolve_spec({"id": "i", "action": "meeting-reminder", "params": {"subject": "s"},
                           "trigger": {"every": "6h"}}, "i.toml")
    a = R.occurrences(S.make_trigger(spec), R.parse_now("2026-03-01T00:00+08:00"), R.parse_now("2026-03-02T00:00+08:00"))
    b = R.occurrences(S.make_trigger(spec), R.parse_now("2026-03-01T05:17+08:00"), R.parse_now("2026-03-02T00:00+08:00"))
    assert a[-3:] == b[-3:] and all(t.astimezone(R.zone("Asia/Shanghai")).hour % 6 == 0 for t in a)


# ------------------------------------------------------------------------ exactly once

def test_run_due_twice_with_the_same_now_produces_each_message_once(kq, db, db_path):
    seed(db, kq)
    first = kq("jobs", "run-due", "--now", MONDAY, "--no-deliver")
    assert first.returncode == 0, first
    done = {r["job_id"]: r for r in first.jsonl()}
    assert done["visit-reminders"]["status"] == "done" and done["visit-reminders"]["messages"] == 3
    before = outbox(db_path)
    again = kq("jobs", "run-due", "--now", MONDAY, "--no-deliver")
    assert again.returncode == 0 and again.stdout == "" and "nothing due" in again.stderr
    after = outbox(db_path)
    assert after == before
    keys = [(m["job_id"], m["fire_time"], m["recipient"], m["subject"]) for m in after]
    assert len(keys) == len(set(keys)) == 3
    assert {m["recipient"] for m in after} == {"zhangsan@kq.test", "lisi@kq.test", "wangwu@kq.test"}
    history = kq("jobs", "history", "--job", "visit-reminders").jsonl()
    assert [(h["status"], h["attempts"]) for h in history] == [("done", 1)]


def test_eight_processes_racing_produce_each_message_once(kq, db, db_path):
    seed(db, kq)
    db.conn.close()
    env = {**os.environ, "KQ_DB": str(db_path), "PYTHONIOENCODING": "utf-8"}
    procs = [subprocess.Popen([sys.executable, "-m", "kqtools", "jobs", "run-due", "--now", MONDAY, "--no-deliver"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(8)]
    results = [(p.wait(timeout=120), p.stdout.read().decode(), p.stderr.read().decode()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert all(rc == 0 for rc, _, _ in results), results
    ran = [json.loads(line) for _, out, _ in results for line in out.splitlines() if line.strip()]
    done = collections.Counter(r["job_id"] for r in ran if r["status"] == "done")
    assert done == {"visit-reminders": 1, "expiry-reminders": 1, "requests-due": 1, "requests-revisit": 1}  # once each
    msgs = outbox(db_path)
    keys = collections.Counter((m["job_id"], m["recipient"], m["dedupe_key"]) for m in msgs)
    assert len(msgs) == 3 and set(keys.values()) == {1}
    assert [(r["status"], r["attempts"]) for r in runs(db_path, "visit-reminders")] == [("done", 1)]


def test_after_three_days_off_one_coalesced_run_within_grace_and_missed_beyond(db, db_path, tmp_path):
    """Runs by the clock (cron's run-due at these moments): the service is called with the moment the
    clock would give; a --now run records no missed or coalesced occurrences (see the --now tests)."""
    from kqtools.storage import jobs as J

    jobs = tmp_path / "jobs"
    off(jobs, *SHIPPED)
    write_spec(jobs, "tolerant.toml", 'id = "tolerant"\naction = "meeting-reminder"\n'
               'trigger = { cron = "0 9 * * *" }\nmisfire_grace = "2d"\nrecipients = ["office@kq.test"]\n'
               'params = { subject = "日报 {date}" }\n')
    write_spec(jobs, "strict.toml", 'id = "strict"\naction = "meeting-reminder"\n'
               'trigger = { cron = "0 9 * * *" }\nmisfire_grace = "3h"\nrecipients = ["office@kq.test"]\n'
               'params = { subject = "早报 {date}" }\n')
    specs, _ = S.load_specs(str(jobs))
    assert not J.run_due(db, specs, R.parse_now(MONDAY)).needs_attention
    # switched off Monday after the run; back on Thursday 10:00: Tue, Wed and Thu 09:00 fell due meanwhile
    rep = J.run_due(db, specs, R.parse_now("2026-01-08T10:00+08:00"))
    assert rep.needs_attention                         # missed occurrences need attention
    status = {(x["job_id"], x["fire_time"]): x["status"] for x in runs(db_path)}
    assert status == {
        ("tolerant", "2026-01-05T01:00:00Z"): "done", ("strict", "2026-01-05T01:00:00Z"): "done",
        ("tolerant", "2026-01-06T01:00:00Z"): "missed",      # Tue 09:00 is more than 2 days before Thu 10:00
        ("tolerant", "2026-01-07T01:00:00Z"): "coalesced",   # Wed 09:00 covered by Thursday's run
        ("tolerant", "2026-01-08T01:00:00Z"): "done",
        ("strict", "2026-01-06T01:00:00Z"): "missed", ("strict", "2026-01-07T01:00:00Z"): "missed",
        ("strict", "2026-01-08T01:00:00Z"): "done",
    }
    subjects = sorted(m["subject"] for m in outbox(db_path))
    assert subjects == sorted(["早报 2026-01-05", "早报 2026-01-08", "日报 2026-01-05", "日报 2026-01-08"])
    # beyond grace for everything: the next day's 09:00 is missed by a run at 13:00 for the strict job only
    rep = J.run_due(db, specs, R.parse_now("2026-01-09T13:00+08:00"))
    rows = {o.job_id: o.status for o in rep.outcomes}
    assert rows == {"strict": "missed", "tolerant": "done"}


def test_a_failed_run_is_recorded_and_retried_by_the_next_run_within_grace(kq, db_path, tmp_path):
    jobs = tmp_path / "jobs"
    off(jobs, *[j for j in SHIPPED if j != "lists-rebuild"])
    write_spec(jobs, "lists-rebuild.toml", 'id = "lists-rebuild"\naction = "lists-rebuild"\n'
               'trigger = { cron = "0 2 * * *" }\nmisfire_grace = "6h"\nparams = { rules = "no-such-rules.toml" }\n')
    r = kq("jobs", "run-due", "--jobs-dir", jobs, "--now", "2026-01-05T02:10+08:00")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    [row] = r.jsonl()
    assert row["status"] == "failed" and "no-such-rules.toml" in row["error"]
    # still failing, still within grace: retried (attempt 2), still recorded
    r = kq("jobs", "run-due", "--jobs-dir", jobs, "--now", "2026-01-05T02:20+08:00")
    assert [(x["status"], x["attempts"]) for x in r.jsonl()] == [("failed", 2)]
    # the administrator fixes the spec; the next run within grace retries the same occurrence
    write_spec(jobs, "lists-rebuild.toml", 'id = "lists-rebuild"\naction = "lists-rebuild"\n'
               'trigger = { cron = "0 2 * * *" }\nmisfire_grace = "6h"\nrecipients = ["zhb@kq.test"]\n')
    r = kq("jobs", "run-due", "--jobs-dir", jobs, "--now", "2026-01-05T03:00+08:00", "--no-deliver")
    assert r.returncode == 0, r
    assert [(x["fire_time"], x["status"], x["attempts"]) for x in r.jsonl()] == [("2026-01-05T02:00:00+08:00", "done", 3)]   # shown in local time
    [summary] = outbox(db_path)
    assert summary["recipient"] == "zhb@kq.test" and summary["subject"] == "【kq】信用名单已重建(2026-01-05)"
    assert "whitelist" in summary["body"] and "rules_sha256" in summary["body"]
    assert kq("jobs", "run-due", "--jobs-dir", jobs, "--now", "2026-01-05T03:05+08:00", "--no-deliver").stdout == ""


def test_a_run_abandoned_by_a_killed_process_is_taken_over(kq, db, db_path, tmp_path):
    """A process claims an occurrence and dies (SIGKILL) before finishing: the next run retries it."""
    jobs = tmp_path / "jobs"
    off(jobs, *SHIPPED)
    write_spec(jobs, "m.toml", 'id = "m"\naction = "meeting-reminder"\ntrigger = { cron = "0 9 * * *" }\n'
               'recipients = ["office@kq.test"]\nparams = { subject = "例会" }\n')
    from kqtools.storage import jobs as J

    specs, _ = S.load_specs(str(jobs))
    code_ = ("import sys, os, signal\nfrom kqtools import jobspecs as S\nfrom kqtools.storage import open_db, "
             "write_transaction\nfrom kqtools.storage import jobs as J\n"
             f"specs, _ = S.load_specs({str(jobs)!r})\ndb = open_db({str(db_path)!r})\n"
             "with write_transaction(db):\n    J._claim(db.conn, specs['m'], '2026-01-05T01:00:00Z', 'scheduled')\n"
             "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code_], capture_output=True)
    assert proc.returncode == -9
    [row] = runs(db_path, "m")
    assert row["status"] == "running"
    rep = J.run_due(db, specs, R.parse_now(MONDAY))
    assert [(o.status, o.attempts) for o in rep.outcomes] == [("done", 2)]
    assert len(outbox(db_path)) == 1


# ------------------------------------------------------------------------ what the reminders say

def test_visit_reminders_skip_firms_visited_this_quarter_and_specialists_with_nothing_due(kq, db, db_path):
    seed(db, kq, visits=[(HULI_A, "S01", "2026-01-03"),       # this quarter: not in any reminder
                         (HULI_B, "S01", "2025-11-20"),       # last quarter: due
                         (JIMEI, "S03", "2026-01-02")])       # S03's only firm, visited: no message for S03
    # a key firm (重点企业) is due every quarter; S01's other firm keeps the yearly plan on pace (issue 14)
    import_rows(db, "enterprises", [{"uscc": HULI_B, "name": "厦门湖里乙电子有限公司", "重点企业": "是"}])
    r = kq("jobs", "run-due", "--now", MONDAY, "--no-deliver", "--job", "visit-reminders")
    assert r.returncode == 0, r
    msgs = outbox(db_path)
    assert sorted(m["recipient"] for m in msgs) == ["lisi@kq.test", "zhangsan@kq.test"]
    bodies = "\n".join(m["body"] + m["subject"] for m in msgs)
    assert HULI_A not in bodies and JIMEI not in bodies
    zhang = next(m for m in msgs if m["recipient"] == "zhangsan@kq.test")
    assert HULI_B in zhang["body"] and "上次走访 2025-11-20" in zhang["body"] and "1 家企业" in zhang["subject"]
    listed = kq("outbox", "list", "--pending").jsonl()
    assert {"id", "job_id", "fire_time", "recipient", "subject", "body", "status"} <= set(listed[0])
    assert {m["status"] for m in listed} == {"pending"}


def test_visit_reminders_fail_clearly_when_a_specialist_has_no_address(kq, db, db_path):
    seed(db, kq)
    db.conn.execute("UPDATE specialists SET email = NULL WHERE id = 'S02'")
    kq("jobs", "run-due", "--now", MONDAY, "--no-deliver", "--job", "visit-reminders")
    li = next(m for m in outbox(db_path) if m["recipient_name"] == "李四")
    assert li["status"] == "undeliverable" and "no e-mail address" in li["last_error"]


def test_expiry_reminders_once_per_threshold_to_the_firms_specialist(kq, db, db_path):
    seed(db, kq, designations=[
        {"uscc": HULI_A, "kind": "hte", "level": "national", "recognized_on": "2023-03-01"},   # -> 2026-02-28
        {"uscc": HULI_B, "kind": "hte", "level": "national", "recognized_on": "2023-12-01"},   # -> 2026-11-30
        {"uscc": SIMING, "kind": "hte", "level": "national", "recognized_on": "2023-01-20"},   # -> 2026-01-19
        {"uscc": JIMEI, "kind": "hte", "level": "national", "recognized_on": "2023-02-20"},    # -> 2026-02-19
        {"uscc": JIMEI, "kind": "hte", "level": "national", "recognized_on": "2025-12-01"},    # renewed: not due
    ])
    day = lambda d: f"2026-{d}T08:35+08:00"
    kq("jobs", "run-due", "--no-deliver", "--job", "expiry-reminders", "--now", day("01-05"))
    first = outbox(db_path)
    assert sorted(m["recipient"] for m in first) == ["lisi@kq.test", "zhangsan@kq.test"]
    zhang = next(m for m in first if m["recipient"] == "zhangsan@kq.test")
    assert HULI_A in zhang["body"] and "2026-02-28" in zhang["body"] and "90 天提醒" in zhang["body"]
    assert HULI_B not in zhang["body"] and JIMEI not in "".join(m["body"] for m in first)
    li = next(m for m in first if m["recipient"] == "lisi@kq.test")
    assert "30 天提醒" in li["body"] and "90 天提醒" not in li["body"]    # 14 days left: only the closest one
    # the following days: nothing new until HULI_A crosses 30 days (2026-01-29)
    for d in ("01-06", "01-07", "01-28"):
        kq("jobs", "run-due", "--no-deliver", "--job", "expiry-reminders", "--now", day(d))
    assert len(outbox(db_path)) == 2
    kq("jobs", "run-due", "--no-deliver", "--job", "expiry-reminders", "--now", day("01-29"))
    kq("jobs", "run-due", "--no-deliver", "--job", "expiry-reminders", "--now", day("01-30"))
    later = outbox(db_path)[2:]
    assert [(m["recipient"], "30 天提醒" in m["body"], HULI_A in m["body"]) for m in later] == [
        ("zhangsan@kq.test", True, True)]


def test_meeting_reminder_goes_to_every_active_specialist_and_the_webhook(kq, db, db_path):
    seed(db, kq)
    r = kq("jobs", "run-due", "--no-deliver", "--job", "december-meeting", "--now", "2026-12-01T09:30+08:00")
    assert r.returncode == 0, r
    msgs = outbox(db_path)
    assert sorted((m["channel"], m["recipient"]) for m in msgs) == [
        ("email", "lisi@kq.test"), ("email", "wangwu@kq.test"), ("email", "zhangsan@kq.test"), ("webhook", "webhook")]
    assert all(m["subject"] == "【会议提醒】2026 年挂钩联系企业问题专题会" for m in msgs)


# ------------------------------------------------------------------------ CLI

def test_jobs_list_run_and_history(kq, db, db_path):
    seed(db, kq)
    listed = {j["id"]: j for j in kq("jobs", "list", "--now", MONDAY).jsonl()}
    assert listed["visit-reminders"]["next_fire"] == "2026-01-12T09:00:00+08:00"
    assert listed["visit-reminders"]["last_status"] is None
    r = kq("jobs", "run", "visit-reminders", "--no-deliver", "--now", "2026-01-07T15:00+08:00")
    assert r.returncode == 0 and r.jsonl()[0]["messages"] == 3, r
    listed = {j["id"]: j for j in kq("jobs", "list").jsonl()}
    assert listed["visit-reminders"]["last_status"] == "done"
    [h] = kq("jobs", "history", "--job", "visit-reminders").jsonl()
    assert h["trigger_kind"] == "manual" and h["fire_time"] == "2026-01-07T15:00:00+08:00"
    # a manual run does not use up the scheduled occurrence
    r = kq("jobs", "run-due", "--no-deliver", "--job", "visit-reminders", "--now", "2026-01-12T09:01+08:00")
    assert [x["status"] for x in r.jsonl()] == ["done"]
    assert kq("jobs", "run", "no-such-job").returncode == 2


def test_outbox_ack_stops_delivery(kq, db, db_path):
    seed(db, kq)
    kq("jobs", "run-due", "--no-deliver", "--now", MONDAY)
    first = outbox(db_path)[0]["id"]
    assert kq("outbox", "ack", first).returncode == 0
    pending = kq("outbox", "list", "--pending").jsonl()
    assert first not in {m["id"] for m in pending} and len(pending) == 2
    assert kq("outbox", "ack", 999).returncode == 2


def test_run_due_fast_path_notices_an_edited_spec(kq, db_path, tmp_path):
    jobs = tmp_path / "jobs"
    off(jobs, *SHIPPED)
    write_spec(jobs, "m.toml", 'id = "m"\naction = "meeting-reminder"\ntrigger = { cron = "0 9 * * *" }\n'
               'recipients = ["office@kq.test"]\nparams = { subject = "例会" }\n')
    assert [x["status"] for x in kq("jobs", "run-due", "--jobs-dir", jobs, "--now", MONDAY).jsonl()] == ["done"]
    assert kq("jobs", "run-due", "--jobs-dir", jobs, "--now", "2026-01-05T10:00+08:00").stdout == ""
    # moved to 09:30 the same morning: a new occurrence, found although nothing else changed
    write_spec(jobs, "m.toml", 'id = "m"\naction = "meeting-reminder"\ntrigger = { cron = "30 9 * * *" }\n'
               'recipients = ["office@kq.test"]\nparams = { subject = "例会" }\n')
    r = kq("jobs", "run-due", "--jobs-dir", jobs, "--now", "2026-01-05T10:00+08:00")
    assert [(x["fire_time"], x["status"]) for x in r.jsonl()] == [("2026-01-05T09:30:00+08:00", "done")]
    # a broken file is reported on every run (exit 1), the other jobs still run
    write_spec(jobs, "broken.toml", 'id = "broken"\naction = "meeting-reminder"\n')
    r = kq("jobs", "run-due", "--jobs-dir", jobs, "--now", "2026-01-05T10:01+08:00")
    assert r.returncode == 1 and "broken.toml" in r.stderr


def test_bad_now_is_a_usage_error(kq):
    r = kq("jobs", "run-due", "--now", "next tuesday")
    assert r.returncode == 2 and "--now" in r.stderr and "Traceback" not in r.stderr


def test_help_and_run_due_fast_path_do_not_import_heavy_libraries(kq, db, tmp_path):
    seed(db, kq)
    assert kq("jobs", "run-due", "--now", MONDAY, "--no-deliver").returncode == 0
    code_ = ("import sys\nfrom kqtools.cli import main\n"
             f"try:\n    main(['--db', {str(db.conn.execute('PRAGMA database_list').fetchone()[2])!r}, 'jobs', "
             f"'run-due', '--now', {MONDAY!r}])\nexcept SystemExit as e:\n    rc = e.code\n"
             "print('LOADED', sorted(m for m in ('apscheduler', 'sqlalchemy', 'sqlite_utils', 'fastjsonschema', "
             "'jsonschema', 'tomllib') if m in sys.modules), rc)")
    env = {**os.environ}
    env.pop("KQ_SMTP_URL", None)
    env.pop("KQ_WEBHOOK_URL", None)
    proc = subprocess.run([sys.executable, "-c", code_], capture_output=True, text=True, env=env)
    assert proc.stdout.strip().endswith("LOADED [] 0"), proc
