-- 0012 jobs: a run with `--now` (a moment given on the command line) never moves the schedule of real runs.
-- Times are UTC ISO text 'YYYY-MM-DDTHH:MM:SSZ', as in 0005.

-- How the moment of a run was known: 'clock' (the real clock: cron's `kq jobs run-due`, `kq scheduler`) or
-- 'given' (`--now`: a back-fill, a test, a demo). Real runs plan their occurrences from the last occurrence
-- recorded by a real run only, so a given moment (`--now 2027-12-07` typed for 2026) neither records missed
-- occurrences nor hides later ones; it claims only the occurrence it ran, which then runs once whoever asks.
ALTER TABLE job_runs ADD COLUMN clock TEXT NOT NULL DEFAULT 'clock';

-- The moment (UTC) job_state.next_check was computed for: the cache says "nothing of this job is due in
-- [checked_for, next_check)" and is trusted by run-due's start-up shortcut only for a moment in that span.
-- NULL (a row written before 0012): not trusted, the next full run rewrites it.
ALTER TABLE job_state ADD COLUMN checked_for TEXT;
