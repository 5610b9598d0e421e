"""Mann-Whitney U, KS2, Kruskal-Wallis and Benjamini-Hochberg equal scipy's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from tsmon.stats.multiple import benjamini_hochberg, holm
from tsmon.stats.ranks import kruskal, ks_2samp, mann_whitney, rank_tests_many


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_rank_tests_equal_scipy(alternative: str) -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 1, 168), rng.normal(0.3, 1, 150)
    mw = mann_whitney(a, b, alternative=alternative)
    want = sps.mannwhitneyu(a, b, alternative=alternative)
    assert mw.statistic == want.statistic and mw.pvalue == pytest.approx(want.pvalue, rel=1e-12)
    assert mw.rank_biserial == pytest.approx(2 * want.statistic / (a.size * b.size) - 1)
    ks = ks_2samp(a, b, alternative=alternative)
    kw = sps.ks_2samp(a, b, alternative=alternative)
    assert ks.statistic == kw.statistic and ks.pvalue == pytest.approx(kw.pvalue, rel=1e-12)


def test_kruskal_equals_scipy_and_needs_two_groups() -> None:
    rng = np.random.default_rng(6)
    groups = [rng.normal(m, 1, n) for m, n in ((0, 30), (0.5, 40), (1, 20))]
    got, want = kruskal(groups), sps.kruskal(*groups)
    assert got.statistic == pytest.approx(want.statistic) and got.pvalue == pytest.approx(want.pvalue)
    assert got.df == 2
    assert np.isnan(kruskal([groups[0]]).pvalue)


def test_benjamini_hochberg_equals_scipy_and_skips_nan() -> None:
    rng = np.random.default_rng(7)
    p = np.concatenate([rng.uniform(0, 1, 200), rng.uniform(0, 0.001, 20)])
    got = benjamini_hochberg(p, alpha=0.05)
    assert got.qvalue == pytest.approx(sps.false_discovery_control(p, method="bh"), rel=1e-12)
    assert got.rejected.sum() == (sps.false_discovery_control(p) <= 0.05).sum()
    with_nan = benjamini_hochberg(np.append(p, np.nan))
    assert np.isnan(with_nan.qvalue[-1]) and not with_nan.rejected[-1]
    assert with_nan.qvalue[:-1] == pytest.approx(got.qvalue)
    with pytest.raises(ValueError, match="alpha"):
        benjamini_hochberg(p, alpha=1.5)


def test_many_pairs_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(14)
    sizes = [(20, 30), (20, 30), (5, 7), (0, 4), (40, 40)]
    xs = [rng.normal(0, 1, n) for n, _ in sizes]
    ys = [rng.normal(0.4, 1, m) for _, m in sizes]
    many = rank_tests_many(xs, ys, alternative="greater")
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        mw, ks = mann_whitney(x, y, alternative="greater"), ks_2samp(x, y, alternative="greater")
        assert many.mwu_p[i] == pytest.approx(mw.pvalue, nan_ok=True)
        assert many.rank_biserial[i] == pytest.approx(mw.rank_biserial, nan_ok=True)
        assert many.ks_d[i] == pytest.approx(ks.statistic, nan_ok=True)
        assert many.ks_p[i] == pytest.approx(ks.pvalue, nan_ok=True)
    assert np.isnan(many.mwu_p[3])


def test_holm_is_the_step_down_bonferroni() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    got = holm(p, alpha=0.05)
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, then running maximum
    assert got.qvalue[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert got.rejected.tolist() == [True, False, False, True, False]
    assert (got.qvalue[:4] >= benjamini_hochberg(p[:4]).qvalue).all()
