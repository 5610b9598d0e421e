-- The ingest limits the database itself enforces on tsmon's ingest logins (one row, written by
-- every `tsmon migrate` from its TSMON_LIMIT_* settings): resolve_series creates no more series
-- than these, whatever its caller asks, and samples outside the time window are refused.
CREATE TABLE tsmon.ingest_limits (
    singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    series_per_metric  bigint NOT NULL CHECK (series_per_metric > 0),
    series_total       bigint NOT NULL CHECK (series_total > 0),
    future             interval NOT NULL,
    retention          interval NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tsmon.ingest_limits (series_per_metric, series_total, future, retention)
VALUES (100000, 2000000, interval '600 seconds', interval '30 days');
COMMENT ON TABLE tsmon.ingest_limits IS
    'Cardinality and time-window limits enforced in the database on ingest logins (written by tsmon migrate).';
