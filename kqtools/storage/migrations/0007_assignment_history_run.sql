-- 0007 assignment history without its run index.
-- `assignment_history_run` (0004) served no query: the history is read per firm, through
-- `assignment_history_uscc`, and so is who served whom on a date (`kq visits coverage`).
-- A first `kq assign` of a million firms writes a million history rows, and paid for this
-- index in every one of them.
DROP INDEX IF EXISTS assignment_history_run;
