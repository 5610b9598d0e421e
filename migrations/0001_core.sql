-- Core storage: series catalogue, raw samples hypertable, anomaly scores and events.
-- Append-only: never edit this file once released; add 0002_... instead.

CREATE TABLE tsmon.series (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    metric      text        NOT NULL CHECK (metric <> ''),
    labels      jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(labels) = 'object'),
    first_seen  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT series_metric_labels_key UNIQUE (metric, labels)
);
CREATE INDEX series_labels_idx ON tsmon.series USING gin (labels jsonb_path_ops);

-- Narrow layout (one hypertable for every metric): per-metric tables hurt Promscale at scale.
-- No foreign key to tsmon.series: a per-row FK check would halve COPY throughput; ingest
-- resolves series ids before writing samples.
CREATE TABLE tsmon.samples (
    time       timestamptz      NOT NULL,
    series_id  bigint           NOT NULL,
    value      double precision NOT NULL
);
-- 1-day chunks: 1,000 series at 10 s is ~8.6M rows/day (~1 GB with indexes), well inside the
-- "a chunk and its indexes fit in 25% of memory" rule on small machines. Change it for a live
-- database with SELECT set_chunk_time_interval('tsmon.samples', INTERVAL '...').
SELECT create_hypertable('tsmon.samples', by_range('time', INTERVAL '1 day'));
CREATE UNIQUE INDEX samples_series_id_time_idx ON tsmon.samples (series_id, time DESC);

CREATE TABLE tsmon.anomaly_scores (
    time           timestamptz      NOT NULL,
    series_id      bigint           NOT NULL,
    config_id      bigint           NOT NULL,
    detector       text             NOT NULL,
    model_version  integer          NOT NULL,
    score          double precision NOT NULL CHECK (score >= 0 AND score <= 1),
    expected       double precision,
    lower          double precision,
    upper          double precision,
    is_anomaly     boolean          NOT NULL DEFAULT false
);
SELECT create_hypertable('tsmon.anomaly_scores', by_range('time', INTERVAL '7 days'));
CREATE UNIQUE INDEX anomaly_scores_key_idx ON tsmon.anomaly_scores (series_id, config_id, time DESC);

CREATE TABLE tsmon.anomalies (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    series_id      bigint           NOT NULL REFERENCES tsmon.series (id),
    config_id      bigint           NOT NULL,
    detector       text             NOT NULL,
    model_version  integer          NOT NULL,
    started_at     timestamptz      NOT NULL,
    ended_at       timestamptz,
    peak_score     double precision NOT NULL CHECK (peak_score >= 0 AND peak_score <= 1),
    peak_at        timestamptz      NOT NULL,
    severity       text             NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    status         text             NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    feedback       text             CHECK (feedback IN ('true_positive', 'false_positive', 'ignored')),
    feedback_note  text,
    feedback_at    timestamptz,
    created_at     timestamptz      NOT NULL DEFAULT now(),
    updated_at     timestamptz      NOT NULL DEFAULT now(),
    CHECK ((status = 'open') = (ended_at IS NULL)),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX anomalies_series_started_idx ON tsmon.anomalies (series_id, started_at DESC);
CREATE INDEX anomalies_open_idx ON tsmon.anomalies (started_at) WHERE status = 'open';
