-- Prometheus counter semantics at query time: counters are stored raw (cumulative) and
-- rate()/increase() are computed here, following Prometheus's extrapolatedRate
-- (promql/functions.go, including the 2024 fix prometheus/prometheus#13725 that applies the
-- zero-point limit after the half-interval rule):
--   * the window is left-open, (window_start, window_end], as range selectors in Prometheus 3;
--   * NaN values (which include staleness markers) and NULLs are ignored;
--   * fewer than 2 samples in the window -> NULL;
--   * every drop (value < previous value) is a counter reset: the previous value is added back;
--   * the result is extrapolated to each window edge when the first/last sample is within
--     1.1x the average sample interval of it, else by half an average interval, and a counter
--     is never extrapolated below zero on the left.
-- Grants (EXECUTE for tsmon_reader, tsmon_worker) live in 90_grants.sql.

CREATE OR REPLACE FUNCTION tsmon.counter_increase(
    window_start timestamptz,
    window_end   timestamptz,
    times        timestamptz[],
    vals         double precision[]
)
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
DECLARE
    n_in       integer := pg_catalog.cardinality(times);
    lo_t       integer := pg_catalog.array_lower(times, 1);
    lo_v       integer := pg_catalog.array_lower(vals, 1);
    t          timestamptz;
    v          double precision;
    prev_t     timestamptz;              -- previous non-NULL time, for the order check
    n          integer := 0;             -- samples used
    first_t    timestamptz;
    first_v    double precision;
    last_t     timestamptz;
    last_v     double precision;
    resets     double precision := 0;    -- sum of the values just before each reset
    delta      double precision;
    sampled    double precision;         -- seconds from first to last sample used
    avg_gap    double precision;
    threshold  double precision;
    to_start   double precision;
    to_end     double precision;
    to_zero    double precision;
BEGIN
    IF pg_catalog.array_ndims(times) > 1 OR pg_catalog.array_ndims(vals) > 1 THEN
        RAISE EXCEPTION 'tsmon.counter_increase: times and vals must be one-dimensional arrays'
            USING ERRCODE = 'array_subscript_error';
    END IF;
    IF n_in <> pg_catalog.cardinality(vals) THEN
        RAISE EXCEPTION 'tsmon.counter_increase: times and vals differ in length (% and %)',
            n_in, pg_catalog.cardinality(vals)
            USING ERRCODE = 'array_subscript_error';
    END IF;

    FOR i IN 0 .. n_in - 1 LOOP
        t := times[lo_t + i];
        v := vals[lo_v + i];
        CONTINUE WHEN t IS NULL;
        IF t <= prev_t THEN
            RAISE EXCEPTION 'tsmon.counter_increase: times must be strictly ascending (% after %)', t, prev_t
                USING ERRCODE = 'data_exception',
                      HINT = 'aggregate with array_agg(time ORDER BY time), array_agg(value ORDER BY time)';
        END IF;
        prev_t := t;
        -- In PostgreSQL NaN = NaN, so this drops every NaN, staleness markers included.
        CONTINUE WHEN v IS NULL OR v = 'NaN'::double precision
                   OR t <= window_start OR t > window_end;
        IF n = 0 THEN
            first_t := t;
            first_v := v;
        ELSIF v < last_v THEN
            resets := resets + last_v;
        END IF;
        last_t := t;
        last_v := v;
        n := n + 1;
    END LOOP;

    IF n < 2 THEN
        RETURN NULL;
    END IF;

    delta := (last_v - first_v) + resets;
    -- extract(epoch ...) is numeric and exact to the microsecond; the differences are seconds.
    sampled  := (EXTRACT(epoch FROM last_t) - EXTRACT(epoch FROM first_t))::double precision;
    to_start := (EXTRACT(epoch FROM first_t) - EXTRACT(epoch FROM window_start))::double precision;
    to_end   := (EXTRACT(epoch FROM window_end) - EXTRACT(epoch FROM last_t))::double precision;
    avg_gap  := sampled / (n - 1);
    threshold := avg_gap * 1.1;

    -- First/last sample too far from its edge: the series starts/ends inside the window, so
    -- extrapolate by half an average interval only.
    IF to_start >= threshold THEN
        to_start := avg_gap / 2;
    END IF;
    -- A counter is never negative: do not extrapolate to the left past its zero point.
    IF delta > 0 AND first_v >= 0 THEN
        to_zero := sampled * (first_v / delta);
        IF to_zero < to_start THEN
            to_start := to_zero;
        END IF;
    END IF;
    IF to_end >= threshold THEN
        to_end := avg_gap / 2;
    END IF;

    RETURN delta * ((sampled + to_start + to_end) / sampled);
END
$$;
COMMENT ON FUNCTION tsmon.counter_increase(timestamptz, timestamptz, timestamptz[], double precision[]) IS
    'Prometheus increase() of one counter series over the window (window_start, window_end]: '
    'times/vals are the series'' samples, ordered by time (strictly ascending, else an error; '
    'use array_agg(time ORDER BY time), array_agg(value ORDER BY time)). Samples outside the window, '
    'NULL and NaN values (including staleness markers) are ignored. Drops are counter resets; the '
    'result is extrapolated to the window edges as Prometheus extrapolatedRate does (never below zero). '
    'NULL when fewer than 2 samples remain.';

CREATE OR REPLACE FUNCTION tsmon.counter_rate(
    window_start timestamptz,
    window_end   timestamptz,
    times        timestamptz[],
    vals         double precision[]
)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT tsmon.counter_increase(window_start, window_end, times, vals)
           / (EXTRACT(epoch FROM window_end) - EXTRACT(epoch FROM window_start))::double precision
$$;
COMMENT ON FUNCTION tsmon.counter_rate(timestamptz, timestamptz, timestamptz[], double precision[]) IS
    'Prometheus rate() of one counter series: tsmon.counter_increase(...) divided by the window length '
    'in seconds, per second. Same arguments and rules as tsmon.counter_increase: window (window_start, '
    'window_end], arrays ordered by time, NaN ignored, NULL when fewer than 2 samples. Example: '
    'SELECT tsmon.counter_rate(now() - interval ''5m'', now(), array_agg(time ORDER BY time), '
    'array_agg(value ORDER BY time)) FROM tsmon.metric_samples WHERE series_id = 1 '
    'AND time > now() - interval ''5m''.';

CREATE OR REPLACE FUNCTION tsmon.increase(
    metric       text,
    window_start timestamptz,
    window_end   timestamptz,
    step         interval DEFAULT NULL
)
RETURNS TABLE ("time" timestamptz, labels jsonb, value double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
#variable_conflict use_column
DECLARE
    window_us bigint;
    step_us   bigint;
    n_steps   bigint;
    last_end  timestamptz;
BEGIN
    IF increase.metric IS NULL OR increase.window_start IS NULL OR increase.window_end IS NULL THEN
        RETURN;
    END IF;
    IF NOT pg_catalog.isfinite(increase.window_start) OR NOT pg_catalog.isfinite(increase.window_end) THEN
        RAISE EXCEPTION 'tsmon.increase: window_start and window_end must be finite'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF increase.window_end <= increase.window_start THEN
        RETURN;
    END IF;
    window_us := ((EXTRACT(epoch FROM increase.window_end) - EXTRACT(epoch FROM increase.window_start))
                  * 1000000)::bigint;
    IF increase.step IS NULL THEN
        step_us := window_us;
    ELSE
        IF EXTRACT(year FROM increase.step) <> 0 OR EXTRACT(month FROM increase.step) <> 0 THEN
            RAISE EXCEPTION 'tsmon.increase: step must be a fixed duration, not %', increase.step
                USING ERRCODE = 'invalid_parameter_value', HINT = 'use days, hours, minutes or seconds';
        END IF;
        step_us := (EXTRACT(epoch FROM increase.step) * 1000000)::bigint;
        IF step_us <= 0 THEN
            RAISE EXCEPTION 'tsmon.increase: step must be positive, not %', increase.step
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    -- Steps end at window_start + k * step (k = 1, 2, ...) up to window_end; each covers
    -- (end - step, end], so the steps tile the window and every sample falls in exactly one.
    n_steps := window_us / step_us;
    IF n_steps = 0 THEN
        RETURN;
    END IF;
    last_end := increase.window_start + (n_steps * step_us) * interval '1 microsecond';

    RETURN QUERY
    SELECT r.step_end, ms.labels, r.value
    FROM (
        SELECT b.series_id, b.k,
               increase.window_start + (b.k * step_us) * interval '1 microsecond' AS step_end,
               tsmon.counter_increase(
                   increase.window_start + ((b.k - 1) * step_us) * interval '1 microsecond',
                   increase.window_start + (b.k * step_us) * interval '1 microsecond',
                   pg_catalog.array_agg(b.time ORDER BY b.time),
                   pg_catalog.array_agg(b.value ORDER BY b.time)) AS value
        FROM (
            SELECT m.series_id, m.time, m.value,
                   -- step number: ceil((time - window_start) / step), exact in microseconds
                   (((EXTRACT(epoch FROM m.time - increase.window_start) * 1000000)::bigint
                     + step_us - 1) / step_us) AS k
            FROM tsmon.metric_samples m
            WHERE m.metric = increase.metric
              AND m.time > increase.window_start
              AND m.time <= last_end
              AND m.value <> 'NaN'::double precision
        ) b
        GROUP BY b.series_id, b.k
    ) r
    JOIN tsmon.metric_series ms ON ms.series_id = r.series_id
    WHERE r.value IS NOT NULL
    ORDER BY r.series_id, r.k;
END
$$;
COMMENT ON FUNCTION tsmon.increase(text, timestamptz, timestamptz, interval) IS
    'Prometheus increase() for every series of a counter metric: rows (time, labels, value). With step '
    'NULL, one row per series for the window (window_start, window_end], time = window_end. With a step '
    '(a fixed duration; a day is 24 h), one row per series per step ending at window_start + k * step '
    '<= window_end, each over (time - step, time] as a Prometheus range query with range = step; align '
    'window_start to the step for stable points. Series/steps with fewer than 2 samples give no row. '
    'Reads tsmon.metric_samples; see tsmon.counter_increase for the rules.';

CREATE OR REPLACE FUNCTION tsmon.rate(
    metric       text,
    window_start timestamptz,
    window_end   timestamptz,
    step         interval DEFAULT NULL
)
RETURNS TABLE ("time" timestamptz, labels jsonb, value double precision)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT i.time, i.labels,
           i.value / EXTRACT(epoch FROM coalesce($4, $3 - $2))::double precision
    FROM tsmon.increase($1, $2, $3, $4) AS i
$$;
COMMENT ON FUNCTION tsmon.rate(text, timestamptz, timestamptz, interval) IS
    'Prometheus rate() (per second) for every series of a counter metric: rows (time, labels, value). '
    'tsmon.increase(...) divided by the range length in seconds (the window with step NULL, else the '
    'step). Example for Grafana: SELECT time, labels->>''instance'' AS metric, value FROM '
    'tsmon.rate(''http_requests_total'', $__timeFrom(), $__timeTo(), interval ''$__interval'').';
