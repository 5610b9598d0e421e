-- Called by the writer in every sample-writing transaction, after its COPY: records the time
-- range when it reaches below the 1m watermark of tsmon-maintained windows (late data), so the
-- refresh job recomputes those buckets. A no-op where continuous aggregates track this themselves.
-- The shared advisory lock pairs with the refresh job's exclusive one: either the refresh sees
-- this transaction's samples, or this transaction sees the refresh's new watermark.
CREATE OR REPLACE FUNCTION tsmon.note_samples_written(p_lo timestamptz, p_hi timestamptz)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_watermark timestamptz;
BEGIN
    -- Detection's late data is logged per series by tsmon.note_late_samples (sql/60_detection.sql).
    SELECT watermark INTO v_watermark FROM tsmon.window_watermarks WHERE resolution = '1m';
    IF v_watermark IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(7631001);
    SELECT watermark INTO v_watermark FROM tsmon.window_watermarks WHERE resolution = '1m';
    IF p_lo < v_watermark THEN
        INSERT INTO tsmon.window_invalidations (lo, hi) VALUES (p_lo, least(p_hi, v_watermark));
    END IF;
END
$$;
COMMENT ON FUNCTION tsmon.note_samples_written(timestamptz, timestamptz) IS
    'Tell tsmon-maintained windows that samples between the two times were written (late data '
    'below the watermark gets its buckets recomputed). Call it in the transaction that wrote them.';

