-- Roles (cluster-wide, so created only when missing). Created NOLOGIN; `tsmon migrate` gives a
-- login and password to tsmon_api (the API), tsmon_worker (the worker) and, with
-- TSMON_READER_PASSWORD, tsmon_reader (Grafana), or give your own login users membership.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['tsmon_ingest', 'tsmon_worker', 'tsmon_reader', 'tsmon_api'] LOOP
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
-- The API's login: ingest rights (write samples, create series within the limits) and the reader's
-- (the analysis and score endpoints read); nothing else, and no SET ROLE to anything more.
GRANT tsmon_ingest, tsmon_reader TO tsmon_api;
-- Without a password for tsmon_api the API connects as the owner and drops to tsmon_api with SET
-- ROLE (TSMON_INGEST_ROLE), which a non-superuser owner may do only as a member.
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'tsmon_api', 'MEMBER') THEN
        EXECUTE format('GRANT tsmon_api TO %I', current_user);
    END IF;
END
$$;

ALTER ROLE tsmon_reader SET statement_timeout = '30s';
ALTER ROLE tsmon_reader SET idle_in_transaction_session_timeout = '60s';
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO tsmon_ingest, tsmon_worker', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO tsmon_api, tsmon_worker, tsmon_reader', current_database());
END
$$;
