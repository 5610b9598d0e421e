-- Least privilege: nothing for PUBLIC; ingest writes samples and series; the worker reads
-- everything and writes detection output; the reader (Grafana) sees only the public views.
REVOKE ALL ON SCHEMA tsmon FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA tsmon FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA tsmon FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA tsmon FROM PUBLIC;

GRANT USAGE ON SCHEMA tsmon TO tsmon_ingest, tsmon_worker, tsmon_reader;

-- Ingest: resolve/create series, append samples (UPDATE for "newest value wins" on re-sends).
GRANT SELECT, INSERT ON tsmon.series TO tsmon_ingest;
GRANT SELECT, INSERT, UPDATE ON tsmon.samples TO tsmon_ingest;

-- Worker: read data, write detection output.
GRANT SELECT ON tsmon.series, tsmon.samples TO tsmon_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON tsmon.anomaly_scores, tsmon.anomalies TO tsmon_worker;

-- Reader: the public views and functions only.
GRANT SELECT ON tsmon.metric_series, tsmon.metric_samples, tsmon.metric_anomaly_scores,
                tsmon.metric_anomalies TO tsmon_reader, tsmon_worker;
GRANT EXECUTE ON FUNCTION tsmon.capabilities() TO tsmon_ingest, tsmon_worker, tsmon_reader;
