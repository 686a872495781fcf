-- Core schema: officers, access codes, responses, audit of answers, outbox.
BEGIN;

CREATE TABLE access_codes (
    id          INTEGER PRIMARY KEY,
    istat       TEXT NOT NULL,
    code_hash   TEXT NOT NULL UNIQUE,   -- HMAC-SHA256 of the normalised code
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    issued_at   TEXT NOT NULL,
    issued_by   TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE UNIQUE INDEX access_codes_one_active ON access_codes (istat) WHERE status = 'active';

CREATE TABLE officers (
    user_id        INTEGER PRIMARY KEY,  -- Telegram user id (= private chat id)
    istat          TEXT,
    language       TEXT NOT NULL DEFAULT 'it',
    first_name     TEXT NOT NULL DEFAULT '',
    username       TEXT,
    bound_at       TEXT,
    last_seen_at   TEXT,
    unreachable_at TEXT                  -- set when Telegram says the bot was blocked
);
CREATE INDEX officers_istat ON officers (istat);

CREATE TABLE login_failures (
    id       INTEGER PRIMARY KEY,
    user_id  INTEGER NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX login_failures_user ON login_failures (user_id, at);

CREATE TABLE responses (
    response_id            TEXT PRIMARY KEY,   -- "<questionnaire id>:<istat>"
    istat                  TEXT NOT NULL,
    questionnaire_id       TEXT NOT NULL,
    questionnaire_version  TEXT NOT NULL,
    state_json             TEXT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN ('in_progress', 'submitted')),
    revision               INTEGER NOT NULL DEFAULT 0,
    answered               INTEGER NOT NULL DEFAULT 0,
    total                  INTEGER NOT NULL DEFAULT 0,
    started_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    updated_by             INTEGER,
    submitted_at           TEXT,
    UNIQUE (questionnaire_id, istat)
);

-- Each officer's own place in the shared response: several officers of one
-- municipality answer the same response without moving each other's cursor.
CREATE TABLE navigation (
    user_id            INTEGER PRIMARY KEY,
    response_id        TEXT NOT NULL,
    nav_json           TEXT NOT NULL,
    prompt_message_id  INTEGER,          -- the message whose keyboard is live
    updated_at         TEXT NOT NULL
);

CREATE TABLE answer_changes (
    id           INTEGER PRIMARY KEY,
    response_id  TEXT NOT NULL REFERENCES responses (response_id),
    item_ref     TEXT NOT NULL,      -- "item" or "repeat[entry].item"
    old_json     TEXT,
    new_json     TEXT,
    user_id      INTEGER NOT NULL,
    at           TEXT NOT NULL
);
CREATE INDEX answer_changes_response ON answer_changes (response_id, id);

CREATE TABLE submissions (
    response_id   TEXT NOT NULL REFERENCES responses (response_id),
    revision      INTEGER NOT NULL,
    submitted_at  TEXT NOT NULL,
    submitted_by  INTEGER NOT NULL,
    answers_json  TEXT NOT NULL,
    PRIMARY KEY (response_id, revision)
);

-- One row per submitted revision, written in the submission's transaction.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    response_id      TEXT NOT NULL,
    revision         INTEGER NOT NULL,
    payload_json     TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    delivered_at     TEXT,
    UNIQUE (response_id, revision)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Staff actions (who, what, when).
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    actor_id  INTEGER NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT,
    details   TEXT,
    at        TEXT NOT NULL
);

-- Runtime settings changed by staff (e.g. the extended deadline).
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

PRAGMA user_version = 1;
COMMIT;
