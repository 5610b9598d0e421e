-- Late data: time ranges written behind the scoring watermarks, so the job re-scores those windows
-- and updates their events. Filled by tsmon.note_samples_written (the writer), read by every shard.
CREATE TABLE tsmon.detection_rescore (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lo        timestamptz NOT NULL,
    hi        timestamptz NOT NULL,
    noted_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (lo < hi)
);
CREATE INDEX detection_rescore_noted_idx ON tsmon.detection_rescore (noted_at);

-- How far each shard has consumed tsmon.detection_rescore (by noted_at).
ALTER TABLE tsmon.detection_shards ADD COLUMN rescore_mark timestamptz;
