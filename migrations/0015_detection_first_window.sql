-- Where a shard's first run starts, fixed when the shard is created (first claimed): a worker
-- killed during that run leaves it for the next, which starts at the same window, so the first
-- models, scores and events are those of an uninterrupted run however late the rerun comes.
ALTER TABLE tsmon.detection_shards ADD COLUMN first_window timestamptz;
COMMENT ON COLUMN tsmon.detection_shards.first_window IS
    'First window the shard scores (set when the shard is created; used while watermark is NULL).';
