-- Roles (cluster-wide, so created only when missing). NOLOGIN: give login users membership,
-- or let `tsmon migrate` enable login for tsmon_reader with TSMON_READER_PASSWORD.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['tsmon_ingest', 'tsmon_worker', 'tsmon_reader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;
