-- 0014 requests: firm requests (企业诉求) and their closed loop
-- 收集 received -> 转办 routed -> 办理 in_progress -> 反馈 answered -> 回访 revisited -> 销号 closed.
-- Dates are ISO text (YYYY-MM-DD). `at` of a step is the local date-time with its offset when the
-- step was entered as it happened, or only a date when it was entered after the fact (--on DATE).
-- `recorded_at` is the wall clock in UTC ('YYYY-MM-DDTHH:MM:SSZ') when the row was written.
-- Values of category, department and co_departments are the names in the requests rule file
-- (kq rules show requests); enumerations are the canonical English names listed below.

-- One row per request. Written by `kq requests add`, `kq visits log --request`, `kq import requests`
-- (upserted by external_id, like every import kind) and changed only by the step commands.
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,            -- kq's own request number, shown as `id`
    external_id TEXT UNIQUE,           -- 诉求编号: the 12345 / platform ticket number; NULL when kq is the only record
    uscc TEXT NOT NULL,                -- the firm's unified social credit code
    name TEXT,                         -- the firm's name as given at intake (kept for firms not in `enterprises`)
    category TEXT NOT NULL,            -- 诉求类别: a category of the rules (imports keep the ledger's text; aliases resolve when read)
    summary TEXT NOT NULL,             -- 诉求内容: what the firm asks, one or two sentences
    detail TEXT,                       -- longer description, if any
    received_on TEXT NOT NULL,         -- 受理日期: the day the request was received
    channel TEXT NOT NULL DEFAULT 'other'
        CHECK (channel IN ('visit', 'hotline', 'platform', 'letter', 'meeting', 'other')),
                                       -- 来源渠道: 走访 visit, 12345 hotline, 平台 platform, 来信 letter, 座谈 meeting, 其他 other
    reported_by TEXT,                  -- specialist id (工号) who reported it, if a specialist did
    priority TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('normal', 'urgent', 'major')),
                                       -- 紧急程度: normal 一般, urgent 紧急, major 重大疑难
    status TEXT NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'routed', 'in_progress', 'answered', 'revisited', 'closed')),
    department TEXT,                   -- lead department (牵头部门), set by routing
    co_departments TEXT,               -- JSON array of co-operating departments (协办部门); NULL = none
    due_on TEXT,                       -- answer due (限时办结): received (or reopened) + the priority's working days
    level INTEGER,                     -- escalation level (提级); NULL = the start level of its priority in the rules
    overdue_steps INTEGER NOT NULL DEFAULT 0,  -- escalation thresholds already applied since due_on was last set
    satisfaction TEXT CHECK (satisfaction IN ('satisfied', 'basically_satisfied', 'unsatisfied')),
                                       -- the latest return visit's answer: 满意 / 基本满意 / 不满意
    unsolvable INTEGER NOT NULL DEFAULT 0,     -- 1: the latest answer explains why it cannot be solved (问题归零)
    reopened INTEGER NOT NULL DEFAULT 0,       -- times sent back: unsatisfied return visits and `reopen`
    first_answered_on TEXT,            -- date of the first answer
    first_answer_late INTEGER,         -- 1 when the first answer came after the due date in force then, else 0
    answered_on TEXT,                  -- date of the latest answer
    closed_on TEXT,                    -- date it was closed (销号); NULL while open
    version INTEGER NOT NULL DEFAULT 1,        -- +1 on every change: a step writes only if nobody changed the row since it read it
    extra TEXT,                        -- ledger columns no schema knows, as JSON (imports)
    batch_id INTEGER REFERENCES batches(id),   -- import batch that last inserted or changed the row (NULL: entered by hand)
    seen_batch INTEGER,                -- last import batch that listed the row
    seen_line INTEGER                  -- its line in that import's source
);
-- `list --overdue`, `--due-within`, `escalate --due` and the requests-due job read only open, routed requests
CREATE INDEX requests_open_due ON requests(due_on) WHERE status IN ('routed', 'in_progress');
-- `stats --year`, `top --year`: the requests received in a year
CREATE INDEX requests_received ON requests(received_on);
-- a firm's requests (`kq enterprises show`), the firms with the most open requests
CREATE INDEX requests_uscc ON requests(uscc, received_on);
-- answered requests waiting for a return visit (the requests-revisit job)
CREATE INDEX requests_answered ON requests(answered_on) WHERE status = 'answered';
CREATE INDEX requests_status ON requests(status, department);

-- The timeline: one row per step, in the order the steps were taken (id). Never updated or deleted.
CREATE TABLE request_events (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES requests(id),
    step TEXT NOT NULL CHECK (step IN ('received', 'routed', 'progress', 'answered', 'revisited', 'closed',
                                       'reopened', 'escalated', 'updated')),
                                       -- updated: an import changed the intake fields
    at TEXT NOT NULL,                  -- when it happened: date-time with offset, or the date given with --on
    by TEXT,                           -- who: the person entering it, a specialist id, or 'rule' for rule-driven escalations
    note TEXT,                         -- what was done / the answer / the reason
    status_before TEXT,                -- status before the step (NULL for received)
    status_after TEXT NOT NULL,        -- status after the step
    detail TEXT,                       -- JSON: department, co_departments, due_on, level, satisfaction,
                                       -- threshold, rules file and sha256 behind a due date or an escalation
    recorded_at TEXT NOT NULL          -- wall clock (UTC) when the row was written
);
CREATE INDEX request_events_request ON request_events(request_id, id);

-- Rule files used by request steps, by the sha256 of their text: events name the sha256, and the text
-- is kept here so that every due date and escalation can be explained later. A text whose hash is here
-- was validated against schemas/requests-rules.schema.json when it was stored (`schema_sha256`).
CREATE TABLE request_rules (
    sha256 TEXT PRIMARY KEY,           -- of the rule file's text
    schema_sha256 TEXT NOT NULL,       -- of the schema it was validated against
    name TEXT NOT NULL,                -- preset name or path as given
    text TEXT NOT NULL,
    data TEXT NOT NULL,                -- what the text parsed to, as JSON: a step loads this instead of parsing again
    stored_at TEXT NOT NULL            -- wall clock (UTC)
);

-- An imported ledger row is a received request: its first timeline entry is written here, in the
-- import's own transaction, so no request is ever without one.
CREATE TRIGGER requests_imported AFTER INSERT ON requests WHEN NEW.batch_id IS NOT NULL
BEGIN
    INSERT INTO request_events (request_id, step, at, by, note, status_before, status_after, detail, recorded_at)
    VALUES (NEW.id, 'received', NEW.received_on, NEW.reported_by, 'imported from the ledger', NULL, NEW.status,
            json_object('batch', NEW.batch_id, 'line', NEW.seen_line, 'external_id', NEW.external_id),
            strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
END;

-- A re-import that changes a request's intake fields (the importer moves batch_id only when a value
-- changed) is a timeline entry too, with the values before; the row's version moves so that a step
-- read before the import does not overwrite it unseen.
CREATE TRIGGER requests_reimported AFTER UPDATE OF batch_id ON requests
WHEN NEW.batch_id IS NOT NULL AND NEW.batch_id IS NOT OLD.batch_id
BEGIN
    INSERT INTO request_events (request_id, step, at, by, note, status_before, status_after, detail, recorded_at)
    VALUES (NEW.id, 'updated', date('now', 'localtime'), NULL, 'intake fields changed by an import',
            NEW.status, NEW.status,
            json_object('batch', NEW.batch_id, 'line', NEW.seen_line,
                        'before', json_object('uscc', OLD.uscc, 'name', OLD.name, 'category', OLD.category,
                                              'summary', OLD.summary, 'detail', OLD.detail,
                                              'received_on', OLD.received_on, 'channel', OLD.channel,
                                              'priority', OLD.priority, 'reported_by', OLD.reported_by)),
            strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
    UPDATE requests SET version = version + 1 WHERE id = NEW.id;
END;
