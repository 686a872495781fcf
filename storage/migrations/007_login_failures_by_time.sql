-- The global ceiling of wrong codes reads every user's failures of the last hour
-- on each attempt: an index by time keeps that a range read, and failures older
-- than a day (no window reaches that far) are pruned as new ones are recorded.
BEGIN;

CREATE INDEX login_failures_at ON login_failures (at);

PRAGMA user_version = 7;
COMMIT;
