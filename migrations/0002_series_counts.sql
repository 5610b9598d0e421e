-- Series per metric, kept exact by a trigger: the cardinality guard reads it instead of
-- counting tsmon.series (which would cost a scan per new-series batch).
CREATE TABLE tsmon.series_counts (
    metric  text   PRIMARY KEY,
    n       bigint NOT NULL CHECK (n >= 0)
);
INSERT INTO tsmon.series_counts (metric, n)
SELECT metric, count(*) FROM tsmon.series GROUP BY metric;

CREATE FUNCTION tsmon.series_counts_after_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO tsmon.series_counts AS c (metric, n)
    SELECT metric, count(*) FROM new_series GROUP BY metric
    ON CONFLICT (metric) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION tsmon.series_counts_after_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    UPDATE tsmon.series_counts c SET n = c.n - d.n
    FROM (SELECT metric, count(*) AS n FROM old_series GROUP BY metric) d
    WHERE c.metric = d.metric;
    RETURN NULL;
END $$;

CREATE TRIGGER series_counts_insert AFTER INSERT ON tsmon.series
    REFERENCING NEW TABLE AS new_series FOR EACH STATEMENT
    EXECUTE FUNCTION tsmon.series_counts_after_insert();
CREATE TRIGGER series_counts_delete AFTER DELETE ON tsmon.series
    REFERENCING OLD TABLE AS old_series FOR EACH STATEMENT
    EXECUTE FUNCTION tsmon.series_counts_after_delete();
