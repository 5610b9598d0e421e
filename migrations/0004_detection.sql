-- Scheduled detection: what to score (configs), how far it is scored (shards with watermarks and
-- leases, so N workers split the work), the model registry, drift events, and event notifications.

CREATE TABLE tsmon.detection_configs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text        NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.:-]+$'),
    metric           text        NOT NULL,
    -- Prometheus-style label matchers: [{"label": "host", "op": "=~", "value": "web.*"}], op in = != =~ !~
    matchers         jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(matchers) = 'array'),
    resolution       text        NOT NULL DEFAULT '1m' CHECK (resolution IN ('1m', '1h')),
    detector         text        NOT NULL DEFAULT 'ensemble',
    params           jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    training_window  interval    NOT NULL DEFAULT '7 days',
    retrain_every    interval    NOT NULL DEFAULT '1 day',
    schedule         interval    NOT NULL DEFAULT '1 minute',
    sensitivity      double precision NOT NULL DEFAULT 0.99 CHECK (sensitivity > 0 AND sensitivity < 1),
    -- Raised by false-positive feedback; the threshold used is least(sensitivity + raise, 0.9999).
    threshold_raise  double precision NOT NULL DEFAULT 0 CHECK (threshold_raise >= 0),
    min_duration     interval    NOT NULL DEFAULT '0',
    critical_score   double precision NOT NULL DEFAULT 0.9999 CHECK (critical_score > 0 AND critical_score <= 1),
    alert_labels     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(alert_labels) = 'object'),
    shards           integer     NOT NULL DEFAULT 8 CHECK (shards BETWEEN 1 AND 1024),
    enabled          boolean     NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- One row per (config, shard): series belong to shard series_id % shards. A worker holds a
-- lease on a shard while it scores it; the watermark moves in the same transaction as the scores.
CREATE TABLE tsmon.detection_shards (
    config_id    bigint      NOT NULL REFERENCES tsmon.detection_configs (id) ON DELETE CASCADE,
    shard        integer     NOT NULL,
    watermark    timestamptz,               -- windows before it are scored; NULL: not started
    lease_owner  text,
    lease_until  timestamptz,
    scored_at    timestamptz,
    PRIMARY KEY (config_id, shard)
);

CREATE TABLE tsmon.models (
    config_id      bigint      NOT NULL REFERENCES tsmon.detection_configs (id) ON DELETE CASCADE,
    series_id      bigint      NOT NULL,
    version        integer     NOT NULL,
    detector       text        NOT NULL,
    params         jsonb       NOT NULL,
    state          jsonb       NOT NULL,    -- tsmon.detection.to_state(): plain JSON, never pickled
    train_start    timestamptz NOT NULL,
    train_end      timestamptz NOT NULL,
    train_points   integer     NOT NULL,
    data_checksum  text        NOT NULL,
    quality        jsonb       NOT NULL DEFAULT '{}',
    reason         text        NOT NULL CHECK (reason IN ('initial', 'schedule', 'drift', 'feedback', 'config')),
    trained_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (config_id, series_id, version)
);

CREATE TABLE tsmon.drift_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    config_id      bigint      NOT NULL REFERENCES tsmon.detection_configs (id) ON DELETE CASCADE,
    series_id      bigint      NOT NULL,
    model_version  integer     NOT NULL,
    detected_at    timestamptz NOT NULL DEFAULT now(),
    ks_statistic   double precision NOT NULL,
    ks_p_value     double precision NOT NULL,
    psi            double precision NOT NULL,
    retrained      boolean     NOT NULL DEFAULT false
);

CREATE INDEX anomalies_config_series_open_idx ON tsmon.anomalies (config_id, series_id) WHERE status = 'open';

-- Events out: NOTIFY tsmon_anomaly with a JSON payload when an event opens or closes, at commit.
CREATE FUNCTION tsmon.anomalies_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    payload jsonb := jsonb_build_object(
        'anomaly_id', NEW.id, 'series_id', NEW.series_id, 'config_id', NEW.config_id, 'severity', NEW.severity,
        'started_at', NEW.started_at, 'ended_at', NEW.ended_at, 'peak_score', NEW.peak_score);
BEGIN
    -- An event that opens and closes within one scoring run still announces both.
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('tsmon_anomaly', (payload || '{"event": "open"}')::text);
    END IF;
    IF NEW.status = 'closed' AND (TG_OP = 'INSERT' OR OLD.status = 'open') THEN
        PERFORM pg_notify('tsmon_anomaly', (payload || '{"event": "close"}')::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER anomalies_notify AFTER INSERT OR UPDATE ON tsmon.anomalies
    FOR EACH ROW EXECUTE FUNCTION tsmon.anomalies_notify();
