-- 0005 jobs: scheduled reminder jobs (kq jobs / kq scheduler), their runs, and the outbox of messages.
-- Times are UTC ISO text 'YYYY-MM-DDTHH:MM:SSZ' (sortable, comparable as text).
-- Job specs themselves are files (jobs/*.toml and $KQ_JOBS_DIR), never rows: nothing is registered.

-- One row per occurrence of a job (job id + fire time): the claim that makes every occurrence run once.
-- A process claims an occurrence by INSERTing its row inside BEGIN IMMEDIATE; the UNIQUE key means a
-- second process (another `kq jobs run-due`, or `kq scheduler`) finds the row and leaves it alone.
CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,          -- the spec's id
    fire_time TEXT NOT NULL,       -- scheduled fire time in UTC; for `kq jobs run ID` the moment it was started
    trigger_kind TEXT NOT NULL DEFAULT 'scheduled',  -- scheduled / manual
    status TEXT NOT NULL,          -- running, done, failed, missed (beyond grace), coalesced (covered by a later run)
    attempts INTEGER NOT NULL DEFAULT 0,   -- how many times it was started (a failed run is retried within grace)
    claimed_by TEXT,               -- host:pid of the process running it
    started_at TEXT,               -- wall clock, UTC
    finished_at TEXT,              -- wall clock, UTC
    spec_sha256 TEXT,              -- of the resolved spec that ran (what exactly was run)
    messages INTEGER NOT NULL DEFAULT 0,   -- outbox rows produced by this run
    result TEXT,                   -- JSON summary returned by the action (counts, year, ...)
    error TEXT,                    -- one line: why it failed / why it was missed / which run covered it
    UNIQUE (job_id, fire_time)
);
CREATE INDEX job_runs_status ON job_runs(status, job_id);

-- Per job, the earliest moment anything can be due again. `kq jobs run-due` compares it with --now and
-- the spec's hash to skip jobs without loading APScheduler; it is only a cache (the claims decide).
CREATE TABLE job_state (
    job_id TEXT PRIMARY KEY,
    spec_sha256 TEXT NOT NULL,     -- hash of the resolved spec this was computed from
    next_check TEXT NOT NULL,      -- UTC; nothing of this job is due before it
    updated_at TEXT NOT NULL       -- wall clock, UTC
);

-- The spec files as they were when run-due last validated them: digest of every file's name and bytes
-- (shipped and deployment directory) -> the enabled jobs and their spec hashes. Lets `run-due` trust
-- job_state without parsing or validating anything while no file has changed. Only a cache.
CREATE TABLE job_files (
    digest TEXT PRIMARY KEY,       -- sha256 over the jobs directory, file names and contents
    jobs TEXT NOT NULL,            -- JSON object: enabled job id -> spec_sha256
    checked_at TEXT NOT NULL       -- wall clock, UTC
);

-- Every message a job produced, one row per channel and recipient. Inserted in the same transaction that
-- marks the run done, so a crashed run leaves no half set of messages. Delivery is separate: a sender
-- claims a row (pending -> sending), sends, marks it sent; a failed send goes back to pending.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    fire_time TEXT NOT NULL,       -- the occurrence that produced it (job_runs.fire_time)
    run_id INTEGER REFERENCES job_runs(id),
    channel TEXT NOT NULL,         -- email / webhook
    recipient TEXT NOT NULL,       -- e-mail address; 'webhook' for the group robot; specialist id when no address
    recipient_name TEXT,           -- e.g. the specialist's name
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,      -- the message's key within its run (e.g. 'visit:S01')
    status TEXT NOT NULL DEFAULT 'pending',  -- pending, sending, sent, acked, undeliverable
    attempts INTEGER NOT NULL DEFAULT 0,     -- delivery attempts started
    last_error TEXT,               -- last delivery error (secrets masked)
    claimed_by TEXT,               -- host:pid of the sender holding it in 'sending'
    created_at TEXT NOT NULL,      -- wall clock, UTC
    sending_at TEXT,               -- when the current/last attempt started
    sent_at TEXT,
    acked_at TEXT,                 -- `kq outbox ack ID`: handled by a person, no (further) delivery
    UNIQUE (job_id, fire_time, channel, recipient, dedupe_key)
);
CREATE INDEX outbox_status ON outbox(status, channel);

-- 资质到期提醒: which designation was reminded for which threshold (days before expiry), so a daily job
-- reminds each designation once per threshold, not every day.
CREATE TABLE expiry_notices (
    uscc TEXT NOT NULL,
    kind TEXT NOT NULL,
    level TEXT NOT NULL,
    recognized_on TEXT NOT NULL,
    threshold_days INTEGER NOT NULL,   -- e.g. 90 or 30
    expires_on TEXT NOT NULL,
    job_id TEXT NOT NULL,
    fire_time TEXT NOT NULL,           -- the run that sent it
    PRIMARY KEY (uscc, kind, level, recognized_on, threshold_days)
);
