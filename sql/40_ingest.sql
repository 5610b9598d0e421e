-- The write path's two privileged steps, as SECURITY DEFINER functions so the ingest role needs
-- only INSERT on tsmon.samples and EXECUTE on these.

-- Ids for (metric, labels) pairs, creating missing series unless the cardinality guard refuses:
-- at most p_max_per_metric series per metric and p_max_total in all. Returns one row per input
-- position: the series id, or NULL and the refusal reason. Rows of tsmon.series_counts for the
-- metrics involved are locked, so concurrent writers cannot jointly overshoot a metric's limit.
CREATE OR REPLACE FUNCTION tsmon.resolve_series(
    p_metrics text[], p_labels text[], p_max_per_metric bigint, p_max_total bigint
)
RETURNS TABLE (idx bigint, series_id bigint, created boolean, refused text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_total bigint;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS tsmon_resolve (i bigint, m text, l jsonb, id bigint, created boolean NOT NULL DEFAULT false, refused text)
        ON COMMIT DROP;
    TRUNCATE pg_temp.tsmon_resolve;
    INSERT INTO pg_temp.tsmon_resolve (i, m, l, id)
    SELECT u.i, u.m, u.l::jsonb, s.id
    FROM unnest(p_metrics, p_labels) WITH ORDINALITY AS u(m, l, i)
    LEFT JOIN tsmon.series s ON s.metric = u.m AND s.labels = u.l::jsonb;

    IF EXISTS (SELECT 1 FROM pg_temp.tsmon_resolve WHERE id IS NULL) THEN
        -- Sorted, so that concurrent callers lock rows in the same order and never deadlock.
        INSERT INTO tsmon.series_counts (metric, n)
        SELECT DISTINCT m, 0 FROM pg_temp.tsmon_resolve WHERE id IS NULL ORDER BY m
        ON CONFLICT (metric) DO NOTHING;
        PERFORM 1 FROM tsmon.series_counts c
        WHERE c.metric IN (SELECT m FROM pg_temp.tsmon_resolve WHERE id IS NULL)
        ORDER BY c.metric FOR UPDATE;
        SELECT coalesce(sum(n), 0) INTO v_total FROM tsmon.series_counts;

        WITH new AS (
            SELECT r.m, r.l,
                   c.n + row_number() OVER (PARTITION BY r.m ORDER BY r.i) AS n_metric,
                   v_total + row_number() OVER (ORDER BY r.i) AS n_total
            FROM (SELECT DISTINCT ON (m, l) i, m, l FROM pg_temp.tsmon_resolve
                  WHERE id IS NULL ORDER BY m, l, i) r
            JOIN tsmon.series_counts c ON c.metric = r.m
        )
        UPDATE pg_temp.tsmon_resolve t SET refused = CASE
            WHEN new.n_metric > p_max_per_metric THEN 'series_limit_metric'
            WHEN new.n_total > p_max_total THEN 'series_limit_total' END
        FROM new WHERE t.m = new.m AND t.l = new.l;

        WITH ins AS (
            INSERT INTO tsmon.series (metric, labels)
            SELECT DISTINCT m, l FROM pg_temp.tsmon_resolve WHERE id IS NULL AND refused IS NULL ORDER BY m, l
            ON CONFLICT ON CONSTRAINT series_metric_labels_key DO NOTHING
            RETURNING id, metric, labels
        )
        UPDATE pg_temp.tsmon_resolve t SET id = ins.id, created = true
        FROM ins WHERE ins.metric = t.m AND ins.labels = t.l;
        -- Series another writer created meanwhile (our insert skipped them).

        UPDATE pg_temp.tsmon_resolve t SET id = s.id
        FROM tsmon.series s
        WHERE t.id IS NULL AND t.refused IS NULL AND s.metric = t.m AND s.labels = t.l;
    END IF;
    RETURN QUERY SELECT t.i, t.id, t.created, t.refused FROM pg_temp.tsmon_resolve t ORDER BY t.i;
END
$$;
COMMENT ON FUNCTION tsmon.resolve_series(text[], text[], bigint, bigint) IS
    'Series ids for parallel arrays of metric names and canonical label JSON; creates missing series '
    'within the cardinality limits (created = true), else returns NULL and the reason '
    '(series_limit_metric or series_limit_total).';

-- Merge samples that overlap stored ones (re-sends): the newest value replaces the stored one.
-- Bit-exact comparison, so a staleness marker replacing a plain NaN is still written.
CREATE OR REPLACE FUNCTION tsmon.upsert_samples(p_time timestamptz[], p_series bigint[], p_value float8[])
RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH written AS (
        INSERT INTO tsmon.samples AS s (time, series_id, value)
        SELECT * FROM unnest(p_time, p_series, p_value)
        ON CONFLICT (series_id, time) DO UPDATE SET value = EXCLUDED.value
        WHERE float8send(s.value) IS DISTINCT FROM float8send(EXCLUDED.value)
        RETURNING 1
    )
    SELECT count(*) FROM written
$$;
COMMENT ON FUNCTION tsmon.upsert_samples(timestamptz[], bigint[], float8[]) IS
    'Insert samples, replacing the value of any (series_id, time) already stored; returns rows written.';
