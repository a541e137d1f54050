-- 0017 ladder spans: per firm, the periods over which its tier is constant, so that `kq ladder status`
-- and `kq targets progress` read about one row per firm and ladder instead of every designation.
-- Derived from designations (and enterprises.district) by kqtools.storage.ladder_spans; never edited
-- by hand. Triggers note every firm whose designations or district change (ladder_dirty); the next
-- status or progress refreshes those firms before it counts, so the periods never go stale silently.

-- Per firm and ladder, the periods of constant highest tier in force (kqtools.ladder.firm_spans).
CREATE TABLE ladder_spans (
    ladder TEXT NOT NULL,          -- ladder id of the ladder rules (tech, zjtx)
    uscc TEXT NOT NULL,            -- the firm
    first_day TEXT NOT NULL,       -- first day of the period (ISO)
    last_day TEXT NOT NULL,        -- last day of the period (ISO; 9999-12-31 = valid until revoked)
    rank INTEGER NOT NULL,         -- the tier's rank on the ladder (1 = bottom) over the whole period
    renewed TEXT NOT NULL,         -- latest recognized_on of the firm's designations of this tier or higher
    district TEXT NOT NULL,        -- enterprises.district of the firm ('' = none or not in the register)
    PRIMARY KEY (ladder, uscc, first_day)                -- a firm's periods together: paired without a sort
) WITHOUT ROWID;
-- the firms holding one period over the whole year are counted per district and tier in this order
-- (no sort); it covers every column that count reads
CREATE INDEX ladder_spans_district ON ladder_spans(ladder, district, rank, first_day, last_day, renewed);

-- Per firm and tier, the merged periods in which a designation of the tier is in force.
CREATE TABLE tier_spans (
    code INTEGER NOT NULL,         -- tier code (kqtools.ladder.tier_codes: 1, 2, ... in ladder order)
    uscc TEXT NOT NULL,            -- the firm
    first_day TEXT NOT NULL,       -- first day in force (ISO)
    last_day TEXT NOT NULL,        -- last day in force (ISO; revoked_on already applied)
    district TEXT NOT NULL,        -- enterprises.district of the firm ('' = none or not in the register)
    PRIMARY KEY (code, district, uscc, first_day)       -- counted per tier and district without a sort
) WITHOUT ROWID;
CREATE INDEX tier_spans_uscc ON tier_spans(uscc);       -- a dirty firm's rows, to replace them

-- Firms with a revoked designation on a ladder: `ladder status` takes them row by row (their
-- at-risk test is not a function of the periods); their tier spans are stored as for any firm.
CREATE TABLE ladder_irregular (
    uscc TEXT PRIMARY KEY          -- the firm
) WITHOUT ROWID;

-- Firms whose spans are out of date (a designation or the district changed since the last refresh).
CREATE TABLE ladder_dirty (
    uscc TEXT PRIMARY KEY          -- the firm
) WITHOUT ROWID;

-- What the stored spans were computed with; no row = never built (the next status builds them).
CREATE TABLE ladder_spans_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),  -- one row
    rules_sha256 TEXT NOT NULL,    -- sha256 of the ladder rule file (tiers, validity) the spans follow
    built_at TEXT NOT NULL,        -- when they were last built in full (kqtools.clock.now_iso)
    refreshed_at TEXT NOT NULL     -- when dirty firms were last refreshed
);

-- (NOT EXISTS rather than INSERT OR IGNORE: an outer statement's conflict policy would override the
-- trigger's, and an import's upsert must not fail on a firm already marked)
CREATE TRIGGER ladder_dirty_designation_insert AFTER INSERT ON designations
BEGIN INSERT INTO ladder_dirty (uscc) SELECT NEW.uscc WHERE NOT EXISTS (SELECT 1 FROM ladder_dirty WHERE uscc = NEW.uscc); END;
CREATE TRIGGER ladder_dirty_designation_update AFTER UPDATE OF uscc, kind, level, recognized_on, expires_on,
    revoked_on ON designations
    WHEN OLD.uscc IS NOT NEW.uscc OR OLD.kind IS NOT NEW.kind OR OLD.level IS NOT NEW.level
      OR OLD.recognized_on IS NOT NEW.recognized_on OR OLD.expires_on IS NOT NEW.expires_on
      OR OLD.revoked_on IS NOT NEW.revoked_on        -- a re-import of the same list changes nothing
BEGIN
    INSERT INTO ladder_dirty (uscc) SELECT OLD.uscc WHERE NOT EXISTS (SELECT 1 FROM ladder_dirty WHERE uscc = OLD.uscc);
    INSERT INTO ladder_dirty (uscc) SELECT NEW.uscc WHERE NOT EXISTS (SELECT 1 FROM ladder_dirty WHERE uscc = NEW.uscc);
END;
CREATE TRIGGER ladder_dirty_designation_delete AFTER DELETE ON designations
BEGIN INSERT INTO ladder_dirty (uscc) SELECT OLD.uscc WHERE NOT EXISTS (SELECT 1 FROM ladder_dirty WHERE uscc = OLD.uscc); END;
-- a firm of the register matters only with a designation (its district); an import of the register
-- without any designation yet writes nothing here
CREATE TRIGGER ladder_dirty_enterprise_insert AFTER INSERT ON enterprises
    WHEN EXISTS (SELECT 1 FROM designations WHERE uscc = NEW.uscc)
BEGIN INSERT INTO ladder_dirty (uscc) SELECT NEW.uscc WHERE NOT EXISTS (SELECT 1 FROM ladder_dirty WHERE uscc = NEW.uscc); END;
CREATE TRIGGER ladder_dirty_enterprise_update AFTER UPDATE OF uscc, district ON enterprises
    WHEN OLD.uscc IS NOT NEW.uscc OR OLD.district IS NOT NEW.district
BEGIN
    INSERT INTO ladder_dirty (uscc) SELECT OLD.uscc WHERE NOT EXISTS (SELECT 1 FROM ladder_dirty WHERE uscc = OLD.uscc);
    INSERT INTO ladder_dirty (uscc) SELECT NEW.uscc WHERE NOT EXISTS (SELECT 1 FROM ladder_dirty WHERE uscc = NEW.uscc);
END;
CREATE TRIGGER ladder_dirty_enterprise_delete AFTER DELETE ON enterprises
    WHEN EXISTS (SELECT 1 FROM designations WHERE uscc = OLD.uscc)
BEGIN INSERT INTO ladder_dirty (uscc) SELECT OLD.uscc WHERE NOT EXISTS (SELECT 1 FROM ladder_dirty WHERE uscc = OLD.uscc); END;
