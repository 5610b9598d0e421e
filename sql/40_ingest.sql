-- The write path's two privileged steps, as SECURITY DEFINER functions so the ingest role needs
-- only INSERT on tsmon.samples and EXECUTE on these.

-- Whether this session may write outside tsmon.ingest_limits: only the schema owner (and
-- superusers) logged in as such and not switched to a lesser role (migrations, backfills, tests).
-- tsmon_api, tsmon_worker and any member login are held to the limits.
CREATE OR REPLACE FUNCTION tsmon.ingest_unrestricted()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_has_role(session_user, c.relowner, 'USAGE') AND pg_has_role(current_user, c.relowner, 'USAGE')
    FROM pg_class c WHERE c.oid = 'tsmon.samples'::regclass
$$;
COMMENT ON FUNCTION tsmon.ingest_unrestricted() IS
    'True for the owner of tsmon.samples (or a superuser) acting as itself; ingest logins are limited.';

-- Fires (by its WHEN clause, created by tsmon migrate from the limits) only for samples outside
-- the time window, so that a login with INSERT on tsmon.samples cannot go around the API's check.
CREATE OR REPLACE FUNCTION tsmon.refuse_sample_outside_window()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF tsmon.ingest_unrestricted() THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'sample of series % at % is outside the ingest time window', NEW.series_id, NEW.time
        USING ERRCODE = 'check_violation', HINT = 'see tsmon.ingest_limits';
END
$$;
COMMENT ON FUNCTION tsmon.refuse_sample_outside_window() IS
    'Trigger: refuses samples outside the ingest time window (tsmon.ingest_limits) from ingest logins.';

-- Ids for (metric, labels) pairs, creating missing series unless the cardinality guard refuses:
-- at most p_max_per_metric series per metric and p_max_total in all. Returns one row per input
-- position: the series id, or NULL and the refusal reason. Rows of tsmon.series_counts for the
-- metrics involved are locked, so concurrent writers cannot jointly overshoot a metric's limit.
-- Ingest logins get at most the limits of tsmon.ingest_limits, whatever they ask for.
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
    IF NOT tsmon.ingest_unrestricted() THEN
        SELECT least(p_max_per_metric, l.series_per_metric), least(p_max_total, l.series_total)
        INTO p_max_per_metric, p_max_total FROM tsmon.ingest_limits l;
    END IF;
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
-- Bit-exact comparison, so a staleness marker replacing a plain NaN is still written. Ingest
-- logins may not write outside the time window of tsmon.ingest_limits (the trigger does not see
-- this definer's inserts as theirs).
CREATE OR REPLACE FUNCTION tsmon.upsert_samples(p_time timestamptz[], p_series bigint[], p_value float8[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_outside timestamptz;
    v_written bigint;
BEGIN
    -- session_user: inside this definer current_user is the owner. The margin is the trigger's
    -- (tsmon.ingest.guard.MARGIN_SECONDS), so the API's located check answers first.
    IF NOT pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = 'tsmon.samples'::regclass),
                       'USAGE') THEN
        SELECT t INTO v_outside FROM unnest(p_time) AS t, tsmon.ingest_limits l
        WHERE t > now() + l.future + interval '300 seconds' OR t < now() - l.retention - interval '300 seconds'
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'sample at % is outside the ingest time window', v_outside
                USING ERRCODE = 'check_violation', HINT = 'see tsmon.ingest_limits';
        END IF;
    END IF;
    WITH written AS (
        INSERT INTO tsmon.samples AS s (time, series_id, value)
        SELECT * FROM unnest(p_time, p_series, p_value)
        ON CONFLICT (series_id, time) DO UPDATE SET value = EXCLUDED.value
        WHERE float8send(s.value) IS DISTINCT FROM float8send(EXCLUDED.value)
        RETURNING 1
    )
    SELECT count(*) INTO v_written FROM written;
    RETURN v_written;
END
$$;
COMMENT ON FUNCTION tsmon.upsert_samples(timestamptz[], bigint[], float8[]) IS
    'Insert samples, replacing the value of any (series_id, time) already stored; returns rows written.';
