-- 0007 assignment indexes that cost more than they gave.
-- A first `kq assign` of a million firms writes a million `assignments` rows and a million
-- history rows, and paid for every index on them in each row:
-- * `assignment_history_run` (0004) served no query: the history is read per firm, through
--   `assignment_history_uscc`, and so is who served whom on a date (`kq visits coverage`).
-- * `assignments_specialist` (0004) only sped up questions per specialist: loads in
--   `kq specialists list` (0.6 s instead of 0.1 s at a million firms, a scan instead of the index)
--   and `kq assignments show --specialist` (a scan: under 0.1 s at a million). Building it cost
--   about 1.4 s of a first run's 10 s budget, and every later move or release paid for it too.
DROP INDEX IF EXISTS assignment_history_run;
DROP INDEX IF EXISTS assignments_specialist;
