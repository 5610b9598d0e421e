-- The public, documented read interface. People and Grafana (role tsmon_reader) query these
-- views; the tables behind them may change, these names and columns stay.

CREATE OR REPLACE VIEW tsmon.metric_series AS
SELECT s.id AS series_id, s.metric, s.labels, s.first_seen
FROM tsmon.series s;
COMMENT ON VIEW tsmon.metric_series IS
    'One row per series: a metric name plus its label set (jsonb object of strings). '
    'Filter labels with labels @> ''{"host": "web1"}''.';

-- Staleness markers (a NaN with bits 0x7ff0000000000002, sent by Prometheus when a series
-- disappears) are stored bit-exact but are not values: they are left out here. The cheap
-- "value <> 'NaN'" test runs first so float8send only sees NaNs.
CREATE OR REPLACE VIEW tsmon.metric_samples AS
SELECT x.time, s.metric, s.labels, x.value, x.series_id
FROM tsmon.samples x
JOIN tsmon.series s ON s.id = x.series_id
WHERE x.value <> 'NaN'::float8 OR float8send(x.value) <> '\x7ff0000000000002'::bytea;
COMMENT ON VIEW tsmon.metric_samples IS
    'Raw samples with their metric name and labels: time, metric, labels, value, series_id. '
    'Prometheus staleness markers are excluded. For long ranges prefer the 1m/1h/1d windows.';

CREATE OR REPLACE VIEW tsmon.metric_anomaly_scores AS
SELECT a.time, s.metric, s.labels, a.score, a.expected, a.lower, a.upper, a.is_anomaly,
       a.detector, a.model_version, a.config_id, a.series_id
FROM tsmon.anomaly_scores a
JOIN tsmon.series s ON s.id = a.series_id;
COMMENT ON VIEW tsmon.metric_anomaly_scores IS
    'Per-point detector output: score in [0, 1], expected value and the lower/upper band, '
    'whether the point is anomalous, and the detector and model version that scored it.';

CREATE OR REPLACE VIEW tsmon.metric_anomalies AS
SELECT a.id AS anomaly_id, s.metric, s.labels, a.started_at, a.ended_at,
       coalesce(a.ended_at, now()) - a.started_at AS duration,
       a.peak_score, a.peak_at, a.severity, a.status, a.feedback, a.feedback_note,
       a.detector, a.model_version, a.config_id, a.series_id
FROM tsmon.anomalies a
JOIN tsmon.series s ON s.id = a.series_id;
COMMENT ON VIEW tsmon.metric_anomalies IS
    'Anomaly events: open (ended_at NULL) or closed, with peak score, severity and user feedback '
    '(true_positive, false_positive, ignored).';
