-- Detection, for people and Grafana: how precise each config's events have been (from feedback).
CREATE OR REPLACE VIEW tsmon.detection_precision AS
SELECT c.name AS config, date_trunc('day', a.started_at) AS day,
       count(*) AS events,
       count(*) FILTER (WHERE a.feedback = 'true_positive') AS true_positives,
       count(*) FILTER (WHERE a.feedback = 'false_positive') AS false_positives,
       count(*) FILTER (WHERE a.feedback = 'ignored') AS ignored,
       count(*) FILTER (WHERE a.feedback = 'true_positive')::float8
           / nullif(count(*) FILTER (WHERE a.feedback IN ('true_positive', 'false_positive')), 0) AS precision
FROM tsmon.anomalies a JOIN tsmon.detection_configs c ON c.id = a.config_id
GROUP BY 1, 2;
COMMENT ON VIEW tsmon.detection_precision IS
    'Per detection config and day: events, feedback counts and precision = true / (true + false positives).';

CREATE OR REPLACE VIEW tsmon.detection_status AS
SELECT c.id AS config_id, c.name AS config, c.metric, c.detector, c.resolution,
       least(c.sensitivity + c.threshold_raise, 0.9999) AS threshold, c.enabled,
       min(s.watermark) AS scored_until,
       -- A shard's watermark is the end of the windows it scored: the next window waits from its end.
       greatest(now() - min(s.watermark)
                - CASE c.resolution WHEN '1h' THEN interval '1 hour' ELSE interval '1 minute' END,
                interval '0') AS lag,
       max(s.scored_at) AS last_run
FROM tsmon.detection_configs c LEFT JOIN tsmon.detection_shards s ON s.config_id = c.id
GROUP BY c.id;
COMMENT ON VIEW tsmon.detection_status IS
    'Per detection config: threshold in use, how far it is scored (oldest shard watermark), and the lag: '
    'how long the oldest complete window not scored yet has waited since it ended (0: all scored; '
    'a healthy worker shows up to the 10 s grace plus one pass).';

-- For POST /api/v1/score: the newest model of a series (by id, or metric + labels) under a config
-- (by name; NULL: the only config whose model exists for the series). SECURITY DEFINER so the
-- API's role (tsmon_ingest) can score without reading any table.
CREATE OR REPLACE FUNCTION tsmon.scoring_model(p_series_id bigint, p_metric text, p_labels jsonb, p_config text)
RETURNS TABLE (series_id bigint, config_id bigint, config text, version integer, detector text,
               state jsonb, threshold double precision)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.series_id, c.id, c.name, m.version, m.detector, m.state,
           least(c.sensitivity + c.threshold_raise, 0.9999)
    FROM tsmon.models m
    JOIN tsmon.detection_configs c ON c.id = m.config_id
    WHERE m.series_id = coalesce(p_series_id,
              (SELECT s.id FROM tsmon.series s WHERE s.metric = p_metric AND s.labels = coalesce(p_labels, '{}')))
      AND (p_config IS NULL OR c.name = p_config)
    ORDER BY c.id, m.version DESC
    LIMIT 2
$$;
COMMENT ON FUNCTION tsmon.scoring_model(bigint, text, jsonb, text) IS
    'Newest detection model of a series under a config, for real-time scoring (POST /api/v1/score).';
