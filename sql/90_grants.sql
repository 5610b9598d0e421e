-- Least privilege: nothing for PUBLIC; ingest writes samples and series; the worker reads
-- everything and writes detection output; the reader (Grafana) sees only the public views.
REVOKE ALL ON SCHEMA tsmon FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA tsmon FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA tsmon FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA tsmon FROM PUBLIC;

GRANT USAGE ON SCHEMA tsmon TO tsmon_ingest, tsmon_worker, tsmon_reader;

-- Ingest: append samples; series creation and re-send merges go through definer functions.
GRANT INSERT ON tsmon.samples TO tsmon_ingest;
GRANT EXECUTE ON FUNCTION tsmon.ingest_unrestricted() TO tsmon_ingest, tsmon_worker, tsmon_api;
GRANT EXECUTE ON FUNCTION tsmon.resolve_series(text[], text[], bigint, bigint),
                          tsmon.upsert_samples(timestamptz[], bigint[], float8[]),
                          tsmon.note_samples_written(timestamptz, timestamptz),
                          tsmon.detection_late_before(),
                          tsmon.note_late_samples(bigint[], bigint[], bigint[])
    TO tsmon_ingest, tsmon_worker;

-- Worker: read data, write detection output.
GRANT SELECT ON tsmon.series, tsmon.samples, tsmon.series_counts TO tsmon_worker;
GRANT INSERT ON tsmon.samples TO tsmon_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON tsmon.anomaly_scores, tsmon.anomalies TO tsmon_worker;

-- Reader: the public views and functions only.
GRANT SELECT ON tsmon.metric_series, tsmon.metric_samples, tsmon.metric_anomaly_scores,
                tsmon.metric_anomalies, tsmon.metric_1m, tsmon.metric_1h, tsmon.metric_1d
    TO tsmon_reader, tsmon_worker;
GRANT EXECUTE ON FUNCTION tsmon.pick_resolution(timestamptz, timestamptz, integer),
                          tsmon.metric_windows(text, timestamptz, timestamptz, integer),
                          -- used by the windows' real-time part, which runs as the querying role
                          tsmon.window_watermark(text),
                          tsmon.counter_increase_agg(timestamptz, float8),
                          tsmon.counter_rollup_agg(timestamptz, float8, float8, float8)
    TO tsmon_reader, tsmon_worker;
-- Worker: the windows themselves, and running their refresh (tsmon-maintained engine).
GRANT SELECT ON tsmon.samples_1m, tsmon.samples_1h, tsmon.samples_1d TO tsmon_worker;
GRANT EXECUTE ON FUNCTION tsmon.capabilities() TO tsmon_ingest, tsmon_worker, tsmon_reader;
-- Counter rate/increase: people, Grafana and jobs.
GRANT EXECUTE ON FUNCTION
    tsmon.counter_increase(timestamptz, timestamptz, timestamptz[], double precision[]),
    tsmon.counter_rate(timestamptz, timestamptz, timestamptz[], double precision[]),
    tsmon.increase(text, timestamptz, timestamptz, interval),
    tsmon.rate(text, timestamptz, timestamptz, interval)
    TO tsmon_reader, tsmon_worker;
-- Detection: the worker maintains it; people and Grafana read the views.
GRANT SELECT ON tsmon.detection_configs TO tsmon_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON tsmon.detection_shards, tsmon.models, tsmon.drift_events,
    tsmon.detection_rescore TO tsmon_worker;
GRANT SELECT ON tsmon.detection_precision, tsmon.detection_status TO tsmon_reader, tsmon_worker;
GRANT EXECUTE ON FUNCTION tsmon.scoring_model(bigint, text, jsonb, text) TO tsmon_ingest, tsmon_worker;
-- Worker heartbeats: each worker writes its own row.
GRANT SELECT, INSERT, UPDATE, DELETE ON tsmon.worker_heartbeats TO tsmon_worker;
-- Window freshness (alerting, status panels).
GRANT EXECUTE ON FUNCTION tsmon.windows_freshness() TO tsmon_reader, tsmon_worker;
GRANT SELECT ON tsmon.windows_freshness TO tsmon_reader, tsmon_worker;
GRANT EXECUTE ON FUNCTION tsmon.window_avg(float8, bigint), tsmon.window_stddev(float8, float8, bigint)
    TO tsmon_reader, tsmon_worker, tsmon_ingest;
-- Worker: the windows it maintains and their bookkeeping. tsmon's own windows tables exist only
-- under that engine; continuous aggregates are owned by tsmon_worker instead (sql/46_windows_owner.sql),
-- because TimescaleDB lets only a continuous aggregate's owner refresh it.
GRANT SELECT ON tsmon.windows_engine, tsmon.ingest_limits TO tsmon_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON tsmon.window_watermarks, tsmon.window_invalidations TO tsmon_worker;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['_windows_1m', '_windows_1h', '_windows_1d'] LOOP
        IF to_regclass('tsmon.' || r) IS NOT NULL THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON tsmon.%I TO tsmon_worker', r);
        END IF;
    END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION tsmon.drop_expired_chunks(text, double precision) TO tsmon_worker;
