-- Drift is a test of de-seasonalised residuals (tsmon.scoring.drift): each event records the test's
-- statistic, p-value and effective sample size, the shift of the mean (training standard deviations)
-- and the ratio of spreads. Rows written before keep their KS statistic, KS p-value and PSI.
ALTER TABLE tsmon.drift_events
    ADD COLUMN statistic    double precision,
    ADD COLUMN p_value      double precision,
    ADD COLUMN n_eff        double precision,
    ADD COLUMN shift        double precision,
    ADD COLUMN spread_ratio double precision,
    ALTER COLUMN ks_statistic DROP NOT NULL,
    ALTER COLUMN ks_p_value DROP NOT NULL,
    ALTER COLUMN psi DROP NOT NULL;
