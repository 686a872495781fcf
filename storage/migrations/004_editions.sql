-- Questionnaire editions: every version's file as first used, the notice each
-- officer gets after an update, and the version each stored answer was given under.
BEGIN;

CREATE TABLE questionnaire_versions (
    questionnaire_id  TEXT NOT NULL,
    version           TEXT NOT NULL,
    source            TEXT NOT NULL,     -- the YAML file as it was
    first_used_at     TEXT NOT NULL,
    PRIMARY KEY (questionnaire_id, version)
);

-- "Il questionario è stato aggiornato": shown once, with the officer's next message.
CREATE TABLE edition_notices (
    user_id      INTEGER NOT NULL,
    response_id  TEXT NOT NULL,
    version      TEXT NOT NULL,
    to_review    INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    shown_at     TEXT,
    PRIMARY KEY (user_id, response_id, version)
);

ALTER TABLE submissions ADD COLUMN questionnaire_version TEXT;
UPDATE submissions SET questionnaire_version = (
    SELECT json_extract(o.payload_json, '$.questionnaire_version') FROM outbox AS o
    WHERE o.response_id = submissions.response_id AND o.revision = submissions.revision
      AND json_valid(o.payload_json)
);

ALTER TABLE answer_changes ADD COLUMN questionnaire_version TEXT;
UPDATE answer_changes SET questionnaire_version = (
    SELECT r.questionnaire_version FROM responses AS r
    WHERE r.response_id = answer_changes.response_id
);

PRAGMA user_version = 4;
COMMIT;
