-- Analysis runs and their stored results (step 9). A run records what was asked (kind, parameters,
-- window, baseline, the anomaly event it explains) and a summary; each kind stores its rows in
-- its own results table. "What changed" (kind 'changes') stores its ranking here.
CREATE TABLE tsmon.analysis_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind ~ '^[a-z_]+$'),
    parameters      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(parameters) = 'object'),
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    baseline_start  timestamptz,
    baseline_end    timestamptz,
    -- A run for an anomaly event goes with it (events withdrawn by re-scoring take their runs).
    event_id        bigint      REFERENCES tsmon.anomalies (id) ON DELETE CASCADE,
    summary         jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(summary) = 'object'),
    created_by      text        NOT NULL DEFAULT current_user,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (window_end > window_start),
    CHECK (baseline_end IS NULL OR baseline_end <= window_start)
);
CREATE INDEX analysis_runs_event_idx ON tsmon.analysis_runs (event_id, created_at DESC) WHERE event_id IS NOT NULL;
CREATE INDEX analysis_runs_created_idx ON tsmon.analysis_runs (kind, created_at DESC);

CREATE TABLE tsmon.analysis_change_results (
    run_id            bigint           NOT NULL REFERENCES tsmon.analysis_runs (id) ON DELETE CASCADE,
    rank              integer          NOT NULL CHECK (rank >= 1),
    series_id         bigint           NOT NULL,
    method            text             NOT NULL CHECK (method IN ('volume', 'ks2')),
    kind              text             NOT NULL CHECK (kind IN ('gauge', 'counter')),
    score             double precision NOT NULL,  -- statistic with the co-anomaly boost
    statistic         double precision NOT NULL,  -- the method's own score
    p_value           double precision,           -- ks2 only
    window_points     integer          NOT NULL,
    window_mean       double precision,
    baseline_points   integer          NOT NULL,
    baseline_mean     double precision,
    baseline_stddev   double precision,
    co_anomaly_id     bigint,                     -- the series' earliest event overlapping the window
    co_anomaly_onset  timestamptz,
    co_anomaly_order  integer,                    -- 1: earliest onset (the candidate cause)
    PRIMARY KEY (run_id, rank)
);
CREATE INDEX analysis_change_results_series_idx ON tsmon.analysis_change_results (series_id);
