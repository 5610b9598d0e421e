-- Public views over the windows, the same on both editions: tsmon.samples_1m / _1h / _1d are
-- continuous aggregates (full edition) or tsmon-maintained union views (Apache edition).
--
-- Each series' windows are read through a LATERAL subquery, so a filter on metric and labels
-- picks the series first and then reads only their windows by index, with the bucket range
-- pushed down (as fast as selecting by series_id). A plain join cannot do that: the windows'
-- real-time part is a GROUP BY over raw samples, which cannot take a join parameter, so the
-- planner would aggregate every series' windows in the range and hash-join them. DISTINCT ON
-- (bucket) changes nothing (a series has one row per bucket); it keeps the planner from
-- flattening the LATERAL back into that join, while still letting bucket filters in.
-- Averages and sample deviations from a window's sufficient statistics, for every finite value:
-- PostgreSQL raises on float8 overflow and underflow, so sums under 1e-290 average to 0, and
-- the deviation is unknown (NULL) where the squares could not be summed (Infinity) or the
-- square of the sum would overflow. See tsmon.windows.definitions for how the sums are built.
CREATE OR REPLACE FUNCTION tsmon.window_avg(p_sum float8, p_count bigint)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN p_count = 0 THEN NULL WHEN abs(p_sum) < 1e-290 THEN 0::float8 ELSE p_sum / p_count END $$;
COMMENT ON FUNCTION tsmon.window_avg(float8, bigint) IS
    'sum / count of a window, safe for every finite sum (0 below 1e-290).';

CREATE OR REPLACE FUNCTION tsmon.window_stddev(p_sum float8, p_sum_sq float8, p_count bigint)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN p_count < 2 OR p_sum_sq = 'Infinity'::float8 OR abs(p_sum) > 1e150 OR p_sum <> p_sum THEN NULL
        WHEN abs(p_sum) < 1e-150 THEN sqrt(greatest(p_sum_sq, 0) / (p_count - 1))
        ELSE sqrt(greatest(p_sum_sq - p_sum * p_sum / p_count, 0) / (p_count - 1)) END
$$;
COMMENT ON FUNCTION tsmon.window_stddev(float8, float8, bigint) IS
    'Sample standard deviation of a window from count, sum and sum of squares; NULL for one value or '
    'where the squares overflowed (values beyond 1e150).';

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES ('1m', '1-minute'), ('1h', '1-hour'), ('1d', '1-day')) AS v(res, label) LOOP
        EXECUTE format($v$
            CREATE OR REPLACE VIEW tsmon.%1$I AS
            SELECT w.bucket, s.metric, s.labels, s.id AS series_id, w.count,
                   tsmon.window_avg(w.sum, w.count) AS avg,
                   w.min, w.max, w.first, w.last, w.sum,
                   tsmon.window_stddev(w.sum, w.sum_sq, w.count) AS stddev,
                   w.increase
            FROM tsmon.series s
            CROSS JOIN LATERAL (
                SELECT DISTINCT ON (x.bucket) x.* FROM tsmon.%2$I x WHERE x.series_id = s.id
            ) w$v$,
            'metric_' || r.res, 'samples_' || r.res);
        EXECUTE format($c$COMMENT ON VIEW tsmon.%I IS %L$c$, 'metric_' || r.res,
            r.label || ' windows per series (real-time: the newest bucket is computed from raw samples): '
            'bucket, metric, labels, series_id, count, avg, min, max, first, last, sum, stddev (sample), '
            'increase (reset-aware counter increase between the samples inside the window). '
            'Staleness markers and NaN values are left out.');
    END LOOP;
END
$$;

-- The coarsest resolution that still gives at least p_min_points points over a range, so
-- dashboards and jobs never scan raw samples for long ranges.
CREATE OR REPLACE FUNCTION tsmon.pick_resolution(p_start timestamptz, p_end timestamptz, p_min_points integer DEFAULT 300)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT CASE
        WHEN s >= p_min_points * 86400.0 THEN '1d'
        WHEN s >= p_min_points * 3600.0 THEN '1h'
        WHEN s >= p_min_points * 60.0 THEN '1m'
        ELSE 'raw' END
    FROM (SELECT extract(epoch FROM p_end - p_start) AS s) span
$$;
COMMENT ON FUNCTION tsmon.pick_resolution(timestamptz, timestamptz, integer) IS
    'raw, 1m, 1h or 1d: the coarsest resolution giving at least p_min_points points between p_start and p_end.';

-- Windows of one metric over a range at the resolution pick_resolution chooses. Only the chosen
-- branch runs: the others are cut at execution by their false constant condition.
CREATE OR REPLACE FUNCTION tsmon.metric_windows(
    p_metric text, p_start timestamptz, p_end timestamptz, p_min_points integer DEFAULT 300
)
RETURNS TABLE (bucket timestamptz, series_id bigint, labels jsonb, resolution text, count bigint,
               avg double precision, min double precision, max double precision,
               first double precision, last double precision, increase double precision)
LANGUAGE sql STABLE SECURITY DEFINER  -- the same data the metric_* views give tsmon_reader
SET search_path = pg_catalog, pg_temp
AS $$
    -- Series ids are looked up once and pushed into the windows (a join on metric name cannot be
    -- pushed below the windows' real-time GROUP BY, and would aggregate every series' windows).
    -- MATERIALIZED: computed once, not again for every row of the branch that runs.
    WITH r AS MATERIALIZED (SELECT tsmon.pick_resolution(p_start, p_end, p_min_points) AS res),
         ids AS MATERIALIZED (SELECT ARRAY(SELECT id FROM tsmon.series WHERE metric = p_metric) AS ids)
    SELECT w.bucket, w.series_id, s.labels, r.res, w.count, tsmon.window_avg(w.sum, w.count), w.min, w.max, w.first, w.last,
           w.increase
    FROM r, ids, LATERAL (
        SELECT * FROM tsmon.samples_1d WHERE r.res = '1d' AND samples_1d.series_id = ANY(ids.ids)
          AND samples_1d.bucket >= p_start AND samples_1d.bucket < p_end
        UNION ALL
        SELECT * FROM tsmon.samples_1h WHERE r.res = '1h' AND samples_1h.series_id = ANY(ids.ids)
          AND samples_1h.bucket >= p_start AND samples_1h.bucket < p_end
        UNION ALL
        SELECT * FROM tsmon.samples_1m WHERE r.res = '1m' AND samples_1m.series_id = ANY(ids.ids)
          AND samples_1m.bucket >= p_start AND samples_1m.bucket < p_end
        UNION ALL
        SELECT x.time, x.series_id, 1, x.value,
               CASE WHEN abs(x.value) > 1e150 THEN 'Infinity'::float8 WHEN abs(x.value) < 1e-150 THEN 0::float8
                    ELSE x.value * x.value END,
               x.value, x.value, x.value, x.value, 0
        FROM tsmon.samples x WHERE r.res = 'raw' AND x.series_id = ANY(ids.ids)
          AND x.time >= p_start AND x.time < p_end AND x.value <> 'NaN'::float8
    ) w (bucket, series_id, count, sum, sum_sq, min, max, first, last, increase)
    JOIN tsmon.series s ON s.id = w.series_id
    ORDER BY 1, 2
$$;
COMMENT ON FUNCTION tsmon.metric_windows(text, timestamptz, timestamptz, integer) IS
    'Windows of one metric between two times at the coarsest resolution giving at least p_min_points '
    'points (see pick_resolution): bucket, series_id, labels, resolution, count, avg, min, max, first, last, increase.';
