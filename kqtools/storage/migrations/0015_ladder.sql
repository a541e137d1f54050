-- 0015 ladder: growth ladder, cultivation classes, targets and the watch on firms' figures
-- (kq ladder, kq targets, kq watch, the watch-alerts job).

-- New yearly figures for the high-tech candidate thresholds (国科发火〔2016〕32号 第十一条).
ALTER TABLE metrics ADD COLUMN rd_staff REAL;        -- 科技人员数: staff in R&D and related innovation work
ALTER TABLE metrics ADD COLUMN hitech_revenue REAL;  -- 高新技术产品（服务）收入, 万元
ALTER TABLE metrics ADD COLUMN total_income REAL;    -- 总收入 (收入总额 less 不征税收入), 万元

-- Per firm, the designations in uscc order with everything the ladder reads (revoked_on: migration
-- 0009): `kq ladder status` and `kq targets progress` aggregate each firm's designations in one pass
-- over this index (no table lookups, no sort), and `kq watch` finds designated firms without figures.
CREATE INDEX designations_ladder ON designations(uscc, kind, level, recognized_on, expires_on, revoked_on);

-- Targets for the number of firms per tier (kq targets import FILE|PRESET). A second import of the
-- same tier, district and target year replaces the row.
CREATE TABLE targets (
    tier TEXT NOT NULL,            -- a tier id of the ladder rules, or several joined by '+' (unicorn+potential_unicorn)
    district TEXT NOT NULL DEFAULT '',   -- enterprises.district the target is for; '' = all districts
    target_year INTEGER NOT NULL,  -- the target is for the end (31 December) of this year
    target INTEGER NOT NULL,       -- firms to reach
    baseline_year INTEGER NOT NULL,  -- the straight line to the target starts at the end of this year
    baseline INTEGER,              -- firms at the end of baseline_year; NULL = counted from the database
    counting TEXT NOT NULL DEFAULT 'in_force',  -- in_force (holding the tier on the day) / cumulative (ever recognized)
    note TEXT,                     -- the target as the source document words it
    source TEXT NOT NULL,          -- the file or preset it was imported from
    sha256 TEXT NOT NULL,          -- of that file's text
    line INTEGER,                  -- its line (or entry number of a rule file) there
    imported_at TEXT NOT NULL,     -- local time with offset (kqtools.clock.now_iso)
    PRIMARY KEY (tier, district, target_year)
);

-- The watch flags the watch-alerts job put in a message: each flag (firm, year, flag id) is sent once
-- per job. A row counts as sent once the job run of (job_id, fire_time) is 'done' in job_runs (the
-- run that wrote the message into the outbox); rows of a run that failed are sent again by the next.
CREATE TABLE watch_alerts (
    uscc TEXT NOT NULL,
    year INTEGER NOT NULL,         -- the year whose figures (compared with the year before) raised the flag
    flag TEXT NOT NULL,            -- the flag id of the ladder rules (revenue_down, no_figures, ...)
    job_id TEXT NOT NULL,          -- the job spec's id
    fire_time TEXT NOT NULL,       -- the occurrence (job_runs.fire_time, UTC) whose message carried it
    specialist_id TEXT,            -- the firm's specialist it went to; NULL: the spec's fixed recipients
    PRIMARY KEY (uscc, year, flag, job_id, fire_time)
);
