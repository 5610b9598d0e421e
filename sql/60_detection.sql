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
       -- A shard (or config) never scored counts from the config's creation: it lags, it is not done.
       greatest(now() - coalesce(min(coalesce(s.watermark, c.created_at)), c.created_at)
                - CASE c.resolution WHEN '1h' THEN interval '1 hour' ELSE interval '1 minute' END,
                interval '0') AS lag,
       max(s.scored_at) AS last_run,
       count(*) FILTER (WHERE s.failures > 0) AS failing_shards,
       (array_agg(s.last_error ORDER BY s.failures DESC) FILTER (WHERE s.failures > 0))[1] AS last_error
FROM tsmon.detection_configs c LEFT JOIN tsmon.detection_shards s ON s.config_id = c.id
GROUP BY c.id;
COMMENT ON VIEW tsmon.detection_status IS
    'Per detection config: threshold in use, how far it is scored (oldest shard watermark), and the lag: '
    'how long the oldest complete window not scored yet has waited since it ended (0: all scored; '
    'a healthy worker shows up to the 10 s grace plus one pass; never scored: since the config was '
    'created); failing_shards backing off after errors and the last error.';

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

-- Late data, per series. Samples whose minute ended about the scoring grace ago (10 s,
-- tsmon.scoring.job.GRACE, less 5 s for the writing transaction to commit) may land in windows
-- detection has already scored. Not only when a watermark is past them already: a lagging shard
-- could pass them before the write commits. Other samples commit before their window is scored.
-- The writer asks tsmon.detection_late_before() in every sample-writing transaction and, when some
-- samples are older, logs each of their series with tsmon.note_late_samples in the same transaction.
CREATE OR REPLACE FUNCTION tsmon.detection_late_before() RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT date_trunc('minute', now() - interval '5 seconds') WHERE EXISTS (SELECT 1 FROM tsmon.detection_shards)
$$;
COMMENT ON FUNCTION tsmon.detection_late_before() IS
    'Samples before this time are late for detection (their window may be scored already); NULL: no '
    'detection running.';

CREATE OR REPLACE FUNCTION tsmon.note_late_samples(p_series bigint[], p_lo_us bigint[], p_hi_us bigint[])
RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO tsmon.detection_rescore (series_id, lo, hi)
    SELECT u.series_id, date_trunc('minute', to_timestamp(u.lo_us / 1e6)),
           least(date_trunc('minute', to_timestamp(u.hi_us / 1e6)) + interval '1 minute',
                 tsmon.detection_late_before())
    FROM unnest(p_series, p_lo_us, p_hi_us) AS u(series_id, lo_us, hi_us)
    WHERE date_trunc('minute', to_timestamp(u.lo_us / 1e6)) < tsmon.detection_late_before()
$$;
COMMENT ON FUNCTION tsmon.note_late_samples(bigint[], bigint[], bigint[]) IS
    'Log the windows of each series written late (oldest and newest late sample, microseconds since '
    'the epoch) for re-scoring; call it in the transaction that wrote them.';

-- Events out: NOTIFY tsmon_anomaly with a JSON payload at commit (`tsmon watch`). The scoring job
-- announces "open" and "close". Re-scoring after late data (tsmon.anomaly_origin = 'rescore' in its
-- transaction) rewrites only events that changed, keeping their ids: "revised" for one whose bounds,
-- peak or severity changed ("close" when it closed), "late" for one found wholly in the past (never
-- announced as opening), "open" for one found still running, "withdrawn" for one that is gone.
CREATE OR REPLACE FUNCTION tsmon.anomalies_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    e tsmon.anomalies := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    payload jsonb := jsonb_build_object(
        'anomaly_id', e.id, 'series_id', e.series_id, 'config_id', e.config_id, 'severity', e.severity,
        'started_at', e.started_at, 'ended_at', e.ended_at, 'peak_score', e.peak_score, 'status', e.status);
    kind text;
BEGIN
    IF coalesce(current_setting('tsmon.anomaly_origin', true), '') = 'rescore' THEN
        kind := CASE
            WHEN TG_OP = 'DELETE' THEN 'withdrawn'
            WHEN TG_OP = 'INSERT' THEN CASE WHEN NEW.status = 'open' THEN 'open' ELSE 'late' END
            WHEN OLD.status = 'open' AND NEW.status = 'closed' THEN 'close'
            ELSE 'revised' END;
        PERFORM pg_notify('tsmon_anomaly', (payload || jsonb_build_object('event', kind))::text);
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN NULL;  -- a config deleted with its events
    END IF;
    -- An event that opens and closes within one scoring run still announces both.
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('tsmon_anomaly', (payload || '{"event": "open"}')::text);
    END IF;
    IF NEW.status = 'closed' AND (TG_OP = 'INSERT' OR OLD.status = 'open') THEN
        PERFORM pg_notify('tsmon_anomaly', (payload || '{"event": "close"}')::text);
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION tsmon.anomalies_notify() IS
    'Trigger: NOTIFY tsmon_anomaly when an event opens or closes, and when late data revises one.';

DROP TRIGGER IF EXISTS anomalies_notify ON tsmon.anomalies;
CREATE TRIGGER anomalies_notify AFTER INSERT OR UPDATE OR DELETE ON tsmon.anomalies
    FOR EACH ROW EXECUTE FUNCTION tsmon.anomalies_notify();
