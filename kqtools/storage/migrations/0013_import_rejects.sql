-- 0013 rejects keep their column; purged rejects leave a mark on their batch.
-- `--rejects FILE` has always written the column of each rejected cell; the table now keeps it too,
-- so `kq rejects BATCH` shows the same five fields: line, column, field, value, reason.
-- `kq rejects --purge-before DATE` deletes old rejected rows (they may hold personal data such as
-- phone numbers); the batch itself, with its counts, stays.

ALTER TABLE rejects ADD COLUMN column_name TEXT;   -- the header of the rejected cell as written, or its letter; NULL for a whole-row reject

ALTER TABLE batches ADD COLUMN rejects_purged_at TEXT;   -- when `kq rejects --purge-before` deleted this batch's rejected rows (local ISO time); NULL while they are kept
