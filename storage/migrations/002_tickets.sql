-- Help requests (tickets) and their messages, relayed between an officer's
-- private chat and the assistance team's group.
BEGIN;

CREATE TABLE tickets (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL,
    istat            TEXT,
    status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at       TEXT NOT NULL,
    taken_by         INTEGER,
    taken_by_name    TEXT,
    taken_at         TEXT,
    first_reply_at   TEXT,
    closed_at        TEXT,
    closed_by        INTEGER,
    thread_id        INTEGER,          -- forum topic of the ticket, when the group is a forum
    card_message_id  INTEGER,          -- the ticket card in the group
    context_json     TEXT NOT NULL     -- what the officer was doing when asking
);
CREATE INDEX tickets_user ON tickets (user_id, status);
CREATE INDEX tickets_thread ON tickets (thread_id);

CREATE TABLE ticket_messages (
    id                  INTEGER PRIMARY KEY,
    ticket_id           INTEGER NOT NULL REFERENCES tickets (id),
    direction           TEXT NOT NULL CHECK (direction IN ('officer', 'operator')),
    author_id           INTEGER NOT NULL,
    text                TEXT,
    officer_message_id  INTEGER,       -- the message in the officer's chat
    group_message_id    INTEGER,       -- the message in the assistance group
    at                  TEXT NOT NULL
);
CREATE INDEX ticket_messages_group ON ticket_messages (group_message_id);
CREATE INDEX ticket_messages_officer ON ticket_messages (officer_message_id);

-- Officers who pressed "Serve aiuto?" and whose next message is the request.
CREATE TABLE help_requests_pending (
    user_id     INTEGER PRIMARY KEY,
    ticket_id   INTEGER,               -- set when adding to an open ticket
    since       TEXT NOT NULL
);

PRAGMA user_version = 2;
COMMIT;
