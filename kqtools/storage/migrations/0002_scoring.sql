-- 0002 scoring: runs of the resource-utilization evaluation (资源集约利用综合评价) and their results.
-- A run is never changed or replaced: `kq score run` again makes a new run, so a grade given
-- last month can still be explained with the rules, inputs and benchmarks it was given with.

-- One row per `kq score run` (or scheduled run_scoring call).
CREATE TABLE scoring_runs (
    id INTEGER PRIMARY KEY,
    year INTEGER NOT NULL,         -- evaluation year (metrics.year)
    rules_name TEXT NOT NULL,      -- preset name (scoring, scoring-huaian-2024) or the rule file path as given
    rules_text TEXT NOT NULL,      -- the rule file exactly as read
    rules_sha256 TEXT NOT NULL,    -- sha256 of rules_text
    created_at TEXT NOT NULL,      -- ISO timestamp with offset
    firms INTEGER NOT NULL,        -- results stored (graded + class T)
    counts TEXT NOT NULL,          -- JSON {"A": n, "B": n, "C": n, "D": n, "T": n}
    group_counts TEXT NOT NULL,    -- JSON {group id: {grade: n}}
    benchmarks TEXT NOT NULL,      -- JSON {group id: [{indicator, kind, benchmark, mean, usable}]}, in rule order
    skipped INTEGER NOT NULL,      -- firms with metrics in no group when the rules say unmatched = "skip"
    notes TEXT NOT NULL            -- JSON list of remarks (e.g. whether a blacklist was available)
);
CREATE INDEX scoring_runs_year ON scoring_runs(year, id);

-- One row per firm and run, in display order (pos): groups in rule order by rank, then class T by uscc.
-- The raw inputs are kept (a snapshot of metrics), so `kq score explain` recomputes each indicator's
-- value, ratio and points from them with the run's own rules and benchmarks.
CREATE TABLE scoring_results (
    run_id INTEGER NOT NULL REFERENCES scoring_runs(id) ON DELETE CASCADE,
    pos INTEGER NOT NULL,          -- 1-based display position within the run
    uscc TEXT NOT NULL,            -- name and district are shown from enterprises (one row per firm)
    group_id TEXT,                 -- rule-file group id; for class T the group the firm would be in, if any
    rank INTEGER,                  -- 1-based rank within the group (NULL for class T); ties broken, so distinct
    base_score REAL,               -- Σ weight × min(value / benchmark, cap), rounded to the rules' decimals
    bonus_points REAL,             -- points added before ranking (专精特新 provincial/city/district)
    score REAL,                    -- base_score + bonus_points: what the rank is built on
    grade_by_rank TEXT,            -- the grade the rank gives (after point bonuses)
    grade TEXT NOT NULL,           -- final grade: after the national uplift and the vetoes; T = not graded
    bonus_reason TEXT,             -- which designation gave which bonus (level, recognition date, certificate)
    veto_reason TEXT,              -- incident / blacklist veto, if any
    not_graded_reason TEXT,        -- why class T
    land_mu REAL,                  -- raw inputs: metrics of the year as scored (万元, 亩, tce, t, persons);
                                   -- NULL for a metric the run's rules do not read
    revenue REAL,
    tax REAL,
    value_added REAL,
    energy_tce REAL,
    electricity_kwh REAL,
    emissions_t REAL,
    rd_expense REAL,
    employees REAL,
    incident INTEGER,
    size_class TEXT,               -- enterprises.size_class at run time (decides the group)
    metrics_batch_id INTEGER,      -- batches.id that last wrote the metrics row
    enterprise_batch_id INTEGER,   -- batches.id that last wrote the enterprises row
    designation_batch_ids TEXT,    -- comma-separated batches.id of the designations that gave the bonus
    PRIMARY KEY (run_id, pos)
) WITHOUT ROWID;
