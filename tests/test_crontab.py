"""Cron expressions mean what crontab(5) means: checked against croniter (a reference implementation
of Vixie cron's rules, including the day-of-month OR day-of-week rule) and said in words."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings, strategies as st

from kqtools import crontab as C
from kqtools import jobspecs as S

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 1, 2, 10, 0, tzinfo=SHANGHAI)

TABLE = [
    "0 9 1 * mon",          # both day fields restricted: the 1st OR every Monday (issue 11 item 15)
    "0 9 15 * 5",           # the 15th OR every Friday
    "0 9 1,15 * 1-5",       # a list and a range, both restricted
    "30 8 * * *",           # daily
    "0 9 * * 1",            # Monday (APScheduler 3 would read Tuesday)
    "0 9 * * 0",            # Sunday as 0
    "0 9 * * 7",            # Sunday as 7
    "0 9 * * 5-7",          # a range ending in 7
    "0 9 * * sun,wed",      # names
    "0 9 * jan,jul mon",    # month names
    "*/15 * * * *",         # a step
    "5-20/5 10-12 * * *",   # a stepped range
    "0 */6 * * *",          # hours by step
    "0 0 29 2 *",           # February 29: leap years only
    "0 12 29 2 mon",        # February 29 OR every Monday
    "0 9 31 * *",           # only months with a 31st
    "0 3 1 3 *",            # once a year (the shipped score-run)
    "0 9 1 12 *",           # 1 December (the shipped december-meeting)
    "45 23 28-31 * *",      # end of month range
    "0 9 1-7 * 1",          # the first seven days OR every Monday (crontab's rule, not "first Monday")
    "0 0 1 */3 *",          # quarterly by month step
    "@daily",
    "@weekly",
    "@monthly",
    "@yearly",
    "@hourly",
]


def reference(expr: str, n: int = 5) -> list[dt.datetime]:
    it = croniter(expr, START)
    return [it.get_next(dt.datetime) for _ in range(n)]


def ours(expr: str, n: int = 5) -> list[dt.datetime]:
    cron, out, t = C.parse(expr), [], START
    for _ in range(n):
        t = cron.next_after(t, SHANGHAI)
        out.append(t)
    return out


@pytest.mark.parametrize("expr", TABLE)
def test_next_five_fire_times_equal_the_crontab_reference(expr):
    assert [t.isoformat() for t in ours(expr)] == [t.isoformat() for t in reference(expr)]


def test_both_day_fields_restricted_fire_on_either_as_the_issue_reports():
    assert ours("0 9 1 * mon", 1)[0].isoformat() == "2026-01-05T09:00:00+08:00"      # a Monday, not 1 June
    assert ours("0 9 15 * 5", 1)[0].isoformat() == "2026-01-09T09:00:00+08:00"       # a Friday, not 15 May
    assert len([t for t in ours("0 9 1 * mon", 40) if t.year == 2026 and t.month == 6]) == 5  # 1 June + 5 Mondays - overlap


def test_a_day_field_starting_with_a_star_does_not_count_as_restricted():
    # crontab(5): "If both fields are restricted (i.e., don't start with *)" - Vixie's DOM_STAR:
    # */2 with a weekday means odd days that are Mondays (croniter reads it as OR; Vixie cron does not)
    fires = ours("0 9 */2 * mon", 4)
    assert all(t.weekday() == 0 and t.day % 2 == 1 for t in fires)
    assert fires[0].date() == dt.date(2026, 1, 5)


@settings(max_examples=150, deadline=None)
@given(minute=st.sampled_from(["0", "*/20", "5,35", "10-40/15"]),
       hour=st.sampled_from(["9", "*/8", "0-23/12", "8,17"]),
       dom=st.sampled_from(["*", "1", "13", "1-10", "10-20/5", "28-31", "29", "30"]),
       month=st.sampled_from(["*", "2", "1-6", "*/4", "feb,aug"]),
       dow=st.sampled_from(["*", "0", "7", "1-5", "mon,fri", "sat-sun", "3"]))
def test_random_expressions_match_the_reference(minute, hour, dom, month, dow):
    expr = f"{minute} {hour} {dom} {month} {dow}"
    try:
        C.parse(expr)
    except C.CronError:
        return                                    # e.g. 30 2 *: never fires, refused
    assert [t.isoformat() for t in ours(expr, 3)] == [t.isoformat() for t in reference(expr, 3)]


@pytest.mark.parametrize("expr, words", [
    ("0 9 1 * mon", "09:00 on day 1 of the month and on every Monday"),
    ("0 9 * * 1-5", "09:00 on Monday to Friday"),
    ("30 8 * * *", "08:30 every day"),
    ("0 9 1 12 *", "09:00 on 1 December"),
    ("0 0 29 2 *", "00:00 on 29 February"),
    ("*/15 * * * *", "every 15 minutes"),
    ("0 8-18 * * 1-5", "every hour from 08:00 to 18:00 on Monday to Friday"),
    ("0 9 15 * 5", "09:00 on day 15 of the month and on every Friday"),
    ("0 9 */2 * mon", "09:00 on every second day of the month when it is a Monday"),
    ("@hourly", "at minute 0 of every hour"),
    ("0 9 * jan,jul sun", "09:00 on every Sunday, in January and July"),
])
def test_each_schedule_is_said_in_words(expr, words):
    assert C.parse(expr).describe() == words


@pytest.mark.parametrize("expr, reason", [
    ("0 0 30 2 *", "never fires"),
    ("61 * * * *", "minute: 61 is out of range 0-59"),
    ("0 9 * * 8", "day of week: 8 is out of range 0-7"),
    ("0 9 * * 1#2", "not standard crontab"),
    ("0 9 L * *", "not standard crontab"),
    ("5-1 * * * *", "runs backwards"),
    ("@reboot", "@reboot has no fire times"),
    ("0 9 * *", "expected 5 fields"),
    ("0 9 * * funday", "day of week: 'funday' is not a value"),
    ("*/0 * * * *", "step after '/'"),
])
def test_non_standard_or_impossible_expressions_are_refused_with_the_field_and_reason(expr, reason):
    with pytest.raises(C.CronError) as exc:
        C.parse(expr)
    assert reason in str(exc.value)


def test_a_time_skipped_by_a_clock_change_fires_once_when_the_clocks_jump():
    berlin = ZoneInfo("Europe/Berlin")
    cron, t, seen = C.parse("30 2 * * *"), dt.datetime(2026, 3, 28, 12, tzinfo=berlin), []
    for _ in range(3):
        t = cron.next_after(t, berlin)
        seen.append(t.astimezone(dt.timezone.utc).isoformat())
    # 29 March: 02:30 does not exist; it fires at the jump (01:00 UTC = 03:00 CEST), then 02:30 CEST daily
    assert seen == ["2026-03-29T01:00:00+00:00", "2026-03-30T00:30:00+00:00", "2026-03-31T00:30:00+00:00"]
    cron, t, seen = C.parse("30 2 * * *"), dt.datetime(2026, 10, 24, 12, tzinfo=berlin), []
    for _ in range(2):
        t = cron.next_after(t, berlin)
        seen.append(t.astimezone(dt.timezone.utc).isoformat())
    assert seen == ["2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00"]      # 02:30 twice: once


def test_jobs_list_says_what_each_trigger_means(kq, tmp_path):
    (tmp_path / "m.toml").write_text('id = "monthly-or-monday"\naction = "meeting-reminder"\n'
                                     'trigger = { cron = "0 9 1 * mon" }\nparams = { subject = "s" }\n',
                                     encoding="utf-8")
    rows = {r["id"]: r for r in kq("jobs", "list", "--jobs-dir", tmp_path, "--now", "2026-01-02T10:00").jsonl()}
    assert rows["monthly-or-monday"]["when"] == "09:00 on day 1 of the month and on every Monday (Asia/Shanghai)"
    assert rows["monthly-or-monday"]["next_fire"] == "2026-01-05T09:00:00+08:00"   # ISO 8601, local offset
    assert rows["december-meeting"]["when"] == "09:00 on 1 December (Asia/Shanghai)"
    assert rows["visit-reminders"]["when"].startswith("09:00 on every Monday")


def test_run_due_uses_the_crontab_meaning(db, tmp_path):
    from kqtools import reminders as R
    from kqtools.storage import jobs as J

    (tmp_path / "m.toml").write_text('id = "m"\naction = "meeting-reminder"\ntrigger = { cron = "0 9 1 * mon" }\n'
                                     'recipients = ["office@kq.test"]\nparams = { subject = "例会 {date}" }\n',
                                     encoding="utf-8")
    specs, problems = S.load_specs(str(tmp_path))
    assert problems == []
    rep = J.run_due(db, {"m": specs["m"]}, R.parse_now("2026-01-05T09:05"))
    assert [(o.fire_time, o.status) for o in rep.outcomes] == [("2026-01-05T01:00:00Z", "done")]
