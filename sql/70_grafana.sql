-- Read helpers for Grafana (role tsmon_reader) and for people: series windows with counter rates at
-- a resolution picked from the range, detector bands on the same buckets, and the views alert rules
-- read. Public interface: documented with COMMENT ON, granted to tsmon_reader below.

-- Prometheus-style rendering of a label set: {host="web1", job="node"} (keys sorted, as jsonb keeps them).
CREATE OR REPLACE FUNCTION tsmon.format_labels(p_labels jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT '{' || coalesce(string_agg(format('%s="%s"', key, replace(replace(value, '\', '\\'), '"', '\"')), ', ' ORDER BY key), '') || '}'
    FROM jsonb_each_text(coalesce(p_labels, '{}'::jsonb))
$$;
COMMENT ON FUNCTION tsmon.format_labels(jsonb) IS
    'A label set as Prometheus writes it: {host="web1", job="node"}; {} for no labels.';

-- Windows of chosen series (by id) at the coarsest resolution giving p_min_points points, never finer
-- than p_finest, with a per-second rate for counters. Series ids, not metric names, are pushed into
-- the windows: a join on metric and labels cannot go below their real-time aggregation.
CREATE OR REPLACE FUNCTION tsmon.series_windows(
    p_series_ids bigint[], p_start timestamptz, p_end timestamptz, p_min_points integer DEFAULT 300,
    p_finest text DEFAULT 'raw'
)
RETURNS TABLE ("time" timestamptz, series_id bigint, metric text, labels jsonb, resolution text, count bigint,
               avg double precision, min double precision, max double precision, last double precision,
               increase double precision, rate double precision)
LANGUAGE sql STABLE SECURITY DEFINER  -- the same data the metric_* views give tsmon_reader
SET search_path = pg_catalog, pg_temp
AS $$
    -- MATERIALIZED: the resolution is computed once, not per row (the planner would inline it into
    -- every expression that reads it, and those run for each window).
    WITH picked AS MATERIALIZED (
        SELECT CASE WHEN array_position(ARRAY['raw', '1m', '1h', '1d'], p_finest)
                         > array_position(ARRAY['raw', '1m', '1h', '1d'], p) THEN p_finest ELSE p END AS res
        FROM (SELECT tsmon.pick_resolution(p_start, p_end, p_min_points) AS p) x
    ), r AS MATERIALIZED (
        -- One step before the range: the first bucket's rate needs its predecessor's last value.
        SELECT res, p_start - CASE res WHEN '1d' THEN interval '1 day' WHEN '1h' THEN interval '1 hour'
                                       WHEN '1m' THEN interval '1 minute' ELSE interval '5 minutes' END AS lo
        FROM picked
    ), w AS (
        SELECT w.*, r.res,
               lag(w.last) OVER s AS prev_last, lag(w.bucket) OVER s AS prev_bucket
        FROM r, LATERAL (
            SELECT * FROM tsmon.samples_1d WHERE r.res = '1d' AND samples_1d.series_id = ANY(p_series_ids)
              AND samples_1d.bucket >= r.lo AND samples_1d.bucket < p_end
            UNION ALL
            SELECT * FROM tsmon.samples_1h WHERE r.res = '1h' AND samples_1h.series_id = ANY(p_series_ids)
              AND samples_1h.bucket >= r.lo AND samples_1h.bucket < p_end
            UNION ALL
            SELECT * FROM tsmon.samples_1m WHERE r.res = '1m' AND samples_1m.series_id = ANY(p_series_ids)
              AND samples_1m.bucket >= r.lo AND samples_1m.bucket < p_end
            UNION ALL
            SELECT x.time, x.series_id, 1, x.value,
               CASE WHEN abs(x.value) > 1e150 THEN 'Infinity'::float8 WHEN abs(x.value) < 1e-150 THEN 0::float8
                    ELSE x.value * x.value END,
               x.value, x.value, x.value, x.value, 0
            FROM tsmon.samples x WHERE r.res = 'raw' AND x.series_id = ANY(p_series_ids)
              AND x.time >= r.lo AND x.time < p_end AND x.value <> 'NaN'::float8
        ) w (bucket, series_id, count, sum, sum_sq, min, max, first, last, increase)
        WINDOW s AS (PARTITION BY w.series_id ORDER BY w.bucket)
    )
    SELECT w.bucket, w.series_id, s.metric, s.labels, w.res, w.count, tsmon.window_avg(w.sum, w.count), w.min, w.max, w.last, w.increase,
           -- The window's own increase plus the step from the previous window's last sample (a drop
           -- is a reset): together they tile time exactly. Without a predecessor, scale the steps
           -- inside the window up to its length.
           CASE WHEN greatest(abs(w.first), abs(w.prev_last), abs(w.increase)) > 1e300
                     OR (abs(w.increase) < 1e-290 AND w.increase <> 0)
                     OR (abs(w.first - w.prev_last) < 1e-290 AND w.first <> w.prev_last)
                THEN NULL  -- beyond float8's safe range for a rate (an error would break the panel)
                WHEN w.prev_last IS NOT NULL
                THEN (w.increase + CASE WHEN w.first >= w.prev_last THEN w.first - w.prev_last ELSE w.first END)
                     / extract(epoch FROM w.bucket - w.prev_bucket)::float8
                WHEN w.count > 1 AND w.res <> 'raw'
                THEN w.increase * w.count / (w.count - 1)
                     / extract(epoch FROM CASE w.res WHEN '1d' THEN interval '1 day'
                                               WHEN '1h' THEN interval '1 hour' ELSE interval '1 minute' END)::float8
           END
    FROM w JOIN tsmon.series s ON s.id = w.series_id
    WHERE w.bucket >= p_start
    ORDER BY 1, 2
$$;
COMMENT ON FUNCTION tsmon.series_windows(bigint[], timestamptz, timestamptz, integer, text) IS
    'Windows of the given series ids between two times at the coarsest resolution giving at least '
    'p_min_points points (tsmon.pick_resolution), never finer than p_finest (raw, 1m, 1h, 1d): time, series_id, '
    'metric, labels, resolution, count, avg, min, max, last, increase, and rate (per second, reset-aware, counters). '
    'Select series with ARRAY(SELECT series_id FROM tsmon.metric_series WHERE ...).';

-- Value, detector band and score of chosen series on the same buckets (at least 1m: scores are per window).
CREATE OR REPLACE FUNCTION tsmon.series_band(
    p_series_ids bigint[], p_start timestamptz, p_end timestamptz, p_min_points integer DEFAULT 300
)
RETURNS TABLE ("time" timestamptz, series_id bigint, value double precision, expected double precision,
               lower double precision, upper double precision, score double precision,
               threshold double precision, anomalous integer)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH v AS (
        SELECT w.time, w.series_id, w.avg
        FROM tsmon.series_windows(p_series_ids, p_start, p_end, p_min_points, '1m') w
    ), step AS MATERIALIZED (  -- once, not per score row
        SELECT CASE tsmon.pick_resolution(p_start, p_end, p_min_points) WHEN '1d' THEN interval '1 day'
                    WHEN '1h' THEN interval '1 hour' ELSE interval '1 minute' END AS step
    ), sc AS (
        -- Several configs may score one series: the widest band, the highest score and threshold.
        SELECT date_bin(step.step, a.time, '2000-01-03 00:00:00+00') AS time, a.series_id, avg(a.expected) AS expected,
               min(a.lower) AS lower, max(a.upper) AS upper, max(a.score) AS score,
               max(least(c.sensitivity + c.threshold_raise, 0.9999)) AS threshold,
               max(a.is_anomaly::integer) AS anomalous
        FROM step, tsmon.anomaly_scores a JOIN tsmon.detection_configs c ON c.id = a.config_id
        WHERE a.series_id = ANY(p_series_ids) AND a.time >= p_start AND a.time < p_end
        GROUP BY 1, 2
    )
    SELECT coalesce(v.time, sc.time), coalesce(v.series_id, sc.series_id), v.avg, sc.expected, sc.lower,
           sc.upper, sc.score, sc.threshold, sc.anomalous
    FROM v FULL JOIN sc ON sc.time = v.time AND sc.series_id = v.series_id
    ORDER BY 1, 2
$$;
COMMENT ON FUNCTION tsmon.series_band(bigint[], timestamptz, timestamptz, integer) IS
    'Per bucket (resolution as tsmon.series_windows picks it, at least 1m) and series: the value (window avg), '
    'the detectors'' expected value and lower/upper band, the highest score, the alert threshold of the '
    'scoring config, and anomalous (0/1). Over several configs: widest band, highest score and threshold.';

-- Alert rule input: open anomaly events that have lasted their config's min_duration.
CREATE OR REPLACE VIEW tsmon.open_anomaly_alerts AS
SELECT a.id AS anomaly_id, s.metric, tsmon.format_labels(s.labels) AS series,
       coalesce(s.labels ->> 'host', s.labels ->> 'instance', '') AS host,
       a.severity, c.name AS config, a.series_id, a.started_at, a.peak_score,
       extract(epoch FROM now() - a.started_at)::float8 AS duration_seconds,
       extract(epoch FROM c.min_duration)::float8 AS min_duration_seconds, c.alert_labels,
       tsmon.format_labels(c.alert_labels) AS alert_labels_text
FROM tsmon.anomalies a
JOIN tsmon.series s ON s.id = a.series_id
JOIN tsmon.detection_configs c ON c.id = a.config_id
WHERE a.status = 'open' AND now() - a.started_at >= c.min_duration;
COMMENT ON VIEW tsmon.open_anomaly_alerts IS
    'Open anomaly events that have lasted at least their detection config''s min_duration, for alert rules: '
    'metric, series (labels as text), host (label host or instance), severity, config, peak score, duration, '
    'and the config''s alert_labels (also as text, alert_labels_text, for notification routing).';

CREATE OR REPLACE VIEW tsmon.detection_lag AS
SELECT c.name AS config, c.metric, c.resolution,
       extract(epoch FROM now() - coalesce(min(coalesce(s.watermark, c.created_at)), c.created_at))::float8
           AS lag_seconds,
       -- tsmon.detection_status's lag (the wait of the oldest complete window not scored yet), counted
       -- from the config's creation while nothing is scored: a worker that never runs shows up too.
       extract(epoch FROM greatest(now() - coalesce(min(coalesce(s.watermark, c.created_at)), c.created_at)
                                   - CASE c.resolution WHEN '1h' THEN interval '1 hour' ELSE interval '1 minute' END,
                                   interval '0'))::float8 AS excess_lag_seconds
FROM tsmon.detection_configs c LEFT JOIN tsmon.detection_shards s ON s.config_id = c.id
WHERE c.enabled
GROUP BY c.id;
COMMENT ON VIEW tsmon.detection_lag IS
    'Per enabled detection config: seconds since its oldest shard watermark (since the config was created when '
    'never scored), and excess_lag_seconds: how long the oldest complete window not scored yet has waited '
    '(tsmon.detection_status.lag; a healthy worker shows up to its grace plus one pass).';

CREATE OR REPLACE VIEW tsmon.ingest_freshness AS
SELECT max(x.time) AS newest_sample,
       -- Nothing in the last day counts as a day: the alert fires rather than seeing no data.
       coalesce(extract(epoch FROM now() - max(x.time))::float8, 86400) AS seconds_since_newest_sample
FROM tsmon.samples x
WHERE x.time > now() - interval '1 day' AND x.time <= now() + interval '10 minutes';
COMMENT ON VIEW tsmon.ingest_freshness IS
    'Newest stored sample (last day) and seconds since it (86400 when there is none): stale-ingest alerting.';

GRANT SELECT ON tsmon.open_anomaly_alerts, tsmon.detection_lag, tsmon.ingest_freshness TO tsmon_reader, tsmon_worker;
GRANT EXECUTE ON FUNCTION tsmon.format_labels(jsonb),
                          tsmon.series_windows(bigint[], timestamptz, timestamptz, integer, text),
                          tsmon.series_band(bigint[], timestamptz, timestamptz, integer)
    TO tsmon_reader, tsmon_worker;
