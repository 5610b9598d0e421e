-- What this server's TimescaleDB can do; code and people use it to choose real continuous
-- aggregates or tsmon's own equivalent.
CREATE OR REPLACE FUNCTION tsmon.capabilities()
RETURNS TABLE (
    timescaledb_version    text,
    edition                text,
    postgres_version       text,
    continuous_aggregates  boolean,
    compression            boolean,
    background_jobs        boolean
)
LANGUAGE sql STABLE
SET search_path = pg_catalog
AS $$
    WITH e AS (
        SELECT CASE WHEN current_setting('timescaledb.license', true) = 'timescale'
                    THEN 'timescale' ELSE 'apache' END AS edition
    )
    SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'timescaledb'),
           e.edition,
           pg_catalog.current_setting('server_version'),
           e.edition = 'timescale',
           e.edition = 'timescale',
           e.edition = 'timescale'
    FROM e
$$;
COMMENT ON FUNCTION tsmon.capabilities() IS
    'TimescaleDB version and edition (apache = Apache-2 only, timescale = full edition) and the features '
    'tsmon uses from it: continuous aggregates, compression and background jobs exist only in the full edition.';
