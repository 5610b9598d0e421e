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

-- The reader (Grafana, people) cannot hold the database: its queries and idle transactions end,
-- and it cannot create temporary tables (tsmon's own roles can; the definer functions that use
-- one run as the owner). Role settings apply to logins as tsmon_reader itself
-- (TSMON_READER_PASSWORD); give a member login the same with ALTER ROLE ... SET.
ALTER ROLE tsmon_reader SET statement_timeout = '30s';
ALTER ROLE tsmon_reader SET idle_in_transaction_session_timeout = '60s';
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO tsmon_ingest, tsmon_worker', current_database());
END
$$;
