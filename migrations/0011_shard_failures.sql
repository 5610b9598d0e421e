-- A shard whose scoring fails (a config the database accepted but the detector cannot run, data
-- that breaks a model) backs off alone: the other shards go on, and it is retried after a delay
-- that doubles with each consecutive failure (30 s up to 30 min). Success clears it.
ALTER TABLE tsmon.detection_shards
    ADD COLUMN failures integer NOT NULL DEFAULT 0,
    ADD COLUMN retry_after timestamptz,
    ADD COLUMN last_error text;
