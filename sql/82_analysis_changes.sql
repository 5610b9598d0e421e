-- What changed (step 9): rank series by how much they changed in a window against the baseline four
-- times as long just before it, from 1m windows in one scan. The definitions (volume score, counters,
-- skips, co-anomaly boost) are tsmon.stats.changes's; tests check this SQL against it on raw samples.
-- Runs and results: tsmon.analysis_runs / tsmon.analysis_change_results (migration 0013).

-- The real-time part of tsmon-maintained windows calls window_watermark() (migration 0003), which only
-- reads tsmon.window_watermarks: parallel safe. Declared so, a scan of the 1m windows (here, in
-- dashboards) may run in parallel workers; left at the default (unsafe), every query over the windows
-- ran in one process.
ALTER FUNCTION tsmon.window_watermark(text) PARALLEL SAFE;

-- The volume ranking. Per series and per minute the value is the 1m average (a gauge) or the 1m
-- reset-aware increase (a counter: at least half of its minutes hold two or more samples and at most
-- max(2, 2 %) of those hold a drop, and it increased at all). Sparse series (fewer minutes with data
-- than p_min_window in the window or p_min_baseline in the baseline) and constant ones (one value
-- throughout) are counted, not ranked. statistic = |window mean - baseline mean| / spread, spread =
-- the baseline's sample standard deviation of the per-minute values, floored at 1e-6 of the larger
-- mean; 'greater' / 'less' score only rises / falls. Co-anomaly: a ranked series whose own anomaly
-- event overlaps the window has its score doubled, the one whose event began first (the candidate
-- cause) tripled. avg/stddev_samp, not sums of squares: their accumulation stays exact for large
-- values with small spreads (byte counters), where sum(x^2) - sum(x)^2/n cancels.
CREATE OR REPLACE FUNCTION tsmon.changes(
    p_start timestamptz, p_end timestamptz, p_metric text DEFAULT NULL, p_labels jsonb DEFAULT NULL,
    p_limit integer DEFAULT 10, p_min_window integer DEFAULT 3, p_min_baseline integer DEFAULT 12,
    p_alternative text DEFAULT 'two-sided'
)
RETURNS TABLE (rank integer, series_id bigint, metric text, labels jsonb, kind text, score double precision,
               statistic double precision, window_points integer, window_mean double precision,
               baseline_points integer, baseline_mean double precision, baseline_stddev double precision,
               co_anomaly_id bigint, co_anomaly_onset timestamptz, co_anomaly_order integer,
               ranked bigint, skipped_constant bigint, skipped_sparse bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER  -- the same data the metric_1m view gives tsmon_reader
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ids bigint[];
    source text := 'tsmon.samples_1m';
BEGIN
    IF p_metric IS NOT NULL OR p_labels IS NOT NULL THEN
        ids := ARRAY(SELECT s.id FROM tsmon.series s
                     WHERE (p_metric IS NULL OR s.metric = p_metric) AND (p_labels IS NULL OR s.labels @> p_labels));
    END IF;
    -- tsmon-maintained windows: the materialised table below the watermark (a constant here, so the
    -- scan is a plain, parallel one; the union view compares every row with window_watermark()) and
    -- the real-time part above it. Continuous aggregates: their own view.
    IF (SELECT e.engine FROM tsmon.windows_engine e) = 'tsmon' THEN
        source := format('(SELECT bucket, series_id, count, sum, sum_sq, min, max, first, last, increase '
                         'FROM tsmon._windows_1m WHERE bucket < %L UNION ALL SELECT bucket, series_id, count, '
                         'sum, sum_sq, min, max, first, last, increase FROM tsmon._windows_1m_real_time)',
                         tsmon.window_watermark('1m'));
    END IF;
    RETURN QUERY EXECUTE format($q$
    WITH w AS (
        SELECT x.series_id, x.bucket >= $1 AS inw, tsmon.window_avg(x.sum, x.count) AS g,
               x.increase AS c, x.count >= 2 AS multi,
               x.count >= 2 AND x.increase > x.last - x.first + 1e-9 * (abs(x.last) + abs(x.first)) AS dropped
        FROM %s x
        WHERE x.bucket >= $1 - 4 * ($2 - $1) AND x.bucket < $2 AND ($3 IS NULL OR x.series_id = ANY($3))
          AND x.count > 0 AND x.sum IS NOT NULL
    ),
    a AS (
        SELECT w.series_id,
               count(*) FILTER (WHERE w.multi) * 2 >= count(*)
                   AND count(*) FILTER (WHERE w.dropped) <= greatest(2, 0.02 * count(*) FILTER (WHERE w.multi))
                   AND max(w.c) > 0 AS counter,
               count(*) FILTER (WHERE w.inw) AS nw, count(*) FILTER (WHERE NOT w.inw) AS nb,
               avg(w.g) FILTER (WHERE w.inw) AS gw, avg(w.g) FILTER (WHERE NOT w.inw) AS gb,
               stddev_samp(w.g) FILTER (WHERE NOT w.inw) AS gsd, min(w.g) AS glo, max(w.g) AS ghi,
               avg(w.c) FILTER (WHERE w.inw) AS cw, avg(w.c) FILTER (WHERE NOT w.inw) AS cb,
               stddev_samp(w.c) FILTER (WHERE NOT w.inw) AS csd, min(w.c) AS clo, max(w.c) AS chi
        FROM w GROUP BY w.series_id
    ),
    v AS MATERIALIZED (
        SELECT a.series_id, a.counter, a.nw, a.nb,
               CASE WHEN a.counter THEN a.cw ELSE a.gw END AS wm,
               CASE WHEN a.counter THEN a.cb ELSE a.gb END AS bm,
               CASE WHEN a.counter THEN a.csd ELSE a.gsd END AS sd,
               CASE WHEN a.nw < $4 OR a.nb < $5 THEN 'sparse'
                    WHEN (a.counter AND a.clo = a.chi) OR (NOT a.counter AND a.glo = a.ghi) THEN 'constant'
               END AS skip
        FROM a
    ),
    counts AS MATERIALIZED (
        SELECT count(*) FILTER (WHERE v.skip IS NULL) AS ranked,
               count(*) FILTER (WHERE v.skip = 'constant') AS constant,
               count(*) FILTER (WHERE v.skip = 'sparse') AS sparse
        FROM v
    ),
    scored AS MATERIALIZED (
        SELECT v.*, CASE $6
                        WHEN 'greater' THEN greatest(v.wm - v.bm, 0)
                        WHEN 'less' THEN greatest(v.bm - v.wm, 0)
                        ELSE abs(v.wm - v.bm) END
                    / greatest(coalesce(v.sd, 0), 1e-6 * greatest(abs(v.bm), abs(v.wm)), 1e-300) AS stat
        FROM v WHERE v.skip IS NULL
    ),
    -- Each ranked series' earliest anomaly event overlapping the window, ordered by onset.
    ev AS MATERIALIZED (
        SELECT e.series_id, e.id, e.started_at,
               row_number() OVER (ORDER BY e.started_at, e.id)::integer AS ord
        FROM (
            SELECT DISTINCT ON (an.series_id) an.series_id, an.id, an.started_at
            FROM tsmon.anomalies an JOIN scored ON scored.series_id = an.series_id
            WHERE an.started_at < $2 AND coalesce(an.ended_at, 'infinity') > $1
            ORDER BY an.series_id, an.started_at, an.id
        ) e
    ),
    boosted AS (
        SELECT scored.*, ev.id AS ev_id, ev.started_at AS ev_onset, ev.ord,
               scored.stat * CASE WHEN ev.ord = 1 THEN 3.0 WHEN ev.ord IS NOT NULL THEN 2.0 ELSE 1.0 END AS score
        FROM scored LEFT JOIN ev ON ev.series_id = scored.series_id
    ),
    top AS MATERIALIZED (
        SELECT b.*, (row_number() OVER (ORDER BY b.score DESC, b.series_id))::integer AS rnk
        FROM boosted b ORDER BY b.score DESC, b.series_id LIMIT $7
    )
    SELECT t.rnk, t.series_id, s.metric, s.labels, CASE WHEN t.counter THEN 'counter' ELSE 'gauge' END,
           t.score::float8, t.stat::float8, t.nw::integer, t.wm, t.nb::integer, t.bm, t.sd, t.ev_id, t.ev_onset,
           t.ord, counts.ranked, counts.constant, counts.sparse
    FROM top t JOIN tsmon.series s ON s.id = t.series_id CROSS JOIN counts
    ORDER BY t.rnk
    $q$, source)
    USING p_start, p_end, ids, p_min_window, p_min_baseline, p_alternative, p_limit;
END
$fn$;
COMMENT ON FUNCTION tsmon.changes(timestamptz, timestamptz, text, jsonb, integer, integer, integer, text) IS
    'What changed between p_start and p_end: series (all, or of p_metric / containing p_labels) ranked by '
    'the volume score of their 1m values against the baseline four times as long just before p_start '
    '(statistic = |mean shift| / baseline standard deviation; counters on their per-minute increases), '
    'boosted x2 for a co-anomaly (own event overlapping the window) and x3 for the earliest one; '
    'sparse and constant series are counted (skipped_sparse, skipped_constant), not ranked.';

-- The series a selection names (unknown metric or labels: 0), for callers that cannot read tsmon.series.
CREATE OR REPLACE FUNCTION tsmon.analysis_selected_series(p_metric text, p_labels jsonb)
RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*) FROM tsmon.series s
    WHERE (p_metric IS NULL OR s.metric = p_metric) AND (p_labels IS NULL OR s.labels @> p_labels)
$$;
COMMENT ON FUNCTION tsmon.analysis_selected_series(text, jsonb) IS
    'How many series have metric p_metric (NULL: any) and labels containing p_labels (NULL: any).';

-- One anomaly event's bounds, for an analysis of it (the API's role reads no tables).
CREATE OR REPLACE FUNCTION tsmon.analysis_event(p_event_id bigint)
RETURNS TABLE (event_id bigint, series_id bigint, metric text, started_at timestamptz, ended_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.id, a.series_id, s.metric, a.started_at, a.ended_at
    FROM tsmon.anomalies a JOIN tsmon.series s ON s.id = a.series_id WHERE a.id = p_event_id
$$;
COMMENT ON FUNCTION tsmon.analysis_event(bigint) IS
    'An anomaly event''s id, series, metric, start and end (NULL: open), for analyses of it.';

-- Store a run and its results (rows as a jsonb array of objects named like the results table's
-- columns): the one way the API's role writes runs, so it needs no table privilege.
CREATE OR REPLACE FUNCTION tsmon.record_changes_run(
    p_parameters jsonb, p_window_start timestamptz, p_window_end timestamptz, p_baseline_start timestamptz,
    p_event_id bigint, p_summary jsonb, p_results jsonb
)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run bigint;
BEGIN
    INSERT INTO tsmon.analysis_runs (kind, parameters, window_start, window_end, baseline_start, baseline_end,
                                     event_id, summary, created_by)
    VALUES ('changes', p_parameters, p_window_start, p_window_end, p_baseline_start, p_window_start,
            p_event_id, p_summary, session_user)
    RETURNING id INTO run;
    INSERT INTO tsmon.analysis_change_results
    SELECT run, r.rank, r.series_id, r.method, r.kind, r.score, r.statistic, r.p_value, r.window_points,
           r.window_mean, r.baseline_points, r.baseline_mean, r.baseline_stddev, r.co_anomaly_id,
           r.co_anomaly_onset, r.co_anomaly_order
    FROM jsonb_populate_recordset(NULL::tsmon.analysis_change_results, p_results) r;
    RETURN run;
END
$$;
COMMENT ON FUNCTION tsmon.record_changes_run(jsonb, timestamptz, timestamptz, timestamptz, bigint, jsonb, jsonb) IS
    'Store a "what changed" run (window, baseline = the 4x longer range before it, optional event) and '
    'its ranked results; returns the run id.';

CREATE OR REPLACE VIEW tsmon.analysis_changes AS
SELECT r.run_id, r.rank, r.series_id, s.metric, s.labels, r.score, r.method, r.kind, r.statistic, r.p_value,
       r.window_points, r.window_mean, r.baseline_points, r.baseline_mean, r.baseline_stddev,
       r.co_anomaly_id, r.co_anomaly_onset, r.co_anomaly_order,
       u.window_start, u.window_end, u.baseline_start, u.event_id, u.created_at
FROM tsmon.analysis_change_results r
JOIN tsmon.analysis_runs u ON u.id = r.run_id
JOIN tsmon.series s ON s.id = r.series_id;
COMMENT ON VIEW tsmon.analysis_changes IS
    'Stored "what changed" results: per run (window, baseline, event) the ranked series with score '
    '(statistic with the co-anomaly boost), method (volume, ks2), kind (gauge, counter), window and '
    'baseline means, and the co-anomaly (the series'' earliest event overlapping the window, its order by onset).';

CREATE OR REPLACE VIEW tsmon.anomaly_changes AS
SELECT c.event_id AS anomaly_id, c.run_id, c.rank, c.series_id, c.metric, c.labels, c.score, c.method,
       c.kind, c.window_mean, c.baseline_mean, c.co_anomaly_order, c.window_start, c.window_end, c.created_at
FROM tsmon.analysis_changes c
WHERE c.event_id IS NOT NULL
  AND c.run_id = (SELECT max(u.id) FROM tsmon.analysis_runs u WHERE u.event_id = c.event_id AND u.kind = 'changes');
COMMENT ON VIEW tsmon.anomaly_changes IS
    'What changed with each anomaly event: the latest "what changed" run linked to the event (the worker '
    'attaches one to every new event), its ranked series with metric and labels.';

-- Grants. Reader (Grafana, people): the views and the ranking. Worker: runs and results. The API's login
-- (tsmon_api) stores runs only through record_changes_run and reads the 1m windows (KS2 values);
-- tsmon_ingest, which only writes samples, gets none of it.
REVOKE ALL ON tsmon.analysis_runs, tsmon.analysis_change_results, tsmon.analysis_changes,
    tsmon.anomaly_changes FROM PUBLIC;
REVOKE ALL ON FUNCTION tsmon.changes(timestamptz, timestamptz, text, jsonb, integer, integer, integer, text),
    tsmon.analysis_selected_series(text, jsonb), tsmon.analysis_event(bigint),
    tsmon.record_changes_run(jsonb, timestamptz, timestamptz, timestamptz, bigint, jsonb, jsonb) FROM PUBLIC;
GRANT SELECT ON tsmon.analysis_changes, tsmon.anomaly_changes TO tsmon_reader, tsmon_worker;
GRANT SELECT, INSERT ON tsmon.analysis_runs, tsmon.analysis_change_results TO tsmon_worker;
GRANT EXECUTE ON FUNCTION
    tsmon.changes(timestamptz, timestamptz, text, jsonb, integer, integer, integer, text),
    tsmon.analysis_selected_series(text, jsonb), tsmon.analysis_event(bigint)
    TO tsmon_reader, tsmon_worker, tsmon_api;
GRANT EXECUTE ON FUNCTION
    tsmon.record_changes_run(jsonb, timestamptz, timestamptz, timestamptz, bigint, jsonb, jsonb)
    TO tsmon_worker, tsmon_api;
GRANT SELECT ON tsmon.samples_1m TO tsmon_api;
GRANT EXECUTE ON FUNCTION tsmon.window_watermark(text), tsmon.window_avg(float8, bigint),
    tsmon.counter_increase_agg(timestamptz, float8) TO tsmon_api;
