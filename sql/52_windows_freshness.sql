-- Are the windows current? One row per resolution, for either engine: its materialisation
-- watermark, how far behind now it is, and how far it may be while refreshes run on schedule
-- (the refresh's end offset + one bucket + three refresh intervals, from the refresh schedules in
-- tsmon.windows.definitions). The one place the rule lives: the worker and the CLI read it. The worker refreshes continuous aggregates itself when their policies fall behind;
-- a row with behind = true means that did not help either (alert: "Windows behind").
CREATE OR REPLACE FUNCTION tsmon.windows_freshness()
RETURNS TABLE (resolution text, engine text, watermark timestamptz, lag_seconds float8,
               allowed_lag_seconds float8, behind boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER  -- reads TimescaleDB's catalog for tsmon_reader
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_engine text := (SELECT e.engine FROM tsmon.windows_engine e);
BEGIN
    RETURN QUERY
    WITH levels (res, allowed) AS (
        VALUES ('1m', interval '5 minutes'), ('1h', interval '2 hours 30 minutes'), ('1d', interval '51 hours')
    ), marks AS (
        SELECT l.res, l.allowed,
               CASE WHEN v_engine = 'tsmon' THEN
                        (SELECT w.watermark FROM tsmon.window_watermarks w WHERE w.resolution = l.res)
                    WHEN v_engine = 'continuous_aggregates' THEN
                        (SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id))
                         FROM _timescaledb_catalog.continuous_agg c
                         WHERE c.user_view_schema = 'tsmon' AND c.user_view_name = 'samples_' || l.res)
               END AS mark
        FROM levels l
    )
    SELECT m.res, v_engine,
           -- an empty continuous aggregate reports the type's minimum: nothing materialised
           CASE WHEN m.mark > '1900-01-01' THEN m.mark END,
           CASE WHEN m.mark > '1900-01-01' THEN extract(epoch FROM now() - m.mark)::float8 END,
           extract(epoch FROM m.allowed)::float8,
           -- nothing materialised is behind once raw samples older than the allowance exist
           CASE WHEN m.mark > '1900-01-01' THEN now() - m.mark > m.allowed
                ELSE coalesce((SELECT min(x.time) FROM tsmon.samples x) < now() - m.allowed, false) END
    FROM marks m
    WHERE v_engine IS NOT NULL
    ORDER BY m.allowed;
END
$$;
COMMENT ON FUNCTION tsmon.windows_freshness() IS
    'Per window resolution (1m, 1h, 1d): engine, materialisation watermark, lag_seconds behind now, '
    'allowed_lag_seconds while refreshes run on schedule, and behind (lag above that; with nothing '
    'materialised, raw samples older than that).';

CREATE OR REPLACE VIEW tsmon.windows_freshness AS SELECT * FROM tsmon.windows_freshness();
COMMENT ON VIEW tsmon.windows_freshness IS
    'Are the 1m/1h/1d windows current? See FUNCTION tsmon.windows_freshness(); alert "Windows behind".';
