-- 0004 assignment: who serves which firm (服务专员 assignment), every change with its reason,
-- and one row per `kq assign` run. Visits themselves live in `visits` (0001_core.sql).
-- Dates are ISO text (YYYY-MM-DD); timestamps ISO 8601 with offset.

-- One row per `kq assign` run that wrote something (--dry-run writes nothing).
CREATE TABLE assignment_runs (
    id INTEGER PRIMARY KEY,
    as_of TEXT NOT NULL,           -- the date scope and designations were judged on
    rules TEXT NOT NULL,           -- rule file name or path
    rules_sha256 TEXT NOT NULL,    -- sha256 of the rule file text
    strategy TEXT NOT NULL,        -- fewest | round_robin
    in_scope INTEGER NOT NULL,     -- firms in scope
    kept INTEGER NOT NULL,         -- firms whose assignment stayed
    assigned INTEGER NOT NULL,     -- firms assigned for the first time (or again after a gap)
    moved INTEGER NOT NULL,        -- firms moved from one specialist to another
    released INTEGER NOT NULL,     -- assignments ended without a successor (out of scope, or nobody eligible)
    unassigned INTEGER NOT NULL,   -- in-scope firms left without a specialist
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL
);

-- The current assignment: at most one specialist per firm.
CREATE TABLE assignments (
    uscc TEXT PRIMARY KEY,
    specialist_id TEXT NOT NULL,   -- specialists.id (not a foreign key: a re-import may drop a specialist)
    assigned_on TEXT NOT NULL,     -- date this specialist took the firm (the run's as_of)
    reason TEXT,                   -- why: 'new in scope', 'specialist S01 inactive', 'manual', ...
    run_id INTEGER REFERENCES assignment_runs(id)
) WITHOUT ROWID;
CREATE INDEX assignments_specialist ON assignments(specialist_id);

-- Every change of `assignments`: from_specialist NULL = first assignment, to_specialist NULL = released.
CREATE TABLE assignment_history (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES assignment_runs(id),
    uscc TEXT NOT NULL,
    from_specialist TEXT,
    to_specialist TEXT,
    effective_on TEXT NOT NULL,    -- the run's as_of date: the change counts from this day
    changed_at TEXT NOT NULL,      -- wall-clock time of the change
    reason TEXT NOT NULL
);
CREATE INDEX assignment_history_uscc ON assignment_history(uscc, effective_on);
CREATE INDEX assignment_history_run ON assignment_history(run_id);

-- Scope ("firms holding a current designation") read straight from one covering index:
-- `kq assign` and `kq visits due` group designations by firm without touching the table.
CREATE INDEX designations_current ON designations(uscc, recognized_on, expires_on, kind);

-- What the last `kq assign` left settled, so that a re-run with unchanged inputs need not read
-- a million firms to find that nothing is to change. One row at most (id 1), rewritten by runs.
-- Used only when the inputs' fingerprint is equal and the new as_of lies in the stored window.
CREATE TABLE assignment_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,     -- rule file sha256, latest batch id, row counts/max rowids of designations,
                                   -- enterprises, assignments and history, digest of the specialists rows
    as_of TEXT NOT NULL,           -- the as_of of the run that left the state
    rec_le TEXT,                   -- latest designations.recognized_on <= as_of (NULL: none)
    rec_gt TEXT,                   -- earliest recognized_on > as_of: from then a designation starts
    exp_lt TEXT,                   -- latest expires_on < as_of
    exp_ge TEXT,                   -- earliest expires_on >= as_of: after it a designation ends
    in_scope INTEGER NOT NULL,     -- firms in scope on as_of
    kept INTEGER NOT NULL,         -- of these, firms with a valid specialist
    saved_at TEXT NOT NULL
);

-- The firms a settled run reported as unassigned (nobody eligible with room), with the reason.
CREATE TABLE assignment_state_unassigned (
    uscc TEXT PRIMARY KEY,
    name TEXT,
    reason TEXT NOT NULL
);
