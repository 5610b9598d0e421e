-- Statistics over the windows for people and Grafana (role tsmon_reader): the t and F
-- distributions, and the analyses of `tsmon analyze` that SQL can answer in one query
-- (compare, describe, groups, correlate, explain). The Python analyses (tsmon.analysis) compute
-- the same numbers and more (rank tests, Tukey, BH); tests pin both to scipy.

-- ln Γ(x) for x > 0: Lanczos (g = 7, 9 terms), about 15 significant digits; PostgreSQL 15 has none.
CREATE OR REPLACE FUNCTION tsmon.ln_gamma(x float8)
RETURNS float8 LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
DECLARE
    c CONSTANT float8[] := ARRAY[0.99999999999980993, 676.5203681218851, -1259.1392167224028,
        771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
        9.9843695780195716e-6, 1.5056327351493116e-7];
    a float8;
    t float8;
BEGIN
    IF x < 0.5 THEN
        RETURN ln(pi() / abs(sin(pi() * x))) - tsmon.ln_gamma(1 - x);
    END IF;
    x := x - 1;
    a := c[1];
    t := x + 7.5;
    FOR i IN 1..8 LOOP
        a := a + c[i + 1] / (x + i);
    END LOOP;
    RETURN 0.5 * ln(2 * pi()) + (x + 0.5) * ln(t) - t + ln(a);
END
$$;
COMMENT ON FUNCTION tsmon.ln_gamma(float8) IS
    'Natural log of the gamma function for x > 0 (Lanczos approximation, ~15 significant digits).';

-- I_x(a, b), the regularized incomplete beta function: a continued fraction (Lentz's method,
-- as in Numerical Recipes' betacf), on the side of x where it converges fast. y is 1 - x,
-- passed in because computing it from x near 1 loses digits (t near 0 with large df).
CREATE OR REPLACE FUNCTION tsmon._incomplete_beta(x float8, y float8, a float8, b float8)
RETURNS float8 LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
DECLARE
    tiny CONSTANT float8 := 1e-300;
    flip boolean;
    aa float8; bb float8; xx float8; yy float8; front float8;
    c float8; d float8; h float8; num float8; delta float8; m2 integer;
BEGIN
    IF x <= 0 THEN RETURN 0; END IF;
    IF x >= 1 THEN RETURN 1; END IF;
    flip := x > (a + 1) / (a + b + 2);
    IF flip THEN aa := b; bb := a; xx := y; yy := x; ELSE aa := a; bb := b; xx := x; yy := y; END IF;
    front := exp(tsmon.ln_gamma(aa + bb) - tsmon.ln_gamma(aa) - tsmon.ln_gamma(bb)
                 + aa * ln(xx) + bb * ln(yy)) / aa;
    c := 1;
    d := 1 - (aa + bb) * xx / (aa + 1);
    IF abs(d) < tiny THEN d := tiny; END IF;
    d := 1 / d;
    h := d;
    FOR m IN 1..100000 LOOP
        m2 := 2 * m;
        num := m * (bb - m) * xx / ((aa - 1 + m2) * (aa + m2));
        d := 1 + num * d; IF abs(d) < tiny THEN d := tiny; END IF;
        c := 1 + num / c; IF abs(c) < tiny THEN c := tiny; END IF;
        d := 1 / d;
        h := h * d * c;
        num := -(aa + m) * (aa + bb + m) * xx / ((aa + m2) * (aa + 1 + m2));
        d := 1 + num * d; IF abs(d) < tiny THEN d := tiny; END IF;
        c := 1 + num / c; IF abs(c) < tiny THEN c := tiny; END IF;
        d := 1 / d;
        delta := d * c;
        h := h * delta;
        EXIT WHEN abs(delta - 1) < 1e-15;
    END LOOP;
    RETURN CASE WHEN flip THEN 1 - front * h ELSE front * h END;
END
$$;
COMMENT ON FUNCTION tsmon._incomplete_beta(float8, float8, float8, float8) IS
    'I_x(a, b) given x and y = 1 - x, each computed without cancellation (see tsmon.incomplete_beta).';

CREATE OR REPLACE FUNCTION tsmon.incomplete_beta(x float8, a float8, b float8)
RETURNS float8 LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$ SELECT tsmon._incomplete_beta(x, 1 - x, a, b) $$;
COMMENT ON FUNCTION tsmon.incomplete_beta(float8, float8, float8) IS
    'Regularized incomplete beta function I_x(a, b) (scipy.special.betainc), for the t and F p-values.';

CREATE OR REPLACE FUNCTION tsmon.t_pvalue(t float8, df float8, alternative text DEFAULT 'two-sided')
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT CASE
        WHEN t IS NULL OR df IS NULL OR df <= 0 OR t = 'NaN'::float8 OR df = 'NaN'::float8 THEN NULL
        WHEN alternative = 'two-sided' THEN tsmon._incomplete_beta(df / (df + t * t), t * t / (df + t * t), df / 2, 0.5)
        WHEN alternative = 'greater' AND t > 0 THEN tsmon._incomplete_beta(df / (df + t * t), t * t / (df + t * t), df / 2, 0.5) / 2
        WHEN alternative = 'greater' THEN 1 - tsmon._incomplete_beta(df / (df + t * t), t * t / (df + t * t), df / 2, 0.5) / 2
        WHEN alternative = 'less' AND t < 0 THEN tsmon._incomplete_beta(df / (df + t * t), t * t / (df + t * t), df / 2, 0.5) / 2
        WHEN alternative = 'less' THEN 1 - tsmon._incomplete_beta(df / (df + t * t), t * t / (df + t * t), df / 2, 0.5) / 2
    END
$$;
COMMENT ON FUNCTION tsmon.t_pvalue(float8, float8, text) IS
    'P-value of Student''s t statistic with df degrees of freedom: alternative two-sided (default), '
    'greater or less (scipy.stats.t.sf / cdf).';

CREATE OR REPLACE FUNCTION tsmon.f_pvalue(f float8, df1 float8, df2 float8)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT CASE WHEN f IS NULL OR f = 'NaN'::float8 OR df1 <= 0 OR df2 <= 0 THEN NULL
                WHEN f = 'Infinity'::float8 THEN 0
                ELSE tsmon._incomplete_beta(df2 / (df2 + df1 * f), df1 * f / (df2 + df1 * f), df2 / 2, df1 / 2) END
$$;
COMMENT ON FUNCTION tsmon.f_pvalue(float8, float8, float8) IS
    'P(F > f) of the F distribution with df1, df2 degrees of freedom (scipy.stats.f.sf): ANOVA''s p-value.';

-- The finest windows that give at most 2,000 per range (as tsmon.analysis.selection.MAX_WINDOWS).
CREATE OR REPLACE FUNCTION tsmon.analysis_resolution(p_seconds float8)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$ SELECT CASE WHEN p_seconds <= 2000 * 60 THEN '1m' WHEN p_seconds <= 2000 * 3600 THEN '1h' ELSE '1d' END $$;
COMMENT ON FUNCTION tsmon.analysis_resolution(float8) IS
    '1m, 1h or 1d: the finest windows giving at most 2,000 windows over a range of p_seconds.';

CREATE OR REPLACE FUNCTION tsmon.analysis_floor(p_time timestamptz, p_resolution text)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT to_timestamp(floor(extract(epoch FROM p_time) / s) * s)
    FROM (SELECT CASE p_resolution WHEN '1m' THEN 60 WHEN '1h' THEN 3600 WHEN '1d' THEN 86400 END::float8 AS s) x
$$;
COMMENT ON FUNCTION tsmon.analysis_floor(timestamptz, text) IS
    'The start of the 1m, 1h or 1d window holding p_time (ranges are read as whole windows).';

-- The windows' sufficient statistics of many series over several ranges, packed as one bytea of
-- fixed-size big-endian records (series_id int8, bucket as timestamptz_send's int8 microseconds
-- since 2000-01-01, count int8, sum, sum_sq[, min, max] float8): what
-- tsmon.windows.reader.fetch_sums unpacks with numpy. timestamptz_send, not extract(epoch): the
-- numeric extract returns costs more than the rest of the record (0.35 s of 336,000 windows). A definer function, so
-- tsmon_reader reads the windows' sums (the data tsmon.metric_* give it) but not the windows.
-- Ranges are inlined as literals: the planner then excludes chunks outside them.
CREATE OR REPLACE FUNCTION tsmon.window_sums(
    p_resolution text, p_series bigint[], p_starts timestamptz[], p_stops timestamptz[],
    p_extremes boolean DEFAULT true
)
RETURNS bytea LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    within text;
    packed bytea;
BEGIN
    IF p_resolution IS NULL OR p_resolution NOT IN ('1m', '1h', '1d') THEN
        RAISE EXCEPTION 'p_resolution must be 1m, 1h or 1d, not %', p_resolution USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(array_length(p_starts, 1), 0) = 0 OR array_length(p_starts, 1) <> array_length(p_stops, 1) THEN
        RAISE EXCEPTION 'p_starts and p_stops must be non-empty and of equal length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(format('(w.bucket >= %L::timestamptz AND w.bucket < %L::timestamptz)', a, b), ' OR ')
    INTO within FROM unnest(p_starts, p_stops) AS r(a, b);
    -- No ORDER BY in the aggregate: PostgreSQL 15 would sort every row; the caller sorts faster.
    EXECUTE format($q$
        SELECT string_agg(int8send(w.series_id) || timestamptz_send(w.bucket) || int8send(w.count)
                          || float8send(w.sum) || float8send(w.sum_sq) %s, ''::bytea)
        FROM tsmon.%I w
        WHERE w.series_id = ANY($1) AND w.count > 0 AND w.sum IS NOT NULL AND (%s)$q$,
        CASE WHEN p_extremes THEN '|| float8send(w.min) || float8send(w.max)' ELSE '' END,
        'samples_' || p_resolution, within)
    INTO packed USING p_series;
    RETURN packed;
END
$$;
COMMENT ON FUNCTION tsmon.window_sums(text, bigint[], timestamptz[], timestamptz[], boolean) IS
    'Packed big-endian records (series_id, bucket as µs since 2000, count, sum, sum_sq[, min, max]) of the 1m/1h/1d '
    'windows of p_series starting in any [p_starts[i], p_stops[i]): the input of tsmon''s analyses.';

-- Compare two ranges of every series of a metric (labels: a containment filter, '{}' for all),
-- as `tsmon analyze compare` does (see tsmon.analysis.compare and tsmon.stats.effective for the
-- method): Welch's t exact from the windows' sums (merged with Chan's formula: no sum_sq - sum^2/n
-- over a whole range), and the effective-sample-size p-value from the lag-1 autocorrelation of
-- the window means, pooled over both ranges and bias-corrected. Ranges are floored to whole
-- windows; delta is mean_b - mean_a. Series without windows in both ranges are left out.
CREATE OR REPLACE FUNCTION tsmon.compare_ranges(
    p_metric text, p_labels jsonb,
    p_a_from timestamptz, p_a_to timestamptz, p_b_from timestamptz, p_b_to timestamptz,
    p_resolution text DEFAULT NULL, p_alternative text DEFAULT 'two-sided'
)
RETURNS TABLE (series_id bigint, labels jsonb, resolution text, n_a bigint, n_b bigint,
               mean_a float8, mean_b float8, stddev_a float8, stddev_b float8, delta float8, delta_pct float8,
               welch_t float8, df float8, p_naive float8,
               r_lag1 float8, n_eff_a float8, n_eff_b float8, p_effective float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER  -- reads the windows, as tsmon.metric_windows does
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    res text := coalesce(p_resolution, tsmon.analysis_resolution(greatest(
        extract(epoch FROM p_a_to - p_a_from), extract(epoch FROM p_b_to - p_b_from))::float8));
BEGIN
    IF res IS NULL OR res NOT IN ('1m', '1h', '1d') THEN
        RAISE EXCEPTION 'p_resolution must be 1m, 1h or 1d, not %', res USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_alternative IS NULL OR p_alternative NOT IN ('two-sided', 'less', 'greater') THEN
        RAISE EXCEPTION 'p_alternative must be two-sided, less or greater, not %', p_alternative
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF tsmon.analysis_floor(p_a_to, res) <= tsmon.analysis_floor(p_a_from, res)
       OR tsmon.analysis_floor(p_b_to, res) <= tsmon.analysis_floor(p_b_from, res) THEN
        RAISE EXCEPTION 'empty range: each range must hold at least one whole % window', res
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE format($q$
    WITH s AS (SELECT ms.series_id, ms.labels FROM tsmon.metric_series ms
               WHERE ms.metric = $1 AND ms.labels @> coalesce($2, '{}'::jsonb)),
    w AS (
        SELECT CASE WHEN x.bucket >= $3 AND x.bucket < $4 THEN 0 ELSE 1 END AS side, x.series_id, x.bucket,
               x.count::float8 AS n, x.sum / x.count AS mean,
               greatest(x.sum_sq - x.sum * (x.sum / x.count), 0) AS m2
        FROM tsmon.%I x
        WHERE x.series_id = ANY(ARRAY(SELECT s.series_id FROM s)) AND x.count > 0 AND x.sum IS NOT NULL
          AND ((x.bucket >= $3 AND x.bucket < $4) OR (x.bucket >= $5 AND x.bucket < $6))
    ),
    g AS (SELECT w.side, w.series_id, sum(w.n) AS n, sum(w.n * w.mean) / sum(w.n) AS mean,
                 count(*)::float8 AS m, avg(w.mean) AS wmean
          FROM w GROUP BY w.side, w.series_id),
    d AS (SELECT w.side, w.series_id, w.m2 + w.n * (w.mean - g.mean) ^ 2 AS part, w.mean - g.wmean AS dev,
                 lead(w.mean) OVER (PARTITION BY w.side, w.series_id ORDER BY w.bucket) - g.wmean AS next_dev
          FROM w JOIN g ON g.side = w.side AND g.series_id = w.series_id),
    x AS (SELECT g.side, g.series_id, g.n, g.mean, g.m,
                 CASE WHEN g.n > 1 THEN sum(d.part) / (g.n - 1) END AS var,
                 CASE WHEN g.m > 1 THEN sum(d.dev * d.dev) / (g.m - 1) END AS var_means,
                 sum(d.dev * d.dev) AS den, coalesce(sum(d.dev * d.next_dev), 0) AS num
          FROM g JOIN d ON d.side = g.side AND d.series_id = g.series_id
          GROUP BY g.side, g.series_id, g.n, g.mean, g.m),
    pair AS (
        SELECT s.series_id, s.labels, a.n AS n_a, b.n AS n_b, a.mean AS mean_a, b.mean AS mean_b,
               a.var AS var_a, b.var AS var_b, a.m AS m_a, b.m AS m_b, a.var_means AS vm_a, b.var_means AS vm_b,
               CASE WHEN a.m + b.m < 6 THEN 0::float8
                    ELSE greatest(-0.999, least(0.999, coalesce((a.num + b.num) / nullif(a.den + b.den, 0), 0)
                         + (1 + 4 * coalesce((a.num + b.num) / nullif(a.den + b.den, 0), 0)) / (a.m + b.m))) END AS r
        FROM s JOIN x a ON a.series_id = s.series_id AND a.side = 0
               JOIN x b ON b.series_id = s.series_id AND b.side = 1),
    e AS (
        SELECT pair.*,
               CASE WHEN m_a >= 2 THEN least(greatest(m_a * (1 - r) / (1 + r), 2), m_a) ELSE m_a END AS ne_a,
               CASE WHEN m_b >= 2 THEN least(greatest(m_b * (1 - r) / (1 + r), 2), m_b) ELSE m_b END AS ne_b
        FROM pair),
    v AS (
        SELECT e.*, var_a / n_a AS se_a, var_b / n_b AS se_b,
               vm_a * (m_a - 1) / greatest(m_a - m_a / ne_a, 1e-300) / ne_a AS ee_a,
               vm_b * (m_b - 1) / greatest(m_b - m_b / ne_b, 1e-300) / ne_b AS ee_b
        FROM e),
    t AS (
        SELECT v.*,
               CASE WHEN se_a + se_b > 0 THEN (mean_b - mean_a) / sqrt(se_a + se_b) END AS tn,
               CASE WHEN se_a + se_b > 0 AND n_a > 1 AND n_b > 1
                    THEN (se_a + se_b) ^ 2 / (se_a ^ 2 / (n_a - 1) + se_b ^ 2 / (n_b - 1)) END AS dfn,
               CASE WHEN ee_a + ee_b > 0 THEN (mean_b - mean_a) / sqrt(ee_a + ee_b) END AS te,
               CASE WHEN ee_a + ee_b > 0 AND ne_a > 1 AND ne_b > 1
                    THEN (ee_a + ee_b) ^ 2 / (ee_a ^ 2 / (ne_a - 1) + ee_b ^ 2 / (ne_b - 1)) END AS dfe
        FROM v)
    SELECT t.series_id, t.labels, %L::text, t.n_a::bigint, t.n_b::bigint, t.mean_a, t.mean_b,
           sqrt(t.var_a), sqrt(t.var_b), t.mean_b - t.mean_a,
           CASE WHEN t.mean_a <> 0 THEN 100 * (t.mean_b - t.mean_a) / abs(t.mean_a) END,
           t.tn, t.dfn, tsmon.t_pvalue(t.tn, t.dfn, $7), t.r, t.ne_a, t.ne_b, tsmon.t_pvalue(t.te, t.dfe, $7)
    FROM t ORDER BY t.series_id
    $q$, 'samples_' || res, res)
    USING p_metric, p_labels, tsmon.analysis_floor(p_a_from, res), tsmon.analysis_floor(p_a_to, res),
          tsmon.analysis_floor(p_b_from, res), tsmon.analysis_floor(p_b_to, res), p_alternative;
END
$$;
COMMENT ON FUNCTION tsmon.compare_ranges(text, jsonb, timestamptz, timestamptz, timestamptz, timestamptz, text, text) IS
    'Range a vs range b for every series of p_metric whose labels contain p_labels: n, means, stddevs, '
    'delta (b - a) and delta % of a, Welch''s t, df and naive p (exact from the windows), the lag-1 '
    'autocorrelation of the window means and effective sizes, and the effective-n p-value (use it to flag). '
    'p_resolution: 1m, 1h or 1d (default: the finest with at most 2,000 windows per range).';

-- Describe: exact statistics of the raw samples (NaN values left out), percentiles interpolated
-- linearly (numpy's default). Runs as the caller: tsmon.metric_samples is the reader's already.
CREATE OR REPLACE FUNCTION tsmon.describe_series(p_metric text, p_labels jsonb, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (series_id bigint, labels jsonb, count bigint, mean float8, stddev float8, min float8, max float8,
               p50 float8, p90 float8, p99 float8)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.series_id, x.labels, count(*), avg(x.value), stddev_samp(x.value), min(x.value), max(x.value),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY x.value),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY x.value),
           percentile_cont(0.99) WITHIN GROUP (ORDER BY x.value)
    FROM tsmon.metric_samples x
    WHERE x.metric = p_metric AND x.labels @> coalesce(p_labels, '{}'::jsonb)
      AND x.time >= p_from AND x.time < p_to AND x.value <> 'NaN'::float8
    GROUP BY x.series_id, x.labels
    ORDER BY x.series_id
$$;
COMMENT ON FUNCTION tsmon.describe_series(text, jsonb, timestamptz, timestamptz) IS
    'Per series of p_metric whose labels contain p_labels, from raw samples in [p_from, p_to): count, mean, '
    'stddev (sample), min, max, p50, p90, p99 (exact; for ranges past raw retention use tsmon analyze describe).';

-- Groups: one-way ANOVA across the values of label p_by, exact from the windows' sums (each
-- group's windows merged with Chan's formula). One row per group; the test repeats on each.
CREATE OR REPLACE FUNCTION tsmon.group_anova(
    p_metric text, p_labels jsonb, p_by text, p_from timestamptz, p_to timestamptz, p_resolution text DEFAULT '1h'
)
RETURNS TABLE (group_value text, series bigint, n bigint, mean float8, stddev float8,
               f float8, df_between bigint, df_within bigint, p float8, eta_squared float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER  -- reads the windows, as tsmon.metric_windows does
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_resolution IS NULL OR p_resolution NOT IN ('1m', '1h', '1d') THEN
        RAISE EXCEPTION 'p_resolution must be 1m, 1h or 1d, not %', p_resolution USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE format($q$
    WITH s AS (SELECT ms.series_id, ms.labels ->> $3 AS g FROM tsmon.metric_series ms
               WHERE ms.metric = $1 AND ms.labels @> coalesce($2, '{}'::jsonb) AND ms.labels ? $3),
    w AS (SELECT s.g, x.count::float8 AS n, x.sum / x.count AS mean,
                 greatest(x.sum_sq - x.sum * (x.sum / x.count), 0) AS m2
          FROM tsmon.%I x JOIN s ON s.series_id = x.series_id
          WHERE x.series_id = ANY(ARRAY(SELECT s2.series_id FROM s s2)) AND x.bucket >= $4 AND x.bucket < $5
            AND x.count > 0 AND x.sum IS NOT NULL),
    gm AS (SELECT w.g, sum(w.n) AS n, sum(w.n * w.mean) / sum(w.n) AS mean FROM w GROUP BY w.g),
    gs AS (SELECT w.g, gm.n, gm.mean, sum(w.m2 + w.n * (w.mean - gm.mean) ^ 2) AS m2
           FROM w JOIN gm ON gm.g = w.g GROUP BY w.g, gm.n, gm.mean),
    tot AS (SELECT count(*)::float8 AS k, sum(gs.n) AS n, sum(gs.n * gs.mean) / sum(gs.n) AS grand FROM gs),
    ss AS (SELECT sum(gs.n * (gs.mean - tot.grand) ^ 2) AS ssb, sum(gs.m2) AS ssw FROM gs, tot),
    z AS (SELECT CASE WHEN tot.k > 1 AND tot.n > tot.k AND ss.ssw > 0
                      THEN (ss.ssb / (tot.k - 1)) / (ss.ssw / (tot.n - tot.k)) END AS f,
                 (tot.k - 1)::bigint AS dfb, (tot.n - tot.k)::bigint AS dfw,
                 ss.ssb / nullif(ss.ssb + ss.ssw, 0) AS eta
          FROM tot, ss)
    SELECT gs.g, (SELECT count(*) FROM s s3 WHERE s3.g = gs.g), gs.n::bigint, gs.mean,
           CASE WHEN gs.n > 1 THEN sqrt(gs.m2 / (gs.n - 1)) END,
           z.f, z.dfb, z.dfw, tsmon.f_pvalue(z.f, z.dfb, z.dfw), z.eta
    FROM gs, z ORDER BY gs.g
    $q$, 'samples_' || p_resolution)
    USING p_metric, p_labels, p_by, tsmon.analysis_floor(p_from, p_resolution), tsmon.analysis_floor(p_to, p_resolution);
END
$$;
COMMENT ON FUNCTION tsmon.group_anova(text, jsonb, text, timestamptz, timestamptz, text) IS
    'One-way ANOVA of p_metric''s samples across the values of label p_by (series with labels containing '
    'p_labels), exact from the p_resolution windows in [p_from, p_to): per group series, n, mean, stddev, and '
    'the F statistic, its degrees of freedom, p-value and eta squared (on every row).';

-- Correlate: two series' window means aligned by bucket; Pearson r with its t-test p-value
-- (equal to scipy.stats.pearsonr's) and the least-squares line (its slope has the same p).
CREATE OR REPLACE FUNCTION tsmon.correlate_series(
    p_x bigint, p_y bigint, p_from timestamptz, p_to timestamptz, p_resolution text DEFAULT '1m'
)
RETURNS TABLE (n bigint, pearson_r float8, pearson_p float8, slope float8, intercept float8, r_squared float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER  -- reads the windows, as tsmon.metric_windows does
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_resolution IS NULL OR p_resolution NOT IN ('1m', '1h', '1d') THEN
        RAISE EXCEPTION 'p_resolution must be 1m, 1h or 1d, not %', p_resolution USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE format($q$
    WITH x AS (SELECT w.bucket, w.sum / w.count AS v FROM tsmon.%1$I w
               WHERE w.series_id = $1 AND w.bucket >= $3 AND w.bucket < $4 AND w.count > 0),
         y AS (SELECT w.bucket, w.sum / w.count AS v FROM tsmon.%1$I w
               WHERE w.series_id = $2 AND w.bucket >= $3 AND w.bucket < $4 AND w.count > 0),
         a AS (SELECT regr_count(y.v, x.v) AS n, corr(y.v, x.v) AS r, regr_slope(y.v, x.v) AS slope,
                      regr_intercept(y.v, x.v) AS icpt, regr_r2(y.v, x.v) AS r2
               FROM x JOIN y ON y.bucket = x.bucket)
    SELECT a.n, a.r,
           CASE WHEN a.n > 2 AND a.r IS NOT NULL THEN
                CASE WHEN abs(a.r) >= 1 THEN 0::float8
                     ELSE tsmon.t_pvalue(a.r * sqrt((a.n - 2) / (1 - a.r * a.r)), a.n - 2) END END,
           a.slope, a.icpt, a.r2
    FROM a
    $q$, 'samples_' || p_resolution)
    USING p_x, p_y, tsmon.analysis_floor(p_from, p_resolution), tsmon.analysis_floor(p_to, p_resolution);
END
$$;
COMMENT ON FUNCTION tsmon.correlate_series(bigint, bigint, timestamptz, timestamptz, text) IS
    'Series p_x against p_y on their p_resolution window means aligned by bucket in [p_from, p_to): pairs, '
    'Pearson r and p (two-sided), slope, intercept and r squared of y = intercept + slope x.';

-- Explain: each value of the p_by labels' contribution to the change of the metric's mean over
-- all samples between range a and range b (rate + mix; they add up to the delta exactly).
CREATE OR REPLACE FUNCTION tsmon.explain_change(
    p_metric text, p_labels jsonb, p_by text[],
    p_a_from timestamptz, p_a_to timestamptz, p_b_from timestamptz, p_b_to timestamptz, p_resolution text DEFAULT '1h'
)
RETURNS TABLE (group_labels jsonb, count_a bigint, count_b bigint, mean_a float8, mean_b float8,
               contribution float8, share float8, rate float8, mix float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER  -- reads the windows, as tsmon.metric_windows does
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_resolution IS NULL OR p_resolution NOT IN ('1m', '1h', '1d') THEN
        RAISE EXCEPTION 'p_resolution must be 1m, 1h or 1d, not %', p_resolution USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE format($q$
    WITH s AS (SELECT ms.series_id,
                      (SELECT jsonb_object_agg(k, coalesce(ms.labels ->> k, '')) FROM unnest($3::text[]) k) AS grp
               FROM tsmon.metric_series ms WHERE ms.metric = $1 AND ms.labels @> coalesce($2, '{}'::jsonb)),
    w AS (SELECT s.grp, (x.bucket >= $4 AND x.bucket < $5) AS in_a, x.count::float8 AS n, x.sum
          FROM tsmon.%I x JOIN s ON s.series_id = x.series_id
          WHERE x.series_id = ANY(ARRAY(SELECT s2.series_id FROM s s2)) AND x.count > 0 AND x.sum IS NOT NULL
            AND ((x.bucket >= $4 AND x.bucket < $5) OR (x.bucket >= $6 AND x.bucket < $7))),
    p AS (SELECT w.grp, coalesce(sum(w.n) FILTER (WHERE w.in_a), 0) AS na, coalesce(sum(w.sum) FILTER (WHERE w.in_a), 0) AS sa,
                 coalesce(sum(w.n) FILTER (WHERE NOT w.in_a), 0) AS nb, coalesce(sum(w.sum) FILTER (WHERE NOT w.in_a), 0) AS sb
          FROM w GROUP BY w.grp),
    t AS (SELECT sum(p.na) AS tna, sum(p.sa) AS tsa, sum(p.nb) AS tnb, sum(p.sb) AS tsb FROM p),
    c AS (SELECT p.grp, p.na, p.nb, CASE WHEN p.na > 0 THEN p.sa / p.na END AS ma, CASE WHEN p.nb > 0 THEN p.sb / p.nb END AS mb,
                 p.na / nullif(t.tna, 0) AS wa, p.nb / nullif(t.tnb, 0) AS wb,
                 t.tsb / nullif(t.tnb, 0) - t.tsa / nullif(t.tna, 0) AS delta
          FROM p, t),
    e AS (SELECT c.*, (c.wa + c.wb) / 2 * (coalesce(c.mb, c.ma) - coalesce(c.ma, c.mb)) AS rate,
                 (coalesce(c.ma, c.mb) + coalesce(c.mb, c.ma)) / 2 * (c.wb - c.wa) AS mix FROM c)
    SELECT e.grp, e.na::bigint, e.nb::bigint, e.ma, e.mb, e.rate + e.mix, (e.rate + e.mix) / nullif(e.delta, 0),
           e.rate, e.mix
    FROM e ORDER BY abs(e.rate + e.mix) DESC, e.grp
    $q$, 'samples_' || p_resolution)
    USING p_metric, p_labels, p_by,
          tsmon.analysis_floor(p_a_from, p_resolution), tsmon.analysis_floor(p_a_to, p_resolution),
          tsmon.analysis_floor(p_b_from, p_resolution), tsmon.analysis_floor(p_b_to, p_resolution);
END
$$;
COMMENT ON FUNCTION tsmon.explain_change(text, jsonb, text[], timestamptz, timestamptz, timestamptz, timestamptz, text) IS
    'Which values of the p_by labels carry the change of p_metric''s mean (over every sample) from range a '
    'to range b: per group counts, means, contribution (= rate + mix, summing to the delta), share of the delta.';

-- Grants last, once every function exists. The analyses run as tsmon_reader (the API drops to it
-- for them): they read the windows through the definer functions, never the tables.
REVOKE ALL ON FUNCTION tsmon.ln_gamma(float8), tsmon._incomplete_beta(float8, float8, float8, float8),
    tsmon.incomplete_beta(float8, float8, float8),
    tsmon.t_pvalue(float8, float8, text), tsmon.f_pvalue(float8, float8, float8),
    tsmon.analysis_resolution(float8), tsmon.analysis_floor(timestamptz, text),
    tsmon.compare_ranges(text, jsonb, timestamptz, timestamptz, timestamptz, timestamptz, text, text),
    tsmon.window_sums(text, bigint[], timestamptz[], timestamptz[], boolean),
    tsmon.describe_series(text, jsonb, timestamptz, timestamptz),
    tsmon.group_anova(text, jsonb, text, timestamptz, timestamptz, text),
    tsmon.correlate_series(bigint, bigint, timestamptz, timestamptz, text),
    tsmon.explain_change(text, jsonb, text[], timestamptz, timestamptz, timestamptz, timestamptz, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tsmon.ln_gamma(float8), tsmon._incomplete_beta(float8, float8, float8, float8),
    tsmon.incomplete_beta(float8, float8, float8),
    tsmon.t_pvalue(float8, float8, text), tsmon.f_pvalue(float8, float8, float8),
    tsmon.analysis_resolution(float8), tsmon.analysis_floor(timestamptz, text),
    tsmon.compare_ranges(text, jsonb, timestamptz, timestamptz, timestamptz, timestamptz, text, text),
    tsmon.window_sums(text, bigint[], timestamptz[], timestamptz[], boolean),
    tsmon.describe_series(text, jsonb, timestamptz, timestamptz),
    tsmon.group_anova(text, jsonb, text, timestamptz, timestamptz, text),
    tsmon.correlate_series(bigint, bigint, timestamptz, timestamptz, text),
    tsmon.explain_change(text, jsonb, text[], timestamptz, timestamptz, timestamptz, timestamptz, text)
    TO tsmon_reader, tsmon_worker;
