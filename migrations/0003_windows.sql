-- Windows (1m / 1h / 1d rollups): what both editions share. The rollups themselves are created
-- by `tsmon migrate` for the edition it finds (tsmon.windows), recorded in tsmon.windows_engine.

-- Reset-aware counter increase inside a window, as an order-insensitive aggregate (continuous
-- aggregates allow no ORDER BY): the state collects (epoch seconds, value) pairs, the final
-- function sorts them and sums the deltas, a drop counting as a reset (the new value is the delta).
CREATE FUNCTION tsmon._counter_add(state float8[], t timestamptz, v float8) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT state || ARRAY[extract(epoch FROM t - timestamptz 'epoch'), v] $$;

CREATE FUNCTION tsmon._counter_increase_final(state float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(sum(CASE WHEN v >= p THEN v - p ELSE v END), 0)
    FROM (SELECT v, lag(v) OVER (ORDER BY t) AS p
          FROM (SELECT state[2 * i - 1] AS t, state[2 * i] AS v
                FROM generate_series(1, coalesce(array_length(state, 1), 0) / 2) AS i) pts) d
    WHERE p IS NOT NULL
$$;

CREATE AGGREGATE tsmon.counter_increase_agg(timestamptz, float8) (
    sfunc = tsmon._counter_add, stype = float8[], initcond = '{}',
    finalfunc = tsmon._counter_increase_final, combinefunc = array_cat, parallel = safe
);
COMMENT ON AGGREGATE tsmon.counter_increase_agg(timestamptz, float8) IS
    'Increase of a counter over the samples aggregated: the sum of deltas between consecutive samples, '
    'a drop being a reset (Prometheus semantics, without extrapolation).';

-- The same over finer windows: (bucket, first, last, increase) rows; adds the delta across each
-- boundary between consecutive non-empty windows, so 1h built from 1m equals 1h from raw samples.
CREATE FUNCTION tsmon._counter_rollup_add(state float8[], b timestamptz, f float8, l float8, inc float8)
RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT state || ARRAY[extract(epoch FROM b - timestamptz 'epoch'), f, l, inc] $$;

CREATE FUNCTION tsmon._counter_rollup_final(state float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(sum(inc), 0) + coalesce(sum(CASE WHEN p IS NULL THEN 0 WHEN f >= p THEN f - p ELSE f END), 0)
    FROM (SELECT f, inc, lag(l) OVER (ORDER BY b) AS p
          FROM (SELECT state[4 * i - 3] AS b, state[4 * i - 2] AS f, state[4 * i - 1] AS l, state[4 * i] AS inc
                FROM generate_series(1, coalesce(array_length(state, 1), 0) / 4) AS i) w) d
$$;

CREATE AGGREGATE tsmon.counter_rollup_agg(timestamptz, float8, float8, float8) (
    sfunc = tsmon._counter_rollup_add, stype = float8[], initcond = '{}',
    finalfunc = tsmon._counter_rollup_final, combinefunc = array_cat, parallel = safe
);
COMMENT ON AGGREGATE tsmon.counter_rollup_agg(timestamptz, float8, float8, float8) IS
    'Counter increase over (bucket, first, last, increase) rows of finer windows, boundaries included.';

-- Which engine maintains the windows: 'continuous_aggregates' (full edition) or 'tsmon'.
CREATE TABLE tsmon.windows_engine (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    engine      text        NOT NULL CHECK (engine IN ('continuous_aggregates', 'tsmon')),
    chosen_at   timestamptz NOT NULL DEFAULT now()
);

-- tsmon-maintained windows (Apache edition): how far each level is materialised, and which
-- already-materialised time ranges received late samples since.
CREATE TABLE tsmon.window_watermarks (
    resolution  text PRIMARY KEY CHECK (resolution IN ('1m', '1h', '1d')),
    watermark   timestamptz,  -- buckets before it are materialised; NULL: none yet
    refreshed_at timestamptz
);
CREATE TABLE tsmon.window_invalidations (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lo      timestamptz NOT NULL,
    hi      timestamptz NOT NULL,
    CHECK (lo <= hi)
);

-- The watermark of a tsmon-maintained resolution ('-infinity' before the first refresh): the
-- union views read materialised rows before it and compute the rest from the finer level.
CREATE FUNCTION tsmon.window_watermark(p_resolution text)
RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog
AS $$
    SELECT coalesce((SELECT watermark FROM tsmon.window_watermarks WHERE resolution = p_resolution),
                    '-infinity'::timestamptz)
$$;
COMMENT ON FUNCTION tsmon.window_watermark(text) IS
    'Materialisation watermark of a tsmon-maintained window resolution (1m, 1h, 1d).';
