-- Retention for the worker without owning the tables: drop_chunks needs the owner, so this definer
-- does it, for tsmon's raw samples and tsmon-maintained windows only.
CREATE OR REPLACE FUNCTION tsmon.drop_expired_chunks(p_relation text, p_days double precision)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_dropped integer;
BEGIN
    IF p_relation NOT IN ('tsmon.samples', 'tsmon._windows_1m', 'tsmon._windows_1h', 'tsmon._windows_1d') THEN
        RAISE EXCEPTION 'drop_expired_chunks: % is not one of tsmon''s own tables', p_relation
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_days IS NULL OR p_days <= 0 OR p_days = 'Infinity'::float8 THEN
        RAISE EXCEPTION 'drop_expired_chunks: retention must be a positive number of days, not %', p_days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT count(*) INTO v_dropped
    FROM public.drop_chunks(p_relation::regclass, older_than => now() - p_days * interval '1 day');
    RETURN v_dropped;
END
$$;
COMMENT ON FUNCTION tsmon.drop_expired_chunks(text, double precision) IS
    'Drop chunks of tsmon.samples or a tsmon-maintained windows table older than the given days '
    '(retention, run by the worker); returns the number of chunks dropped.';

-- Continuous aggregates (full edition) belong to tsmon_worker: TimescaleDB lets only the owner
-- refresh one, which the worker does when the refresh policies fall behind. A background job
-- runs as the owner of what it maintains, so the role needs LOGIN (its password, if any, is set
-- by `tsmon migrate`; without one it can still not log in over the network).
DO $$
DECLARE
    r text;
    v_any boolean := false;
BEGIN
    FOREACH r IN ARRAY ARRAY['samples_1m', 'samples_1h', 'samples_1d'] LOOP
        IF EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates
                   WHERE view_schema = 'tsmon' AND view_name = r) THEN
            v_any := true;
            IF NOT pg_has_role(current_user, 'tsmon_worker', 'USAGE') THEN
                EXECUTE format('GRANT tsmon_worker TO %I', current_user);
            END IF;
            EXECUTE format('ALTER MATERIALIZED VIEW tsmon.%I OWNER TO tsmon_worker', r);
        END IF;
    END LOOP;
    IF v_any THEN
        ALTER ROLE tsmon_worker LOGIN;
    END IF;
END
$$;
