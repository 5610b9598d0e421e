"""The t and F p-values and incomplete beta of sql/80_analysis.sql equal scipy's (called as tsmon_reader)."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from scipy import special
from scipy import stats as sps


def test_t_and_f_pvalues_equal_scipy(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    rng = np.random.default_rng(11)
    conn.execute("SET ROLE tsmon_reader")
    cases = [
        (float(t), float(df)) for t, df in zip(rng.normal(0, 3, 60), rng.uniform(1, 3000, 60), strict=True)
    ]
    cases += [(0.0, 10.0), (40.0, 3.0), (-2.5, 1.5), (2.0, 250_000.0), (1e-3, 80_000.0)]
    for t, df in cases:
        for alt, want in (
            ("two-sided", 2 * sps.t.sf(abs(t), df)),
            ("greater", sps.t.sf(t, df)),
            ("less", sps.t.cdf(t, df)),
        ):
            row = conn.execute("SELECT tsmon.t_pvalue(%s, %s, %s)", (t, df, alt)).fetchone()
            assert row is not None
            assert row[0] == pytest.approx(min(want, 1.0), rel=1e-9, abs=1e-14), (t, df, alt)
    for f, d1, d2 in [(0.5, 3, 40), (4.2, 2, 12), (30.0, 5, 1000), (1.0, 1, 1), (0.0, 4, 9)]:
        row = conn.execute("SELECT tsmon.f_pvalue(%s, %s, %s)", (f, d1, d2)).fetchone()
        assert row is not None and row[0] == pytest.approx(sps.f.sf(f, d1, d2), rel=1e-9, abs=1e-14)
    for x, a, b in [(0.3, 2.5, 7.0), (0.99, 0.5, 40.0), (1e-5, 3.0, 0.5)]:
        row = conn.execute("SELECT tsmon.incomplete_beta(%s, %s, %s)", (x, a, b)).fetchone()
        assert row is not None and row[0] == pytest.approx(special.betainc(a, b, x), rel=1e-9)
    lg = conn.execute("SELECT tsmon.ln_gamma(0.3), tsmon.ln_gamma(7.5), tsmon.ln_gamma(1e6)").fetchone()
    assert lg is not None and list(lg) == pytest.approx(
        [special.gammaln(x) for x in (0.3, 7.5, 1e6)], rel=1e-13
    )
    assert conn.execute("SELECT tsmon.t_pvalue('NaN', 3)").fetchone() == (None,)
