-- 0003 lists: credit whitelist and blacklist versions, their entries, the changes between
-- consecutive versions, and manual overrides. Dates are ISO text; reasons are JSON lists.

-- One row per `kq lists build`: both lists are built together as one numbered version.
CREATE TABLE list_versions (
    version INTEGER PRIMARY KEY,   -- 1, 2, 3 ... never reused
    as_of TEXT NOT NULL,           -- the date the lists were built for (records effective on it)
    built_at TEXT NOT NULL,        -- when the build ran (local time, ISO 8601)
    rules_name TEXT NOT NULL,      -- rule file or preset used
    rules_sha256 TEXT NOT NULL,    -- of the rule file text
    rules_text TEXT NOT NULL,      -- the rule file as it was, so a version can be explained later
    whitelist_count INTEGER NOT NULL,
    blacklist_count INTEGER NOT NULL,
    entered_count INTEGER NOT NULL, -- entries new since the previous version (both lists)
    left_count INTEGER NOT NULL,    -- entries gone since the previous version (both lists)
    overrides_applied INTEGER NOT NULL, -- active overrides applied by this build
    problems TEXT                  -- JSON list of records a rule could not use (e.g. no ban term)
);

-- The entries of each version. reasons: JSON list of {rule, source, dates, reference, from, to}
-- (the rule that fired and the record behind it) or {rule: override_add, override, reason, ...}.
CREATE TABLE list_entries (
    version INTEGER NOT NULL REFERENCES list_versions(version) ON DELETE CASCADE,
    list TEXT NOT NULL,            -- whitelist | blacklist
    uscc TEXT NOT NULL,
    name TEXT,
    since TEXT,                    -- on the list since (from the records), '' unknown
    until TEXT,                    -- first day off the list if nothing changes; NULL = open-ended
    reasons TEXT NOT NULL,
    override_id INTEGER,           -- the override that added or kept this entry, if any
    PRIMARY KEY (version, list, uscc)
);

-- What changed in each version against the version before it.
CREATE TABLE list_changes (
    version INTEGER NOT NULL REFERENCES list_versions(version) ON DELETE CASCADE,
    list TEXT NOT NULL,            -- whitelist | blacklist
    uscc TEXT NOT NULL,
    name TEXT,
    change TEXT NOT NULL,          -- entered | left
    why TEXT,                      -- left: JSON list of why it left; entered: NULL (the entry's reasons say why)
    PRIMARY KEY (version, list, uscc)
);

-- Manual decisions: applied by every later build while active (not revoked, as-of date < until).
CREATE TABLE list_overrides (
    id INTEGER PRIMARY KEY,
    list TEXT NOT NULL,            -- whitelist | blacklist
    action TEXT NOT NULL,          -- add | remove
    uscc TEXT NOT NULL,
    name TEXT,                     -- firm name when the override was made
    reason TEXT NOT NULL,
    operator TEXT NOT NULL,        -- --operator, else $USER
    created_at TEXT NOT NULL,      -- local time, ISO 8601
    until TEXT,                    -- no longer applied to lists built as of this date or later; NULL = no expiry
    revoked_at TEXT,               -- set by `kq lists override revoke`
    revoked_by TEXT
);
CREATE INDEX list_overrides_uscc ON list_overrides(uscc);
