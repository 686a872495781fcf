-- Central database for surveybot's sync: PostgreSQL (11 or later) behind
-- PostgREST, or Supabase. Run once as the database owner, e.g.
--     psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f docs/central.sql
-- The contract (what the bot sends and expects) is in README_SYNC.md.

BEGIN;

-- One row per municipality and questionnaire: the latest submitted revision.
CREATE TABLE IF NOT EXISTS public.responses (
    response_id            text PRIMARY KEY,      -- "<questionnaire_id>:<istat>": the upsert key
    revision               integer NOT NULL CHECK (revision >= 1),
    istat                  text NOT NULL CHECK (istat ~ '^[0-9]{6}$'),
    comune                 text,
    provincia              text,
    regione                text,
    questionnaire_id       text NOT NULL,
    questionnaire_version  text NOT NULL,
    submitted_at           timestamptz NOT NULL,
    answers                jsonb NOT NULL CHECK (jsonb_typeof(answers) = 'object'),
    received_at            timestamptz NOT NULL DEFAULT now(),  -- set here, never sent
    CONSTRAINT responses_one_per_municipality UNIQUE (questionnaire_id, istat),
    CONSTRAINT responses_id_is_questionnaire_and_istat
        CHECK (response_id = questionnaire_id || ':' || istat)
);

COMMENT ON TABLE public.responses IS
    'surveybot: latest submitted revision per municipality (upserted by the bot)';

-- Deliveries can arrive out of order (a retried old batch after a newer one):
-- an older revision never overwrites a newer one. Returning NULL skips just
-- that row, so the rest of the batch is still stored and the request succeeds.
-- The same revision again (a retry) overwrites the row with identical data.
CREATE OR REPLACE FUNCTION public.responses_keep_latest() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.revision < OLD.revision THEN
        RETURN NULL;
    END IF;
    NEW.received_at := now();
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS responses_keep_latest ON public.responses;
CREATE TRIGGER responses_keep_latest
    BEFORE UPDATE ON public.responses
    FOR EACH ROW EXECUTE FUNCTION public.responses_keep_latest();

-- Handy for analysis: one row per good practice.
CREATE OR REPLACE VIEW public.response_practices AS
SELECT r.response_id, r.revision, r.istat, r.comune, r.provincia, r.regione,
       p.ordinality AS practice_number, p.practice
FROM public.responses AS r
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(r.answers -> 'practices') = 'array'
         THEN r.answers -> 'practices' ELSE '[]'::jsonb END
) WITH ORDINALITY AS p (practice, ordinality);

-- The bot's role. PostgREST connects as its authenticator role and switches
-- to the role named in the JWT's "role" claim: {"role": "surveybot"}.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'surveybot') THEN
        CREATE ROLE surveybot NOLOGIN;
    END IF;
    -- "authenticator" is the usual name (and Supabase's); use yours if it differs.
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
        GRANT surveybot TO authenticator;
    END IF;
    -- Supabase grants new tables in "public" to its API roles: this table is not theirs.
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON public.responses, public.response_practices FROM anon;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        REVOKE ALL ON public.responses, public.response_practices FROM authenticated;
    END IF;
END;
$$;

-- INSERT ... ON CONFLICT DO UPDATE needs INSERT and UPDATE, and SELECT for the
-- conflict check and PostgREST's RETURNING. No DELETE: the bot never removes.
GRANT USAGE ON SCHEMA public TO surveybot;
GRANT SELECT, INSERT, UPDATE ON public.responses TO surveybot;

-- With row level security on, only roles with a policy see rows (Supabase's
-- service_role bypasses it). The bot may write any municipality's row.
ALTER TABLE public.responses ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS surveybot_upsert ON public.responses;
CREATE POLICY surveybot_upsert ON public.responses
    FOR ALL TO surveybot USING (true) WITH CHECK (true);

COMMIT;

-- Make PostgREST see the new table without a restart.
NOTIFY pgrst, 'reload schema';
