-- 0001 core: import batches, rejected rows and the six imported kinds.
-- Money is in 万元 (10,000 yuan); dates are ISO text (YYYY-MM-DD); booleans are 0/1.
-- Every imported row carries batch_id: the import batch that last inserted or changed it, and
-- seen_batch/seen_line: the last import batch that listed it (changed or not) and the row's line there.
-- Columns a file had but no schema knows are kept as a JSON object in `extra`.

CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

-- One row per `kq import` run that wrote something (a --strict run with rejects writes nothing).
CREATE TABLE batches (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,            -- enterprises, designations, metrics, credit, specialists, visits
    source TEXT NOT NULL,          -- file name as given, '-' for stdin
    sha256 TEXT NOT NULL,          -- of the bytes read
    format TEXT NOT NULL,          -- csv, tsv, xlsx, json, jsonl
    encoding TEXT,                 -- utf-8, utf-8-sig, gb18030 (text formats)
    sheet TEXT,                    -- xlsx sheet read
    read INTEGER NOT NULL,         -- data rows read
    inserted INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    unknown_columns TEXT,          -- JSON list of headers kept in `extra`
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL
);

-- Every rejected row of every batch: nothing is silently lost.
CREATE TABLE rejects (
    batch_id INTEGER NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,         -- header = line 1; for xlsx the sheet row
    field TEXT,
    value TEXT,
    reason TEXT NOT NULL
);
CREATE INDEX rejects_batch ON rejects(batch_id, line);

-- 企业: keyed by the 18-character unified social credit code.
CREATE TABLE enterprises (
    uscc TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    district TEXT,
    industry_code TEXT,            -- GB/T 4754, e.g. C3911
    industry TEXT,
    size_class TEXT,               -- above (规上) / below (规下)
    founded_on TEXT,
    address TEXT,
    contact TEXT,
    phone TEXT,
    extra TEXT,
    batch_id INTEGER REFERENCES batches(id),   -- last import that inserted or changed the row
    seen_batch INTEGER,            -- last import that listed the row (changed or not)
    seen_line INTEGER              -- its line in that import's source
);
CREATE INDEX enterprises_district ON enterprises(district);

-- 荣誉/资质: kind zjtx|hte|tsme|tass|gazelle|unicorn|potential_unicorn|innovative_sme;
-- level national|provincial|city|district, '' where the kind has none.
CREATE TABLE designations (
    uscc TEXT NOT NULL,
    name TEXT,
    kind TEXT NOT NULL,
    level TEXT NOT NULL DEFAULT '',
    recognized_on TEXT NOT NULL,
    expires_on TEXT,               -- default: recognized_on + the kind's validity
    certificate_no TEXT,
    batch TEXT,                    -- the issuing batch (批次) as printed on the list
    extra TEXT,
    batch_id INTEGER REFERENCES batches(id),   -- last import that inserted or changed the row
    seen_batch INTEGER,            -- last import that listed the row (changed or not)
    seen_line INTEGER,             -- its line in that import's source
    PRIMARY KEY (uscc, kind, level, recognized_on)
);
CREATE INDEX designations_kind ON designations(kind, level);

-- 年度指标 for the resource-utilization evaluation; money in 万元.
CREATE TABLE metrics (
    uscc TEXT NOT NULL,
    year INTEGER NOT NULL,
    name TEXT,                     -- as written in the metrics file
    land_mu REAL,
    revenue REAL,
    tax REAL,
    value_added REAL,
    energy_tce REAL,
    electricity_kwh REAL,
    emissions_t REAL,
    rd_expense REAL,
    employees REAL,
    incident INTEGER,              -- major safety or environmental incident in the year
    extra TEXT,
    batch_id INTEGER REFERENCES batches(id),   -- last import that inserted or changed the row
    seen_batch INTEGER,            -- last import that listed the row (changed or not)
    seen_line INTEGER,             -- its line in that import's source
    PRIMARY KEY (uscc, year)
);
CREATE INDEX metrics_year ON metrics(year);

-- 信用记录. record_key = reference (document or case number) when given,
-- else the rating year (tax_rating) or the start date.
CREATE TABLE credit_records (
    uscc TEXT NOT NULL,
    source TEXT NOT NULL,          -- tax_rating, dishonest_debtor, abnormal_operation, ...
    record_key TEXT NOT NULL,
    name TEXT,
    grade TEXT,                    -- tax rating A/B/M/C/D
    year INTEGER,
    started_on TEXT,
    ended_on TEXT,                 -- removed / repaired on; empty = still in force
    severity TEXT,                 -- minor / general / serious
    term_years REAL,               -- ban term: a number of years, or the text 'life'
    amount REAL,
    reference TEXT,
    issuer TEXT,
    note TEXT,
    extra TEXT,
    batch_id INTEGER REFERENCES batches(id),   -- last import that inserted or changed the row
    seen_batch INTEGER,            -- last import that listed the row (changed or not)
    seen_line INTEGER,             -- its line in that import's source
    PRIMARY KEY (uscc, source, record_key)
);

-- 服务专员. districts and kinds are JSON lists.
CREATE TABLE specialists (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    department TEXT,
    districts TEXT,
    kinds TEXT,
    capacity INTEGER,
    email TEXT,
    phone TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    extra TEXT,
    batch_id INTEGER REFERENCES batches(id),   -- last import that inserted or changed the row
    seen_batch INTEGER,            -- last import that listed the row (changed or not)
    seen_line INTEGER              -- its line in that import's source
);

-- 走访记录.
CREATE TABLE visits (
    uscc TEXT NOT NULL,
    specialist_id TEXT NOT NULL,
    visited_on TEXT NOT NULL,
    name TEXT,                     -- firm name as written in the visit log
    channel TEXT,
    note TEXT,
    extra TEXT,
    batch_id INTEGER REFERENCES batches(id),   -- last import that inserted or changed the row
    seen_batch INTEGER,            -- last import that listed the row (changed or not)
    seen_line INTEGER,             -- its line in that import's source
    PRIMARY KEY (uscc, specialist_id, visited_on)
);
CREATE INDEX visits_date ON visits(visited_on);

-- Codes confirmed by a clerk although they fail the check (e.g. Xiamen codes issued before 2016).
CREATE TABLE uscc_allowlist (
    uscc TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    added_at TEXT NOT NULL
);
