-- 0018 what an import converted, and what it changed, so that `kq imports undo BATCH` can revert it.
-- An import records the rows it inserted as a rowid range per table (cheap: nothing per row), and for
-- each row that existed before and whose values it changed, the whole row as it was (JSON), written
-- by a temporary trigger in the import's own transaction. A fresh import into an empty table writes
-- nothing per row, so the million-row import keeps its speed.

ALTER TABLE batches ADD COLUMN converted TEXT NOT NULL DEFAULT '';   -- unit conversions of the import, '; '-separated ("营业收入（元）: 元 → 万元 × 0.0001"); '' when none
ALTER TABLE batches ADD COLUMN inserted_rowids TEXT;                 -- JSON {"table": [after, upto]}: the rows this batch inserted have rowid > after and <= upto in that table (the kind's table, and enterprises for firms it created); NULL for batches before 0018 (they cannot be undone)
ALTER TABLE batches ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;   -- an undo batch: rows it deleted (the rows the undone batch had inserted)
ALTER TABLE batches ADD COLUMN undoes INTEGER;                       -- an undo batch (kind 'undo'): the batch it reverted
ALTER TABLE batches ADD COLUMN undone_by INTEGER;                    -- the undo batch that reverted this batch; NULL while in force

CREATE TABLE import_changes (
    batch_id INTEGER NOT NULL,     -- the import batch that changed the row
    tbl TEXT NOT NULL,             -- the table of the row (metrics, credit_records, ...)
    row_id INTEGER NOT NULL,       -- the row's rowid (a re-keyed credit record keeps its rowid, not its key)
    old_row TEXT NOT NULL,         -- JSON object: every column of the row before the batch changed it
    PRIMARY KEY (batch_id, tbl, row_id)
) WITHOUT ROWID;

ALTER TABLE rejects ADD COLUMN name TEXT;   -- the firm's name on the rejected row (its name column as read), so `kq rejects` shows whose row it is; NULL when the row has none
