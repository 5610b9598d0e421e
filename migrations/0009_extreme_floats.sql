-- Every finite float aggregates without an error (PostgreSQL raises on float8 overflow and
-- underflow): counter deltas beyond 1e300 count as +Infinity instead of overflowing (v - p with
-- v = 1e308, p = -1e308), resets adding such a value too, so one extreme sample never stops a
-- window's refresh. Only additions and comparisons: a division or product could underflow.
CREATE OR REPLACE FUNCTION tsmon._counter_increase_final(state float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(sum(CASE WHEN v >= p THEN (CASE WHEN (p < 0 AND v > 1e300 + p) OR (p >= 0 AND v - p > 1e300) THEN 'Infinity'::float8 ELSE v - p END)
                             WHEN v > 1e300 THEN 'Infinity'::float8 ELSE v END), 0)
    FROM (SELECT v, lag(v) OVER (ORDER BY t) AS p
          FROM (SELECT state[2 * i - 1] AS t, state[2 * i] AS v
                FROM generate_series(1, coalesce(array_length(state, 1), 0) / 2) AS i) pts) d
    WHERE p IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION tsmon._counter_rollup_final(state float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(sum(CASE WHEN inc > 1e300 THEN 'Infinity'::float8 ELSE inc END), 0)
         + coalesce(sum(CASE WHEN p IS NULL THEN 0
                             WHEN f >= p THEN (CASE WHEN (p < 0 AND f > 1e300 + p) OR (p >= 0 AND f - p > 1e300) THEN 'Infinity'::float8 ELSE f - p END)
                             WHEN f > 1e300 THEN 'Infinity'::float8 ELSE f END), 0)
    FROM (SELECT f, inc, lag(l) OVER (ORDER BY b) AS p
          FROM (SELECT state[4 * i - 3] AS b, state[4 * i - 2] AS f, state[4 * i - 1] AS l, state[4 * i] AS inc
                FROM generate_series(1, coalesce(array_length(state, 1), 0) / 4) AS i) w) d
$$;

-- Which definition of the window aggregates the engine's objects were built with: continuous
-- aggregates keep the query they were created with, so a newer definition rebuilds them (keeping
-- every window, as an engine switch does). 1: before extreme floats were safe; 2: safe.
ALTER TABLE tsmon.windows_engine ADD COLUMN definition integer NOT NULL DEFAULT 1;
