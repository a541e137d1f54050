-- 0011 visit cadence and specialists who leave (issue 14, items 9 and 10).

-- 挂钩联系重点企业 (seed 001: a department's leader visits its key linked firms at least once a
-- quarter). Imported with the enterprise register (`kq import enterprises`, header 重点企业 /
-- 是否重点企业 / 挂钩联系重点企业): 1 = a key firm, due a visit every quarter; 0 or NULL = not key,
-- under the yearly plan (at least `yearly_coverage_goal` of served firms a year, kept on pace).
ALTER TABLE enterprises ADD COLUMN key_firm INTEGER;

-- `kq specialists deactivate ID --on DATE --reason TEXT`. From `left_on` on (that day included)
-- the specialist serves no firm: the next `kq assign` on or after it moves exactly their firms;
-- their visits, before or after, still count for the firms. NULL = not leaving. Kept apart from
-- `active` (the imported 在岗 flag), so that re-importing a staff list that still says 在岗 does
-- not undo a departure; `kq specialists activate ID` clears both this and a false `active`.
ALTER TABLE specialists ADD COLUMN left_on TEXT;
ALTER TABLE specialists ADD COLUMN left_reason TEXT;     -- why they left, as typed (调任, 退休, ...)

-- Every `kq specialists deactivate` / `activate`, for the record.
CREATE TABLE specialist_changes (
    id INTEGER PRIMARY KEY,
    specialist_id TEXT NOT NULL,   -- specialists.id as stored
    action TEXT NOT NULL,          -- deactivate | activate
    effective_on TEXT NOT NULL,    -- --on DATE (ISO): the day they leave, or come back
    reason TEXT,                   -- --reason, as typed
    changed_at TEXT NOT NULL       -- wall-clock time of the command, ISO 8601 with offset
);
CREATE INDEX specialist_changes_id ON specialist_changes(specialist_id, id);
