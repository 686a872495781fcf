-- The staff outbox: ticket cards, officers' messages posted to the assistance
-- group, operators' replies relayed to officers and notices to the team.
-- Each row is written with the commit that decides it and delivered after it:
-- 'sending' is committed before the Bot API call and the outcome after it; a
-- row found 'sending' after a crash becomes 'unknown' and is never sent again.
BEGIN;

CREATE TABLE outgoing (
    id                 INTEGER PRIMARY KEY,
    ticket_id          INTEGER REFERENCES tickets (id),
    ticket_message_id  INTEGER REFERENCES ticket_messages (id),
    kind               TEXT NOT NULL CHECK (kind IN ('card', 'to_group', 'copy_to_group',
                                                     'to_officer', 'copy_to_officer')),
    chat_id            INTEGER NOT NULL,
    text               TEXT,             -- HTML (a card's text is drawn when it is sent)
    buttons_json       TEXT,             -- rows of [label, data] pairs under the message
    source_chat_id     INTEGER,          -- copies: where the original is
    source_message_id  INTEGER,
    status             TEXT NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unreachable',
                                         'unknown')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    TEXT NOT NULL,
    error              TEXT,
    message_id         INTEGER,          -- the message it became
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX outgoing_status ON outgoing (status, id);
CREATE INDEX outgoing_ticket ON outgoing (ticket_id, status);

PRAGMA user_version = 5;
COMMIT;
