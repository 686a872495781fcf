-- Coordinators: reminder slots and their deliveries, broadcasts and their
-- recipients, and the /annuncio dialogue (one draft per coordinator).
BEGIN;

-- One row per reminder slot that became due (or was skipped because a later
-- one was due at the same time). `slot` is the moment it was due (UTC ISO).
CREATE TABLE reminder_slots (
    slot        TEXT PRIMARY KEY,
    deadline    TEXT NOT NULL,             -- the deadline in force when planned
    status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'superseded')),
    recipients  INTEGER NOT NULL DEFAULT 0,
    opened_at   TEXT NOT NULL,
    closed_at   TEXT
);

-- One row per (slot, officer), written before anything is sent: the primary
-- key makes a second reminder of the same slot impossible.
CREATE TABLE reminders (
    slot        TEXT NOT NULL REFERENCES reminder_slots (slot),
    user_id     INTEGER NOT NULL,
    istat       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'skipped', 'failed',
                                  'unreachable', 'unknown', 'superseded')),
    detail      TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (slot, user_id)
);
CREATE INDEX reminders_status ON reminders (slot, status);

-- A coordinator's /annuncio in the making (text, then audience, then preview).
CREATE TABLE broadcast_drafts (
    coordinator_id  INTEGER PRIMARY KEY,
    stage           TEXT NOT NULL CHECK (stage IN ('text', 'audience', 'preview')),
    text            TEXT,                  -- HTML, as the recipients will see it
    audience        TEXT,
    region          TEXT,
    message_id      INTEGER,               -- the bot message with the buttons
    updated_at      TEXT NOT NULL
);

CREATE TABLE broadcasts (
    id                   INTEGER PRIMARY KEY,
    coordinator_id       INTEGER NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('announcement', 'extension')),
    text                 TEXT NOT NULL,    -- announcement HTML, or the new deadline (ISO)
    audience             TEXT NOT NULL,
    region               TEXT,
    language             TEXT NOT NULL DEFAULT 'it',   -- of the coordinator's report
    status               TEXT NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'done')),
    total                INTEGER NOT NULL DEFAULT 0,
    excluded             INTEGER NOT NULL DEFAULT 0,   -- already unreachable, not tried
    progress_chat_id     INTEGER,
    progress_message_id  INTEGER,
    restarts             INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    finished_at          TEXT
);

-- Each recipient's outcome. 'sending' is written (committed) just before the
-- Bot API call and 'sent' right after it; a row found in 'sending' after a
-- crash becomes 'unknown' and is never sent again.
CREATE TABLE broadcast_recipients (
    broadcast_id  INTEGER NOT NULL REFERENCES broadcasts (id),
    user_id       INTEGER NOT NULL,
    istat         TEXT,
    language      TEXT NOT NULL DEFAULT 'it',
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unreachable',
                                    'unknown')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    updated_at    TEXT,
    PRIMARY KEY (broadcast_id, user_id)
);
CREATE INDEX broadcast_recipients_status ON broadcast_recipients (broadcast_id, status);

PRAGMA user_version = 3;
COMMIT;
