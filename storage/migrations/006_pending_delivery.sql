-- Commit, then send, with recovery: the step transaction marks that the
-- officer has a prompt to deliver (the step's seq); the sender clears the mark
-- once it is sent, in batches. At start-up, officers still marked get their
-- current question drawn again.
BEGIN;

ALTER TABLE navigation ADD COLUMN pending_seq INTEGER;
CREATE INDEX navigation_pending ON navigation (user_id) WHERE pending_seq IS NOT NULL;

PRAGMA user_version = 6;
COMMIT;
