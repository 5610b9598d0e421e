-- Late data names its series: a sample written late re-scores the windows of that series only
-- (NULL: every series of every config, for a caller that does not say which). Filled by
-- tsmon.note_late_samples (sql/60_detection.sql), which the writer calls in the same transaction.
ALTER TABLE tsmon.detection_rescore ADD COLUMN series_id bigint;
