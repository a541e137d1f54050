-- 0016 outbox attachments: an e-mail may carry an HTML body and files (the monthly briefing's workbooks).
-- Times are UTC ISO text 'YYYY-MM-DDTHH:MM:SSZ', as in 0005.
--
-- The files are kept in the database, not on disk: a message is produced by one run and delivered by a
-- later one (another process, hours later after a retry), so what it carries must outlive the run and
-- commit with it (the run's messages and their files in one transaction, nothing half-written, nothing
-- for a clean-up to miss, one file to back up). Each file is stored once by its content (sha256): the
-- same workbook sent to twenty specialists is one row in `attachment_blobs` and twenty links.

-- The HTML alternative of an e-mail's `body` (which stays the plain-text version, and what a webhook gets).
-- NULL: a plain-text message, as before.
ALTER TABLE outbox ADD COLUMN body_html TEXT;

-- One row per distinct file content.
CREATE TABLE attachment_blobs (
    sha256 TEXT PRIMARY KEY,       -- hex sha256 of content: the key, so identical files are stored once
    content BLOB NOT NULL,         -- the file's bytes
    size INTEGER NOT NULL,         -- length of content in bytes
    created_at TEXT NOT NULL       -- when it was first stored (wall clock, UTC)
);

-- The files of one outbox message, in the order they are attached.
CREATE TABLE outbox_attachments (
    outbox_id INTEGER NOT NULL REFERENCES outbox(id),   -- the message
    position INTEGER NOT NULL,     -- 1, 2, ... : order in the e-mail
    filename TEXT NOT NULL,        -- the name the recipient sees (may be Chinese: sent RFC 2231-encoded)
    mime_type TEXT NOT NULL,       -- e.g. application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
    sha256 TEXT NOT NULL REFERENCES attachment_blobs(sha256),   -- its content
    PRIMARY KEY (outbox_id, position)
);
